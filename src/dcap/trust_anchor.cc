#include "src/dcap/trust_anchor.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/check.h"

namespace cn::dcap {

TrustAnchor::TrustAnchor(CertificatePtr root)
    : root_(std::move(root)), public_key_der_(root_->key_der()), base64_(Base64(root_->der())) {}

absl::StatusOr<TrustAnchor> TrustAnchor::FromDer(std::string der, absl::string_view what) {
  absl::StatusOr<CertificatePtr> root = Certificate::FromDer(std::move(der), what);
  if (!root.ok()) {
    return root.status();
  }
  return TrustAnchor(*std::move(root));
}

TrustAnchor TrustAnchor::IntelSgxRoot() {
  absl::StatusOr<TrustAnchor> anchor =
      FromDer(std::string(AsView(kIntelSgxRootCaDer, kIntelSgxRootCaDerSize)),
              "built-in Intel SGX Root CA");
  CN_CHECK(anchor.ok());
  return *std::move(anchor);
}

absl::StatusOr<TrustAnchor> TrustAnchor::FromCertificate(absl::string_view pem_or_der) {
  // Read as any certificate first (PEM or DER, with the usual messages), then decoded the way
  // the verifier decodes chains, which refuses a key that is not EC P-256.
  absl::StatusOr<X509Ptr> cert = ParseCertificate(pem_or_der, "root CA certificate");
  if (!cert.ok()) {
    return cert.status();
  }
  EVP_PKEY* key = X509_get0_pubkey(cert->get());
  if (key == nullptr || !EVP_PKEY_is_a(key, "EC") || EVP_PKEY_get_bits(key) != 256) {
    return absl::InvalidArgumentError("root CA certificate: the key is not an EC P-256 key");
  }
  return FromDer(CertificateDer(cert->get()), "root CA certificate");
}

}  // namespace cn::dcap
