#pragma once

// JsonWriter: compact JSON text written straight into one string, for the token's header and
// claims. Output is byte for byte what nlohmann's dump() gives for the same values (no spaces;
// '"', '\\' and control characters escaped, \b \f \n \r \t short, others \u00xx; everything else,
// UTF-8 included, as it is), so tokens read the same as when they were built as an ordered_json
// DOM and dumped; writing directly saves that DOM's allocations on every attestation.
//
// The caller gives the structure: Key before each value inside an object, matching Begin/End.
// Getting that wrong is a programming error (not checked). Strings must be UTF-8: the first that
// is not makes Finish fail, naming the key it was under.
//
// Not thread-safe; one writer per document.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cn::attestd {

class JsonWriter {
 public:
  // `reserve`: the expected size of the document, to allocate once.
  explicit JsonWriter(size_t reserve = 0) { out_.reserve(reserve); }

  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(absl::string_view key);
  JsonWriter& String(absl::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  // `json` must be one complete JSON value (nlohmann's dump() of it, for identical output).
  JsonWriter& Raw(absl::string_view json);

  // The document; InvalidArgument `value of "key": not UTF-8` for the first string that is not.
  absl::StatusOr<std::string> Finish() &&;

 private:
  JsonWriter& Open(char bracket);
  JsonWriter& Close(char bracket);
  void Separate();  // a comma before every value of an array or key of an object but the first
  void Quoted(absl::string_view text);

  std::string out_;
  bool need_comma_ = false;
  std::string last_key_;  // for the error
  std::string error_;     // the key of the first string that is not UTF-8; empty: none yet
  bool failed_ = false;
};

}  // namespace cn::attestd
