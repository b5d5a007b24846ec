#pragma once

// RunProcess: runs a program to completion and captures its exit status, stdout and stderr.
// For integration tests of whole binaries. The child gets an empty stdin. A child that does not
// finish within `timeout` is killed and reported with exit_code -1 (a test must never hang).

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace cn::testing {

struct ProcessResult {
  int exit_code = -1;  // the exit status, 128+N for a signal N, -1 when killed for the timeout
  std::string out;
  std::string err;
};

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         absl::Duration timeout = absl::Seconds(60));

}  // namespace cn::testing
