#pragma once

// The platform probe: what SGX this host has, read only through the OS interfaces.
//
// ProbePlatform gathers every fact of DESIGN.md section 3 -- CPU features, EPC sections from
// CPUID, EPC per NUMA node from sysfs, the driver and its device nodes, the AESM socket, the misc
// cgroup's sgx_epc capacity -- and turns what is wrong into plain-language problems, each with
// what to do. Paths in a Platform are host paths (no --host-root prefix): they are what the
// kubelet and container runtime must be given.
//
// Thread safety: the functions are pure functions of their arguments; Platform is a value.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json_fwd.hpp"
#include "src/os/cpuid.h"
#include "src/os/file_system.h"

namespace cn::sgx {

// CPUID facts. All false/zero on a CPU without SGX.
struct CpuFeatures {
  bool sgx = false;         // CPUID.(7,0):EBX[2]
  bool flc = false;         // CPUID.(7,0):ECX[30], flexible launch control
  bool sgx1 = false;        // CPUID.(0x12,0):EAX[0]
  bool sgx2 = false;        // CPUID.(0x12,0):EAX[1]
  bool edeccssa = false;    // CPUID.(0x12,0):EAX[11]
  bool kss = false;         // CPUID.(0x12,1):EAX[7], key separation and sharing
  bool aex_notify = false;  // CPUID.(0x12,1):EAX[10]
  // log2 of the largest 64-bit enclave, CPUID.(0x12,0):EDX[15:8]; 0 when not reported.
  int max_enclave_size_64 = 0;
};

enum class EpcProtection { kIntegrity, kConfidentialityOnly, kUnknown };
absl::string_view EpcProtectionName(EpcProtection protection);  // "integrity", ...

struct EpcSection {
  uint64_t base = 0;
  uint64_t size = 0;
  EpcProtection protection = EpcProtection::kUnknown;
};

struct NumaEpc {
  int node = 0;
  uint64_t bytes = 0;
};

enum class EpcSource { kNone, kSysfs, kCpuid };
absl::string_view EpcSourceName(EpcSource source);  // "none", "sysfs", "cpuid"

enum class DriverKind { kNone, kInKernel, kDcap, kOutOfTree };
absl::string_view DriverKindName(DriverKind kind);  // "none", "in-kernel", "dcap", "out-of-tree"

struct DeviceNode {
  std::string host_path;          // e.g. "/dev/sgx_enclave"
  bool character_device = false;  // false for placeholder files in a fixture host root
};

struct Driver {
  DriverKind kind = DriverKind::kNone;
  std::optional<DeviceNode> enclave_device;    // /dev/sgx_enclave, /dev/sgx/enclave or /dev/isgx
  std::optional<DeviceNode> provision_device;  // /dev/sgx_provision or /dev/sgx/provision
};

// The report line a problem belongs to, so the human report prints each fix under its check.
enum class Check { kCpu, kSgx1, kEpc, kEnclaveDevice, kProvisionDevice, kAesm };

struct Problem {
  Check check = Check::kCpu;
  std::string text;  // what is wrong and what to do, in plain words

  friend bool operator==(const Problem&, const Problem&) = default;
};

// Whether the kernel can limit EPC per cgroup: the misc controller of cgroup v2 lists
// "sgx_epc" in /sys/fs/cgroup/misc.capacity (DESIGN.md section 3). Not a problem when absent:
// EPC is then accounted, not enforced.
struct EpcCgroup {
  bool available = false;
  std::optional<uint64_t> capacity_bytes;  // set when available
  // One plain sentence: what was found, and when unavailable, why.
  std::string detail;
};

struct Platform {
  CpuFeatures cpu;
  std::vector<EpcSection> epc_sections;  // from CPUID, in sub-leaf order
  std::vector<NumaEpc> numa_nodes;       // from sysfs, sorted by node; empty when not exposed
  uint64_t epc_total_bytes = 0;          // sysfs sum when present, else CPUID sum
  EpcSource epc_source = EpcSource::kNone;
  Driver driver;
  std::optional<std::string> aesm_socket;         // host path when the socket exists
  std::optional<uint64_t> misc_cgroup_epc_bytes;  // "sgx_epc" in /sys/fs/cgroup/misc.capacity
  EpcCgroup epc_cgroup;
  // Plain-language problems, each saying what is wrong and what to do. Empty on a healthy host.
  std::vector<Problem> problems;
  // An enclave can be created here: SGX1, EPC > 0 and an enclave device present.
  bool ready = false;
};

// Host paths the probe reads. Fixed by the kernel and the SGX software stack.
inline constexpr absl::string_view kInKernelEnclaveDevice = "/dev/sgx_enclave";
inline constexpr absl::string_view kInKernelProvisionDevice = "/dev/sgx_provision";
inline constexpr absl::string_view kDcapEnclaveDevice = "/dev/sgx/enclave";
inline constexpr absl::string_view kDcapProvisionDevice = "/dev/sgx/provision";
inline constexpr absl::string_view kOutOfTreeDevice = "/dev/isgx";
inline constexpr absl::string_view kAesmSocket = "/var/run/aesmd/aesm.socket";
inline constexpr absl::string_view kAesmDirectory = "/var/run/aesmd";
inline constexpr absl::string_view kNumaNodeDirectory = "/sys/devices/system/node";
inline constexpr absl::string_view kMiscCgroupCapacity = "/sys/fs/cgroup/misc.capacity";

// Decoding of CPUID alone (exposed for bit-level tests).
CpuFeatures DecodeCpuFeatures(const os::Cpuid& cpuid);
// Sub-leaves 2..9 of leaf 0x12 until the first of type 0 ("end of list").
std::vector<EpcSection> DecodeEpcSections(const os::Cpuid& cpuid);

// Probes the host. Missing files are facts (no driver, no sysfs EPC), not errors. Fails with
// InvalidArgument only when a file that exists holds something unreadable, for example a
// sgx_total_bytes that is not a number; the message names the host path and the content.
absl::StatusOr<Platform> ProbePlatform(const os::FileSystem& file_system, const os::Cpuid& cpuid);

// Reads /sys/fs/cgroup/misc.capacity. Never fails: an absent or unreadable file is a fact
// reported in `detail`; a "sgx_epc" value that is not a number makes it unavailable, saying so.
EpcCgroup ProbeEpcCgroup(const os::FileSystem& file_system);

// The problems' texts, in order (for logs and JSON).
std::vector<std::string> ProblemTexts(const Platform& platform);

// The --json form of sgx-detect (schema in the README).
nlohmann::json PlatformToJson(const Platform& platform);

// The human report: one line per check marked "[ok]" or "[FAIL]" ("[info]" for facts that are
// neither), each followed by its problems ("fix:" under a failed check, "note:" otherwise), and
// the verdict last.
std::string FormatReport(const Platform& platform);

}  // namespace cn::sgx
