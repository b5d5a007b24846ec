#pragma once

// A simulated SGX host: the CPUID table and the host-root directory tree that a machine with the
// given SGX setup would show. Used by tests, by the main job on machines without SGX (README
// command 1) and by the e2e harness, so that everything above the probe runs without hardware.
//
// The files written are those the probe reads: device nodes (as plain placeholder files, since
// creating real character devices needs privileges a fixture should not need), the per-NUMA-node
// sysfs EPC sizes, the AESM socket (a real bound Unix socket) and the misc cgroup capacity.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "src/os/cpuid.h"
#include "src/sgx/platform.h"

namespace cn::sgx {

struct SimulatedHost {
  CpuFeatures cpu;                       // encoded into leaves 7 and 0x12
  std::vector<EpcSection> epc_sections;  // encoded into leaf 0x12 sub-leaves 2..
  std::vector<NumaEpc> sysfs_numa_epc;   // written as nodeN/x86/sgx_total_bytes when non-empty
  DriverKind driver = DriverKind::kNone;
  bool provision_device = true;  // for in-kernel and DCAP drivers
  bool aesm = false;
  std::optional<uint64_t> misc_cgroup_epc_bytes;
};

// A typical recent server: SGX1+SGX2+FLC+KSS, in-kernel driver, one EPC section of `epc_bytes`
// on NUMA node 0 (also exposed through sysfs), no AESM.
SimulatedHost TypicalSgx2Host(uint64_t epc_bytes);

// The CPUID table such a CPU answers.
os::TableCpuid EncodeCpuid(const SimulatedHost& host);

// The same table in the --cpuid-file text format, one line per non-zero leaf/sub-leaf.
std::string EncodeCpuidFile(const SimulatedHost& host);

// Writes the host's files under `root` (an existing directory). Errors name the failing path.
absl::Status WriteHostRoot(const SimulatedHost& host, const std::string& root);

}  // namespace cn::sgx
