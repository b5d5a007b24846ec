#pragma once

// Clock: the only way our code reads the time. Verification takes time as a parameter
// (STYLE rule 4); only service layers hold a Clock.
//
// Thread safety: Now() is safe from several threads.

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cn::os {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace cn::os
