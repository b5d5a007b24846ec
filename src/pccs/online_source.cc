#include "src/pccs/online_source.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

namespace cn::pccs {

OnlineCollateralSource::OnlineCollateralSource(const OnlineSourceOptions& options,
                                               const os::Clock* clock)
    : http_({.ca_file = options.ca_file}, clock),
      pcs_({.base_url = options.pccs_url, .request_timeout = options.upstream_timeout}, &http_,
           clock) {}

absl::StatusOr<std::unique_ptr<OnlineCollateralSource>> OnlineCollateralSource::Create(
    OnlineSourceOptions options, const os::Clock* clock) {
  if (!absl::StartsWith(options.pccs_url, "http://") &&
      !absl::StartsWith(options.pccs_url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--pccs-url \"", options.pccs_url, "\" is not an http:// or https:// URL"));
  }
  std::unique_ptr<OnlineCollateralSource> source(new OnlineCollateralSource(options, clock));
  if (!options.cache_path.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<CollateralStore> store,
                     CollateralStore::Open(options.cache_path));
    CachingCollateralSource::Options cache_options = std::move(options.cache);
    cache_options.upstream_timeout = options.upstream_timeout;
    ASSIGN_OR_RETURN(source->cache_,
                     CachingCollateralSource::Create(std::move(cache_options), std::move(store),
                                                     &source->pcs_, clock));
  }
  return source;
}

absl::StatusOr<std::shared_ptr<const dcap::Collateral>> OnlineCollateralSource::Get(
    const PlatformId& platform, absl::Time deadline) {
  return cache_ ? cache_->Get(platform, deadline) : pcs_.Get(platform, deadline);
}

}  // namespace cn::pccs
