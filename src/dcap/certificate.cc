#include "src/dcap/certificate.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "src/common/check.h"
#include "src/common/status_macros.h"
#include "src/dcap/der_reader.h"
#include "src/dcap/x509_der.h"

namespace cn::dcap {
namespace {

using x509::kBitString;
using x509::kBoolean;
using x509::kConstructed;
using x509::kNull;

constexpr uint8_t kVersionTag = 0xa0;          // [0] EXPLICIT Version
constexpr uint8_t kIssuerUniqueIdTag = 0x81;   // [1] IMPLICIT UniqueIdentifier (v2, v3)
constexpr uint8_t kSubjectUniqueIdTag = 0x82;  // [2] IMPLICIT UniqueIdentifier (v2, v3)
constexpr uint8_t kExtensionsTag = 0xa3;       // [3] EXPLICIT Extensions (v3)

// SubjectPublicKeyInfo.algorithm contents of an EC P-256 key: id-ecPublicKey
// (1.2.840.10045.2.1) with the namedCurve prime256v1 (1.2.840.10045.3.1.7), RFC 5480 2.1.1.
constexpr absl::string_view kEcP256Algorithm =
    "\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07";

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
    const std::optional<bool> flag = x509::DecodeBoolean(field->value);
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

}  // namespace

absl::Status Certificate::ReadExtensions(absl::string_view extensions) {
  // A list that is not DER refuses the certificate, as d2i_X509 does.
  return x509::ForEachExtension(extensions, [this](const x509::Extension& extension) {
    ReadExtension(extension);
    return absl::OkStatus();
  });
}

void Certificate::ReadExtension(const x509::Extension& extension) {
  Extensions* out = &extensions_;
  const absl::string_view oid = extension.oid;
  const absl::string_view value = extension.value;
  const bool critical = extension.critical;
  // RFC 5280 4.2: no extension may appear twice (OpenSSL flags it for those it decodes).
  for (const ExtensionEntry& earlier : extension_list_) {
    out->malformed |= earlier.oid == oid;
  }
  extension_list_.push_back(ExtensionEntry{oid, value});
  const KnownExtension* known = FindKnownExtension(oid);
  if (known == nullptr) {
    out->unknown_critical |= critical;
    return;
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
    return;
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
  ASSIGN_OR_RETURN(x509::SignedParts parts, x509::SplitSigned(cert->der_, "certificate"));
  KeyFields key;
  if (absl::Status fields = cert->ReadTbs(parts, &key); !fields.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a DER certificate (", fields.message(), ")"));
  }
  RETURN_IF_ERROR(x509::CheckInnerAlgorithm(key.inner_algorithm, parts.algorithm));
  if (key.algorithm != kEcP256Algorithm) {
    return absl::InvalidArgumentError("the public key is not an EC P-256 key");
  }
  if (key.bits.empty() || key.bits[0] != 0) {
    return absl::InvalidArgumentError("the public key is not whole bytes");
  }
  ASSIGN_OR_RETURN(cert->key_, P256PublicKey::FromPoint(key.bits.substr(1)));
  return cert;
}

// TBSCertificate ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1, serialNumber, signature,
// issuer, validity, subject, subjectPublicKeyInfo, issuerUniqueID [1] IMPLICIT OPTIONAL (v2+),
// subjectUniqueID [2] IMPLICIT OPTIONAL (v2+), extensions [3] EXPLICIT OPTIONAL (v3) }
// (RFC 5280 4.1).
absl::Status Certificate::ReadTbs(const x509::SignedParts& parts, KeyFields* key) {
  tbs_ = parts.tbs;
  signature_ = parts.signature;
  DerReader fields = parts.tbs_fields;
  uint64_t version = 0;  // v1
  if (!fields.at_end() && static_cast<uint8_t>(fields.rest()[0]) == kVersionTag) {
    ASSIGN_OR_RETURN(DerReader wrapper, fields.ReadConstructed(kVersionTag, "version"));
    ASSIGN_OR_RETURN(absl::string_view number, wrapper.ReadExpected(der::kInteger, "version"));
    if (!wrapper.at_end()) {
      return wrapper.Error("version: bytes follow the integer");
    }
    absl::StatusOr<uint64_t> decoded = DecodeUnsignedInteger(number, 2);
    if (!decoded.ok()) {
      return fields.Error(absl::StrCat("version: ", decoded.status().message()));
    }
    version = *decoded;
  }
  ASSIGN_OR_RETURN(serial_, x509::ReadInteger(fields, "serialNumber"));
  ASSIGN_OR_RETURN(key->inner_algorithm,
                   fields.ReadExpected(der::kSequence, "TBS signature algorithm"));
  ASSIGN_OR_RETURN(issuer_, x509::ReadName(fields, "issuer"));
  ASSIGN_OR_RETURN(DerReader validity, fields.ReadConstructed(der::kSequence, "validity"));
  ASSIGN_OR_RETURN(DerElement not_before, validity.ReadElement("notBefore"));
  ASSIGN_OR_RETURN(DerElement not_after, validity.ReadElement("notAfter"));
  if (!x509::IsTimeTag(not_before.tag) || !x509::IsTimeTag(not_after.tag) || !validity.at_end()) {
    return validity.Error("validity: not two times");
  }
  not_before_ = x509::DecodeTime(not_before);
  not_after_ = x509::DecodeTime(not_after);
  ASSIGN_OR_RETURN(subject_, x509::ReadName(fields, "subject"));

  const absl::string_view before_key = fields.rest();
  ASSIGN_OR_RETURN(DerReader key_info,
                   fields.ReadConstructed(der::kSequence, "subjectPublicKeyInfo"));
  key_der_ = std::string(before_key.substr(0, before_key.size() - fields.rest().size()));
  ASSIGN_OR_RETURN(key->algorithm,
                   key_info.ReadExpected(der::kSequence, "subjectPublicKeyInfo algorithm"));
  ASSIGN_OR_RETURN(key->bits, key_info.ReadExpected(kBitString, "subjectPublicKey"));
  if (!key_info.at_end()) {
    return key_info.Error("subjectPublicKeyInfo: bytes follow the key");
  }

  // The optional tail, each at most once and in this order.
  absl::string_view extensions;
  bool have_extensions = false;
  uint8_t last_tag = 0;
  while (!fields.at_end()) {
    ASSIGN_OR_RETURN(DerElement field, fields.ReadElement("TBS field"));
    const bool unique_id = field.tag == kIssuerUniqueIdTag || field.tag == kSubjectUniqueIdTag;
    if ((!unique_id && field.tag != kExtensionsTag) || field.tag <= last_tag) {
      return fields.Error("the TBS has an unexpected field after the key");
    }
    if ((unique_id && version < 1) || (field.tag == kExtensionsTag && version < 2)) {
      return fields.Error("the TBS has a field its version does not allow");
    }
    if (unique_id && (field.value.empty() || static_cast<uint8_t>(field.value[0]) > 7)) {
      return fields.Error("a unique identifier is not a bit string");
    }
    last_tag = field.tag;
    if (field.tag == kExtensionsTag) {
      extensions = field.value;
      have_extensions = true;
    }
  }
  extensions_.v1_self_issued = version == 0 && x509::NamesMatch(issuer_, subject_);
  if (have_extensions) {
    RETURN_IF_ERROR(ReadExtensions(extensions));
  }

  return absl::OkStatus();
}

std::string Certificate::IssuerText() const { return x509::NameText(issuer_); }
std::string Certificate::SubjectText() const { return x509::NameText(subject_); }
std::string Certificate::SerialHex() const { return x509::IntegerHex(serial_); }

absl::StatusOr<absl::string_view> Certificate::ExtensionValue(absl::string_view oid) const {
  const ExtensionEntry* found = nullptr;
  for (const ExtensionEntry& entry : extension_list_) {
    if (entry.oid == oid) {
      if (found != nullptr) {
        return absl::InvalidArgumentError("the extension appears more than once");
      }
      found = &entry;
    }
  }
  if (found == nullptr) {
    return absl::NotFoundError("the certificate has no such extension");
  }
  return found->value;
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

}  // namespace cn::dcap
