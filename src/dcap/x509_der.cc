#include "src/dcap/x509_der.h"

#include <openssl/x509.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "src/common/status_macros.h"
#include "src/dcap/crypto.h"

namespace cn::dcap::x509 {
namespace {

// AlgorithmIdentifier contents of ecdsa-with-SHA256 (OID 1.2.840.10045.4.3.2, no parameters,
// RFC 5758 3.2): the only signature algorithm of Intel's SGX PKI.
constexpr absl::string_view kEcdsaWithSha256 = "\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02";

// Directory string tags (X.520, RFC 5280 4.1.2.4 and appendix A).
constexpr uint8_t kUtf8String = 0x0c;
constexpr uint8_t kNumericString = 0x12;
constexpr uint8_t kPrintableString = 0x13;
constexpr uint8_t kT61String = 0x14;
constexpr uint8_t kIa5String = 0x16;
constexpr uint8_t kVisibleString = 0x1a;
constexpr uint8_t kUniversalString = 0x1c;
constexpr uint8_t kBmpString = 0x1e;

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool IsUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const uint8_t lead = static_cast<uint8_t>(text[i]);
    size_t extra = 0;
    uint32_t code = 0;
    uint32_t min = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xe0) == 0xc0) {
      extra = 1, code = lead & 0x1f, min = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
      extra = 2, code = lead & 0x0f, min = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
      extra = 3, code = lead & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (text.size() - i <= extra) {
      return false;
    }
    for (size_t k = 1; k <= extra; ++k) {
      const uint8_t next = static_cast<uint8_t>(text[i + k]);
      if ((next & 0xc0) != 0x80) {
        return false;
      }
      code = (code << 6) | (next & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

bool IsDirectoryString(const DerElement& value) {
  switch (value.tag) {
    case kUtf8String:
      return IsUtf8(value.value);
    case kBmpString:
      return value.value.size() % 2 == 0;
    case kUniversalString: {
      if (value.value.size() % 4 != 0) {
        return false;
      }
      for (size_t i = 0; i < value.value.size(); i += 4) {
        if (value.value[i] != 0 || static_cast<uint8_t>(value.value[i + 1]) > 0x10) {
          return false;
        }
      }
      return true;
    }
    case kNumericString:
    case kPrintableString:
    case kT61String:
    case kIa5String:
    case kVisibleString:
      return true;
    default:
      return false;
  }
}

// `count` decimal digits at `text[at]`; nullopt when any is not a digit.
std::optional<int> Digits(absl::string_view text, size_t at, size_t count) {
  int value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return std::nullopt;
    }
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

absl::StatusOr<absl::string_view> ReadWholeElement(DerReader& reader, absl::string_view field) {
  const absl::string_view before = reader.rest();
  RETURN_IF_ERROR(reader.ReadElement(field).status());
  return before.substr(0, before.size() - reader.rest().size());
}

absl::StatusOr<SignedParts> SplitSigned(absl::string_view der, absl::string_view object) {
  SignedParts parts{{}, DerReader("", object), {}, {}};
  absl::string_view bits;
  bool trailing = false;
  absl::Status form = [&]() -> absl::Status {
    DerReader outer(der, object);
    ASSIGN_OR_RETURN(DerReader signed_object,
                     outer.ReadConstructed(der::kSequence, "signed object"));
    trailing = !outer.at_end();
    const absl::string_view before_tbs = signed_object.rest();
    ASSIGN_OR_RETURN(parts.tbs_fields, signed_object.ReadConstructed(der::kSequence, "TBS"));
    parts.tbs = before_tbs.substr(0, before_tbs.size() - signed_object.rest().size());
    ASSIGN_OR_RETURN(parts.algorithm,
                     signed_object.ReadExpected(der::kSequence, "signature algorithm"));
    ASSIGN_OR_RETURN(bits, signed_object.ReadExpected(kBitString, "signature"));
    if (!signed_object.at_end()) {
      return signed_object.Error("the signed object has fields after its signature");
    }
    return absl::OkStatus();
  }();
  if (!form.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a DER ", object, " (", form.message(), ")"));
  }
  if (trailing) {
    return absl::InvalidArgumentError(absl::StrCat("trailing bytes after the ", object));
  }
  if (parts.algorithm != kEcdsaWithSha256) {
    return absl::InvalidArgumentError("the signature algorithm is not ecdsa-with-SHA256");
  }
  if (bits.empty() || bits[0] != 0) {
    return absl::InvalidArgumentError("the signature is not whole bytes");
  }
  parts.signature = bits.substr(1);
  return parts;
}

absl::Status CheckInnerAlgorithm(absl::string_view inner, absl::string_view outer) {
  if (inner != outer) {
    return absl::InvalidArgumentError(
        "the signature algorithm inside the signed part differs from the outer one");
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::string_view> ReadName(DerReader& reader, absl::string_view field) {
  const absl::string_view before = reader.rest();
  ASSIGN_OR_RETURN(DerReader rdns, reader.ReadConstructed(der::kSequence, field));
  const absl::string_view whole = before.substr(0, before.size() - reader.rest().size());
  while (!rdns.at_end()) {
    ASSIGN_OR_RETURN(DerReader attributes, rdns.ReadConstructed(kSet, field));
    if (attributes.at_end()) {
      return attributes.Error(absl::StrCat(field, ": a relative distinguished name is empty"));
    }
    while (!attributes.at_end()) {
      ASSIGN_OR_RETURN(DerReader attribute, attributes.ReadConstructed(der::kSequence, field));
      ASSIGN_OR_RETURN(absl::string_view type,
                       attribute.ReadExpected(der::kObjectIdentifier, field));
      ASSIGN_OR_RETURN(DerElement value, attribute.ReadElement(field));
      if (!IsObjectIdentifier(type) || !IsDirectoryString(value) || !attribute.at_end()) {
        return attribute.Error(
            absl::StrCat(field, ": an attribute is not an OID and a directory string"));
      }
    }
  }
  return whole;
}

bool IsTimeTag(uint8_t tag) { return tag == kUtcTime || tag == kGeneralizedTime; }

std::optional<absl::Time> DecodeTime(const DerElement& element) {
  const absl::string_view text = element.value;
  const size_t year_digits = element.tag == kUtcTime ? 2 : 4;
  if (!IsTimeTag(element.tag) || text.size() != year_digits + 11 || text.back() != 'Z') {
    return std::nullopt;
  }
  std::optional<int> year = Digits(text, 0, year_digits);
  std::optional<int> month = Digits(text, year_digits, 2);
  std::optional<int> day = Digits(text, year_digits + 2, 2);
  std::optional<int> hour = Digits(text, year_digits + 4, 2);
  std::optional<int> minute = Digits(text, year_digits + 6, 2);
  std::optional<int> second = Digits(text, year_digits + 8, 2);
  if (!year || !month || !day || !hour || !minute || !second) {
    return std::nullopt;
  }
  if (element.tag == kUtcTime) {
    *year += *year < 50 ? 2000 : 1900;  // RFC 5280 4.1.2.5.1
  }
  const absl::CivilSecond civil(*year, *month, *day, *hour, *minute, *second);
  // CivilSecond normalises (February 30 becomes March 2): a field that changed was no date.
  if (civil.year() != *year || civil.month() != *month || civil.day() != *day ||
      civil.hour() != *hour || civil.minute() != *minute || civil.second() != *second) {
    return std::nullopt;
  }
  return absl::FromCivil(civil, absl::UTCTimeZone());
}

absl::StatusOr<absl::string_view> ReadInteger(DerReader& reader, absl::string_view field) {
  ASSIGN_OR_RETURN(absl::string_view contents, reader.ReadExpected(der::kInteger, field));
  if (contents.empty()) {
    return reader.Error(absl::StrCat(field, ": the integer is empty"));
  }
  if (contents.size() > 1) {
    const uint8_t first = static_cast<uint8_t>(contents[0]);
    const uint8_t second = static_cast<uint8_t>(contents[1]);
    if ((first == 0x00 && (second & 0x80) == 0) || (first == 0xff && (second & 0x80) != 0)) {
      return reader.Error(absl::StrCat(field, ": the integer is not minimally encoded"));
    }
  }
  return contents;
}

bool IsObjectIdentifier(absl::string_view contents) {
  if (contents.empty() || (static_cast<uint8_t>(contents.back()) & 0x80) != 0) {
    return false;
  }
  bool arc_start = true;
  for (char c : contents) {
    const uint8_t byte = static_cast<uint8_t>(c);
    if (arc_start && byte == 0x80) {
      return false;  // a leading zero digit
    }
    arc_start = (byte & 0x80) == 0;
  }
  return true;
}

std::optional<bool> DecodeBoolean(absl::string_view contents) {
  if (contents.size() != 1 || (contents[0] != '\x00' && contents[0] != '\xff')) {
    return std::nullopt;
  }
  return contents[0] != '\x00';
}

absl::Status ForEachExtension(absl::string_view der,
                              absl::FunctionRef<absl::Status(const Extension&)> visit) {
  DerReader wrapper(der, "extensions");
  ASSIGN_OR_RETURN(DerReader list, wrapper.ReadConstructed(der::kSequence, "extensions"));
  if (!wrapper.at_end()) {
    return wrapper.Error("bytes follow the extensions");
  }
  if (list.at_end()) {
    return list.Error("the extension list is empty");
  }
  while (!list.at_end()) {
    ASSIGN_OR_RETURN(DerReader fields, list.ReadConstructed(der::kSequence, "extension"));
    Extension extension;
    ASSIGN_OR_RETURN(extension.oid, fields.ReadExpected(der::kObjectIdentifier, "extnID"));
    if (!IsObjectIdentifier(extension.oid)) {
      return fields.Error("extnID is not an object identifier");
    }
    ASSIGN_OR_RETURN(DerElement next, fields.ReadElement("extension field"));
    if (next.tag == kBoolean) {
      const std::optional<bool> critical = DecodeBoolean(next.value);
      if (!critical) {
        return fields.Error("critical is not a DER BOOLEAN");
      }
      extension.critical = *critical;
      ASSIGN_OR_RETURN(next, fields.ReadElement("extnValue"));
    }
    if (next.tag != der::kOctetString || !fields.at_end()) {
      return fields.Error("an extension is not { extnID, critical, extnValue }");
    }
    extension.value = next.value;
    RETURN_IF_ERROR(visit(extension));
  }
  return absl::OkStatus();
}

namespace {

X509_NAME* DecodeName(absl::string_view der) {
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  X509_NAME* name = d2i_X509_NAME(nullptr, &cursor, static_cast<long>(der.size()));
  if (name == nullptr) {
    TakeOpenSslErrors();
  }
  return name;
}

}  // namespace

bool NamesMatch(absl::string_view a, absl::string_view b) {
  if (a == b) {
    return true;
  }
  X509_NAME* first = DecodeName(a);
  X509_NAME* second = DecodeName(b);
  const bool match = first != nullptr && second != nullptr && X509_NAME_cmp(first, second) == 0;
  X509_NAME_free(first);
  X509_NAME_free(second);
  return match;
}

std::string NameText(absl::string_view name_der) {
  X509_NAME* name = DecodeName(name_der);
  if (name == nullptr) {
    return "(unreadable name)";
  }
  std::string text = dcap::NameText(name);
  X509_NAME_free(name);
  return text;
}

std::string IntegerHex(absl::string_view contents) {
  if (contents.empty()) {
    return "";
  }
  if ((static_cast<uint8_t>(contents[0]) & 0x80) == 0) {
    return HexEncode(contents.size() > 1 && contents[0] == 0 ? contents.substr(1) : contents);
  }
  // Negative: the magnitude is the two's complement.
  std::string magnitude(contents);
  bool carry = true;
  for (size_t i = magnitude.size(); i-- > 0;) {
    uint8_t byte = static_cast<uint8_t>(~static_cast<uint8_t>(magnitude[i]));
    if (carry) {
      carry = byte == 0xff;
      ++byte;
    }
    magnitude[i] = static_cast<char>(byte);
  }
  const absl::string_view view = magnitude;
  return absl::StrCat("-", HexEncode(view.size() > 1 && view[0] == 0 ? view.substr(1) : view));
}

}  // namespace cn::dcap::x509
