#pragma once

// Certificate: an X.509 certificate decoded for the verifier's chains (PCK chain, TCB Info and
// QE Identity signing chains, the trust anchor), and the ECDSA checks of certificates and CRLs
// made over their exact signed bytes.
//
// Why not d2i_X509 and X509_verify: OpenSSL 3.0 decodes every certificate's public key through its
// provider decoder framework (a lookup that cost more than the ECDSA check itself), its template
// decoder allocates and canonicalises every field, and X509_verify fetches its algorithms again on
// every call. Here the DER is read field by field (x509_der.h: names, times and serials stay
// views into the DER), the key is imported from the raw point (P256PublicKey::FromPoint), and
// signatures are checked over the TBS bytes themselves. No X509 is made at all.
//
// What this accepts is what Intel's PCK certificate and CRL profile allows, and no more: keys
// are EC P-256 (id-ecPublicKey, prime256v1); signatures are ecdsa-with-SHA256, the same
// algorithm inside the TBS as outside it (RFC 5280 4.1.1.2); the DER is read by DerReader
// (definite, minimal lengths) and nothing may follow it. Anything else is refused with a message
// naming `what`.
//
// The chain rules' inputs (basicConstraints, keyUsage, which extensions are critical and whether
// any is malformed) are read the same way, with the rules of OpenSSL 3.0's extension cache
// (X509_check_ca, X509_get_extension_flags), which the tests hold them against.
//
// Immutable after construction; safe to share between threads (CertificatePtr).

#include <openssl/x509v3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/dcap/crypto.h"
#include "src/dcap/x509_der.h"

namespace cn::dcap {

class Certificate {
 public:
  // `der` must be exactly one certificate. Messages start with "`what`: " (nothing when empty).
  static absl::StatusOr<std::shared_ptr<const Certificate>> FromDer(std::string der,
                                                                    absl::string_view what);

  const P256PublicKey& key() const { return *key_; }
  // The SubjectPublicKeyInfo's DER (what CertificateKeyDer() of the same certificate gives):
  // chains compare keys by it.
  const std::string& key_der() const { return key_der_; }
  const std::string& der() const { return der_; }
  // The serialNumber INTEGER's contents (minimal two's complement: equal serials, equal bytes).
  absl::string_view serial() const { return serial_; }
  // The issuer and subject Names' DER (whole TLVs), which chains and CRLs match byte for byte.
  absl::string_view issuer_der() const { return issuer_; }
  absl::string_view subject_der() const { return subject_; }
  // For messages: the names as RFC 2253 text, the serial in hex.
  std::string IssuerText() const;
  std::string SubjectText() const;
  std::string SerialHex() const;
  // notBefore and notAfter; nullopt when the time's text is not RFC 5280's (the chain refuses
  // the certificate then, naming its validity period).
  std::optional<absl::Time> not_before() const { return not_before_; }
  std::optional<absl::Time> not_after() const { return not_after_; }
  // The value (extnValue's contents) of the extension `oid` (OID contents octets): NotFound when
  // the certificate has none, InvalidArgument when it has it more than once.
  absl::StatusOr<absl::string_view> ExtensionValue(absl::string_view oid) const;

  // Whether the certificate's signature verifies over its TBS bytes with `issuer_key`.
  bool SignatureVerifiesWith(const P256PublicKey& issuer_key) const;

