#pragma once

// The daemons' command lines go through CLI11; this runs an App over argv the same way for
// each of them:
//   - "--flag=" means the empty value (CLI11 2.1 would read it as the flag without a value,
//     yet "--metrics-addr=" must mean "disabled");
//   - --help returns the help text (the caller prints it and exits 0);
//   - any parse error is InvalidArgument with CLI11's message and "(see --help)".

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace CLI {
class App;
}

namespace cn::common {

// argv[0] is the program name. Returns the help text when --help was given, else nullopt.
absl::StatusOr<std::optional<std::string>> ParseCommandLine(CLI::App& app,
                                                            const std::vector<std::string>& argv);

}  // namespace cn::common
