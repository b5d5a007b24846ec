// sgx-detect: reports what SGX this host has and what is wrong.
// Exit status: 0 ready, 1 not ready, 2 usage error or unreadable input.

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "CLI/CLI.hpp"
#include "nlohmann/json.hpp"
#include "src/os/cpuid.h"
#include "src/os/host_file_system.h"
#include "src/sgx/platform.h"

namespace {

constexpr int kExitReady = 0;
constexpr int kExitNotReady = 1;
constexpr int kExitUsage = 2;

int Run(int argc, char** argv) {
  CLI::App app{
      "sgx-detect: reports the SGX capabilities of this host (CPU features, EPC, driver, "
      "devices, AESM) and what is wrong.\nExit status: 0 ready, 1 not ready, 2 usage or input "
      "error.",
      "sgx-detect"};
  std::string host_root = "/";
  std::string cpuid_file;
  bool json = false;
  app.add_option("--host-root", host_root, "read every host path under this directory (default /)");
  app.add_option("--cpuid-file", cpuid_file,
                 "take CPUID from this file (lines: LEAF SUBLEAF EAX EBX ECX EDX, hex) instead "
                 "of the instruction");
  app.add_flag("--json", json, "print one JSON object instead of the report");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    std::cerr << "sgx-detect: " << error.what() << "\n"
              << "run 'sgx-detect --help' for usage\n";
    return kExitUsage;
  }

  std::unique_ptr<cn::os::Cpuid> cpuid;
  if (cpuid_file.empty()) {
    cpuid = std::make_unique<cn::os::X86Cpuid>();
  } else {
    std::ifstream in(cpuid_file, std::ios::binary);
    if (!in) {
      std::cerr << "sgx-detect: cannot read --cpuid-file " << cpuid_file << "\n";
      return kExitUsage;
    }
    std::stringstream content;
    content << in.rdbuf();
    auto table = cn::os::ParseCpuidTable(content.str(), cpuid_file);
    if (!table.ok()) {
      std::cerr << "sgx-detect: " << table.status().message() << "\n";
      return kExitUsage;
    }
    cpuid = std::move(*table);
  }
  cn::os::HostFileSystem file_system(host_root);
  if (auto root_type = file_system.Stat("/");
      !root_type.ok() || *root_type != cn::os::FileType::kDirectory) {
    std::cerr << "sgx-detect: --host-root " << host_root << " is not a directory\n";
    return kExitUsage;
  }

  auto platform = cn::sgx::ProbePlatform(file_system, *cpuid);
  if (!platform.ok()) {
    std::cerr << "sgx-detect: " << platform.status().message() << "\n";
    return kExitUsage;
  }
  if (json) {
    std::cout << cn::sgx::PlatformToJson(*platform).dump(2) << "\n";
  } else {
    std::cout << cn::sgx::FormatReport(*platform);
  }
  return platform->ready ? kExitReady : kExitNotReady;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
