#include "src/nodeagent/flags.h"

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/command_line.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/http/probe_server.h"
#include "src/kube/client.h"

namespace cn::nodeagent {

absl::StatusOr<Flags> ParseFlags(const std::vector<std::string>& argv,
                                 std::optional<std::string> node_name_env) {
  Flags flags;
  int resync_seconds = static_cast<int>(absl::ToInt64Seconds(flags.resync_interval));
  CLI::App app(
      "Labels this Kubernetes node with its Intel SGX capabilities (sgx.confidential-nodes.io/*), "
      "or writes them to an NFD local feature file.",
      "sgx-node-agent");
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--node-name", flags.node_name, "the Node to label (default: $NODE_NAME)");
  app.add_option("--kubeconfig", flags.kubeconfig,
                 "kubeconfig file for the API server (default: the in-cluster service account)");
  app.add_option("--host-root", flags.host_root,
                 "read host files (/dev, /sys, /var/run/aesmd) under this directory")
      ->capture_default_str();
  app.add_option("--cpuid-file", flags.cpuid_file,
                 "read CPUID from this file (LEAF SUBLEAF EAX EBX ECX EDX per line)");
  app.add_option("--nfd-features-dir", flags.nfd_features_dir,
                 "write an NFD local feature file in this directory instead of labelling the Node");
  app.add_option("--resync-interval", resync_seconds,
                 "seconds between full re-publications (repairs hand edits, re-created Nodes)")
      ->capture_default_str();
  app.add_flag("--once", flags.once, "publish once and exit (0 success, 1 failure)");
  app.add_option("--metrics-addr", flags.metrics_addr,
                 "HOST:PORT or :PORT for /metrics, /healthz and /readyz; empty disables them")
      ->capture_default_str();
  app.add_option("--log-format", flags.log_format, "text or json")->capture_default_str();
  app.add_flag("--verbose", flags.verbose, "log debug messages too");

  ASSIGN_OR_RETURN(flags.help, common::ParseCommandLine(app, argv));
  if (flags.help.has_value()) {
    return flags;
  }
  if (resync_seconds < 1 || resync_seconds > 86400) {
    return absl::InvalidArgumentError(
        absl::StrCat("--resync-interval: ", resync_seconds, " is not between 1 and 86400"));
  }
  flags.resync_interval = absl::Seconds(resync_seconds);
  if (!flags.metrics_addr.empty()) {
    RETURN_IF_ERROR(http::ParseListenAddress(flags.metrics_addr).status());
  }
  RETURN_IF_ERROR(common::ParseLogFormat(flags.log_format).status());
  if (flags.node_name.empty() && node_name_env.has_value()) {
    flags.node_name = *node_name_env;
  }
  if (flags.nfd_features_dir.empty()) {
    if (flags.node_name.empty()) {
      return absl::InvalidArgumentError(
          "no node name: give --node-name or set NODE_NAME (in a pod, from the downward API: "
          "fieldRef spec.nodeName)");
    }
    absl::Status valid = kube::NodePath(flags.node_name).status();
    if (!valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--node-name: ", valid.message()));
    }
  }
  // Absolute, so that a kubeconfig's relative references resolve against its own directory
  // and the logs name unambiguous paths.
  for (std::string* path : {&flags.kubeconfig, &flags.nfd_features_dir, &flags.cpuid_file}) {
    *path = common::AbsolutePath(*path);
  }
  flags.host_root = common::AbsoluteDirectory(flags.host_root);
  return flags;
}

}  // namespace cn::nodeagent
