// sgx-simulate-host: writes a simulated SGX node (a host root directory and a CPUID file) for
// running the SGX tools on a machine without SGX: the main job (scripts/run-main), benchmarks
// and demonstrations. Everything it writes is a fixture; nothing touches the real host.

#include <cstdio>
#include <fstream>
#include <string>

#include "CLI/CLI.hpp"
#include "src/sgx/platform.h"
#include "src/sgx/simulated_host.h"

int main(int argc, char** argv) {
  std::string root;
  std::string cpuid_file;
  uint64_t epc_mib = 256;
  int numa_nodes = 1;
  std::string driver = "in-kernel";
  bool aesm = false;
  bool no_provision = false;
  CLI::App app(
      "Writes a simulated SGX node: a host root (device nodes as placeholder files, sysfs EPC "
      "sizes, optionally an AESM socket) and a --cpuid-file, for sgx-detect and "
      "sgx-device-plugin on machines without SGX.",
      "sgx-simulate-host");
  app.add_option("--root", root, "directory to write the host root into (created)")->required();
  app.add_option("--cpuid-file", cpuid_file, "file to write the CPUID table to")->required();
  app.add_option("--epc-mib", epc_mib, "total EPC in MiB, split evenly over the NUMA nodes")
      ->capture_default_str();
  app.add_option("--numa-nodes", numa_nodes, "NUMA nodes with EPC")->capture_default_str();
  app.add_option("--driver", driver, "in-kernel, dcap, out-of-tree or none")->capture_default_str();
  app.add_flag("--aesm", aesm, "create the AESM socket /var/run/aesmd/aesm.socket");
  app.add_flag("--no-provision", no_provision, "leave out the provision device");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  if (epc_mib == 0 || numa_nodes < 1 || numa_nodes > 64) {
    std::fprintf(stderr, "sgx-simulate-host: --epc-mib must be positive, --numa-nodes 1..64\n");
    return 2;
  }
  constexpr uint64_t kMiB = 1024 * 1024;
  cn::sgx::SimulatedHost host = cn::sgx::TypicalSgx2Host(epc_mib * kMiB);
  host.sysfs_numa_epc.clear();
  for (int node = 0; node < numa_nodes; ++node) {
    uint64_t share = epc_mib / static_cast<uint64_t>(numa_nodes) +
                     (static_cast<uint64_t>(node) < epc_mib % static_cast<uint64_t>(numa_nodes));
    host.sysfs_numa_epc.push_back(cn::sgx::NumaEpc{node, share * kMiB});
  }
  if (driver == "in-kernel") {
    host.driver = cn::sgx::DriverKind::kInKernel;
  } else if (driver == "dcap") {
    host.driver = cn::sgx::DriverKind::kDcap;
  } else if (driver == "out-of-tree") {
    host.driver = cn::sgx::DriverKind::kOutOfTree;
    host.cpu.flc = false;
  } else if (driver == "none") {
    host.driver = cn::sgx::DriverKind::kNone;
  } else {
    std::fprintf(stderr,
                 "sgx-simulate-host: --driver '%s' is not in-kernel, dcap, out-of-tree "
                 "or none\n",
                 driver.c_str());
    return 2;
  }
  host.aesm = aesm;
  host.provision_device = !no_provision;
  std::error_code error;
  std::filesystem::create_directories(root, error);
  if (error) {
    std::fprintf(stderr, "sgx-simulate-host: cannot create %s: %s\n", root.c_str(),
                 error.message().c_str());
    return 1;
  }
  if (absl::Status status = cn::sgx::WriteHostRoot(host, root); !status.ok()) {
    std::fprintf(stderr, "sgx-simulate-host: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  std::ofstream out(cpuid_file, std::ios::trunc);
  out << cn::sgx::EncodeCpuidFile(host);
  out.close();
  if (!out) {
    std::fprintf(stderr, "sgx-simulate-host: cannot write %s\n", cpuid_file.c_str());
    return 1;
  }
  std::printf(
      "simulated SGX node: %llu MiB EPC on %d NUMA node(s), %s driver%s%s; host root %s, "
      "CPUID file %s\n",
      static_cast<unsigned long long>(epc_mib), numa_nodes, driver.c_str(),
      host.provision_device ? "" : " without provision device", aesm ? ", AESM socket" : "",
      root.c_str(), cpuid_file.c_str());
  return 0;
}
