#include "src/attestd/token.h"

#include "absl/strings/str_cat.h"
#include "src/attestd/request.h"

namespace cn::attestd {

std::string EncodeJws(const nlohmann::ordered_json& header, const nlohmann::ordered_json& payload,
                      const SigningKey* key) {
  std::string signing_input =
      absl::StrCat(EncodeBase64Url(header.dump()), ".", EncodeBase64Url(payload.dump()));
  const std::string signature = key == nullptr ? "" : EncodeBase64Url(key->Sign(signing_input));
  return absl::StrCat(signing_input, ".", signature);
}

}  // namespace cn::attestd
