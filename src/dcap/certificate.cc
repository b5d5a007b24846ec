#include "src/dcap/certificate.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "src/common/check.h"
#include "src/common/status_macros.h"
#include "src/dcap/der_reader.h"

namespace cn::dcap {
namespace {

// AlgorithmIdentifier contents of ecdsa-with-SHA256 (OID 1.2.840.10045.4.3.2, no parameters,
// RFC 5758 3.2): the only signature algorithm of Intel's SGX PKI.
constexpr absl::string_view kEcdsaWithSha256 = "\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02";
constexpr uint8_t kBitString = 0x03;
constexpr uint8_t kVersionTag = 0xa0;  // [0] EXPLICIT Version of a certificate's TBS

// A library context with no algorithms (the "null" provider keeps OpenSSL from loading the
// default one into it). An X509 decoded in it keeps its SubjectPublicKeyInfo undecoded, which
// is the point: the decoder lookup is what made certificate decoding expensive. It lives as long
// as the process, as the X509s that point to it may.
OSSL_LIB_CTX* KeylessContext() {
  static OSSL_LIB_CTX* const context = [] {
    OSSL_LIB_CTX* created = OSSL_LIB_CTX_new();
    CN_CHECK(created != nullptr);
    CN_CHECK(OSSL_PROVIDER_load(created, "null") != nullptr);
    return created;
  }();
  return context;
}

// The to-be-signed element (whole TLV) and DER ECDSA-Sig-Value of a signed X.509 object:
// SEQUENCE { tbs SEQUENCE, signatureAlgorithm, signature BIT STRING }, nothing after it, and
// signatureAlgorithm ecdsa-with-SHA256 both outside and inside the TBS (where `fields_before`
// elements precede it, after an optional leading element with tag `optional_first`).
struct SignedParts {
  absl::string_view tbs;
  absl::string_view signature;
};
absl::StatusOr<SignedParts> SplitSigned(absl::string_view der, uint8_t optional_first,
                                        int fields_before, absl::string_view what) {
  DerReader outer(der, what);
  ASSIGN_OR_RETURN(DerReader object, outer.ReadConstructed(der::kSequence, "signed object"));
  if (!outer.at_end()) {
    return outer.Error("bytes follow the signed object");
  }
  const absl::string_view before_tbs = object.rest();
  ASSIGN_OR_RETURN(DerReader tbs, object.ReadConstructed(der::kSequence, "TBS"));
  SignedParts parts;
  parts.tbs = before_tbs.substr(0, before_tbs.size() - object.rest().size());
  ASSIGN_OR_RETURN(absl::string_view algorithm,
                   object.ReadExpected(der::kSequence, "signature algorithm"));
  ASSIGN_OR_RETURN(absl::string_view bits, object.ReadExpected(kBitString, "signature"));
  if (!object.at_end()) {
    return object.Error("the signed object has fields after its signature");
  }
  if (algorithm != kEcdsaWithSha256) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the signature algorithm is not ecdsa-with-SHA256"));
  }
  if (bits.empty() || bits[0] != 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the signature is not whole bytes"));
  }
  parts.signature = bits.substr(1);
  absl::StatusOr<DerElement> field = tbs.ReadElement("TBS field");
  if (field.ok() && field->tag == optional_first) {
    field = tbs.ReadElement("TBS field");
  }
  for (int i = 0; field.ok() && i < fields_before; ++i) {
    field = tbs.ReadElement("TBS field");
  }
  if (!field.ok()) {
    return field.status();
  }
  if (field->tag != der::kSequence || field->value != algorithm) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": the signature algorithm inside the signed part differs from the outer one"));
  }
  return parts;
}

// The certificate's key, which must be EC P-256 (Intel's profile; the anchor's and every signer's
// signatures are P-256 ECDSA).
absl::StatusOr<P256PublicKey> P256KeyOf(X509* cert) {
  const ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* point = nullptr;
  int point_size = 0;
  X509_ALGOR* parameters_holder = nullptr;
  if (X509_PUBKEY_get0_param(nullptr, &point, &point_size, &parameters_holder,
                             X509_get_X509_PUBKEY(cert)) != 1 ||
      parameters_holder == nullptr) {
    return absl::InvalidArgumentError("the public key is unreadable");
  }
  int parameter_type = 0;
  const void* parameter = nullptr;
  X509_ALGOR_get0(&algorithm, &parameter_type, &parameter, parameters_holder);
  if (OBJ_obj2nid(algorithm) != NID_X9_62_id_ecPublicKey || parameter_type != V_ASN1_OBJECT ||
      OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(parameter)) != NID_X9_62_prime256v1) {
    return absl::InvalidArgumentError("the public key is not an EC P-256 key");
  }
  return P256PublicKey::FromPoint(AsView(point, static_cast<size_t>(point_size)));
}

}  // namespace

