#pragma once

// FakeCollateralSource: a CollateralSource for tests that serves what the test put in, or the
// status the test set, and counts calls. Test-only.

#include <map>
#include <memory>
#include <tuple>

#include "absl/synchronization/mutex.h"
#include "src/pccs/collateral_source.h"

namespace cn::testing {

class FakeCollateralSource : public pccs::CollateralSource {
 public:
  void Put(const pccs::PlatformId& platform, dcap::Collateral collateral) {
    absl::MutexLock lock(&mu_);
    entries_[Key(platform)] = std::make_shared<const dcap::Collateral>(std::move(collateral));
  }
  // Every Get answers `status` (not OK) until cleared with OkStatus().
  void FailWith(absl::Status status) {
    absl::MutexLock lock(&mu_);
    failure_ = std::move(status);
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> Get(const pccs::PlatformId& platform,
                                                              absl::Time) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (!failure_.ok()) {
      return failure_;
    }
    auto it = entries_.find(Key(platform));
    if (it == entries_.end()) {
      return absl::NotFoundError("fake: no collateral for this platform");
    }
    return it->second;
  }

 private:
  using KeyType = std::tuple<std::array<uint8_t, 6>, pccs::PckCa, pccs::Tee>;
  static KeyType Key(const pccs::PlatformId& p) { return {p.fmspc, p.ca, p.tee}; }

  mutable absl::Mutex mu_;
  std::map<KeyType, std::shared_ptr<const dcap::Collateral>> entries_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cn::testing
