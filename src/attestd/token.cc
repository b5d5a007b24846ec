#include "src/attestd/token.h"

#include "absl/strings/str_cat.h"
#include "src/attestd/request.h"

namespace cn::attestd {

std::string EncodeJwsOfText(absl::string_view header_json, absl::string_view payload_json,
                            const SigningKey* key) {
  std::string token =
      absl::StrCat(EncodeBase64Url(header_json), ".", EncodeBase64Url(payload_json));
  const std::string signature = key == nullptr ? "" : EncodeBase64Url(key->Sign(token));
  absl::StrAppend(&token, ".", signature);
  return token;
}

std::string EncodeJws(const nlohmann::ordered_json& header, const nlohmann::ordered_json& payload,
                      const SigningKey* key) {
  return EncodeJwsOfText(header.dump(), payload.dump(), key);
}

}  // namespace cn::attestd
