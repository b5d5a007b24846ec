#include "src/deviceplugin/flags.h"

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/command_line.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/http/probe_server.h"

namespace cn::deviceplugin {
namespace {

absl::Status CheckLimit(absl::string_view flag, int value) {
  if (value < 1 || value > kMaxSlotLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", value, " is not between 1 and ", kMaxSlotLimit));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& argv) {
  ParsedFlags parsed;
  Options& options = parsed.options;
  std::string resources = DefaultResourceList();
  int reprobe_seconds = static_cast<int>(absl::ToInt64Seconds(options.reprobe_interval));
  int pod_resources_seconds =
      static_cast<int>(absl::ToInt64Seconds(options.pod_resources_interval));

  CLI::App app(
      "Kubernetes device plugin for Intel SGX: advertises EPC memory and the SGX "
      "enclave and provision devices to the kubelet.",
      "sgx-device-plugin");
  // A flag given twice takes its last value, as Go programs do, so that an overlay can append
  // an argument to override one of the base manifest's.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--kubelet-dir", options.kubelet_dir,
                 "the kubelet's device plugin directory (kubelet.sock lives there)")
      ->capture_default_str();
  app.add_option("--host-root", options.host_root,
                 "read host files (/dev, /sys, /var/run/aesmd) under this directory")
      ->capture_default_str();
  app.add_option("--cpuid-file", options.cpuid_file,
                 "read CPUID from this file (LEAF SUBLEAF EAX EBX ECX EDX per line) instead of "
                 "the processor");
  app.add_option("--resources", resources, "comma-separated resources to serve")
      ->capture_default_str();
  app.add_option("--enclave-limit", options.enclave_limit,
                 "shared slots advertised for sgx.intel.com/enclave")
      ->capture_default_str();
  app.add_option("--provision-limit", options.provision_limit,
                 "shared slots advertised for sgx.intel.com/provision")
      ->capture_default_str();
  app.add_option("--epc-with-provision", options.epc_with_provision,
                 "the EPC resource also gives containers the provision device (true|false)")
      ->capture_default_str();
  app.add_flag("--numa-topology", options.numa_topology,
               "send the NUMA node of each EPC device and keep allocations on one node");
  app.add_option("--metrics-addr", options.metrics_addr,
                 "HOST:PORT or :PORT for /metrics, /healthz and /readyz; empty disables them")
      ->capture_default_str();
  app.add_option("--log-format", options.log_format, "text or json")->capture_default_str();
  app.add_option("--reprobe-interval", reprobe_seconds,
                 "seconds between host probes when no file event arrives")
      ->capture_default_str();
  app.add_option("--pod-resources-socket", options.pod_resources_socket,
                 "the kubelet's PodResources socket, for per-pod EPC metrics; empty turns them "
                 "off")
      ->capture_default_str();
  app.add_option("--pod-resources-interval", pod_resources_seconds,
                 "seconds between PodResources lists (also listed after every allocation)")
      ->capture_default_str();
  app.add_flag("--enforce-epc", options.enforce_epc,
               "write each pod's EPC into misc.max of its cgroup when the kernel has the EPC "
               "cgroup");
  app.add_flag("--verbose", parsed.verbose, "log debug messages too");

  ASSIGN_OR_RETURN(parsed.help, common::ParseCommandLine(app, argv));
  if (parsed.help.has_value()) {
    return parsed;
  }
  ASSIGN_OR_RETURN(options.resources, ParseResourceList(resources));
  RETURN_IF_ERROR(CheckLimit("--enclave-limit", options.enclave_limit));
  RETURN_IF_ERROR(CheckLimit("--provision-limit", options.provision_limit));
  if (!options.metrics_addr.empty()) {
    RETURN_IF_ERROR(http::ParseListenAddress(options.metrics_addr).status());
  }
  RETURN_IF_ERROR(common::ParseLogFormat(options.log_format).status());
  if (reprobe_seconds < 1 || reprobe_seconds > 3600) {
    return absl::InvalidArgumentError(
        absl::StrCat("--reprobe-interval: ", reprobe_seconds, " is not between 1 and 3600"));
  }
  options.reprobe_interval = absl::Seconds(reprobe_seconds);
  if (pod_resources_seconds < 1 || pod_resources_seconds > 3600) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--pod-resources-interval: ", pod_resources_seconds, " is not between 1 and 3600"));
  }
  options.pod_resources_interval = absl::Seconds(pod_resources_seconds);
  if (options.kubelet_dir.empty()) {
    return absl::InvalidArgumentError("--kubelet-dir: must not be empty");
  }
  // gRPC's unix:// addresses must be absolute, and absolute paths make the logs unambiguous.
  options.kubelet_dir = common::AbsoluteDirectory(options.kubelet_dir);
  options.host_root = common::AbsoluteDirectory(options.host_root);
  options.pod_resources_socket = common::AbsolutePath(options.pod_resources_socket);
  return parsed;
}

}  // namespace cn::deviceplugin
