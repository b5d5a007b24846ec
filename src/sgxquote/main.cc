// sgx-quote: the only place the real file system, clock and CPU-time reader are built.

#include <time.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "src/os/clock.h"
#include "src/os/host_file_system.h"
#include "src/sgxquote/cli.h"

int main(int argc, char** argv) {
  const cn::os::HostFileSystem files("/");
  const cn::os::RealClock clock;
  auto cpu_time = [] {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return absl::DurationFromTimespec(now);
  };
  return cn::sgxquote::RunCli(std::vector<std::string>(argv, argv + argc), files, clock, std::cout,
                              std::cerr, cpu_time);
}
