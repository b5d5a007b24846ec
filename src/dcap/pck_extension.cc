#include "src/dcap/pck_extension.h"

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/dcap/certificate.h"
#include "src/dcap/crypto.h"
#include "src/dcap/der_reader.h"

namespace cn::dcap {
namespace {

constexpr absl::string_view kContext = "PCK certificate SGX extension";

template <size_t N>
absl::Status CopyOctets(absl::string_view value, absl::string_view name,
                        std::array<uint8_t, N>* out) {
  if (value.size() != N) {
    return absl::InvalidArgumentError(
        absl::StrCat(kContext, ": ", name, " has ", value.size(), " bytes, expected ", N));
  }
  std::memcpy(out->data(), value.data(), N);
  return absl::OkStatus();
}

absl::Status Annotate(const absl::Status& status, absl::string_view name) {
  return absl::InvalidArgumentError(absl::StrCat(kContext, ": ", name, ": ", status.message()));
}

// kSgxExtensionOid's contents octets.
constexpr absl::string_view kSgxExtensionOidDer = "\x2a\x86\x48\x86\xf8\x4d\x01\x0d\x01";
// DER contents of the TCB entries' OID prefix, 1.2.840.113741.1.13.1.2; entry N (1..18) adds
// the single byte N, the only DER encoding of an arc below 128.
constexpr absl::string_view kTcbEntryOidPrefixDer = "\x2a\x86\x48\x86\xf8\x4d\x01\x0d\x01\x02";

// The N of an OID 1.2.840.113741.1.13.1.2.N with N in 1..18, else 0, from its DER contents.
int TcbEntryIndex(absl::string_view oid_der) {
  if (oid_der.size() != kTcbEntryOidPrefixDer.size() + 1 ||
      oid_der.substr(0, kTcbEntryOidPrefixDer.size()) != kTcbEntryOidPrefixDer) {
    return 0;
  }
  const int index = static_cast<uint8_t>(oid_der.back());
  return index >= 1 && index <= 18 ? index : 0;
}

// The N of an entry OID 1.2.840.113741.1.13.1.N with N in 1..4, else 0, from its DER contents.
int SgxEntryIndex(absl::string_view oid_der) {
  if (oid_der.size() != kSgxExtensionOidDer.size() + 1 ||
      oid_der.substr(0, kSgxExtensionOidDer.size()) != kSgxExtensionOidDer) {
    return 0;
  }
  const int index = static_cast<uint8_t>(oid_der.back());
  return index >= 1 && index <= 4 ? index : 0;
}

// Reads the value of TCB entry `index`; an error names the entry by its OID, as text made only
// then (18 entries per certificate: composing every name up front cost more than the parse).
absl::StatusOr<absl::string_view> ReadTcbValue(DerReader& entry, uint8_t tag, int index) {
  const DerReader before = entry;
  absl::StatusOr<absl::string_view> value = entry.ReadExpected(tag, "TCB entry");
  if (!value.ok()) {
    return DerReader(before).ReadExpected(
        tag, absl::StrCat("TCB entry ", kSgxExtensionOid, ".2.", index));
  }
  return value;
}

absl::Status ParseTcb(DerReader tcb, PckExtension* out) {
  const auto prefix = [] { return absl::StrCat(kSgxExtensionOid, ".2."); };
  uint32_t seen = 0;  // bit i set once component i+1 (1..18) was read
  while (!tcb.at_end()) {
    ASSIGN_OR_RETURN(DerReader entry, tcb.ReadConstructed(der::kSequence, "TCB entry"));
    ASSIGN_OR_RETURN(absl::string_view oid_der,
                     entry.ReadExpected(der::kObjectIdentifier, "TCB entry OID"));
    int index = TcbEntryIndex(oid_der);
    if (index == 0) {
      // Not one of the 18: the OID as text, for the message.
      absl::StatusOr<std::string> oid = DecodeObjectIdentifier(oid_der);
      if (!oid.ok()) {
        return Annotate(oid.status(), "TCB entry OID");
      }
      return absl::InvalidArgumentError(absl::StrCat(kContext, ": unexpected TCB entry ", *oid));
    }
    const auto name = [&] { return absl::StrCat("TCB entry ", prefix(), index); };
    if (seen & (1u << (index - 1))) {
      return absl::InvalidArgumentError(absl::StrCat(kContext, ": ", name(), " repeats"));
    }
    seen |= 1u << (index - 1);
    if (index == 18) {
      ASSIGN_OR_RETURN(absl::string_view value, ReadTcbValue(entry, der::kOctetString, index));
      RETURN_IF_ERROR(CopyOctets(value, "CPUSVN", &out->cpusvn));
    } else {
      ASSIGN_OR_RETURN(absl::string_view value, ReadTcbValue(entry, der::kInteger, index));
      absl::StatusOr<uint64_t> number = DecodeUnsignedInteger(value, index == 17 ? 0xffff : 0xff);
      if (!number.ok()) {
        return Annotate(number.status(), name());
      }
      if (index == 17) {
        out->pcesvn = static_cast<uint16_t>(*number);
      } else {
        out->tcb_components[index - 1] = static_cast<uint8_t>(*number);
      }
    }
    if (!entry.at_end()) {
      return entry.Error(absl::StrCat(name(), " has trailing data"));
    }
  }
  if (seen != (1u << 18) - 1) {
    for (int i = 0; i < 18; ++i) {
      if (!(seen & (1u << i))) {
        return absl::InvalidArgumentError(
            absl::StrCat(kContext, ": TCB entry ", prefix(), i + 1, " is missing"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PckExtension> ParsePckExtension(absl::string_view der) {
  DerReader outer(der, kContext);
  ASSIGN_OR_RETURN(DerReader entries, outer.ReadConstructed(der::kSequence, "extension"));
  if (!outer.at_end()) {
    return outer.Error("trailing data after the extension");
  }
  PckExtension out;
  bool have_tcb = false;
  bool have_pce_id = false;
  bool have_fmspc = false;
  bool have_ppid = false;
  while (!entries.at_end()) {
    ASSIGN_OR_RETURN(DerReader entry, entries.ReadConstructed(der::kSequence, "entry"));
    ASSIGN_OR_RETURN(absl::string_view oid_der,
                     entry.ReadExpected(der::kObjectIdentifier, "entry OID"));
    // The entry's OID as text, for messages only (composed when one is due).
    const auto oid_text = [&]() -> std::string {
      absl::StatusOr<std::string> oid = DecodeObjectIdentifier(oid_der);
      return oid.ok() ? *oid : "(unreadable OID)";
    };
    auto repeat = [&](bool* seen) -> absl::Status {
      if (*seen) {
        return absl::InvalidArgumentError(
            absl::StrCat(kContext, ": entry ", oid_text(), " repeats"));
      }
      *seen = true;
      return absl::OkStatus();
    };
    switch (SgxEntryIndex(oid_der)) {
      case 1: {
        RETURN_IF_ERROR(repeat(&have_ppid));
        ASSIGN_OR_RETURN(absl::string_view value, entry.ReadExpected(der::kOctetString, "PPID"));
        RETURN_IF_ERROR(CopyOctets(value, "PPID", &out.ppid));
        break;
      }
      case 2: {
        RETURN_IF_ERROR(repeat(&have_tcb));
        ASSIGN_OR_RETURN(DerReader tcb, entry.ReadConstructed(der::kSequence, "TCB"));
        RETURN_IF_ERROR(ParseTcb(tcb, &out));
        break;
      }
      case 3: {
        RETURN_IF_ERROR(repeat(&have_pce_id));
        ASSIGN_OR_RETURN(absl::string_view value, entry.ReadExpected(der::kOctetString, "PCE-ID"));
        RETURN_IF_ERROR(CopyOctets(value, "PCE-ID", &out.pce_id));
        break;
      }
      case 4: {
        RETURN_IF_ERROR(repeat(&have_fmspc));
        ASSIGN_OR_RETURN(absl::string_view value, entry.ReadExpected(der::kOctetString, "FMSPC"));
        RETURN_IF_ERROR(CopyOctets(value, "FMSPC", &out.fmspc));
        break;
      }
      default: {
        // SGX type, platform instance ID, configuration: not needed for the verdict. Still
        // require the OID and the value to be well-formed (the four known OIDs are).
        if (absl::Status oid = DecodeObjectIdentifier(oid_der).status(); !oid.ok()) {
          return Annotate(oid, "entry OID");
        }
        const DerReader before = entry;
        if (!entry.ReadElement("entry").ok()) {
          return DerReader(before).ReadElement(absl::StrCat("entry ", oid_text())).status();
        }
      }
    }
    if (!entry.at_end()) {
      return entry.Error(absl::StrCat("entry ", oid_text(), " has trailing data"));
    }
  }
  if (!have_tcb) {
    return absl::InvalidArgumentError(absl::StrCat(kContext, ": the TCB entry is missing"));
  }
  if (!have_pce_id) {
    return absl::InvalidArgumentError(absl::StrCat(kContext, ": the PCE-ID entry is missing"));
  }
  if (!have_fmspc) {
    return absl::InvalidArgumentError(absl::StrCat(kContext, ": the FMSPC entry is missing"));
  }
  return out;
}

absl::StatusOr<PckExtension> PckExtensionOf(X509* cert) {
  ASN1_OBJECT* oid = OBJ_txt2obj(kSgxExtensionOid, 1);
  const int index = oid == nullptr ? -1 : X509_get_ext_by_OBJ(cert, oid, -1);
  const int second = index < 0 ? -1 : X509_get_ext_by_OBJ(cert, oid, index);
  ASN1_OBJECT_free(oid);
  if (index < 0) {
    return absl::NotFoundError(
        absl::StrCat("the certificate has no SGX extension (", kSgxExtensionOid, ")"));
  }
  if (second >= 0) {
    return absl::InvalidArgumentError("the certificate has more than one SGX extension");
  }
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(cert, index));
  return ParsePckExtension(
      AsView(ASN1_STRING_get0_data(data), static_cast<size_t>(ASN1_STRING_length(data))));
}

absl::StatusOr<PckExtension> PckExtensionOf(const Certificate& cert) {
  absl::StatusOr<absl::string_view> value = cert.ExtensionValue(kSgxExtensionOidDer);
  if (absl::IsNotFound(value.status())) {
    return absl::NotFoundError(
        absl::StrCat("the certificate has no SGX extension (", kSgxExtensionOid, ")"));
  }
  if (!value.ok()) {
    return absl::InvalidArgumentError("the certificate has more than one SGX extension");
  }
  return ParsePckExtension(*value);
}

}  // namespace cn::dcap
