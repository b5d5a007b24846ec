// ============================================================================================
// TEST-ONLY SHIM, TO BE DELETED ON MERGE. Engineer C implements policy.h in policy.cc (target
// cn_attestd_policy, issue 9); until that lands, this stands in for it so that the service
// builds and its tests run with the default policy's semantics (permit every verified quote,
// issue nothing more). CMakeLists.txt uses it only when cn_attestd_policy does not exist, so the
// merge makes it dead code: delete this file and its block.
// ============================================================================================

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "src/attestd/policy.h"

namespace cn::attestd {

struct Policy::Rules {};

absl::StatusOr<Policy> Policy::Parse(absl::string_view) {
  return absl::UnimplementedError(
      "line 1, column 1: the policy parser is not merged yet (test-only shim)");
}

const Policy& Policy::Default() {
  static const Policy* policy = [] {
    auto* p = new Policy();
    p->text_ = "version=1.0; authorizationrules { => permit(); }; issuancerules { };";
    p->rules_ = std::make_shared<const Rules>();
    return p;
  }();
  return *policy;
}

PolicyDecision Policy::Evaluate(const std::vector<Claim>&) const {
  return PolicyDecision{.permitted = true, .reason = "", .issued = {}};
}

std::string PolicyHash(absl::string_view policy_text) {
  const std::string encoded = absl::WebSafeBase64Escape(policy_text);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(encoded.data()), encoded.size(), digest);
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace cn::attestd
