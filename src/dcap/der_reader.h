#pragma once

// DerReader: a minimal, bounds-checked DER (X.690) reader for the parts of certificates that
// OpenSSL does not interpret for us, chiefly the SGX extension of PCK certificates. It reads
// definite-length, low-tag-number TLVs only (all DER needs here) and rejects indefinite lengths,
// non-minimal length encodings and lengths past the end of the enclosing value.
//
// It is a thin layer over ByteReader, so the same bounds checks and error voice apply. The
// buffer must outlive the reader and the views it returns. Not thread-safe.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/dcap/byte_reader.h"

namespace cn::dcap {

namespace der {
inline constexpr uint8_t kInteger = 0x02;
inline constexpr uint8_t kOctetString = 0x04;
inline constexpr uint8_t kEnumerated = 0x0a;
inline constexpr uint8_t kObjectIdentifier = 0x06;
inline constexpr uint8_t kSequence = 0x30;
}  // namespace der

struct DerElement {
  uint8_t tag = 0;
  absl::string_view value;  // the contents octets
};

class DerReader {
 public:
  DerReader(absl::string_view bytes, absl::string_view context) : reader_(bytes, context) {}
  explicit DerReader(ByteReader reader) : reader_(reader) {}

  // The next TLV, whatever its tag.
  absl::StatusOr<DerElement> ReadElement(absl::string_view field);
  // The next TLV, which must carry `tag`.
  absl::StatusOr<absl::string_view> ReadExpected(uint8_t tag, absl::string_view field);
  // The next TLV as a reader over its contents (for SEQUENCE).
  absl::StatusOr<DerReader> ReadConstructed(uint8_t tag, absl::string_view field);

  bool at_end() const { return reader_.at_end(); }
  // The bytes not read yet (so a caller can take a whole TLV, header included: the rest before a
  // read minus the rest after it).
  absl::string_view rest() const { return reader_.rest(); }
  absl::Status Error(absl::string_view what) const { return reader_.Error(what); }

 private:
  // ReadElement reading byte by byte, with every check's message.
  absl::StatusOr<DerElement> ReadElementChecked(absl::string_view field);

  ByteReader reader_;
};

// The dotted text of an OBJECT IDENTIFIER's contents ("1.2.840.113741.1.13.1").
absl::StatusOr<std::string> DecodeObjectIdentifier(absl::string_view contents);

// A non-negative INTEGER's contents as a number no greater than `max`.
absl::StatusOr<uint64_t> DecodeUnsignedInteger(absl::string_view contents, uint64_t max);

}  // namespace cn::dcap
