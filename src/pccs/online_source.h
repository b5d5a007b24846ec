#pragma once

// OnlineCollateralSource: the assembly sgx-quote and sgx-attestd both use for `--pccs-url URL
// [--cache FILE]`: an HttpClient, a PcsClient for the URL and, when a cache file is given, a
// CachingCollateralSource on it in front. One object owning all three, so that callers build
// it in one line and nobody assembles the parts differently.
//
// Get follows the cache's rules with a cache, the PcsClient's without (every Get then asks the
// service). Create fails (FailedPrecondition, naming the file) when the cache file cannot be
// opened or is corrupt, and InvalidArgument when the URL is not http(s).
//
// Thread safety: Get may be called from many threads at once.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/http/http_client.h"
#include "src/os/clock.h"
#include "src/pccs/collateral_cache.h"
#include "src/pccs/collateral_source.h"
#include "src/pccs/pcs_client.h"

namespace cn::pccs {

struct OnlineSourceOptions {
  std::string pccs_url;
  std::string cache_path;  // empty: no cache
  // Bound on each request to the service (sgx-attestd's --upstream-timeout).
  absl::Duration upstream_timeout = absl::Seconds(5);
  std::string ca_file;  // PEM CAs for an HTTPS service with a private CA; empty: system store
  // Refresh timing and the metrics hook; its upstream_timeout is set from the one above.
  CachingCollateralSource::Options cache;
};

class OnlineCollateralSource : public CollateralSource {
 public:
  // `clock` must outlive the source.
  static absl::StatusOr<std::unique_ptr<OnlineCollateralSource>> Create(OnlineSourceOptions options,
                                                                        const os::Clock* clock);

  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> Get(const PlatformId& platform,
                                                              absl::Time deadline) override;

  // The cache's counters, or nullptr when there is no cache.
  const CachingCollateralSource* cache() const { return cache_.get(); }

 private:
  OnlineCollateralSource(const OnlineSourceOptions& options, const os::Clock* clock);

  http::HttpClient http_;
  PcsClient pcs_;
  std::unique_ptr<CachingCollateralSource> cache_;
};

}  // namespace cn::pccs
