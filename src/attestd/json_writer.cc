#include "src/attestd/json_writer.h"

#include "absl/strings/str_cat.h"

namespace cn::attestd {
namespace {

// RFC 3629 well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF): what
// nlohmann's dump() accepts in strict mode.
bool IsUtf8(absl::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t length;
    unsigned char low = 0x80, high = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      low = c == 0xE0 ? 0xA0 : 0x80;
      high = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      low = c == 0xF0 ? 0x90 : 0x80;
      high = c == 0xF4 ? 0x8F : 0xBF;
    } else {
      return false;
    }
    if (static_cast<size_t>(end - p) < length || p[1] < low || p[1] > high) {
      return false;
    }
    for (size_t i = 2; i < length; ++i) {
      if (p[i] < 0x80 || p[i] > 0xBF) {
        return false;
      }
    }
    p += length;
  }
  return true;
}

}  // namespace

JsonWriter& JsonWriter::Open(char bracket) {
  Separate();
  out_.push_back(bracket);
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::Close(char bracket) {
  out_.push_back(bracket);
  need_comma_ = true;
  return *this;
}

void JsonWriter::Separate() {
  if (need_comma_) {
    out_.push_back(',');
  }
}

JsonWriter& JsonWriter::Key(absl::string_view key) {
  Separate();
  Quoted(key);
  out_.push_back(':');
  need_comma_ = false;
  if (!failed_) {
    last_key_.assign(key.data(), key.size());
  }
  return *this;
}

JsonWriter& JsonWriter::String(absl::string_view value) {
  Separate();
  Quoted(value);
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t value) {
  Separate();
  absl::StrAppend(&out_, value);
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Bool(bool value) {
  Separate();
  out_.append(value ? "true" : "false");
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Raw(absl::string_view json) {
  Separate();
  out_.append(json.data(), json.size());
  need_comma_ = true;
  return *this;
}

void JsonWriter::Quoted(absl::string_view text) {
  // Claims are mostly hex and base64: printable ASCII, copied whole after one branch-free scan.
  bool printable_ascii = true;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    printable_ascii &= byte >= 0x20 && byte < 0x80 && byte != '"' && byte != '\\';
  }
  if (printable_ascii) {
    out_.push_back('"');
    out_.append(text.data(), text.size());
    out_.push_back('"');
    return;
  }
  if (!failed_ && !IsUtf8(text)) {
    failed_ = true;
    error_ = last_key_;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out_.push_back('"');
  size_t plain = 0;  // start of the run of characters that need no escape
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      continue;
    }
    out_.append(text.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"':
        out_.append("\\\"");
        break;
      case '\\':
        out_.append("\\\\");
        break;
      case '\b':
        out_.append("\\b");
        break;
      case '\f':
        out_.append("\\f");
        break;
      case '\n':
        out_.append("\\n");
        break;
      case '\r':
        out_.append("\\r");
        break;
      case '\t':
        out_.append("\\t");
        break;
      default: {
        const char escape[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out_.append(escape, sizeof(escape));
      }
    }
  }
  out_.append(text.data() + plain, text.size() - plain);
  out_.push_back('"');
}

absl::StatusOr<std::string> JsonWriter::Finish() && {
  if (failed_) {
    return absl::InvalidArgumentError(absl::StrCat("value of \"", error_, "\": not UTF-8"));
  }
  return std::move(out_);
}

}  // namespace cn::attestd