absl::StatusOr<CertificatePtr> Certificate::FromDer(std::string der, absl::string_view what) {
  absl::StatusOr<CertificatePtr> cert = Decode(std::move(der));
  if (!cert.ok() && !what.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", cert.status().message()));
  }
  return cert;
}

absl::StatusOr<CertificatePtr> Certificate::Decode(std::string der) {
  std::shared_ptr<Certificate> cert(new Certificate());
  cert->der_ = std::move(der);
  const absl::string_view bytes = cert->der_;
  cert->x509_.reset(X509_new_ex(KeylessContext(), nullptr));
  CN_CHECK(cert->x509_ != nullptr);
  X509* x509 = cert->x509_.get();
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(bytes.data());
  ERR_set_mark();
  if (d2i_X509(&x509, &cursor, static_cast<long>(bytes.size())) == nullptr) {
    // d2i_X509 frees the object it was given when it fails.
    (void)cert->x509_.release();
    const std::string errors = TakeOpenSslErrors();
    ERR_pop_to_mark();
    return absl::InvalidArgumentError(absl::StrCat("not a DER certificate (", errors, ")"));
  }
  // Caching the extensions now keeps the X509 read-only afterwards. It also tries a SHA-1
  // fingerprint, which this context cannot compute (EXFLAG_NO_FINGERPRINT: X509_cmp then
  // compares the encodings); that error is not the caller's.
  X509_get_extension_flags(x509);
  ERR_pop_to_mark();
  if (cursor != reinterpret_cast<const unsigned char*>(bytes.data() + bytes.size())) {
    return absl::InvalidArgumentError("trailing bytes after the certificate");
  }
  // Certificate TBS: [0] version (optional), serialNumber, then signature.
  ASSIGN_OR_RETURN(SignedParts parts, SplitSigned(bytes, kVersionTag, 1, "certificate DER"));
  cert->tbs_ = parts.tbs;
  cert->signature_ = parts.signature;
  ASSIGN_OR_RETURN(cert->key_, P256KeyOf(x509));
  cert->key_der_ = CertificateKeyDer(x509);
  return cert;
}

bool Certificate::SignatureVerifiesWith(const P256PublicKey& issuer_key) const {
  return issuer_key.VerifySha256Der(tbs_, signature_);
}

absl::StatusOr<std::vector<CertificatePtr>> DecodePemCertificates(absl::string_view pem,
                                                                  absl::string_view what,
                                                                  const CertificatePtr& known,
                                                                  absl::string_view known_base64) {
  ASSIGN_OR_RETURN(std::vector<PemBlock> blocks, PemCertificateBlocks(pem, what));
  std::vector<CertificatePtr> certs;
  certs.reserve(blocks.size());
  for (const PemBlock& block : blocks) {
    const std::string name = absl::StrCat(what, ": certificate ", certs.size() + 1);
    if (known != nullptr && PemBodyEquals(block.body, known_base64)) {
      certs.push_back(known);
      continue;
    }
    // Base64Unescape skips the line breaks. A block with PEM headers ("Proc-Type: 4,ENCRYPTED")
    // is not base64 and so is refused here without any passphrase prompt.
    std::string der;
    if (!absl::Base64Unescape(block.body, &der)) {
      return absl::InvalidArgumentError(absl::StrCat(name, " does not parse (not base64)"));
    }
    absl::StatusOr<CertificatePtr> cert = Certificate::FromDer(std::move(der), "");
    if (!cert.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " does not parse (", cert.status().message(), ")"));
    }
    certs.push_back(*std::move(cert));
  }
  return certs;
}

bool CrlSignatureVerifiesWith(absl::string_view crl_der, const P256PublicKey& key) {
  // CRL TBS: version (optional INTEGER), then signature.
  absl::StatusOr<SignedParts> parts = SplitSigned(crl_der, der::kInteger, 0, "CRL");
  return parts.ok() && key.VerifySha256Der(parts->tbs, parts->signature);
}

}  // namespace cn::dcap
