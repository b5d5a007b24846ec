#include "src/dcap/certificate.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

#include <limits>

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
constexpr uint8_t kBoolean = 0x01;
constexpr uint8_t kBitString = 0x03;
constexpr uint8_t kNull = 0x05;
constexpr uint8_t kVersionTag = 0xa0;     // [0] EXPLICIT Version of a certificate's TBS
constexpr uint8_t kExtensionsTag = 0xa3;  // [3] EXPLICIT Extensions of a v3 TBS
constexpr uint8_t kConstructed = 0x20;

// Extension OIDs (contents octets) the chain rules read.
constexpr absl::string_view kBasicConstraintsOid = "\x55\x1d\x13";  // 2.5.29.19
constexpr absl::string_view kKeyUsageOid = "\x55\x1d\x0f";          // 2.5.29.15
constexpr absl::string_view kNetscapeCertTypeOid =
    "\x60\x86\x48\x01\x86\xf8\x42\x01\x01";  // 2.16.840.1.113730.1.1

// The extensions OpenSSL decodes when it caches a certificate's extensions, with the tag their
// value must carry. `supported` marks the ones it may process when critical
// (X509_supported_extension in OpenSSL 3.0, the same list on this Debian's 3.0.x); a critical
// extension outside them makes the certificate unacceptable.
struct KnownExtension {
  absl::string_view oid;
  uint8_t tag;
  bool supported;
};
constexpr KnownExtension kKnownExtensions[] = {
    {kBasicConstraintsOid, der::kSequence, true},
    {kKeyUsageOid, kBitString, true},
    {"\x55\x1d\x25", der::kSequence, true},  // extendedKeyUsage
    {"\x55\x1d\x11", der::kSequence, true},  // subjectAltName
    {"\x55\x1d\x20", der::kSequence, true},  // certificatePolicies
    {"\x55\x1d\x1f", der::kSequence, true},  // cRLDistributionPoints
    {"\x55\x1d\x24", der::kSequence, true},  // policyConstraints
    {"\x55\x1d\x1e", der::kSequence, true},  // nameConstraints
    {"\x55\x1d\x21", der::kSequence, true},  // policyMappings
    {"\x55\x1d\x36", der::kInteger, true},   // inhibitAnyPolicy
    {kNetscapeCertTypeOid, kBitString, true},
    {"\x2b\x06\x01\x05\x05\x07\x01\x07", der::kSequence, true},  // sbgp-ipAddrBlock
    {"\x2b\x06\x01\x05\x05\x07\x01\x08", der::kSequence, true},  // sbgp-autonomousSysNum
    {"\x2b\x06\x01\x05\x05\x07\x30\x01\x05", kNull, true},       // OCSP noCheck
    {"\x2b\x06\x01\x05\x05\x07\x01\x0e", der::kSequence, true},  // proxyCertInfo
    {"\x55\x1d\x0e", der::kOctetString, false},                  // subjectKeyIdentifier
    {"\x55\x1d\x23", der::kSequence, false},                     // authorityKeyIdentifier
};

const KnownExtension* FindKnownExtension(absl::string_view oid) {
  for (const KnownExtension& known : kKnownExtensions) {
    if (known.oid == oid) {
      return &known;
    }
  }
  return nullptr;
}

// Whether `bytes` are exactly one DER element (definite, minimal lengths, as DerReader reads),
// and so, recursively, is the contents of every constructed one, to a depth no real extension
// reaches.
bool IsOneDerElement(absl::string_view bytes, int depth) {
  DerReader reader(bytes, "extension");
  absl::StatusOr<DerElement> element = reader.ReadElement("value");
  if (!element.ok() || !reader.at_end()) {
    return false;
  }
  if ((element->tag & kConstructed) == 0) {
    return true;
  }
  if (depth == 0) {
    return false;
  }
  DerReader inner(element->value, "extension");
  while (!inner.at_end()) {
    const absl::string_view before = inner.rest();
    if (!inner.ReadElement("value").ok()) {
      return false;
    }
    const absl::string_view child = before.substr(0, before.size() - inner.rest().size());
    if (!IsOneDerElement(child, depth - 1)) {
      return false;
    }
  }
  return true;
}

// A DER BOOLEAN's contents: FALSE is 0x00, TRUE 0xff (X.690 11.1); nullopt for anything else.
std::optional<bool> DecodeBoolean(absl::string_view contents) {
  if (contents.size() != 1 || (contents[0] != '\x00' && contents[0] != '\xff')) {
    return std::nullopt;
  }
  return contents[0] != '\x00';
}

