#pragma once

// ByteReader: the one bounds-checked cursor over untrusted bytes (quotes, DER inside PCK
// certificates). Every read either returns exactly what was asked for or an InvalidArgument error
// that names the field being read, its offset and how many bytes were left; nothing reads past
// the end and nothing is copied until the caller asks for a copy.
//
// Integers are little-endian (the quote format); DerReader (der_reader.h) builds big-endian DER
// parsing on top of ReadBytes.
//
// A ByteReader does not own the bytes: the buffer must outlive it and every view it returns.
// Not thread-safe (it is a cursor); copies are independent cursors over the same bytes.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cn::dcap {

class ByteReader {
 public:
  // `context` prefixes every error message ("quote", "PCK certificate SGX extension").
  ByteReader(absl::string_view bytes, absl::string_view context, size_t base_offset = 0)
      : bytes_(bytes), context_(context), base_offset_(base_offset) {}

  absl::StatusOr<uint8_t> ReadU8(absl::string_view field);
  absl::StatusOr<uint16_t> ReadU16(absl::string_view field);
  absl::StatusOr<uint32_t> ReadU32(absl::string_view field);

  // The next `size` bytes as a view into the buffer.
  absl::StatusOr<absl::string_view> ReadBytes(absl::string_view field, size_t size);

  // The next N bytes copied into a fixed array.
  template <size_t N>
  absl::StatusOr<std::array<uint8_t, N>> ReadArray(absl::string_view field) {
    absl::StatusOr<absl::string_view> bytes = ReadBytes(field, N);
    if (!bytes.ok()) {
      return bytes.status();
    }
    std::array<uint8_t, N> out;
    for (size_t i = 0; i < N; ++i) {
      out[i] = static_cast<uint8_t>((*bytes)[i]);
    }
    return out;
  }

  // A reader over the next `size` bytes, advancing this one past them; errors inside it report
  // offsets relative to the start of the outermost buffer.
  absl::StatusOr<ByteReader> ReadSubReader(absl::string_view field, size_t size,
                                           absl::string_view context);

  size_t remaining() const { return bytes_.size() - position_; }
  // Offset of the cursor from the start of the outermost buffer.
  size_t offset() const { return base_offset_ + position_; }
  absl::string_view rest() const { return bytes_.substr(position_); }
  bool at_end() const { return position_ == bytes_.size(); }
  absl::string_view context() const { return context_; }

  // An InvalidArgument error in this reader's voice: "<context>: <what> at offset N".
  absl::Status Error(absl::string_view what) const;

 private:
  absl::string_view bytes_;
  std::string context_;
  size_t base_offset_;
  size_t position_ = 0;
};

}  // namespace cn::dcap
