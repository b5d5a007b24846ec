#pragma once

// Metric plumbing the daemons share (prometheus-cpp): registering a single unlabelled counter or
// gauge in one call, and the one metric two daemons export with the same name and meaning.
//
// Thread safety: registration is not meant to race with itself (daemons register in their
// Metrics constructors); the returned metrics are safe to update from any thread.

#include <string>

#include "prometheus/counter.h"
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

}  // namespace cn::common
