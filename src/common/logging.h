#pragma once

// The logging facade: one line per event on stderr, as text or as JSON objects.
//
// Components log through spdlog's default logger after main has called ConfigureLogging once.
// The JSON form is {"time": RFC 3339, "level": ..., "msg": ...} per line so that log collectors
// can parse it without a custom pattern. Messages must never contain keys or quotes (STYLE rule 9).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cn::common {

enum class LogFormat { kText, kJson };

// Parses "text" or "json"; anything else is InvalidArgument naming the value.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name);

// Installs a stderr logger with the given format as spdlog's default. Thread-safe logger;
// call once from main before any thread starts.
void ConfigureLogging(LogFormat format, bool verbose = false);

// Escapes a string for inclusion in a JSON string literal (used by the JSON log pattern).
std::string JsonEscape(absl::string_view text);

}  // namespace cn::common
