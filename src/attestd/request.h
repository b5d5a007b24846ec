#pragma once

// The body of MAA's AttestSgxEnclave call, parsed and checked (docs/attestd.md, "API"):
//
//   {"quote": b64url, "runtimeData": {"data": b64url, "dataType": "Binary"|"JSON"},
//    "initTimeData": {"data": b64url, "dataType": ...}, "draftPolicyForAttestation": string,
//    "nonce": string}
//
// Only `quote` is required. Base64url is accepted with or without '=' padding; the standard
// alphabet's '+' and '/' are refused (MAA's clients send base64url). Unknown keys are ignored,
// as MAA does; of a key given twice the last counts. Any JSON object is read (RFC 8259; "body:
// not JSON" exactly when nlohmann refuses it, whichever parser read it: see request.cc). Errors
// are InvalidArgument whose message names the field and what is wrong ("quote: not base64url at
// offset 17"): the service sends it to the client as is.
//
// A function of the bytes (it keeps one parser per thread, which holds no result between calls);
// thread-safe. The fuzz target fuzz/attestd/fuzz_attest_request.cc drives it.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cn::attestd {

struct AttestData {
  std::string data;  // decoded bytes
  bool is_json = false;
};

struct AttestRequest {
  std::string quote;  // decoded bytes
  std::optional<AttestData> runtime_data;
  std::optional<AttestData> init_time_data;
  std::optional<std::string> draft_policy;
  std::optional<std::string> nonce;
};

absl::StatusOr<AttestRequest> ParseAttestRequest(absl::string_view body);

// Base64url (RFC 4648 section 5) with optional padding. InvalidArgument "<field>: not base64url
// at offset N" (N counts characters of `text`), or "<field>: truncated" for a length that no
// encoding has.
absl::StatusOr<std::string> DecodeBase64Url(absl::string_view text, absl::string_view field);
// Unpadded base64url, as JWS and MAA's claims use it.
std::string EncodeBase64Url(absl::string_view bytes);

}  // namespace cn::attestd
