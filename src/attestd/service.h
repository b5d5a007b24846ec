#pragma once

// AttestationService: sgx-attestd's API (docs/attestd.md) as handlers over http::Request, so the
// same code serves the binary and in-process tests over real sockets.
//
//   POST /attest/SgxEnclave?api-version=2022-08-01|2020-10-01   SGX quote -> {"token": JWS}
//   POST /attest/TdxVm?api-version=2023-04-01-preview            TDX quote -> {"token": JWS}
//   GET  /certs                                                  JWKS of every signing key
//   GET  /.well-known/openid-configuration                       OpenID provider metadata
//
// An attestation: parse the request; read the quote's platform (PlatformIdOfQuote); get its
// collateral from the CollateralSource (waiting at most upstream_timeout); verify with the
// dcap::Verifier at the clock's now (every quote's own signature is checked: the verifier caches
// collateral and certificates, never a verdict); check the runtime data binding; evaluate the
// policy (the draft one of the request, if any); sign the token with the first key.
// Both calls take one path: only the accepted api-versions, the quote's TEE (a quote of the other
// TEE is unsupported_quote_format) and the TEE's own claims (MAA's names) differ.
// Every refusal is a JSON error with a fixed code (docs/attestd.md lists them); bad input is
// never answered with a 5xx.
//
// Thread safety: all handlers may run on many threads at once; SetPolicy may be called from
// another thread (the policy reloader) at any time.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "src/attestd/keys.h"
#include "src/attestd/policy.h"
#include "src/common/metrics.h"
#include "src/dcap/bounded_cache.h"
#include "src/dcap/verifier.h"
#include "src/http/server.h"
#include "src/os/clock.h"
#include "src/pccs/collateral_source.h"

namespace cn::attestd {

struct ServiceOptions {
  std::string issuer;  // "https://host:port"; no trailing slash
  absl::Duration token_lifetime = absl::Hours(8);
  absl::Duration upstream_timeout = absl::Seconds(5);
};

class AttestationService {
 public:
  // `keys` must not be empty (the first signs). The references must outlive the service.
  AttestationService(ServiceOptions options, std::vector<SigningKey> keys,
                     const dcap::Verifier& verifier, pccs::CollateralSource& collateral,
                     const os::Clock& clock, std::shared_ptr<const Policy> policy,
                     prometheus::Registry& registry);

  // Adds the API routes and the probes to `server` (an http::EventServer, as sgx-attestd
  // serves, or an http::Server: both take the same routes).
  template <typename HttpServer>
  void Register(HttpServer& server) {
    server.Handle("POST", "/attest/SgxEnclave",
                  [this](const http::Request& request) { return Attest(request); });
    server.Handle("POST", "/attest/TdxVm",
                  [this](const http::Request& request) { return AttestTdxVm(request); });
    server.Handle("GET", "/certs", [this](const http::Request&) { return Certs(); });
    server.Handle("GET", "/.well-known/openid-configuration",
                  [this](const http::Request&) { return OpenIdConfiguration(); });
    server.AddProbes([this] { return Ready(); });
  }

  // MAA's AttestSgxEnclave and AttestTdxVm.
  http::Response Attest(const http::Request& request) const;
  http::Response AttestTdxVm(const http::Request& request) const;
  http::Response Certs() const;
  http::Response OpenIdConfiguration() const;
  absl::Status Ready() const;

  void SetPolicy(std::shared_ptr<const Policy> policy);
  std::shared_ptr<const Policy> policy() const;

 private:
  http::Response Attest(const http::Request& request, dcap::Tee tee) const;
  http::Response Refuse(int status, absl::string_view code, absl::string_view message,
                        absl::string_view tcb_status = "") const;

  ServiceOptions options_;
  std::vector<SigningKey> keys_;
  const dcap::Verifier& verifier_;
  pccs::CollateralSource& collateral_;
  const os::Clock& clock_;
  std::string certs_body_;
  std::string openid_body_;
  // The JWS headers: of the first key's tokens and of draft-policy (unsigned) tokens.
  std::string signed_header_;
  std::string unsigned_header_;

  // PlatformIdOfQuote parses the quote's PCK chain (X.509 parsing is slow in OpenSSL 3): keyed
  // by SHA-256 of the certification data and the TEE (one PCK certificate serves both). Only a
  // lookup key: the verifier checks the chain.
  mutable dcap::BoundedCache<pccs::PlatformId> platforms_{4096};

  // x-ms-sgx-collateral's SHA-256 hex of a collateral's parts, computed once per collateral
  // object (the source hands out the same immutable object until it refreshes): hashes of the
  // collateral's bytes, not of anything the request sends.
  struct CollateralHashes {
    std::shared_ptr<const dcap::Collateral> collateral;  // what the hashes are of
    std::string qe_identity;
    std::string qe_identity_issuer_chain;
    std::string tcb_info;
    std::string tcb_info_issuer_chain;
    std::string root_ca_crl;
  };
  std::shared_ptr<const CollateralHashes> HashesOf(
      const std::shared_ptr<const dcap::Collateral>& collateral) const;
  mutable dcap::BoundedCache<CollateralHashes> collateral_hashes_{64};

  mutable absl::Mutex mu_;
  std::shared_ptr<const Policy> policy_ ABSL_GUARDED_BY(mu_);

  prometheus::Family<prometheus::Counter>* attestations_;
  std::optional<common::CounterCache> attestation_counts_;  // of attestations_
  prometheus::Histogram* collateral_latency_;
  prometheus::Family<prometheus::Counter>* collateral_failures_;
  prometheus::Counter* policy_reloads_;
};

// The api-version values AttestSgxEnclave accepts.
inline constexpr const char* kApiVersions[] = {"2022-08-01", "2020-10-01"};
// The api-version values AttestTdxVm accepts (MAA's TDX call exists only in this one).
inline constexpr const char* kTdxApiVersions[] = {"2023-04-01-preview"};

}  // namespace cn::attestd
