#pragma once

// SigningKey: a token signing key (--signing-key, RSA 2048+ for RS256 or EC P-256 for ES256),
// its certificate (--signing-cert, or a self-signed one made at start), its JWK for /certs and
// JWS signing.
//
// The key id (`kid`) is the key's RFC 7638 JWK thumbprint (base64url SHA-256): stable across
// restarts and certificate renewals, and computable by anyone from the published JWK.
//
// Immutable after Load; Sign may run on many threads at once. Copies share one pool of signing
// contexts: OpenSSL 3 looks the algorithm up and builds provider state for every new context, a
// large part of an ES256 signature's cost, so contexts are initialised once and reused (one per
// concurrent signer, taken from and returned to the pool under a mutex).

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/dcap/crypto.h"

namespace cn::attestd {

class SigningKey {
 public:
  // `key_pem`: a PEM private key (PKCS#8 or traditional; never encrypted: a passphrase prompt
  // would hang a daemon). `cert_pem`: its certificate, or empty to make a self-signed one valid
  // from `now` - 1 h for 10 years. InvalidArgument naming `key_name` (the file) and the reason:
  // not a key, encrypted, RSA below 2048 bits, an EC curve other than P-256, another key type,
  // a certificate that does not hold this key.
  static absl::StatusOr<SigningKey> Load(absl::string_view key_pem, absl::string_view key_name,
                                         absl::string_view cert_pem, absl::string_view cert_name,
                                         absl::Time now);

  const std::string& alg() const { return alg_; }  // "RS256" or "ES256"
  const std::string& kid() const { return kid_; }
  // {"kty", "kid", "use": "sig", "alg", n/e or crv/x/y, "x5c": [base64 DER]}.
  const nlohmann::ordered_json& jwk() const { return jwk_; }
  const std::string& certificate_der() const { return certificate_der_; }

  // The JWS signature of `signing_input` (RS256: PKCS#1 v1.5; ES256: raw r||s), raw bytes.
  std::string Sign(absl::string_view signing_input) const;

 private:
  class ContextPool;

  std::shared_ptr<EVP_PKEY> key_;
  std::shared_ptr<ContextPool> contexts_;
  std::string alg_;
  std::string kid_;
  std::string certificate_der_;
  nlohmann::ordered_json jwk_;
};

}  // namespace cn::attestd