  // The rules of OpenSSL 3.0's X509_check_ca, read from the DER (see Extensions below).
  // IsCa(): basicConstraints with cA TRUE and, when keyUsage is present, keyCertSign in it:
  // RFC 5280 4.2.1.9 and 4.2.1.3; what X509_check_ca() answers 1 for.
  bool IsCa() const;
  // Whether the certificate could pass for any kind of CA (X509_check_ca() != 0): IsCa(), or,
  // without basicConstraints, a keyUsage with keyCertSign, a v1 self-issued certificate or a
  // Netscape certificate type naming a CA. A leaf or a signer must not.
  bool MayBeCa() const;
  // True when there is no keyUsage (no restriction) or it includes one of `usage`: OpenSSL's KU_*
  // bits (KU_DIGITAL_SIGNATURE, KU_KEY_CERT_SIGN, KU_CRL_SIGN), the same layout as
  // X509_get_key_usage().
  bool KeyUsageAllows(uint32_t usage) const;
  // basicConstraints' pathLenConstraint when IsCa(); nullopt when it has none (no limit) or is no
  // CA.
  std::optional<uint64_t> path_length() const;
  // A critical extension outside the set OpenSSL 3.0 supports (X509_supported_extension:
  // basicConstraints, keyUsage, extendedKeyUsage, subjectAltName, nameConstraints, the policy
  // extensions, crlDistributionPoints, ...): RFC 5280 4.2 says to refuse the certificate. What
  // EXFLAG_CRITICAL meant.
  bool has_unknown_critical_extension() const { return extensions_.unknown_critical; }
  // An extension that is malformed: basicConstraints or keyUsage that does not decode (or a
  // pathLenConstraint without cA, a negative one, an empty keyUsage), an extension that appears
  // twice, or one of the others OpenSSL decodes (the supported set, subjectKeyIdentifier,
  // authorityKeyIdentifier) whose value is not one well-formed DER element of its type's tag.
  // What EXFLAG_INVALID meant, except that those others are checked for form, not decoded, and a
  // repeated extension counts whatever it is. A malformed certificate is no CA (IsCa(), MayBeCa()
  // false) and a keyUsage found in it allows nothing, as OpenSSL has it.
  bool has_malformed_extension() const { return extensions_.malformed; }

 private:
  Certificate() = default;
  // Its views point into its own der_: never copied, only shared.
  Certificate(const Certificate&) = delete;
  Certificate& operator=(const Certificate&) = delete;
  static absl::StatusOr<std::shared_ptr<const Certificate>> Decode(std::string der);
  // Reads the TBS fields into the members (views into der_), except the key, whose parts go to
  // `key` for Decode to judge: a certificate that is not DER says so before any other refusal.
  struct KeyFields {
    absl::string_view inner_algorithm;  // the TBS's signature AlgorithmIdentifier contents
    absl::string_view algorithm;        // subjectPublicKeyInfo.algorithm contents
    absl::string_view bits;             // subjectPublicKey BIT STRING contents
  };
  absl::Status ReadTbs(const x509::SignedParts& parts, KeyFields* key);
  // Fills extensions_ and extension_list_ from the contents of the TBS's [3] element. A list
  // that is not DER is an error; a bad extension in it sets `malformed`.
  absl::Status ReadExtensions(absl::string_view extensions);
  void ReadExtension(const x509::Extension& extension);

  // What the extensions say (certificate.cc ReadExtensions).
  struct Extensions {
    bool basic_constraints = false;  // present and decoded
    bool ca = false;
    std::optional<uint64_t> path_length;
    bool key_usage_present = false;  // present, even if malformed
    uint32_t key_usage = 0;          // KU_* bits
    bool netscape_ca = false;        // nsCertType with an SSL, S/MIME or object-signing CA bit
    bool v1_self_issued = false;     // version 1, issuer name equal to subject name
    bool unknown_critical = false;
    bool malformed = false;
  };

  struct ExtensionEntry {
    absl::string_view oid;
    absl::string_view value;
  };

  std::string der_;  // every view below points into it
  Extensions extensions_;
  std::vector<ExtensionEntry> extension_list_;
  absl::string_view tbs_;
  absl::string_view signature_;  // DER ECDSA-Sig-Value
  absl::string_view serial_;
  absl::string_view issuer_;
  absl::string_view subject_;
  std::optional<absl::Time> not_before_;
  std::optional<absl::Time> not_after_;
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

}  // namespace cn::dcap
