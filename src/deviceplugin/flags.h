#pragma once

// The command line of sgx-device-plugin (docs/device-plugin.md documents every flag).

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/deviceplugin/resources.h"

namespace cn::deviceplugin {

struct ParsedFlags {
  Options options;
  bool verbose = false;
  // Set when --help was asked for: print it and exit 0 without running.
  std::optional<std::string> help;
};

// Parses and validates the flags (argv[0] is the program name). InvalidArgument naming the flag
// and the value for anything wrong: unknown flags, a bad --resources list, limits outside
// 1..kMaxSlotLimit, an unparsable --metrics-addr, an unknown --log-format.
absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& argv);

}  // namespace cn::deviceplugin
