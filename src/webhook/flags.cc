#include "src/webhook/flags.h"

#include <filesystem>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "src/common/command_line.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"

namespace cn::webhook {
namespace {

// A DNS label (namespace, Service, Secret and configuration names are all at least that strict
// or we ask for it): lower-case letters, digits and '-', 1..63, not starting or ending in '-'.
absl::Status CheckDnsName(absl::string_view flag, absl::string_view value, size_t max = 63) {
  bool valid = !value.empty() && value.size() <= max && value.front() != '-' &&
               value.back() != '-' && value.front() != '.' && value.back() != '.';
  for (char c : value) {
    valid = valid && (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' ||
                      (max > 63 && c == '.'));
  }
  if (!valid) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": \"", value,
                                                   "\" is not a valid Kubernetes name (lower-case "
                                                   "letters, digits and '-')"));
  }
  return absl::OkStatus();
}

// A toleration key: an optional DNS-subdomain prefix and '/', then a name of letters, digits,
// '-', '_' and '.' (the label key syntax, which the API server checks for tolerations too).
absl::Status CheckTolerationKey(absl::string_view key) {
  absl::string_view name = key;
  if (size_t slash = key.find('/'); slash != absl::string_view::npos) {
    RETURN_IF_ERROR(CheckDnsName("--add-toleration", key.substr(0, slash), 253));
    name = key.substr(slash + 1);
  }
  bool valid = !name.empty() && name.size() <= 63 && absl::ascii_isalnum(name.front()) &&
               absl::ascii_isalnum(name.back());
  for (char c : name) {
    valid = valid && (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.');
  }
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat("--add-toleration: \"", key, "\" is not a valid taint key"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Flags> ParseFlags(const std::vector<std::string>& argv) {
  Flags flags;
  std::string listen = ":8443";
  std::string quote_helper = "provision";
  CLI::App app(
      "Admission webhook: translates sgx.intel.com/epc into kubernetes.azure.com/"
      "sgx_epc_mem_in_MiB, adds the quote provider's device or AESM socket and tolerations, "
      "and refuses SGX requests that cannot be right.",
      "sgx-webhook");
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--listen", listen, "HOST:PORT or :PORT for HTTPS (/mutate, /validate)")
      ->capture_default_str();
  app.add_option("--tls-cert", flags.tls_cert,
                 "serving certificate (PEM, chain allowed); re-read when it changes");
  app.add_option("--tls-key", flags.tls_key, "its private key (PEM)");
  app.add_flag("--self-managed-tls", flags.self_managed_tls,
               "make the CA and certificate ourselves, keep them in a Secret and write the CA "
               "into both webhook configurations");
  app.add_option("--namespace", flags.namespace_name,
                 "our namespace (self-managed TLS: where the Secret is)");
  app.add_option("--service", flags.service, "our Service's name (self-managed TLS)");
  app.add_option("--tls-secret", flags.tls_secret, "the Secret for self-managed TLS")
      ->capture_default_str();
  app.add_option("--mutating-webhook-configuration", flags.mutating_configuration,
                 "the MutatingWebhookConfiguration whose caBundle self-managed TLS keeps")
      ->capture_default_str();
  app.add_option("--validating-webhook-configuration", flags.validating_configuration,
                 "the ValidatingWebhookConfiguration whose caBundle self-managed TLS keeps")
      ->capture_default_str();
  app.add_option("--quote-helper", quote_helper,
                 "what the quote-provider container gets: provision (the provision device) or "
                 "aesm (the AESM socket directory)")
      ->capture_default_str();
  app.add_option("--add-toleration", flags.tolerations,
                 "taint KEY tolerated (Exists, NoSchedule) by pods that ask for SGX; repeatable")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--kubeconfig", flags.kubeconfig,
                 "kubeconfig for the API server (default: the in-cluster service account)");
  app.add_flag("--no-node-cache", flags.no_node_cache,
               "do not watch Nodes (no warning for pods larger than every node)");
  app.add_option("--metrics-addr", flags.metrics_addr,
                 "HOST:PORT or :PORT for plain-HTTP /metrics, /healthz and /readyz; empty "
                 "disables them")
      ->capture_default_str();
  app.add_option("--threads", flags.threads, "admissions handled at once (0: one per core)")
      ->capture_default_str();
  app.add_option("--log-format", flags.log_format, "text or json")->capture_default_str();
  app.add_flag("--verbose", flags.verbose, "log debug messages too");

  ASSIGN_OR_RETURN(flags.help, common::ParseCommandLine(app, argv));
  if (flags.help.has_value()) {
    return flags;
  }
  absl::StatusOr<http::ListenAddress> address = http::ParseListenAddress(listen);
  if (!address.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--listen: ", address.status().message()));
  }
  flags.listen = *address;
  if (quote_helper == "provision") {
    flags.quote_helper = QuoteHelper::kProvision;
  } else if (quote_helper == "aesm") {
    flags.quote_helper = QuoteHelper::kAesm;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--quote-helper: \"", quote_helper, "\" is not aesm or provision"));
  }
  for (const std::string& key : flags.tolerations) {
    RETURN_IF_ERROR(CheckTolerationKey(key));
  }
  const bool files = !flags.tls_cert.empty() || !flags.tls_key.empty();
  if (files && flags.self_managed_tls) {
    return absl::InvalidArgumentError(
        "--tls-cert/--tls-key and --self-managed-tls: choose one way to get the certificate");
  }
  if (!files && !flags.self_managed_tls) {
    return absl::InvalidArgumentError(
        "no TLS: give --tls-cert and --tls-key, or --self-managed-tls --namespace NS --service "
        "NAME (the API server calls webhooks over HTTPS only)");
  }
  if (files && (flags.tls_cert.empty() || flags.tls_key.empty())) {
    return absl::InvalidArgumentError(flags.tls_cert.empty()
                                          ? "--tls-cert: required with --tls-key"
                                          : "--tls-key: required with --tls-cert");
  }
  if (flags.self_managed_tls) {
    if (flags.namespace_name.empty()) {
      return absl::InvalidArgumentError("--self-managed-tls needs --namespace");
    }
    if (flags.service.empty()) {
      return absl::InvalidArgumentError("--self-managed-tls needs --service");
    }
    RETURN_IF_ERROR(CheckDnsName("--namespace", flags.namespace_name));
    RETURN_IF_ERROR(CheckDnsName("--service", flags.service));
    RETURN_IF_ERROR(CheckDnsName("--tls-secret", flags.tls_secret, 253));
    RETURN_IF_ERROR(
        CheckDnsName("--mutating-webhook-configuration", flags.mutating_configuration, 253));
    RETURN_IF_ERROR(
        CheckDnsName("--validating-webhook-configuration", flags.validating_configuration, 253));
  }
  if (flags.threads < 0 || flags.threads > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("--threads: ", flags.threads, " is not between 0 and 256"));
  }
  if (!flags.metrics_addr.empty()) {
    absl::StatusOr<http::ListenAddress> metrics = http::ParseListenAddress(flags.metrics_addr);
    if (!metrics.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metrics-addr: ", metrics.status().message()));
    }
  }
  RETURN_IF_ERROR(common::ParseLogFormat(flags.log_format).status());
  std::error_code ignored;
  for (std::string* path : {&flags.kubeconfig, &flags.tls_cert, &flags.tls_key}) {
    if (!path->empty()) {
      *path = std::filesystem::absolute(*path, ignored).lexically_normal().string();
    }
  }
  return flags;
}

}  // namespace cn::webhook
