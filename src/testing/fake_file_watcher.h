#pragma once

// FakeFileWatcher: a FileWatcher driven by the test. Events are pushed with Push; Wait returns
// them. With a FakeClock, a Wait that finds no event advances the clock by its timeout and
// returns at once, so code that sleeps on the watcher runs through simulated time; without one,
// Wait blocks (in real time) until an event, a Wake, or the timeout.
//
// Thread safety: all methods are safe from several threads.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "src/os/file_watcher.h"
#include "src/testing/fake_clock.h"

namespace cn::testing {

class FakeFileWatcher : public os::FileWatcher {
 public:
  explicit FakeFileWatcher(FakeClock* clock = nullptr) : clock_(clock) {}

  // Directories for which Watch answers NotFound, as for a directory that does not exist.
  void SetMissing(const std::string& directory, bool missing) {
    absl::MutexLock lock(&mutex_);
    if (missing) {
      missing_.insert(directory);
    } else {
      missing_.erase(directory);
    }
  }
  void Push(os::FileEvent event) {
    absl::MutexLock lock(&mutex_);
    events_.push_back(std::move(event));
  }
  std::set<std::string> watched() const {
    absl::MutexLock lock(&mutex_);
    return watched_;
  }
  // Waits (real time) until Wait has been entered at least `count` times.
  bool WaitForWaitCalls(int count, absl::Duration timeout) const {
    absl::MutexLock lock(&mutex_);
    auto reached = [this, count]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return wait_calls_ >= count; };
    return mutex_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

  absl::Status Watch(absl::string_view local_directory) override {
    absl::MutexLock lock(&mutex_);
    std::string directory(local_directory);
    if (missing_.count(directory) != 0) {
      return absl::NotFoundError(directory + " does not exist");
    }
    watched_.insert(directory);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<os::FileEvent>> Wait(absl::Duration timeout) override {
    absl::MutexLock lock(&mutex_);
    ++wait_calls_;
    if (events_.empty() && !woken_) {
      if (clock_ != nullptr) {
        clock_->Advance(timeout);
      } else {
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
          return !events_.empty() || woken_;
        };
        mutex_.AwaitWithTimeout(absl::Condition(&ready), timeout);
      }
    }
    woken_ = false;
    std::vector<os::FileEvent> events;
    events.swap(events_);
    return events;
  }

  void Wake() override {
    absl::MutexLock lock(&mutex_);
    woken_ = true;
  }

 private:
  FakeClock* const clock_;
  mutable absl::Mutex mutex_;
  std::vector<os::FileEvent> events_ ABSL_GUARDED_BY(mutex_);
  std::set<std::string> missing_ ABSL_GUARDED_BY(mutex_);
  std::set<std::string> watched_ ABSL_GUARDED_BY(mutex_);
  int wait_calls_ ABSL_GUARDED_BY(mutex_) = 0;
  bool woken_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace cn::testing
