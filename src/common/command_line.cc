#include "src/common/command_line.h"

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cn::common {

absl::StatusOr<std::optional<std::string>> ParseCommandLine(CLI::App& app,
                                                            const std::vector<std::string>& argv) {
  // CLI11 takes the arguments reversed, without the program name.
  std::vector<std::string> arguments;
  for (size_t i = argv.size(); i > 1; --i) {
    const std::string& argument = argv[i - 1];
    if (argument.size() > 3 && argument.rfind("--", 0) == 0 && argument.back() == '=') {
      arguments.push_back("");
      arguments.push_back(argument.substr(0, argument.size() - 1));
    } else {
      arguments.push_back(argument);
    }
  }
  try {
    app.parse(arguments);
  } catch (const CLI::CallForHelp&) {
    return app.help();
  } catch (const CLI::CallForAllHelp&) {
    return app.help();
  } catch (const CLI::ParseError& error) {
    return absl::InvalidArgumentError(absl::StrCat(error.what(), " (see --help)"));
  }
  return std::nullopt;
}

}  // namespace cn::common
