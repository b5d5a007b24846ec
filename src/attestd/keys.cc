#include "src/attestd/keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "src/attestd/request.h"
#include "src/common/check.h"
#include "src/common/status_macros.h"

namespace cn::attestd {
namespace {

// Refuses every passphrase request, so an encrypted key fails instead of prompting.
int NoPassphrase(char*, int, int, void*) { return -1; }

absl::StatusOr<std::string> BigNumParam(EVP_PKEY* key, const char* name, int pad_to) {
  BIGNUM* value = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &value) != 1) {
    return absl::InternalError(absl::StrCat("cannot read the key's ", name));
  }
  const int size = pad_to > 0 ? pad_to : BN_num_bytes(value);
  std::string bytes(static_cast<size_t>(size), '\0');
  BN_bn2binpad(value, reinterpret_cast<unsigned char*>(bytes.data()), size);
  BN_free(value);
  return bytes;
}

dcap::X509Ptr SelfSignedCertificate(EVP_PKEY* key, absl::Time now) {
  dcap::X509Ptr cert(X509_new());
  CN_CHECK(cert != nullptr);
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  CN_CHECK(RAND_bytes(serial, sizeof(serial)) == 1);
  serial[0] &= 0x7f;
  BIGNUM* serial_bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(serial_bn, X509_get_serialNumber(cert.get()));
  BN_free(serial_bn);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(now - absl::Hours(1)));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(now + absl::Hours(24 * 3650)));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("sgx-attestd token signing"),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key);
  CN_CHECK(X509_sign(cert.get(), key, EVP_sha256()) > 0);
  return cert;
}

// SHA-256 fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up on every use.
const EVP_MD* FetchedSha256() {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  CN_CHECK(sha256 != nullptr);
  return sha256;
}

}  // namespace