// The bits of a BIT STRING's contents as OpenSSL's KU_* masks read them (first byte, second byte
// shifted by 8), the unused bits cleared; nullopt when malformed.
std::optional<uint32_t> DecodeBits(absl::string_view contents) {
  if (contents.empty() || static_cast<uint8_t>(contents[0]) > 7 ||
      (contents.size() == 1 && contents[0] != 0)) {
    return std::nullopt;
  }
  const int unused = contents[0];
  const size_t count = contents.size() - 1;  // bytes of bits
  auto byte = [&](size_t i) -> uint32_t {
    const uint8_t bits = static_cast<uint8_t>(contents[1 + i]);
    return i + 1 == count ? static_cast<uint8_t>(bits & (0xff << unused)) : bits;
  };
  uint32_t mask = count > 0 ? byte(0) : 0;
  if (count > 1) {
    mask |= byte(1) << 8;
  }
  return mask;
}

// BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX)
// OPTIONAL } (RFC 5280 4.2.1.9). False when malformed. A pathLenConstraint on a non-CA breaks
// RFC 5280 but, as in OpenSSL 3.0, is not malformed; it limits nothing.
bool ReadBasicConstraints(absl::string_view value, bool* ca, std::optional<uint64_t>* path_length) {
  DerReader outer(value, "constraints");
  absl::StatusOr<DerReader> fields = outer.ReadConstructed(der::kSequence, "basicConstraints");
  if (!fields.ok() || !outer.at_end()) {
    return false;
  }
  *ca = false;
  *path_length = std::nullopt;
  if (fields->at_end()) {
    return true;
  }
  absl::StatusOr<DerElement> field = fields->ReadElement("field");
  if (field.ok() && field->tag == kBoolean) {
    const std::optional<bool> flag = DecodeBoolean(field->value);
    if (!flag) {
      return false;
    }
    *ca = *flag;
    if (fields->at_end()) {
      return true;
    }
    field = fields->ReadElement("field");
  }
  if (!field.ok() || field->tag != der::kInteger || !fields->at_end()) {
    return false;
  }
  absl::StatusOr<uint64_t> length =
      DecodeUnsignedInteger(field->value, std::numeric_limits<uint64_t>::max());
  if (!length.ok()) {
    return false;
  }
  if (*ca) {
    *path_length = *length;
  }
  return true;
}

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

