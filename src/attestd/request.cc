#include "src/attestd/request.h"

#include <array>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/status_macros.h"

namespace cn::attestd {
namespace {

// Base64url's alphabet as a table (-1: not in it): quotes are kilobytes and are decoded on every
// request, so the decoder looks each character up once and writes three bytes per four.
constexpr std::array<int8_t, 256> MakeBase64UrlTable() {
  std::array<int8_t, 256> table{};
  for (int8_t& value : table) {
    value = -1;
  }
  for (int i = 0; i < 26; ++i) {
    table['A' + i] = static_cast<int8_t>(i);
    table['a' + i] = static_cast<int8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) {
    table['0' + i] = static_cast<int8_t>(52 + i);
  }
  table['-'] = 62;
  table['_'] = 63;
  return table;
}
constexpr std::array<int8_t, 256> kBase64Url = MakeBase64UrlTable();

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// {"data": b64url, "dataType": "Binary"|"JSON"} at `field`.
absl::StatusOr<AttestData> ParseData(const nlohmann::json& value, const std::string& field) {
  if (!value.is_object()) {
    return FieldError(field, "must be an object with data and dataType");
  }
  AttestData result;
  auto data = value.find("data");
  if (data == value.end()) {
    return FieldError(field + ".data", "missing");
  }
  if (!data->is_string()) {
    return FieldError(field + ".data", "must be a base64url string");
  }
  ASSIGN_OR_RETURN(result.data,
                   DecodeBase64Url(data->get_ref<const std::string&>(), field + ".data"));
  auto type = value.find("dataType");
  if (type == value.end()) {
    return FieldError(field + ".dataType", "missing (Binary or JSON)");
  }
  if (!type->is_string() || (*type != "Binary" && *type != "JSON")) {
    return FieldError(field + ".dataType", "must be Binary or JSON");
  }
  result.is_json = *type == "JSON";
  if (result.is_json && !nlohmann::json::accept(result.data)) {
    return FieldError(field + ".data", "dataType is JSON but the decoded data is not JSON");
  }
  return result;
}

absl::StatusOr<std::optional<std::string>> OptionalString(const nlohmann::json& body,
                                                          const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_string()) {
    return FieldError(field, "must be a string");
  }
  return it->get<std::string>();
}

}  // namespace

absl::StatusOr<std::string> DecodeBase64Url(absl::string_view text, absl::string_view field) {
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '=' && text.size() - end < 2) {
    --end;
  }
  const size_t padding = text.size() - end;
  if (padding > 0 && text.size() % 4 != 0) {
    return FieldError(field, absl::StrCat("not base64url at offset ", end, " (misplaced padding)"));
  }
  // Sized once and filled by index.
  std::string out(end / 4 * 3 + (end % 4 == 0 ? 0 : end % 4 - 1), '\0');
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  auto invalid_at = [&](size_t from) {
    size_t i = from;
    while (kBase64Url[in[i]] >= 0) {
      ++i;
    }
    return FieldError(field, absl::StrCat("not base64url at offset ", i));
  };
  size_t written = 0;
  size_t i = 0;
  for (; i + 4 <= end; i += 4) {
    const int a = kBase64Url[in[i]], b = kBase64Url[in[i + 1]], c = kBase64Url[in[i + 2]],
              d = kBase64Url[in[i + 3]];
    if ((a | b | c | d) < 0) {
      return invalid_at(i);
    }
    const uint32_t group = static_cast<uint32_t>(a << 18 | b << 12 | c << 6 | d);
    out[written++] = static_cast<char>(group >> 16);
    out[written++] = static_cast<char>(group >> 8 & 0xff);
    out[written++] = static_cast<char>(group & 0xff);
  }
  uint32_t buffer = 0;
  int bits = 0;
  for (; i < end; ++i) {
    const int value = kBase64Url[in[i]];
    if (value < 0) {
      return invalid_at(i);
    }
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[written++] = static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  if (end % 4 == 1) {
    return FieldError(field, "truncated (a base64url text cannot have this length)");
  }
  return out;
}

std::string EncodeBase64Url(absl::string_view bytes) { return absl::WebSafeBase64Escape(bytes); }

absl::StatusOr<AttestRequest> ParseAttestRequest(absl::string_view body) {
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError("body: not JSON");
  }
  if (!json.is_object()) {
    return absl::InvalidArgumentError("body: must be a JSON object");
  }
  AttestRequest request;
  auto quote = json.find("quote");
  if (quote == json.end() || quote->is_null()) {
    return FieldError("quote", "missing");
  }
  if (!quote->is_string()) {
    return FieldError("quote", "must be a base64url string");
  }
  ASSIGN_OR_RETURN(request.quote, DecodeBase64Url(quote->get_ref<const std::string&>(), "quote"));
  if (request.quote.empty()) {
    return FieldError("quote", "empty");
  }
  for (auto [name, target] : {std::pair{"runtimeData", &request.runtime_data},
                              std::pair{"initTimeData", &request.init_time_data}}) {
    auto it = json.find(name);
    if (it != json.end() && !it->is_null()) {
      ASSIGN_OR_RETURN(*target, ParseData(*it, name));
    }
  }
  ASSIGN_OR_RETURN(request.draft_policy, OptionalString(json, "draftPolicyForAttestation"));
  ASSIGN_OR_RETURN(request.nonce, OptionalString(json, "nonce"));
  return request;
}

}  // namespace cn::attestd
