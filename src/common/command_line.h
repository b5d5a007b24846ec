#pragma once

// The command-line conventions every daemon here shares (flags are defined by each daemon with
// CLI11; this is how they are read):
//   - "--flag=" means the flag with an empty value (CLI11 2.1 would read it as the flag without
//     a value), so that "--metrics-addr=" disables the metrics server;
//   - --help (and --help-all) give the help text instead of an error;
//   - a parse error is InvalidArgument with CLI11's message naming the flag, and "(see --help)".
// A flag given twice takes its last value when the app's option defaults say TakeLast, which
// each daemon sets before it adds its options.
//
// Paths from flags are made absolute and normalised so that logs name unambiguous paths and
// relative references (a kubeconfig's files) resolve the same way wherever they are used.

#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cn::common {

// Parses `argv` (argv[0] first, as main receives it) into `app`'s options. Returns the help
// text when help was asked for (the caller prints it and exits 0), nullopt after a successful
// parse, or InvalidArgument.
absl::StatusOr<std::optional<std::string>> ParseCommandLine(CLI::App& app,
                                                            const std::vector<std::string>& argv);

// `path` made absolute (against the working directory) and lexically normalised; empty stays
// empty.
std::string AbsolutePath(absl::string_view path);
// AbsolutePath without trailing slashes, except for "/" itself; empty means "/" (as
// --host-root does).
std::string AbsoluteDirectory(absl::string_view path);

}  // namespace cn::common
