#pragma once

// Certificate: an X.509 certificate decoded for the verifier's chains (PCK chain, TCB Info and
// QE Identity signing chains, the trust anchor), and the ECDSA checks of certificates and CRLs
// made over their exact signed bytes.
//
// Why not plain d2i_X509 and X509_verify: OpenSSL 3.0 decodes every certificate's public key
// through its provider decoder framework, a lookup that cost more than the ECDSA check itself
// (three certificates made a third of a cold verification), and X509_verify fetches its
// algorithms again on every call. Here the X509 is decoded in a library context with no
// providers, so OpenSSL leaves the key undecoded; the key is imported from the raw point
// (P256PublicKey::FromPoint), and signatures are checked over the TBS bytes of the DER itself.
//
// What this accepts is what Intel's PCK certificate and CRL profile allows, and no more: keys
// are EC P-256 (id-ecPublicKey, prime256v1); signatures are ecdsa-with-SHA256, the same
// algorithm inside the TBS as outside it (RFC 5280 4.1.1.2); the DER is read by DerReader
// (definite, minimal lengths) and nothing may follow it. Anything else is refused with a message
// naming `what`.
//
// Immutable after construction; safe to share between threads (CertificatePtr). The X509's
// extension flags are computed at decode time, so later reads do not write to it.

#include <openssl/x509.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/dcap/crypto.h"

namespace cn::dcap {

class Certificate {
 public:
  // `der` must be exactly one certificate. Messages start with "`what`: " (nothing when empty).
  static absl::StatusOr<std::shared_ptr<const Certificate>> FromDer(std::string der,
                                                                    absl::string_view what);

  // Names, extensions, validity, serial and SubjectPublicKeyInfo as OpenSSL parsed them. The
  // X509 carries no EVP_PKEY: X509_get0_pubkey() on it fails; use key().
  X509* x509() const { return x509_.get(); }
  const P256PublicKey& key() const { return *key_; }
  // The SubjectPublicKeyInfo as CertificateKeyDer(x509()) encodes it, made once at decode time:
  // chains compare keys by it several times per verification.
  const std::string& key_der() const { return key_der_; }
  const std::string& der() const { return der_; }

  // Whether the certificate's signature verifies over its TBS bytes with `issuer_key`.
  bool SignatureVerifiesWith(const P256PublicKey& issuer_key) const;

 private:
  Certificate() = default;
  static absl::StatusOr<std::shared_ptr<const Certificate>> Decode(std::string der);

  std::string der_;
  absl::string_view tbs_;        // into der_
  absl::string_view signature_;  // into der_: DER ECDSA-Sig-Value
  X509Ptr x509_;
  std::optional<P256PublicKey> key_;  // always set once decoded
  std::string key_der_;
};

using CertificatePtr = std::shared_ptr<const Certificate>;

// Certificates from concatenated PEM blocks, in order, as ParsePemCertificates reads them (the
// same block rules and messages), each decoded by Certificate::FromDer. A block whose base64 is
// exactly `known_base64` yields `known` itself (every Intel chain repeats the root).
absl::StatusOr<std::vector<CertificatePtr>> DecodePemCertificates(absl::string_view pem,
                                                                  absl::string_view what,
                                                                  const CertificatePtr& known,
                                                                  absl::string_view known_base64);

// Whether the DER CRL `crl_der` (already parsed by ParseDerCrl from these same bytes) carries an
// ecdsa-with-SHA256 signature over its TBS bytes that verifies with `key`. False for any
// malformed or other signature.
bool CrlSignatureVerifiesWith(absl::string_view crl_der, const P256PublicKey& key);

}  // namespace cn::dcap
