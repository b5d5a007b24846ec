#include "src/testing/jws.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cn::testing {
namespace {

absl::StatusOr<std::string> Unbase64Url(absl::string_view text) {
  std::string out;
  if (!absl::WebSafeBase64Unescape(text, &out)) {
    return absl::InvalidArgumentError(absl::StrCat("not base64url: ", text.substr(0, 20)));
  }
  return out;
}

// PKCS#8 PEM of `key` (which it frees), encrypted with AES-128-CBC when `passphrase` is given.
std::string PemOf(EVP_PKEY* key, const char* passphrase = nullptr) {
  BIO* bio = BIO_new(BIO_s_mem());
  char buffer[64] = {};
  if (passphrase != nullptr) {
    std::snprintf(buffer, sizeof(buffer), "%s", passphrase);
  }
  PEM_write_bio_PKCS8PrivateKey(
      bio, key, passphrase ? EVP_aes_128_cbc() : nullptr, passphrase ? buffer : nullptr,
      passphrase ? static_cast<int>(std::strlen(buffer)) : 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

}  // namespace

std::string RsaKeyPem(int bits) { return PemOf(EVP_RSA_gen(static_cast<unsigned>(bits))); }
std::string EcKeyPem(const char* curve) { return PemOf(EVP_EC_gen(curve)); }
std::string EncryptedEcKeyPem() { return PemOf(EVP_EC_gen("P-256"), "secret"); }

absl::StatusOr<DecodedJws> DecodeJws(absl::string_view token) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError("a JWS has three parts");
  }
  DecodedJws decoded;
  for (auto [part, target] :
       {std::pair{parts[0], &decoded.header}, std::pair{parts[1], &decoded.payload}}) {
    absl::StatusOr<std::string> text = Unbase64Url(part);
    if (!text.ok()) {
      return text.status();
    }
    *target = nlohmann::json::parse(*text, nullptr, false);
    if (target->is_discarded()) {
      return absl::InvalidArgumentError("a JWS part is not JSON");
    }
  }
  return decoded;
}

absl::StatusOr<DecodedJws> VerifyJws(absl::string_view token, const nlohmann::json& jwks) {
  absl::StatusOr<DecodedJws> decoded = DecodeJws(token);
  if (!decoded.ok()) {
    return decoded.status();
  }
  const std::string alg = decoded->header.value("alg", "");
  const std::string kid = decoded->header.value("kid", "");
  const nlohmann::json* jwk = nullptr;
  for (const nlohmann::json& key : jwks["keys"]) {
    if (key["kid"] == kid) {
      jwk = &key;
    }
  }
  if (jwk == nullptr) {
    return absl::NotFoundError(absl::StrCat("no key with kid ", kid));
  }
  if ((*jwk)["alg"] != alg) {
    return absl::InvalidArgumentError("the JWK's alg is not the header's");
  }
  std::string der;
  if (!absl::Base64Unescape((*jwk)["x5c"][0].get<std::string>(), &der)) {
    return absl::InvalidArgumentError("x5c[0] is not base64");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (cert == nullptr) {
    return absl::InvalidArgumentError("x5c[0] is not a certificate");
  }
  EVP_PKEY* key = X509_get0_pubkey(cert);
  const size_t last_dot = token.rfind('.');
  const absl::string_view signing_input = token.substr(0, last_dot);
  absl::StatusOr<std::string> signature = Unbase64Url(token.substr(last_dot + 1));
  if (!signature.ok()) {
    X509_free(cert);
    return signature.status();
  }
  std::string der_signature = *signature;
  if (alg == "ES256") {
    if (signature->size() != 64) {
      X509_free(cert);
      return absl::InvalidArgumentError("an ES256 signature is 64 bytes");
    }
    ECDSA_SIG* sig = ECDSA_SIG_new();
    const auto* raw = reinterpret_cast<const unsigned char*>(signature->data());
    ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, nullptr), BN_bin2bn(raw + 32, 32, nullptr));
    unsigned char* out = nullptr;
    const int size = i2d_ECDSA_SIG(sig, &out);
    der_signature.assign(reinterpret_cast<char*>(out), static_cast<size_t>(size));
    OPENSSL_free(out);
    ECDSA_SIG_free(sig);
  } else if (alg != "RS256") {
    X509_free(cert);
    return absl::InvalidArgumentError(absl::StrCat("unexpected alg ", alg));
  }
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(context, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(context, reinterpret_cast<const unsigned char*>(der_signature.data()),
                       der_signature.size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) == 1;
  EVP_MD_CTX_free(context);
  X509_free(cert);
  if (!ok) {
    return absl::PermissionDeniedError("the signature does not verify");
  }
  return decoded;
}

}  // namespace cn::testing
