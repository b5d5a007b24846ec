#pragma once

// The three resources the plugin serves (DESIGN.md section 2) and the options that shape them.
//
// Resource names and socket names are fixed: workloads already ask for the names, and the
// kubelet finds each plugin by the socket name it registered. Socket names are short because a
// Unix socket path is limited to 107 bytes including the kubelet directory.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cn::deviceplugin {

enum class ResourceKind { kEpc, kEnclave, kProvision };

struct ResourceInfo {
  ResourceKind kind;
  absl::string_view name;         // the extended resource name, e.g. "sgx.intel.com/enclave"
  absl::string_view short_name;   // "epc", "enclave", "provision": for logs and --resources
  absl::string_view socket_name;  // file name in the kubelet directory
  absl::string_view id_prefix;    // device IDs are id_prefix + decimal index
};

// The description of one resource. Every ResourceKind has one.
const ResourceInfo& Info(ResourceKind kind);

inline constexpr absl::string_view kEpcResourceName = "kubernetes.azure.com/sgx_epc_mem_in_MiB";
inline constexpr absl::string_view kEnclaveResourceName = "sgx.intel.com/enclave";
inline constexpr absl::string_view kProvisionResourceName = "sgx.intel.com/provision";

// Parses --resources: a comma-separated list of resource names (or their short names), in any
// order, without repeats. Errors are InvalidArgument naming the offending entry. The result is
// in the fixed order epc, enclave, provision.
absl::StatusOr<std::vector<ResourceKind>> ParseResourceList(absl::string_view text);

// All three resources, comma-separated: the default of --resources.
std::string DefaultResourceList();

// The daemon's configuration, one field per flag (docs/device-plugin.md lists them).
struct Options {
  std::string kubelet_dir = "/var/lib/kubelet/device-plugins";
  std::string host_root = "/";
  std::string cpuid_file;  // empty: ask the processor
  std::vector<ResourceKind> resources = {ResourceKind::kEpc, ResourceKind::kEnclave,
                                         ResourceKind::kProvision};
  int enclave_limit = 110;
  int provision_limit = 110;
  bool epc_with_provision = true;
  bool numa_topology = false;
  // host:port or :port (all interfaces); empty disables the HTTP endpoints.
  std::string metrics_addr = ":9876";
  std::string log_format = "text";
  // How often the host is probed again even without file events (the events are the fast path;
  // this catches what inotify cannot see, such as a driver loaded into an unwatched directory).
  absl::Duration reprobe_interval = absl::Seconds(5);
  // The kubelet's PodResources socket (a local path); empty turns per-pod accounting off.
  std::string pod_resources_socket = "/var/lib/kubelet/pod-resources/kubelet.sock";
  // How often PodResources is listed (also at once after every allocation).
  absl::Duration pod_resources_interval = absl::Seconds(10);
  // Write each pod's EPC into misc.max of its cgroup where the kernel has the EPC cgroup.
  bool enforce_epc = false;
  // The largest ListAndWatch message we send. The kubelet refuses anything above 4 MiB; the
  // headroom leaves room for gRPC framing and future fields.
  uint64_t max_list_and_watch_bytes = 3670016;  // 3.5 MiB
};

// The largest value accepted by --enclave-limit and --provision-limit. The kubelet keeps every
// device ID in memory and in its checkpoint; a limit this high is already absurd for shared
// slots, and it keeps the shared-slot messages far below the message cap.
inline constexpr int kMaxSlotLimit = 100000;

}  // namespace cn::deviceplugin
