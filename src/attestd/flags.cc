#include "src/attestd/flags.h"

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"

namespace cn::attestd {
namespace {

absl::Status ParseListen(absl::string_view text, Options& options) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen: \"", text, "\" is not HOST:PORT or :PORT"));
  }
  absl::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const absl::string_view port = text.substr(colon + 1);
  int value = 0;
  if (port.empty() || port.front() == '+' || port.front() == '-' ||
      !absl::SimpleAtoi(port, &value) || value < 0 || value > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen: port \"", port, "\" in \"", text, "\" is not 0..65535"));
  }
  options.listen_host = std::string(host);
  options.listen_port = value;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text, absl::string_view flag,
                                             bool allow_units) {
  absl::string_view number = text;
  int64_t unit_seconds = 1;
  if (absl::ConsumeSuffix(&number, "s")) {
  } else if (allow_units && absl::ConsumeSuffix(&number, "m")) {
    unit_seconds = 60;
  } else if (allow_units && absl::ConsumeSuffix(&number, "h")) {
    unit_seconds = 3600;
  }
  int64_t value = 0;
  if (number.empty() || number.front() == '+' || !absl::SimpleAtoi(number, &value) || value <= 0 ||
      value > 10 * 365 * 24 * 3600 / unit_seconds) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": \"", text, "\" is not a positive duration (",
        allow_units ? "seconds, or a number followed by s, m or h" : "seconds, as 5 or 5s", ")"));
  }
  return absl::Seconds(value * unit_seconds);
}

std::string DefaultIssuer(const Options& options) {
  std::string host = options.listen_host;
  if (host.empty() || host == "0.0.0.0" || host == "::") {
    host = "localhost";
  } else if (host.find(':') != std::string::npos) {
    host = absl::StrCat("[", host, "]");
  }
  return absl::StrCat(options.tls_cert.empty() ? "http://" : "https://", host, ":",
                      options.listen_port);
}

absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& argv) {
  ParsedFlags parsed;
  Options& options = parsed.options;

  // --signing-cert pairs with the --signing-key before it, an order CLI11 does not keep: read
  // both here, leave the rest to CLI11.
  std::vector<std::string> rest;
  for (size_t i = 1; i < argv.size(); ++i) {
    std::string flag = argv[i];
    std::string value;
    bool has_value = false;
    const size_t equals = flag.find('=');
    if (flag.rfind("--", 0) == 0 && equals != std::string::npos) {
      value = flag.substr(equals + 1);
      flag = flag.substr(0, equals);
      has_value = true;
    }
    if (flag != "--signing-key" && flag != "--signing-cert") {
      rest.push_back(argv[i]);
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argv.size()) {
        return absl::InvalidArgumentError(absl::StrCat(flag, ": needs a file"));
      }
      value = argv[++i];
    }
    if (value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": needs a file"));
    }
    if (flag == "--signing-key") {
      options.signing_keys.push_back({value, ""});
    } else if (options.signing_keys.empty()) {
      return absl::InvalidArgumentError(
          "--signing-cert: must follow the --signing-key it belongs to");
    } else if (!options.signing_keys.back().cert.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--signing-cert: a second certificate for --signing-key ",
                       options.signing_keys.back().key));
    } else {
      options.signing_keys.back().cert = value;
    }
  }

  CLI::App app("sgx-attestd: SGX quote in, signed token out, with Azure Attestation's API.",
               "sgx-attestd");
  std::string listen = ":8443";
  std::string upstream_timeout = "5";
  std::string token_lifetime = "8h";
  std::string ignored;
  app.add_option("--listen", listen, "HOST:PORT or :PORT to serve on")->capture_default_str();
  app.add_option("--tls-cert", options.tls_cert, "PEM certificate (chain) for HTTPS");
  app.add_option("--tls-key", options.tls_key, "PEM private key for HTTPS");
  app.add_option("--signing-key", ignored,
                 "PEM token signing key (RSA 2048+ or EC P-256), repeatable; the first signs");
  app.add_option("--signing-cert", ignored, "certificate of the --signing-key before it");
  app.add_option("--issuer", options.issuer, "the tokens' iss (default: scheme://listen address)");
  app.add_option("--policy", options.policy_file, "MAA policy file, reloaded when it changes");
  app.add_option("--root-ca", options.root_ca, "trusted root CA (PEM or DER) instead of Intel's");
  app.add_option("--pccs-url", options.pccs_url, "Intel PCS/PCCS v4 base URL for collateral");
  app.add_option("--cache", options.cache, "collateral cache file")->capture_default_str();
  app.add_option("--collateral-dir", options.collateral_dir,
                 "offline collateral: every *.json in sgx-quote's collateral layout");
  app.add_option("--upstream-timeout", upstream_timeout, "seconds per collateral fetch")
      ->capture_default_str();
  app.add_option("--token-lifetime", token_lifetime, "8h, 30m or seconds")->capture_default_str();
  app.add_option("--max-request-bytes", options.max_request_bytes,
                 "larger request bodies are answered 413")
      ->capture_default_str();
  app.add_option("--threads", options.threads, "worker threads (default: one per core)");
  app.add_option("--log-format", options.log_format, "text or json")->capture_default_str();
  std::vector<std::string> reversed(rest.rbegin(), rest.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    parsed.help = app.help();
    return parsed;
  } catch (const CLI::ParseError& error) {
    return absl::InvalidArgumentError(absl::StrCat(error.what(), " (see --help)"));
  }
  RETURN_IF_ERROR(ParseListen(listen, options));
  ASSIGN_OR_RETURN(options.upstream_timeout,
                   ParseDuration(upstream_timeout, "--upstream-timeout", false));
  ASSIGN_OR_RETURN(options.token_lifetime, ParseDuration(token_lifetime, "--token-lifetime", true));
  RETURN_IF_ERROR(common::ParseLogFormat(options.log_format).status());
  if (options.signing_keys.empty()) {
    return absl::InvalidArgumentError("--signing-key: required (a PEM RSA or EC P-256 key)");
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError(options.tls_cert.empty()
                                          ? "--tls-cert: required with --tls-key"
                                          : "--tls-key: required with --tls-cert");
  }
  if (options.collateral_dir.empty() == options.pccs_url.empty()) {
    return absl::InvalidArgumentError(
        options.collateral_dir.empty()
            ? "--collateral-dir or --pccs-url: one is required (where collateral comes from)"
            : "--collateral-dir and --pccs-url: give one, not both");
  }
  if (options.max_request_bytes < 1024 || options.max_request_bytes > (size_t{1} << 30)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-request-bytes: ", options.max_request_bytes, " is not between 1024 and 1073741824"));
  }
  if (options.threads < 0 || options.threads > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("--threads: ", options.threads, " is not between 1 and 1024"));
  }
  while (!options.issuer.empty() && options.issuer.back() == '/') {
    options.issuer.pop_back();
  }
  return parsed;
}

}  // namespace cn::attestd
