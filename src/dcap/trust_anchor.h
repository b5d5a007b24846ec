#pragma once

// TrustAnchor: the root certificate that every chain (PCK, TCB signing, QE Identity signing) and
// the root CA CRL must lead to. It is matched by *public key*, not by encoding, so a chain that
// ends in another certificate for the same key (Intel's older root encoding, valid to 2033)
// verifies too.
//
// Immutable after construction; safe to share between threads.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/dcap/certificate.h"
#include "src/dcap/crypto.h"

namespace cn::dcap {

// The built-in Intel SGX Root CA (DER), for the production trust anchor.
extern const unsigned char kIntelSgxRootCaDer[];
extern const size_t kIntelSgxRootCaDerSize;

class TrustAnchor {
 public:
  // Intel's SGX Root CA, compiled into the library.
  static TrustAnchor IntelSgxRoot();
  // A root from a certificate in PEM or DER (`--root-ca`, test roots). InvalidArgument when the
  // bytes are not exactly one certificate or its key is not an EC P-256 key.
  static absl::StatusOr<TrustAnchor> FromCertificate(absl::string_view pem_or_der);

  // The root as the verifier decodes certificates (certificate.h); public_key() is its key.
  const CertificatePtr& root() const { return root_; }
  const P256PublicKey& public_key() const { return root_->key(); }
  // DER SubjectPublicKeyInfo of the root key: what matching compares.
  const std::string& public_key_der() const { return public_key_der_; }
  // Whether `cert` carries the root key (by its SubjectPublicKeyInfo).
  bool IsKeyOf(const Certificate& cert) const { return cert.key_der() == public_key_der_; }
  // Whether `cert` is byte for byte the anchor's own certificate.
  bool IsCertificate(const Certificate& cert) const {
    return &cert == root_.get() || cert.der() == root_->der();
  }
  // Base64 of the certificate's DER (no line breaks), for DecodePemCertificates to reuse root()
  // when a chain repeats it.
  const std::string& base64() const { return base64_; }

 private:
  explicit TrustAnchor(CertificatePtr root);
  static absl::StatusOr<TrustAnchor> FromDer(std::string der, absl::string_view what);

  CertificatePtr root_;
  std::string public_key_der_;
  std::string base64_;  // of the certificate's DER
};

}  // namespace cn::dcap
