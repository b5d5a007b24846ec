#include "src/attestd/request.h"

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"
#include "src/common/check.h"
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

// The body's fields are read from a simdjson DOM: the parser validates the whole document (UTF-8,
// grammar, numbers) at a few bytes per cycle and hands out strings as views of its own buffer,
// where nlohmann's lexer built a std::string of the kilobytes of base64 one character at a time
// (17 % of an ES256 attestation's instructions). nlohmann still checks JSON runtime data: the
// token embeds that data through nlohmann, so one parser decides what it accepts.
using simdjson::dom::element;
using simdjson::dom::element_type;

// The last value of each known key (JSON leaves duplicates undefined; nlohmann, which this
// parser replaced, kept the last, and clients that send duplicates get what they got before).
template <size_t N>
std::array<std::optional<element>, N> Fields(simdjson::dom::object object,
                                             const std::array<std::string_view, N>& names) {
  std::array<std::optional<element>, N> fields;
  for (simdjson::dom::key_value_pair field : object) {
    for (size_t i = 0; i < N; ++i) {
      if (field.key == names[i]) {
        fields[i] = field.value;
        break;
      }
    }
  }
  return fields;
}

bool IsPresent(const std::optional<element>& value) {
  return value.has_value() && value->type() != element_type::NULL_VALUE;
}

absl::string_view StringOf(element value) {
  const std::string_view view = value.get_string().value_unsafe();
  return absl::string_view(view.data(), view.size());
}

// {"data": b64url, "dataType": "Binary"|"JSON"} at `field`.
absl::StatusOr<AttestData> ParseData(element value, absl::string_view field) {
  if (value.type() != element_type::OBJECT) {
    return FieldError(field, "must be an object with data and dataType");
  }
  const auto [data, type] = Fields(value.get_object().value_unsafe(),
                                   std::array<std::string_view, 2>{"data", "dataType"});
  AttestData result;
  const std::string data_field = absl::StrCat(field, ".data");
  if (!data.has_value()) {
    return FieldError(data_field, "missing");
  }
  if (data->type() != element_type::STRING) {
    return FieldError(data_field, "must be a base64url string");
  }
  ASSIGN_OR_RETURN(result.data, DecodeBase64Url(StringOf(*data), data_field));
  const std::string type_field = absl::StrCat(field, ".dataType");
  if (!type.has_value()) {
    return FieldError(type_field, "missing (Binary or JSON)");
  }
  if (type->type() != element_type::STRING ||
      (StringOf(*type) != "Binary" && StringOf(*type) != "JSON")) {
    return FieldError(type_field, "must be Binary or JSON");
  }
  result.is_json = StringOf(*type) == "JSON";
  if (result.is_json && !nlohmann::json::accept(result.data)) {
    return FieldError(data_field, "dataType is JSON but the decoded data is not JSON");
  }
  return result;
}

absl::StatusOr<std::optional<std::string>> OptionalString(const std::optional<element>& value,
                                                          absl::string_view field) {
  if (!IsPresent(value)) {
    return std::nullopt;
  }
  if (value->type() != element_type::STRING) {
    return FieldError(field, "must be a string");
  }
  return std::string(StringOf(*value));
}

// Bodies up to this size are parsed by one parser per thread, whose buffers (about 14 bytes per
// byte of the largest document it has seen) are kept for the next request; a larger body (up to
// --max-request-bytes) gets a parser of its own, freed with it, so a few hostile megabyte bodies
// do not leave every event thread holding tens of megabytes.
constexpr size_t kReusedParserBytes = 64 << 10;

// The part of a body that ParseAttestRequest reads, as nlohmann sees it: the known fields, each
// reduced to what decides its verdict (strings whole; other values only by their type; data
// objects to their data and dataType). For documents simdjson refuses but JSON allows and
// nlohmann, the parser before it, took: integers beyond 64 bits, nesting deeper than simdjson's
// 1024 levels, a byte-order mark. Valid JSON keeps being read as before, whatever its unknown
// fields hold; invalid JSON is refused by both.
nlohmann::json KnownFields(const nlohmann::json& body) {
  auto type_only = [](const nlohmann::json& value) -> nlohmann::json {
    if (value.is_object()) {
      return nlohmann::json::object();
    }
    if (value.is_array()) {
      return nlohmann::json::array();
    }
    return value.is_number() ? nlohmann::json(0) : value;  // strings, booleans, null as they are
  };
  auto keep = [&](const nlohmann::json& from, std::initializer_list<const char*> names,
                  nlohmann::json& to) {
    for (const char* name : names) {
      if (auto it = from.find(name); it != from.end()) {
        to[name] = type_only(*it);
      }
    }
  };
  if (!body.is_object()) {
    return type_only(body);
  }
  nlohmann::json known = nlohmann::json::object();
  keep(body, {"quote", "draftPolicyForAttestation", "nonce"}, known);
  for (const char* name : {"runtimeData", "initTimeData"}) {
    if (auto it = body.find(name); it != body.end()) {
      known[name] = type_only(*it);
      if (it->is_object()) {
        keep(*it, {"data", "dataType"}, known[name]);
      }
    }
  }
  return known;
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
  thread_local simdjson::dom::parser reused;
  std::optional<simdjson::dom::parser> own;
  simdjson::dom::parser& parser = body.size() <= kReusedParserBytes ? reused : own.emplace();
  // Copies the body into the parser's padded buffer (simdjson reads ahead in 64-byte blocks);
  // the elements below live in the parser until its next parse.
  element json;
  if (parser.parse(body.data(), body.size(), /*realloc_if_needed=*/true).get(json) !=
      simdjson::SUCCESS) {
    // Rare: nlohmann decides (KnownFields says why), and simdjson reads the small result.
    const nlohmann::json whole = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (whole.is_discarded()) {
      return absl::InvalidArgumentError("body: not JSON");
    }
    const std::string known = KnownFields(whole).dump();
    CN_CHECK(parser.parse(known).get(json) == simdjson::SUCCESS);
  }
  if (json.type() != element_type::OBJECT) {
    return absl::InvalidArgumentError("body: must be a JSON object");
  }
  const auto [quote, runtime_data, init_time_data, draft_policy, nonce] =
      Fields(json.get_object().value_unsafe(),
             std::array<std::string_view, 5>{"quote", "runtimeData", "initTimeData",
                                             "draftPolicyForAttestation", "nonce"});
  AttestRequest request;
  if (!IsPresent(quote)) {
    return FieldError("quote", "missing");
  }
  if (quote->type() != element_type::STRING) {
    return FieldError("quote", "must be a base64url string");
  }
  ASSIGN_OR_RETURN(request.quote, DecodeBase64Url(StringOf(*quote), "quote"));
  if (request.quote.empty()) {
    return FieldError("quote", "empty");
  }
  if (IsPresent(runtime_data)) {
    ASSIGN_OR_RETURN(request.runtime_data, ParseData(*runtime_data, "runtimeData"));
  }
  if (IsPresent(init_time_data)) {
    ASSIGN_OR_RETURN(request.init_time_data, ParseData(*init_time_data, "initTimeData"));
  }
  ASSIGN_OR_RETURN(request.draft_policy, OptionalString(draft_policy, "draftPolicyForAttestation"));
  ASSIGN_OR_RETURN(request.nonce, OptionalString(nonce, "nonce"));
  return request;
}

}  // namespace cn::attestd
