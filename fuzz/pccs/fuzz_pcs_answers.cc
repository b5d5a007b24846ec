// Fuzzes what a PCS/PCCS answers: the signed-JSON cutter (ExtractSignedJson), the CRL body
// decoder and the issuer chain header decoder. Beyond "no crash", it checks the cutter's one
// promise: the bytes it cuts out are exactly the member nlohmann parsed.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "src/http/http_client.h"
#include "src/pccs/pcs_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  for (const char* key : {"tcbInfo", "enclaveIdentity"}) {
    absl::StatusOr<cn::pccs::SignedJson> signed_json = cn::pccs::ExtractSignedJson(body, key);
    if (signed_json.ok()) {
      const nlohmann::json whole = nlohmann::json::parse(body, nullptr, false);
      const nlohmann::json cut = nlohmann::json::parse(signed_json->text, nullptr, false);
      if (cut.is_discarded() || whole.is_discarded() || cut != whole[key]) {
        std::abort();  // the cut bytes are not the member the signature is checked against
      }
    }
  }
  (void)cn::pccs::CrlBodyToDer(body);
  (void)cn::http::PercentDecode(body);
  return 0;
}
