#include "src/dcap/crl.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/dcap/der_reader.h"
#include "src/dcap/x509_der.h"

namespace cn::dcap {
namespace {

constexpr uint8_t kExtensionsTag = 0xa0;  // crlExtensions [0] EXPLICIT

// Entry extensions OpenSSL's d2i_X509_CRL decodes, refusing the CRL when one does not decode,
// with the tag their one element must carry.
struct EntryExtension {
  absl::string_view oid;
  uint8_t tag;
};
constexpr EntryExtension kDecodedEntryExtensions[] = {
    {"\x55\x1d\x15", der::kEnumerated},        // reasonCode (2.5.29.21)
    {"\x55\x1d\x1d", der::kSequence},          // certificateIssuer (2.5.29.29)
    {"\x55\x1d\x18", x509::kGeneralizedTime},  // invalidityDate (2.5.29.24)
};

absl::Status CheckEntryExtensions(absl::string_view der) {
  return x509::ForEachExtension(der, [](const x509::Extension& extension) -> absl::Status {
    for (const EntryExtension& decoded : kDecodedEntryExtensions) {
      if (extension.oid != decoded.oid) {
        continue;
      }
      DerReader value(extension.value, "entry extension");
      absl::StatusOr<DerElement> element = value.ReadElement("value");
      if (!element.ok() || element->tag != decoded.tag || !value.at_end() ||
          (decoded.tag == x509::kGeneralizedTime && !x509::DecodeTime(*element))) {
        return absl::InvalidArgumentError("a revoked entry's extension does not decode");
      }
    }
    return absl::OkStatus();
  });
}

}  // namespace

absl::StatusOr<CrlPtr> Crl::FromDer(std::string der, absl::string_view what) {
  std::shared_ptr<Crl> crl(new Crl());
  crl->der_ = std::move(der);
  if (absl::Status status = crl->Read(what); !status.ok()) {
    return status;
  }
  return crl;
}

absl::Status Crl::Read(absl::string_view what) {
  absl::StatusOr<x509::SignedParts> parts = x509::SplitSigned(der_, "CRL");
  if (!parts.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", parts.status().message()));
  }
  tbs_ = parts->tbs;
  signature_ = parts->signature;
  absl::string_view inner_algorithm;
  auto fields_status = [&]() -> absl::Status {
    DerReader fields = parts->tbs_fields;
    if (!fields.at_end() && static_cast<uint8_t>(fields.rest()[0]) == der::kInteger) {
      ASSIGN_OR_RETURN(absl::string_view version, fields.ReadExpected(der::kInteger, "version"));
      // Only v2 (1) is ever written: a v1 CRL omits the field (RFC 5280 5.1.2.1).
      if (version != absl::string_view("\x01", 1)) {
        return fields.Error("version: not v2");
      }
    }
    ASSIGN_OR_RETURN(inner_algorithm,
                     fields.ReadExpected(der::kSequence, "TBS signature algorithm"));
    ASSIGN_OR_RETURN(issuer_, x509::ReadName(fields, "issuer"));
    ASSIGN_OR_RETURN(DerElement this_update, fields.ReadElement("thisUpdate"));
    if (!x509::IsTimeTag(this_update.tag)) {
      return fields.Error("thisUpdate: not a time");
    }
    this_update_ = x509::DecodeTime(this_update);
    if (!fields.at_end() && x509::IsTimeTag(static_cast<uint8_t>(fields.rest()[0]))) {
      ASSIGN_OR_RETURN(DerElement next_update, fields.ReadElement("nextUpdate"));
      has_next_update_ = true;
      next_update_ = x509::DecodeTime(next_update);
    }
    if (!fields.at_end() && static_cast<uint8_t>(fields.rest()[0]) == der::kSequence) {
      ASSIGN_OR_RETURN(DerReader entries,
                       fields.ReadConstructed(der::kSequence, "revokedCertificates"));
      while (!entries.at_end()) {
        ASSIGN_OR_RETURN(DerReader entry, entries.ReadConstructed(der::kSequence, "entry"));
        ASSIGN_OR_RETURN(absl::string_view serial, x509::ReadInteger(entry, "userCertificate"));
        ASSIGN_OR_RETURN(DerElement date, entry.ReadElement("revocationDate"));
        if (!x509::IsTimeTag(date.tag)) {
          return entry.Error("revocationDate: not a time");
        }
        if (!entry.at_end()) {
          ASSIGN_OR_RETURN(absl::string_view extensions,
                           x509::ReadWholeElement(entry, "crlEntryExtensions"));
          RETURN_IF_ERROR(CheckEntryExtensions(extensions));
        }
        if (!entry.at_end()) {
          return entry.Error("bytes follow a revoked entry's extensions");
        }
        revoked_.push_back(serial);
      }
    }
    if (!fields.at_end()) {
      ASSIGN_OR_RETURN(DerReader wrapper, fields.ReadConstructed(kExtensionsTag, "crlExtensions"));
      ASSIGN_OR_RETURN(absl::string_view extensions,
                       x509::ReadWholeElement(wrapper, "crlExtensions"));
      if (!wrapper.at_end()) {
        return wrapper.Error("bytes follow the CRL extensions");
      }
      RETURN_IF_ERROR(x509::ForEachExtension(
          extensions, [](const x509::Extension&) { return absl::OkStatus(); }));
    }
    if (!fields.at_end()) {
      return fields.Error("the TBS has fields after the extensions");
    }
    return absl::OkStatus();
  }();
  if (!fields_status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": not a DER CRL (", fields_status.message(), ")"));
  }
  if (absl::Status same = x509::CheckInnerAlgorithm(inner_algorithm, parts->algorithm);
      !same.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", same.message()));
  }
  return absl::OkStatus();
}

std::string Crl::IssuerText() const { return x509::NameText(issuer_); }

bool Crl::SignatureVerifiesWith(const P256PublicKey& key) const {
  return key.VerifySha256Der(tbs_, signature_);
}

}  // namespace cn::dcap
