#include "src/dcap/byte_reader.h"

#include "absl/strings/str_cat.h"

namespace cn::dcap {

absl::Status ByteReader::Error(absl::string_view what) const {
  return absl::InvalidArgumentError(absl::StrCat(context_, ": ", what, " at offset ", offset()));
}

absl::StatusOr<absl::string_view> ByteReader::ReadBytes(absl::string_view field, size_t size) {
  if (size > remaining()) {
    return Error(absl::StrCat(field, " needs ", size, " bytes but only ", remaining(), " remain"));
  }
  absl::string_view out = bytes_.substr(position_, size);
  position_ += size;
  return out;
}

absl::StatusOr<uint8_t> ByteReader::ReadU8(absl::string_view field) {
  absl::StatusOr<absl::string_view> bytes = ReadBytes(field, 1);
  if (!bytes.ok()) {
    return bytes.status();
  }
  return static_cast<uint8_t>((*bytes)[0]);
}

absl::StatusOr<uint16_t> ByteReader::ReadU16(absl::string_view field) {
  absl::StatusOr<absl::string_view> bytes = ReadBytes(field, 2);
  if (!bytes.ok()) {
    return bytes.status();
  }
  return static_cast<uint16_t>(static_cast<uint8_t>((*bytes)[0]) |
                               (static_cast<uint8_t>((*bytes)[1]) << 8));
}

absl::StatusOr<uint32_t> ByteReader::ReadU32(absl::string_view field) {
  absl::StatusOr<absl::string_view> bytes = ReadBytes(field, 4);
  if (!bytes.ok()) {
    return bytes.status();
  }
  uint32_t value = 0;
  for (int i = 3; i >= 0; --i) {
    value = (value << 8) | static_cast<uint8_t>((*bytes)[i]);
  }
  return value;
}

absl::StatusOr<ByteReader> ByteReader::ReadSubReader(absl::string_view field, size_t size,
                                                     absl::string_view context) {
  const size_t start = offset();
  absl::StatusOr<absl::string_view> bytes = ReadBytes(field, size);
  if (!bytes.ok()) {
    return bytes.status();
  }
  return ByteReader(*bytes, context, start);
}

}  // namespace cn::dcap