absl::Status Certificate::ReadExtensions(absl::string_view tbs, X509* x509, Extensions* out) {
  DerReader outer(tbs, "TBS");
  ASSIGN_OR_RETURN(DerReader fields, outer.ReadConstructed(der::kSequence, "TBS"));
  ASSIGN_OR_RETURN(DerElement field, fields.ReadElement("TBS field"));
  uint64_t version = 0;  // v1
  if (field.tag == kVersionTag) {
    DerReader version_reader(field.value, "version");
    ASSIGN_OR_RETURN(absl::string_view number,
                     version_reader.ReadExpected(der::kInteger, "version"));
    ASSIGN_OR_RETURN(version, DecodeUnsignedInteger(number, 2));
    ASSIGN_OR_RETURN(field, fields.ReadElement("TBS field"));  // serialNumber
  }
  // signature, issuer, validity, subject, subjectPublicKeyInfo; then the optional unique
  // identifiers ([1], [2]) and extensions ([3]).
  for (int i = 0; i < 5; ++i) {
    RETURN_IF_ERROR(fields.ReadElement("TBS field").status());
  }
  absl::string_view extensions;
  while (!fields.at_end()) {
    ASSIGN_OR_RETURN(field, fields.ReadElement("TBS field"));
    if (field.tag == kExtensionsTag) {
      extensions = field.value;
    }
  }
  out->v1_self_issued =
      version == 0 && X509_NAME_cmp(X509_get_issuer_name(x509), X509_get_subject_name(x509)) == 0;
  if (extensions.empty()) {
    return absl::OkStatus();
  }
  // The extensions' own syntax is what d2i_X509 has already accepted; a failure here still
  // counts as a malformed extension rather than passing.
  DerReader wrapper(extensions, "extensions");
  absl::StatusOr<DerReader> list = wrapper.ReadConstructed(der::kSequence, "extensions");
  if (!list.ok() || !wrapper.at_end()) {
    out->malformed = true;
    return absl::OkStatus();
  }
  std::vector<absl::string_view> seen;
  while (!list->at_end()) {
    absl::StatusOr<DerReader> extension = list->ReadConstructed(der::kSequence, "extension");
    if (!extension.ok()) {
      out->malformed = true;
      return absl::OkStatus();
    }
    absl::StatusOr<absl::string_view> oid =
        extension->ReadExpected(der::kObjectIdentifier, "extnID");
    absl::StatusOr<DerElement> next = extension->ReadElement("extension field");
    bool critical = false;
    if (next.ok() && next->tag == kBoolean) {
      const std::optional<bool> flag = DecodeBoolean(next->value);
      critical = flag.value_or(false);
      next = flag ? extension->ReadElement("extnValue") : absl::InvalidArgumentError("critical");
    }
    if (!oid.ok() || !next.ok() || next->tag != der::kOctetString || !extension->at_end()) {
      out->malformed = true;
      return absl::OkStatus();
    }
    // RFC 5280 4.2: no extension may appear twice (OpenSSL flags it for those it decodes).
    for (absl::string_view earlier : seen) {
      out->malformed |= earlier == *oid;
    }
    seen.push_back(*oid);
    const absl::string_view value = next->value;
    const KnownExtension* known = FindKnownExtension(*oid);
    if (known == nullptr) {
      out->unknown_critical |= critical;
      continue;
    }
    out->unknown_critical |= critical && !known->supported;
    if (value.empty() || static_cast<uint8_t>(value[0]) != known->tag ||
        !IsOneDerElement(value, /*depth=*/16)) {
      out->malformed = true;
      if (known->oid == kKeyUsageOid) {
        out->key_usage_present = true;  // present but unreadable: it allows nothing
      }
      if (known->oid == kBasicConstraintsOid) {
        out->basic_constraints = false;
        out->ca = false;
        out->path_length = std::nullopt;
      }
      continue;
    }
    if (known->oid == kBasicConstraintsOid) {
      // Twice is as good as unreadable (OpenSSL's X509_get_ext_d2i refuses both).
      out->basic_constraints =
          !out->basic_constraints && ReadBasicConstraints(value, &out->ca, &out->path_length);
      if (!out->basic_constraints) {
        out->malformed = true;
        out->ca = false;
        out->path_length = std::nullopt;
      }
    } else if (known->oid == kKeyUsageOid || known->oid == kNetscapeCertTypeOid) {
      DerReader reader(value, "bit string");
      absl::StatusOr<absl::string_view> contents = reader.ReadExpected(kBitString, "bits");
      const std::optional<uint32_t> bits =
          contents.ok() ? DecodeBits(*contents) : std::optional<uint32_t>();
      if (known->oid == kKeyUsageOid) {
        // Twice, OpenSSL holds it absent (and the certificate malformed, as above).
        out->key_usage_present = !out->key_usage_present;
        out->key_usage = bits.value_or(0);
        // RFC 5280 4.2.1.3: at least one bit must be set.
        out->malformed |= out->key_usage == 0;
      } else {
        out->malformed |= !bits.has_value();
        // NS_SSL_CA | NS_SMIME_CA | NS_OBJSIGN_CA
        out->netscape_ca = (bits.value_or(0) & 0x07) != 0;
      }
    }
  }
  return absl::OkStatus();
}

// A certificate with a malformed extension is, as in OpenSSL 3.0, no CA of any kind, and its
// keyUsage (when one was found) allows nothing; the chain refuses it anyway.
bool Certificate::KeyUsageAllows(uint32_t usage) const {
  if (extensions_.malformed) {
    return !extensions_.key_usage_present;
  }
  return !extensions_.key_usage_present || (extensions_.key_usage & usage) != 0;
}

bool Certificate::IsCa() const {
  return !extensions_.malformed && KeyUsageAllows(KU_KEY_CERT_SIGN) &&
         extensions_.basic_constraints && extensions_.ca;
}

std::optional<uint64_t> Certificate::path_length() const {
  return IsCa() ? extensions_.path_length : std::nullopt;
}

bool Certificate::MayBeCa() const {
  if (extensions_.malformed || !KeyUsageAllows(KU_KEY_CERT_SIGN)) {
    return false;
  }
  if (extensions_.basic_constraints) {
    return extensions_.ca;
  }
  return extensions_.v1_self_issued || extensions_.key_usage_present || extensions_.netscape_ca;
}

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
  ERR_pop_to_mark();
  if (cursor != reinterpret_cast<const unsigned char*>(bytes.data() + bytes.size())) {
    return absl::InvalidArgumentError("trailing bytes after the certificate");
  }
  // Certificate TBS: [0] version (optional), serialNumber, then signature.
  ASSIGN_OR_RETURN(SignedParts parts, SplitSigned(bytes, kVersionTag, 1, "certificate DER"));
  cert->tbs_ = parts.tbs;
  cert->signature_ = parts.signature;
  RETURN_IF_ERROR(ReadExtensions(parts.tbs, x509, &cert->extensions_));
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
