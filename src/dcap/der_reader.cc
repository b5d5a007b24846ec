#include "src/dcap/der_reader.h"

#include "absl/strings/str_cat.h"

namespace cn::dcap {

absl::StatusOr<DerElement> DerReader::ReadElement(absl::string_view field) {
  // The common case, a well-formed TLV, is decided on the view without composing the field names
  // ("<field> tag", ...) that only an error message needs: this runs for every element of every
  // certificate. Anything unusual is left to ReadElementChecked, which reads the same bytes again
  // and fails with its message.
  const absl::string_view bytes = reader_.rest();
  if (bytes.size() >= 2 && (bytes[0] & 0x1f) != 0x1f) {
    const uint8_t first = static_cast<uint8_t>(bytes[1]);
    size_t header = 2;
    size_t length = first;
    bool usable = true;
    if (first & 0x80) {
      const size_t count = first & 0x7f;
      usable = count >= 1 && count <= 4 && bytes.size() >= 2 + count && bytes[2] != 0;
      length = 0;
      for (size_t i = 0; usable && i < count; ++i) {
        length = (length << 8) | static_cast<uint8_t>(bytes[2 + i]);
      }
      usable = usable && length >= 0x80;
      header += count;
    }
    if (usable && length <= bytes.size() - header) {
      absl::StatusOr<absl::string_view> element = reader_.ReadBytes(field, header + length);
      if (element.ok()) {
        return DerElement{static_cast<uint8_t>(bytes[0]), element->substr(header)};
      }
    }
  }
  return ReadElementChecked(field);
}

absl::StatusOr<DerElement> DerReader::ReadElementChecked(absl::string_view field) {
  absl::StatusOr<uint8_t> tag = reader_.ReadU8(absl::StrCat(field, " tag"));
  if (!tag.ok()) {
    return tag.status();
  }
  if ((*tag & 0x1f) == 0x1f) {
    return reader_.Error(absl::StrCat(field, ": high tag numbers are not used here"));
  }
  absl::StatusOr<uint8_t> first = reader_.ReadU8(absl::StrCat(field, " length"));
  if (!first.ok()) {
    return first.status();
  }
  size_t length = *first;
  if (*first & 0x80) {
    const int count = *first & 0x7f;
    if (count == 0) {
      return reader_.Error(absl::StrCat(field, ": indefinite length is not DER"));
    }
    if (count > 4) {
      return reader_.Error(absl::StrCat(field, ": length of ", count, " bytes is too long"));
    }
    length = 0;
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<uint8_t> byte = reader_.ReadU8(absl::StrCat(field, " length"));
      if (!byte.ok()) {
        return byte.status();
      }
      if (i == 0 && *byte == 0) {
        return reader_.Error(absl::StrCat(field, ": length has a leading zero byte"));
      }
      length = (length << 8) | *byte;
    }
    if (length < 0x80) {
      return reader_.Error(absl::StrCat(field, ": long-form length below 128 is not DER"));
    }
  }
  absl::StatusOr<absl::string_view> value =
      reader_.ReadBytes(absl::StrCat(field, " value"), length);
  if (!value.ok()) {
    return value.status();
  }
  return DerElement{*tag, *value};
}

absl::StatusOr<absl::string_view> DerReader::ReadExpected(uint8_t tag, absl::string_view field) {
  const size_t start = reader_.offset();
  absl::StatusOr<DerElement> element = ReadElement(field);
  if (!element.ok()) {
    return element.status();
  }
  if (element->tag != tag) {
    return absl::InvalidArgumentError(absl::StrCat(reader_.context(), ": ", field, " has tag 0x",
                                                   absl::Hex(element->tag), ", expected 0x",
                                                   absl::Hex(tag), " at offset ", start));
  }
  return element->value;
}

absl::StatusOr<DerReader> DerReader::ReadConstructed(uint8_t tag, absl::string_view field) {
  const size_t start = reader_.offset();
  absl::StatusOr<absl::string_view> value = ReadExpected(tag, field);
  if (!value.ok()) {
    return value.status();
  }
  // Offsets inside report where the contents start: tag and length bytes precede them.
  const size_t header = reader_.offset() - start - value->size();
  return DerReader(ByteReader(*value, reader_.context(), start + header));
}

absl::StatusOr<std::string> DecodeObjectIdentifier(absl::string_view contents) {
  if (contents.empty()) {
    return absl::InvalidArgumentError("object identifier is empty");
  }
  std::string text;
  uint64_t arc = 0;
  bool first = true;
  bool in_arc = false;
  for (size_t i = 0; i < contents.size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>(contents[i]);
    if (!in_arc && byte == 0x80) {
      return absl::InvalidArgumentError("object identifier arc has a leading 0x80 byte");
    }
    if (arc > (uint64_t{1} << 56)) {
      return absl::InvalidArgumentError("object identifier arc is too large");
    }
    arc = (arc << 7) | (byte & 0x7f);
    in_arc = true;
    if (byte & 0x80) {
      continue;
    }
    if (first) {
      const uint64_t top = arc < 40 ? 0 : (arc < 80 ? 1 : 2);
      absl::StrAppend(&text, top, ".", arc - top * 40);
      first = false;
    } else {
      absl::StrAppend(&text, ".", arc);
    }
    arc = 0;
    in_arc = false;
  }
  if (in_arc) {
    return absl::InvalidArgumentError("object identifier ends inside an arc");
  }
  return text;
}

absl::StatusOr<uint64_t> DecodeUnsignedInteger(absl::string_view contents, uint64_t max) {
  if (contents.empty()) {
    return absl::InvalidArgumentError("integer is empty");
  }
  if (static_cast<uint8_t>(contents[0]) & 0x80) {
    return absl::InvalidArgumentError("integer is negative");
  }
  if (contents.size() > 1 && contents[0] == 0 && !(static_cast<uint8_t>(contents[1]) & 0x80)) {
    return absl::InvalidArgumentError("integer has a non-minimal encoding");
  }
  size_t start = contents[0] == 0 ? 1 : 0;
  if (contents.size() - start > 8) {
    return absl::InvalidArgumentError(absl::StrCat("integer is larger than ", max));
  }
  uint64_t value = 0;
  for (size_t i = start; i < contents.size(); ++i) {
    value = (value << 8) | static_cast<uint8_t>(contents[i]);
  }
  if (value > max) {
    return absl::InvalidArgumentError(absl::StrCat("integer ", value, " is larger than ", max));
  }
  return value;
}

}  // namespace cn::dcap
