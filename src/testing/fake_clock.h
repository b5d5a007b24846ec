#pragma once

// FakeClock: a Clock that stands still until a test moves it.

#include "absl/synchronization/mutex.h"
#include "src/os/clock.h"

namespace cn::testing {

class FakeClock : public os::Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1767225600)) : now_(start) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mutex_);
    return now_;
  }
  void Advance(absl::Duration duration) {
    absl::MutexLock lock(&mutex_);
    now_ += duration;
  }
  void Set(absl::Time time) {
    absl::MutexLock lock(&mutex_);
    now_ = time;
  }

 private:
  mutable absl::Mutex mutex_;
  absl::Time now_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace cn::testing
