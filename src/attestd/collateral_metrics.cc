#include "src/attestd/collateral_metrics.h"

#include <cstdint>

#include "prometheus/family.h"

namespace cn::attestd {
namespace {

// Adds what a cumulative counter gained since `last` (the cache's counters never go back).
void AddGrowth(prometheus::Counter& counter, uint64_t now, uint64_t& last) {
  if (now > last) {
    counter.Increment(static_cast<double>(now - last));
  }
  last = now;
}

}  // namespace

CollateralMetrics::CollateralMetrics(prometheus::Registry& registry)
    : lookups_(prometheus::BuildCounter()
                   .Name("cn_attestd_collateral_cache_total")
                   .Help("Collateral lookups in the online cache, by result")
                   .Register(registry)),
      fetches_(prometheus::BuildCounter()
                   .Name("cn_attestd_collateral_upstream_fetches_total")
                   .Help("Fetches from the PCS/PCCS (misses and background refreshes), by outcome")
                   .Register(registry)),
      hits_(lookups_.Add({{"result", "hit"}})),
      misses_(lookups_.Add({{"result", "miss"}})),
      stale_served_(lookups_.Add({{"result", "stale_served"}})),
      not_found_served_(lookups_.Add({{"result", "not_found_served"}})),
      fetches_ok_(fetches_.Add({{"outcome", "ok"}})),
      fetches_failed_(fetches_.Add({{"outcome", "failed"}})),
      store_failures_(prometheus::BuildCounter()
                          .Name("cn_attestd_collateral_store_failures_total")
                          .Help("Fetched collateral that could not be written to the cache file")
                          .Register(registry)
                          .Add({})),
      upstream_seconds_(prometheus::BuildHistogram()
                            .Name("cn_attestd_collateral_upstream_seconds")
                            .Help("Time of each PCS/PCCS fetch, failed or not")
                            .Register(registry)
                            .Add({}, prometheus::Histogram::BucketBoundaries{
                                         0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})) {}

std::function<void(absl::Duration, const absl::Status&)> CollateralMetrics::FetchObserver() {
  return [this](absl::Duration latency, const absl::Status&) {
    upstream_seconds_.Observe(absl::ToDoubleSeconds(latency));
  };
}

void CollateralMetrics::Update(const pccs::CollateralCacheStats& stats) {
  absl::MutexLock lock(&mutex_);
  AddGrowth(hits_, stats.hits, last_.hits);
  AddGrowth(misses_, stats.misses, last_.misses);
  AddGrowth(stale_served_, stats.stale_served, last_.stale_served);
  AddGrowth(not_found_served_, stats.not_found_served, last_.not_found_served);
  AddGrowth(fetches_ok_, stats.fetches, last_.fetches);
  AddGrowth(fetches_failed_, stats.refresh_failures, last_.refresh_failures);
  AddGrowth(store_failures_, stats.store_failures, last_.store_failures);
}

}  // namespace cn::attestd
