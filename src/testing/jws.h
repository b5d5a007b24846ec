#pragma once

// VerifyJws: an independent check of the service's tokens for tests. It finds the key by `kid`
// in a JWKS, takes the public key from x5c[0] (as the Azure SDK does), checks that the JWK's own
// members describe that same key, and verifies the RS256 or ES256 signature with OpenSSL.
// Returns the payload, or an error saying what failed. Test-only.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace cn::testing {

struct DecodedJws {
  nlohmann::json header;
  nlohmann::json payload;
};

// Splits and decodes without verifying.
absl::StatusOr<DecodedJws> DecodeJws(absl::string_view token);
absl::StatusOr<DecodedJws> VerifyJws(absl::string_view token, const nlohmann::json& jwks);

// Signing keys for tests: unencrypted PKCS#8 PEM of a fresh RSA key of `bits`, or of an EC key
// on the named curve ("P-256", "P-384").
std::string RsaKeyPem(int bits);
std::string EcKeyPem(const char* curve);
// A P-256 key as encrypted PKCS#8 PEM (passphrase "secret").
std::string EncryptedEcKeyPem();

}  // namespace cn::testing
