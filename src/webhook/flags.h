#pragma once

// sgx-webhook's command line (docs/webhook.md, "Flags"; the interface is fixed by issue 11):
//
//   --listen HOST:PORT (default :8443)
//   --tls-cert F --tls-key F   |   --self-managed-tls --namespace NS --service NAME
//   [--quote-helper aesm|provision] [--add-toleration KEY]... [--kubeconfig F]
//   [--metrics-addr HOST:PORT] [--log-format text|json]
//
// ParseFlags checks syntax and values only (main reads the files and names them when they are
// unusable). Every error is InvalidArgument naming the flag; main exits 2 with it.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/http/probe_server.h"
#include "src/webhook/mutator.h"

namespace cn::webhook {

struct Flags {
  http::ListenAddress listen{"0.0.0.0", 8443};
  std::string tls_cert;
  std::string tls_key;
  bool self_managed_tls = false;
  std::string namespace_name;  // --namespace (self-managed TLS: the Secret's, the Service's)
  std::string service;         // --service
  // Self-managed: the two webhook configurations whose caBundle we keep.
  std::string mutating_configuration = "confidential-nodes-sgx-webhook";
  std::string validating_configuration = "confidential-nodes-sgx-webhook";
  std::string tls_secret = "sgx-webhook-tls";
  QuoteHelper quote_helper = QuoteHelper::kProvision;
  std::vector<std::string> tolerations;
  std::string kubeconfig;  // empty: in-cluster
  bool no_node_cache = false;
  std::string metrics_addr = ":9877";
  std::string log_format = "text";
  bool verbose = false;
  int threads = 0;
  std::optional<std::string> help;
};

absl::StatusOr<Flags> ParseFlags(const std::vector<std::string>& argv);

}  // namespace cn::webhook
