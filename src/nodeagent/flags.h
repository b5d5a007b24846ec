#pragma once

// The command line of sgx-node-agent (docs/node-agent.md documents every flag; the interface
// is fixed by the issue so scripts and tests can rely on it).

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cn::nodeagent {

struct Flags {
  std::string node_name;   // --node-name, default the NODE_NAME environment variable
  std::string kubeconfig;  // empty: in-cluster
  std::string host_root = "/";
  std::string cpuid_file;
  std::string nfd_features_dir;  // non-empty: write an NFD feature file instead of labelling
  absl::Duration resync_interval = absl::Seconds(60);
  bool once = false;
  std::string metrics_addr = ":9877";
  std::string log_format = "text";
  bool verbose = false;
  std::optional<std::string> help;  // --help: print and exit 0
};

// Parses and validates argv (argv[0] is the program name). `node_name_env` is NODE_NAME's value.
// InvalidArgument naming the flag for anything wrong, including no node name when labelling the
// Node (with --nfd-features-dir the API server is not used and no name is needed).
absl::StatusOr<Flags> ParseFlags(const std::vector<std::string>& argv,
                                 std::optional<std::string> node_name_env);

}  // namespace cn::nodeagent
