#pragma once

// JWS compact serialisation of the tokens the service issues (RFC 7515), and the unsigned form
// MAA uses for draft-policy tokens (alg "none", empty signature: no verifier accepts it as a
// signed token).

#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "src/attestd/keys.h"

namespace cn::attestd {

// base64url(header) "." base64url(payload) "." base64url(signature) of the two JSON texts.
// `key` nullptr: unsigned.
std::string EncodeJwsOfText(absl::string_view header_json, absl::string_view payload_json,
                            const SigningKey* key);
// The same of the two documents' dump().
std::string EncodeJws(const nlohmann::ordered_json& header, const nlohmann::ordered_json& payload,
                      const SigningKey* key);

}  // namespace cn::attestd