// Signing contexts of one key, each initialised for EVP_PKEY_sign over a SHA-256 digest (RSA:
// PKCS#1 v1.5 with the SHA-256 DigestInfo). A context signs any number of digests after one
// init; the pool grows to the number of threads that sign at once.
class SigningKey::ContextPool {
 public:
  explicit ContextPool(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  ~ContextPool() {
    for (EVP_PKEY_CTX* context : free_) {
      EVP_PKEY_CTX_free(context);
    }
  }
  ContextPool(const ContextPool&) = delete;
  ContextPool& operator=(const ContextPool&) = delete;

  EVP_PKEY_CTX* Take() {
    {
      absl::MutexLock lock(&mu_);
      if (!free_.empty()) {
        EVP_PKEY_CTX* context = free_.back();
        free_.pop_back();
        return context;
      }
    }
    EVP_PKEY_CTX* context = EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr);
    CN_CHECK(context != nullptr);
    CN_CHECK(EVP_PKEY_sign_init(context) == 1);
    if (EVP_PKEY_get_base_id(key_.get()) == EVP_PKEY_RSA) {
      CN_CHECK(EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PADDING) == 1);
    }
    CN_CHECK(EVP_PKEY_CTX_set_signature_md(context, FetchedSha256()) == 1);
    return context;
  }

  void Return(EVP_PKEY_CTX* context) {
    absl::MutexLock lock(&mu_);
    free_.push_back(context);
  }

 private:
  const std::shared_ptr<EVP_PKEY> key_;
  absl::Mutex mu_;
  std::vector<EVP_PKEY_CTX*> free_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<SigningKey> SigningKey::Load(absl::string_view key_pem, absl::string_view key_name,
                                            absl::string_view cert_pem, absl::string_view cert_name,
                                            absl::Time now) {
  auto fail = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("--signing-key ", key_name, ": ", why));
  };
  if (absl::StrContains(key_pem, "ENCRYPTED")) {
    return fail("the key is encrypted; give it unencrypted (a daemon cannot ask for a passphrase)");
  }
  BIO* bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio, nullptr, NoPassphrase, nullptr);
  BIO_free(bio);
  if (raw == nullptr) {
    dcap::TakeOpenSslErrors();
    return fail("not a PEM private key");
  }
  SigningKey key;
  key.key_ = std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free);
  key.contexts_ = std::make_shared<ContextPool>(key.key_);
  nlohmann::json thumbprint_input;
  if (EVP_PKEY_get_base_id(raw) == EVP_PKEY_RSA) {
    if (EVP_PKEY_get_bits(raw) < 2048) {
      return fail(absl::StrCat("an RSA key of ", EVP_PKEY_get_bits(raw),
                               " bits; RS256 needs 2048 or more"));
    }
    key.alg_ = "RS256";
    ASSIGN_OR_RETURN(std::string n, BigNumParam(raw, OSSL_PKEY_PARAM_RSA_N, 0));
    ASSIGN_OR_RETURN(std::string e, BigNumParam(raw, OSSL_PKEY_PARAM_RSA_E, 0));
    thumbprint_input = {{"e", EncodeBase64Url(e)}, {"kty", "RSA"}, {"n", EncodeBase64Url(n)}};
  } else if (EVP_PKEY_get_base_id(raw) == EVP_PKEY_EC) {
    char group[64] = {};
    size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(raw, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &length) != 1 ||
        std::string(group) != "prime256v1") {
      return fail(absl::StrCat("an EC key on curve ", group, "; ES256 needs P-256 (prime256v1)"));
    }
    key.alg_ = "ES256";
    ASSIGN_OR_RETURN(std::string x, BigNumParam(raw, OSSL_PKEY_PARAM_EC_PUB_X, 32));
    ASSIGN_OR_RETURN(std::string y, BigNumParam(raw, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
    thumbprint_input = {
        {"crv", "P-256"}, {"kty", "EC"}, {"x", EncodeBase64Url(x)}, {"y", EncodeBase64Url(y)}};
  } else {
    return fail("neither an RSA nor an EC key");
  }
  // RFC 7638: the required members, sorted, no whitespace (nlohmann::json sorts its keys).
  const dcap::Sha256Digest thumbprint = dcap::Sha256(thumbprint_input.dump());
  key.kid_ = EncodeBase64Url(dcap::AsView(thumbprint));

  if (cert_pem.empty()) {
    key.certificate_der_ = dcap::CertificateDer(SelfSignedCertificate(raw, now).get());
  } else {
    absl::StatusOr<dcap::X509Ptr> cert = dcap::ParseCertificate(cert_pem, "--signing-cert");
    if (!cert.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--signing-cert ", cert_name, ": ", cert.status().message()));
    }
    if (EVP_PKEY_eq(X509_get0_pubkey(cert->get()), raw) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--signing-cert ", cert_name, ": its public key is not the key of ", key_name));
    }
    key.certificate_der_ = dcap::CertificateDer(cert->get());
  }

  key.jwk_ = {
      {"kty", thumbprint_input["kty"]}, {"kid", key.kid_}, {"use", "sig"}, {"alg", key.alg_}};
  for (const char* member : {"n", "e", "crv", "x", "y"}) {
    if (thumbprint_input.contains(member)) {
      key.jwk_[member] = thumbprint_input[member];
    }
  }
  key.jwk_["x5c"] = nlohmann::ordered_json::array({absl::Base64Escape(key.certificate_der_)});
  return key;
}

std::string SigningKey::Sign(absl::string_view signing_input) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  CN_CHECK(EVP_Digest(signing_input.data(), signing_input.size(), digest, &digest_size,
                      FetchedSha256(), nullptr) == 1);
  EVP_PKEY_CTX* context = contexts_->Take();
  size_t size = 0;
  CN_CHECK(EVP_PKEY_sign(context, nullptr, &size, digest, digest_size) == 1);
  std::string signature(size, '\0');
  CN_CHECK(EVP_PKEY_sign(context, reinterpret_cast<unsigned char*>(signature.data()), &size, digest,
                         digest_size) == 1);
  contexts_->Return(context);
  signature.resize(size);
  if (alg_ == "RS256") {
    return signature;
  }
  // ES256 is raw r||s (RFC 7518 section 3.4); OpenSSL gives DER.
  const auto* der = reinterpret_cast<const unsigned char*>(signature.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size()));
  CN_CHECK(sig != nullptr);
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return raw;
}

}  // namespace cn::attestd
