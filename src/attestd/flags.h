#pragma once

// sgx-attestd's command line (docs/attestd.md, "Flags"; the interface is fixed by issue 9):
//
//   --listen HOST:PORT (default :8443)  [--tls-cert F --tls-key F]
//   --signing-key F [--signing-cert F] [--signing-key F2 [--signing-cert F2'] ...]
//   [--issuer URL] [--policy F] [--root-ca F] [--pccs-url URL] [--cache F]
//   [--collateral-dir DIR] [--upstream-timeout S] [--token-lifetime DURATION]
//   [--max-request-bytes N] [--threads N] [--log-format text|json]
//
// ParseFlags checks syntax and values only (files are read by main, which names them when they
// are unusable). Every error is InvalidArgument naming the flag; main exits 2 with it.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cn::attestd {

struct KeyFiles {
  std::string key;
  std::string cert;  // empty: self-signed at start
};

struct Options {
  std::string listen_host;  // "" = all interfaces
  int listen_port = 8443;
  std::string tls_cert;
  std::string tls_key;
  std::vector<KeyFiles> signing_keys;
  std::string issuer;  // empty: DefaultIssuer with the port actually bound
  std::string policy_file;
  std::string root_ca;
  std::string pccs_url;
  std::string cache = "/var/cache/sgx-attestd/collateral.db";
  std::string collateral_dir;
  absl::Duration upstream_timeout = absl::Seconds(5);
  absl::Duration token_lifetime = absl::Hours(8);
  size_t max_request_bytes = 1 << 20;
  int threads = 0;  // 0: one per core
  std::string log_format = "text";
};

struct ParsedFlags {
  Options options;
  std::optional<std::string> help;  // set for --help: print and exit 0
};

absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& argv);

// "5", "5s" -> 5 s; with `allow_units` also "30m", "8h". Positive only. Errors name `flag`.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text, absl::string_view flag,
                                             bool allow_units);

// "https://" or "http://", then the listen address ("localhost" for all interfaces).
std::string DefaultIssuer(const Options& options);

}  // namespace cn::attestd
