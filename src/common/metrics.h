#pragma once

// Metric plumbing the daemons share (prometheus-cpp): registering a single unlabelled counter or
// gauge in one call, and the one metric two daemons export with the same name and meaning.
//
// Thread safety: registration is not meant to race with itself (daemons register in their
// Metrics constructors); the returned metrics are safe to update from any thread.

#include <initializer_list>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace cn::common {

// The metric `name` without labels, registered in `registry` with `help`. The reference lives
// as long as the registry. Registering a name twice is a programming error (prometheus-cpp
// throws); names are constants of each daemon's Metrics.
prometheus::Counter& AddCounter(prometheus::Registry& registry, const std::string& name,
                                const std::string& help);
prometheus::Gauge& AddGauge(prometheus::Registry& registry, const std::string& name,
                            const std::string& help);

// cn_sgx_platform_ready, which the device plugin and the node agent both export: 1 when the
// host can run enclaves.
prometheus::Gauge& AddPlatformReadyGauge(prometheus::Registry& registry);

// The series of a labelled counter family, each looked up in the family once and then kept.
// prometheus-cpp's Family::Add builds a std::map of the labels, hashes it and takes the family's
// lock on every call (about 50 K instructions per HTTP request in sgx-attestd's profile, where
// two counters are bumped per request); Get is one hash lookup under a reader lock. The series
// are the family's own (created on first use, as Add would), so /metrics is unchanged.
//
// Thread safety: Get may be called from any thread. `family` must outlive the cache.
class CounterCache {
 public:
  CounterCache(prometheus::Family<prometheus::Counter>& family,
               std::vector<std::string> label_names);

  // The series with `values` for the label names, in their order (as many as names).
  prometheus::Counter& Get(std::initializer_list<absl::string_view> values) const;

 private:
  prometheus::Family<prometheus::Counter>& family_;
  const std::vector<std::string> label_names_;
  mutable absl::Mutex mu_;
  // Key: the values joined by '\0' (label values are text, never NUL).
  mutable absl::flat_hash_map<std::string, prometheus::Counter*> series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cn::common
