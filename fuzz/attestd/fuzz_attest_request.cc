// libFuzzer target: the AttestSgxEnclave request body parser (JSON, base64url fields, runtime
// and init-time data). Besides not crashing, three properties are checked: the body is refused
// as "not JSON" exactly when a second parser (nlohmann) refuses it, so the fast simdjson path
// accepts nothing more and nothing less than JSON; what parses re-encodes to base64url that
// decodes to the same bytes; and JSON runtime data is JSON.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "nlohmann/json.hpp"
#include "src/attestd/request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<cn::attestd::AttestRequest> request = cn::attestd::ParseAttestRequest(text);
  const bool not_json = !request.ok() && request.status().message() == "body: not JSON";
  if (not_json == nlohmann::json::accept(text)) {
    std::abort();
  }
  if (request.ok()) {
    absl::StatusOr<std::string> again =
        cn::attestd::DecodeBase64Url(cn::attestd::EncodeBase64Url(request->quote), "quote");
    if (!again.ok() || *again != request->quote) {
      std::abort();
    }
    if (request->runtime_data.has_value() && request->runtime_data->is_json &&
        !nlohmann::json::accept(request->runtime_data->data)) {
      std::abort();
    }
  }
  (void)cn::attestd::DecodeBase64Url(text, "fuzz");
  return 0;
}
