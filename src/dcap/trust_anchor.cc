#include "src/dcap/trust_anchor.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/check.h"

namespace cn::dcap {

TrustAnchor::TrustAnchor(std::shared_ptr<X509> certificate)
    : certificate_(std::move(certificate)),
      public_key_der_(PublicKeyDer(X509_get0_pubkey(certificate_.get()))),
      base64_(Base64(CertificateDer(certificate_.get()))) {}

TrustAnchor TrustAnchor::IntelSgxRoot() {
  absl::StatusOr<X509Ptr> cert = ParseDerCertificate(
      AsView(kIntelSgxRootCaDer, kIntelSgxRootCaDerSize), "built-in Intel SGX Root CA");
  CN_CHECK(cert.ok());
  return TrustAnchor(std::shared_ptr<X509>(cert->release(), X509Deleter()));
}

absl::StatusOr<TrustAnchor> TrustAnchor::FromCertificate(absl::string_view pem_or_der) {
  absl::StatusOr<X509Ptr> cert = ParseCertificate(pem_or_der, "root CA certificate");
  if (!cert.ok()) {
    return cert.status();
  }
  EVP_PKEY* key = X509_get0_pubkey(cert->get());
  if (key == nullptr || !EVP_PKEY_is_a(key, "EC") || EVP_PKEY_get_bits(key) != 256) {
    return absl::InvalidArgumentError("root CA certificate: the key is not an EC P-256 key");
  }
  return TrustAnchor(std::shared_ptr<X509>(cert->release(), X509Deleter()));
}

bool TrustAnchor::HasKey(EVP_PKEY* key) const {
  return key != nullptr && PublicKeyDer(key) == public_key_der_;
}

bool TrustAnchor::IsKeyOf(X509* cert) const { return CertificateKeyDer(cert) == public_key_der_; }

bool TrustAnchor::IsCertificate(X509* cert) const {
  return X509_cmp(cert, certificate_.get()) == 0;
}

}  // namespace cn::dcap
