// sgx-quote: the only place the real file system and clock are built.

#include <iostream>
#include <string>
#include <vector>

#include "src/os/clock.h"
#include "src/os/host_file_system.h"
#include "src/sgxquote/cli.h"

int main(int argc, char** argv) {
  const cn::os::HostFileSystem files("/");
  const cn::os::RealClock clock;
  return cn::sgxquote::RunCli(std::vector<std::string>(argv, argv + argc), files, clock, std::cout,
                              std::cerr);
}
