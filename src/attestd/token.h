#pragma once

// JWS compact serialisation of the tokens the service issues (RFC 7515), and the unsigned form
// MAA uses for draft-policy tokens (alg "none", empty signature: no verifier accepts it as a
// signed token).

#include <string>

#include "nlohmann/json.hpp"
#include "src/attestd/keys.h"

namespace cn::attestd {

// base64url(header) "." base64url(payload) "." base64url(signature). `key` nullptr: unsigned.
std::string EncodeJws(const nlohmann::ordered_json& header, const nlohmann::ordered_json& payload,
                      const SigningKey* key);

}  // namespace cn::attestd
