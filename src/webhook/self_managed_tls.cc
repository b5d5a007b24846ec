#include "src/webhook/self_managed_tls.h"

#include <algorithm>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"
#include "src/common/status_macros.h"
#include "src/webhook/certificates.h"

namespace cn::webhook {
namespace {

constexpr const char* kAdmissionApi = "/apis/admissionregistration.k8s.io/v1";

std::string DataField(const nlohmann::json& secret, const char* key) {
  if (!secret.contains("data") || !secret["data"].is_object() || !secret["data"].contains(key) ||
      !secret["data"][key].is_string()) {
    return "";
  }
  std::string decoded;
  if (!absl::Base64Unescape(secret["data"][key].get<std::string>(), &decoded)) {
    return "";
  }
  return decoded;
}

// The PEM blocks of a bundle, in order.
std::vector<std::string> SplitPem(const std::string& bundle) {
  std::vector<std::string> blocks;
  const std::string kEnd = "-----END CERTIFICATE-----";
  size_t start = bundle.find("-----BEGIN CERTIFICATE-----");
  while (start != std::string::npos) {
    size_t end = bundle.find(kEnd, start);
    if (end == std::string::npos) {
      break;
    }
    end += kEnd.size();
    blocks.push_back(bundle.substr(start, end - start) + "\n");
    start = bundle.find("-----BEGIN CERTIFICATE-----", end);
  }
  return blocks;
}

struct TlsSecret {
  std::string tls_crt, tls_key, ca_crt, ca_key;
};

}  // namespace

SelfManagedTls::SelfManagedTls(SelfManagedTlsOptions options, const kube::ApiClient& api,
                               const os::Clock& clock, Install install)
    : options_(std::move(options)), api_(api), clock_(clock), install_(std::move(install)) {}

SelfManagedTls::~SelfManagedTls() { Stop(); }

std::vector<std::string> SelfManagedTls::DnsNames() const {
  const std::string& s = options_.service;
  const std::string& n = options_.namespace_name;
  return {absl::StrCat(s, ".", n, ".svc"), s, absl::StrCat(s, ".", n),
          absl::StrCat(s, ".", n, ".svc.cluster.local")};
}

absl::Status SelfManagedTls::SyncOnce() {
  const std::string collection =
      absl::StrCat("/api/v1/namespaces/", options_.namespace_name, "/secrets");
  const std::string path = absl::StrCat(collection, "/", options_.secret);
  const absl::Time now = clock_.Now();

  absl::StatusOr<nlohmann::json> secret = api_.Get(path);
  if (!secret.ok() && secret.status().code() == absl::StatusCode::kNotFound) {
    ASSIGN_OR_RETURN(CertificateAndKey authority,
                     MakeAuthority(absl::StrCat("sgx-webhook CA ", options_.namespace_name), now,
                                   options_.authority_validity));
    ASSIGN_OR_RETURN(CertificateAndKey serving,
                     IssueServing(authority, DnsNames(), now, options_.serving_validity));
    nlohmann::json object = {{"apiVersion", "v1"},
                             {"kind", "Secret"},
                             {"type", "kubernetes.io/tls"},
                             {"metadata",
                              {{"name", options_.secret},
                               {"namespace", options_.namespace_name},
                               {"labels",
                                {{"app.kubernetes.io/name", "sgx-webhook"},
                                 {"app.kubernetes.io/part-of", "confidential-nodes"}}}}},
                             {"data",
                              {{"tls.crt", absl::Base64Escape(serving.certificate_pem)},
                               {"tls.key", absl::Base64Escape(serving.key_pem)},
                               {"ca.crt", absl::Base64Escape(authority.certificate_pem)},
                               {"ca.key", absl::Base64Escape(authority.key_pem)}}}};
    secret = api_.Create(collection, object);
    if (secret.ok()) {
      spdlog::info("self-managed TLS: created Secret {}/{} with a new CA", options_.namespace_name,
                   options_.secret);
    } else if (secret.status().code() == absl::StatusCode::kAborted) {
      secret = api_.Get(path);  // the other replica was first: use its
    }
  }
  if (!secret.ok()) {
    return secret.status();
  }

  TlsSecret held{DataField(*secret, "tls.crt"), DataField(*secret, "tls.key"),
                 DataField(*secret, "ca.crt"), DataField(*secret, "ca.key")};
  std::vector<std::string> authorities = SplitPem(held.ca_crt);
  bool changed = false;
  // A Secret that does not hold a usable CA (edited by hand, truncated) is repaired with a new
  // CA: serving something the bundle does not trust would be worse.
  const bool authority_usable =
      !authorities.empty() &&
      IssueServing({authorities.front(), held.ca_key}, {"check"}, now, absl::Minutes(1)).ok();
  absl::StatusOr<std::vector<absl::Time>> authority_ends = NotAfterOfEach(held.ca_crt);
  // The CA that signed until now, kept for this round: see below.
  std::optional<CertificateAndKey> previous_authority;
  if (authority_usable && authority_ends.ok() &&
      authority_ends->front() - now > options_.serving_validity / 3) {
    previous_authority = CertificateAndKey{authorities.front(), held.ca_key};
  }
  if (!authority_usable || !authority_ends.ok() ||
      authority_ends->front() - now < options_.authority_renew_before) {
    ASSIGN_OR_RETURN(CertificateAndKey authority,
                     MakeAuthority(absl::StrCat("sgx-webhook CA ", options_.namespace_name), now,
                                   options_.authority_validity));
    std::vector<std::string> kept = {authority.certificate_pem};
    for (const std::string& old : authorities) {
      absl::StatusOr<std::vector<absl::Time>> end = NotAfterOfEach(old);
      if (end.ok() && end->front() > now) {
        kept.push_back(old);
      }
    }
    authorities = kept;
    held.ca_crt = absl::StrJoin(kept, "");
    held.ca_key = authority.key_pem;
    changed = true;
    spdlog::info("self-managed TLS: new CA added to the bundle ({} CA(s) trusted)", kept.size());
  }
  // The serving certificate must come from a CA of the bundle and have a third of its life left.
  bool serving_usable = false;
  for (const std::string& authority : authorities) {
    serving_usable = serving_usable || IssuedBy(held.tls_crt, held.tls_key, authority);
  }
  absl::StatusOr<std::vector<absl::Time>> serving_end = NotAfterOfEach(held.tls_crt);
  if (!serving_usable || !serving_end.ok() ||
      serving_end->front() - now < options_.serving_validity / 3) {
    // A CA added in this very round is not yet trusted by the configurations (the other
    // replica's API server view may lag too): while the previous CA can still cover a useful
    // lifetime, it signs, and the newest takes over at the next renewal.
    const CertificateAndKey signer = previous_authority.has_value()
                                         ? *previous_authority
                                         : CertificateAndKey{authorities.front(), held.ca_key};
    ASSIGN_OR_RETURN(CertificateAndKey serving,
                     IssueServing(signer, DnsNames(), now, options_.serving_validity));
    held.tls_crt = serving.certificate_pem;
    held.tls_key = serving.key_pem;
    changed = true;
    spdlog::info("self-managed TLS: new serving certificate for {}", DnsNames().front());
  }
  if (changed) {
    nlohmann::json updated = *secret;
    updated["type"] = "kubernetes.io/tls";
    updated["data"] = {{"tls.crt", absl::Base64Escape(held.tls_crt)},
                       {"tls.key", absl::Base64Escape(held.tls_key)},
                       {"ca.crt", absl::Base64Escape(held.ca_crt)},
                       {"ca.key", absl::Base64Escape(held.ca_key)}};
    absl::StatusOr<nlohmann::json> written = api_.Update(path, updated);
    if (!written.ok()) {
      // 409: the other replica renewed first; the next round serves its certificate.
      return written.status();
    }
  }
  // The bundle first, then the certificate: a certificate is served only once the
  // configurations trust its CA (or we could not reach them, and then nothing changed there).
  RETURN_IF_ERROR(EnsureCaBundle(absl::StrCat(kAdmissionApi, "/mutatingwebhookconfigurations/",
                                              options_.mutating_configuration),
                                 held.ca_crt));
  RETURN_IF_ERROR(EnsureCaBundle(absl::StrCat(kAdmissionApi, "/validatingwebhookconfigurations/",
                                              options_.validating_configuration),
                                 held.ca_crt));
  const std::string serving = absl::StrCat(held.tls_crt, held.tls_key);
  if (serving != installed_) {
    RETURN_IF_ERROR(install_(held.tls_crt, held.tls_key));
    installed_ = serving;
    absl::StatusOr<std::vector<absl::Time>> end = NotAfterOfEach(held.tls_crt);
    spdlog::info("self-managed TLS: serving the certificate of Secret {}/{} (valid until {})",
                 options_.namespace_name, options_.secret,
                 end.ok() ? absl::FormatTime(absl::RFC3339_sec, end->front(), absl::UTCTimeZone())
                          : std::string("?"));
  }
  synced_ = true;
  return absl::OkStatus();
}

absl::Status SelfManagedTls::EnsureCaBundle(const std::string& configuration_path,
                                            const std::string& bundle) {
  absl::StatusOr<nlohmann::json> configuration = api_.Get(configuration_path);
  if (!configuration.ok()) {
    if (configuration.status().code() == absl::StatusCode::kNotFound) {
      if (std::find(missing_logged_.begin(), missing_logged_.end(), configuration_path) ==
          missing_logged_.end()) {
        missing_logged_.push_back(configuration_path);
        spdlog::warn("self-managed TLS: {} does not exist (yet); its caBundle is set once it does",
                     configuration_path);
      }
      return absl::OkStatus();
    }
    return configuration.status();
  }
  const std::string encoded = absl::Base64Escape(bundle);
  nlohmann::json operations = nlohmann::json::array();
  if (configuration->contains("webhooks") && (*configuration)["webhooks"].is_array()) {
    const nlohmann::json& webhooks = (*configuration)["webhooks"];
    for (size_t i = 0; i < webhooks.size(); ++i) {
      const nlohmann::json& webhook = webhooks[i];
      if (!webhook.is_object() || !webhook.contains("name")) {
        continue;
      }
      const nlohmann::json client = webhook.value("clientConfig", nlohmann::json::object());
      if (client.is_object() && client.value("caBundle", nlohmann::json("")) == encoded) {
        continue;
      }
      const std::string at = absl::StrCat("/webhooks/", i);
      operations.push_back({{"op", "test"}, {"path", at + "/name"}, {"value", webhook["name"]}});
      operations.push_back(
          {{"op", "add"}, {"path", at + "/clientConfig/caBundle"}, {"value", encoded}});
    }
  }
  if (operations.empty()) {
    return absl::OkStatus();
  }
  absl::StatusOr<nlohmann::json> patched = api_.JsonPatch(configuration_path, operations);
  if (!patched.ok()) {
    return patched.status();
  }
  spdlog::info("self-managed TLS: caBundle written into {} ({} webhook(s))", configuration_path,
               operations.size() / 2);
  return absl::OkStatus();
}

void SelfManagedTls::Start() {
  thread_ = std::thread([this] {
    absl::Duration wait = synced_.load() ? options_.check_interval : absl::Seconds(5);
    while (!stop_.WaitForNotificationWithTimeout(wait)) {
      absl::Status synced = SyncOnce();
      if (synced.ok()) {
        wait = options_.check_interval;
        continue;
      }
      spdlog::warn("self-managed TLS: {} (retrying)", std::string(synced.message()));
      wait = std::min(options_.check_interval,
                      wait == options_.check_interval ? absl::Seconds(5) : wait * 2);
    }
  });
}

void SelfManagedTls::Stop() {
  if (thread_.joinable()) {
    stop_.Notify();
    thread_.join();
  }
}

}  // namespace cn::webhook
