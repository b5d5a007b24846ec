// libFuzzer target: the policy text parser, then evaluation of what parses over the claims of a
// typical SGX quote (so the matcher and its limits are fuzzed too), and PolicyHash.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "src/attestd/policy.h"
#include "src/testing/sgx_quote_claims.h"

namespace {

const std::vector<cn::attestd::Claim>& QuoteClaims() {
  static const auto* const claims =
      new std::vector<cn::attestd::Claim>(cn::testing::SgxQuoteClaims());
  return *claims;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<cn::attestd::Policy> policy = cn::attestd::Policy::Parse(text);
  if (!policy.ok()) {
    // Every refusal names a position.
    if (policy.status().message().rfind("line ", 0) != 0) {
      std::abort();
    }
    return 0;
  }
  const cn::attestd::PolicyDecision decision = policy->Evaluate(QuoteClaims());
  // Invariants of the contract: a refusal has a reason and issues nothing; a permit has no
  // reason; the service's own claims are never issued by the policy.
  if (decision.permitted != decision.reason.empty()) {
    std::abort();
  }
  if (!decision.permitted && !decision.issued.empty()) {
    std::abort();
  }
  for (const cn::attestd::Claim& claim : decision.issued) {
    if (cn::attestd::IsReservedClaimType(claim.type)) {
      std::abort();
    }
  }
  (void)cn::attestd::PolicyHash(policy->text());
  return 0;
}
