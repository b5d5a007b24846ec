#pragma once

// CollateralMetrics: the online collateral cache's figures as Prometheus series of sgx-attestd:
//   cn_attestd_collateral_cache_total{result="hit|miss|stale_served|not_found_served"}
//   cn_attestd_collateral_upstream_fetches_total{outcome="ok|failed"}
//   cn_attestd_collateral_store_failures_total
//   cn_attestd_collateral_upstream_seconds (histogram of every upstream fetch, refreshes too)
//
// The cache keeps cumulative counters of its own (pccs::CollateralCacheStats); Update copies
// what grew since the last call into the registry's counters, and is called before each scrape.
// Upstream latency is observed as it happens through FetchObserver, which the cache calls from
// its fetch threads.
//
// Thread safety: Update and the observer may run on any threads at once.

#include <functional>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "src/pccs/collateral_cache.h"

namespace cn::attestd {

class CollateralMetrics {
 public:
  explicit CollateralMetrics(prometheus::Registry& registry);

  // For CachingCollateralSource::Options::on_fetch.
  std::function<void(absl::Duration, const absl::Status&)> FetchObserver();

  void Update(const pccs::CollateralCacheStats& stats);

 private:
  prometheus::Family<prometheus::Counter>& lookups_;
  prometheus::Family<prometheus::Counter>& fetches_;
  prometheus::Counter& hits_;
  prometheus::Counter& misses_;
  prometheus::Counter& stale_served_;
  prometheus::Counter& not_found_served_;
  prometheus::Counter& fetches_ok_;
  prometheus::Counter& fetches_failed_;
  prometheus::Counter& store_failures_;
  prometheus::Histogram& upstream_seconds_;

  absl::Mutex mutex_;
  pccs::CollateralCacheStats last_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace cn::attestd
