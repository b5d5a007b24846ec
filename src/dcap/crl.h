#pragma once

// Crl: an X.509 CRL (RFC 5280 section 5) decoded for the verifier: Intel's root CA CRL and PCK
// CRLs, read from DER field by field like Certificate (x509_der.h says why and how strictly),
// and their ecdsa-with-SHA256 signature checked over the TBS bytes.
//
// TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL (v2), signature, issuer, thisUpdate,
// nextUpdate OPTIONAL, revokedCertificates SEQUENCE OF SEQUENCE { userCertificate, revocationDate,
// crlEntryExtensions OPTIONAL } OPTIONAL, crlExtensions [0] EXPLICIT OPTIONAL }.
// Extensions are checked for form (OID, optional BOOLEAN, OCTET STRING); of the entry extensions
// those OpenSSL decodes (reasonCode an ENUMERATED, certificateIssuer a SEQUENCE, invalidityDate
// a GeneralizedTime) must hold one element of their type, as d2i_X509_CRL requires. Every
// revoked serial counts, whatever certificateIssuer an entry names: an indirect CRL revokes more,
// never less.
//
// Immutable after construction; safe to share between threads.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/dcap/crypto.h"

namespace cn::dcap {

class Crl {
 public:
  // `der` must be exactly one CRL. Messages start with "`what`: " and say "not a DER CRL (...)"
  // for anything that does not decode, "trailing bytes after the CRL" for bytes after it.
  static absl::StatusOr<std::shared_ptr<const Crl>> FromDer(std::string der,
                                                            absl::string_view what);

  // The issuer Name's DER (whole TLV), matched byte for byte against certificates' names.
  absl::string_view issuer_der() const { return issuer_; }
  std::string IssuerText() const;  // for messages
  // thisUpdate; nullopt when its text is not RFC 5280's form.
  std::optional<absl::Time> this_update() const { return this_update_; }
  bool has_next_update() const { return has_next_update_; }
  // nextUpdate; nullopt when absent or not RFC 5280's form.
  std::optional<absl::Time> next_update() const { return next_update_; }
  // The revoked serial numbers' INTEGER contents (minimal, so they compare as bytes with
  // Certificate::serial()).
  const std::vector<absl::string_view>& revoked_serials() const { return revoked_; }

  // Whether the signature verifies over the TBS bytes with `key`.
  bool SignatureVerifiesWith(const P256PublicKey& key) const;

 private:
  Crl() = default;
  // Its views point into its own der_: never copied, only shared.
  Crl(const Crl&) = delete;
  Crl& operator=(const Crl&) = delete;
  absl::Status Read(absl::string_view what);

  std::string der_;  // every view below points into it
  absl::string_view tbs_;
  absl::string_view signature_;
  absl::string_view issuer_;
  std::optional<absl::Time> this_update_;
  bool has_next_update_ = false;
  std::optional<absl::Time> next_update_;
  std::vector<absl::string_view> revoked_;
};

using CrlPtr = std::shared_ptr<const Crl>;

}  // namespace cn::dcap
