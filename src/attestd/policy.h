#pragma once

// Policy: Azure Attestation's policy text language (versions 1.0 and 1.1), parsed once and
// evaluated per attestation over the claims a verified quote yields.
//
//   version=1.0;
//   authorizationrules {
//     c:[type=="x-ms-sgx-is-debuggable", value==true] => deny();
//     [type=="x-ms-sgx-mrsigner", value=="c0ff..."] && [type=="x-ms-sgx-svn", value>=2]
//       => permit();
//   };
//   issuancerules {
//     c:[type=="x-ms-sgx-mrsigner"] => issue(type="signer", value=c.value);
//     => add(type="tier", value="gold");
//   };
//
// Version 1.1 adds a `configurationrules { ... };` section before the others. A rule is a
// condition, `=>`, and one action. A condition is zero or more claim matchers joined by `&&`;
// a matcher `[type=="T", value OP X]` (the value part optional) matches an incoming claim of
// type T whose value compares with X: integers with == != < <= > >=, strings and booleans with
// == and !=. `c:` binds the matched claim so the action can use `c.value` (or `c.type`). `//`
// starts a comment to the end of the line.
//
// Semantics (Evaluate):
//   - authorization rules, in order: a matching deny() wins (the quote is refused, naming the
//     rule); otherwise at least one permit() must match, else refused ("no permit rule matched");
//   - issuance rules, in order, over the incoming claims plus those that earlier rules add():
//     add() puts a claim into the incoming set only; issue() puts it into the token (and, like
//     add, into the incoming set for later rules);
//   - the service always issues the claims of the verified quote itself (attestd.md); a policy
//     cannot remove them.
//
// Thread safety: a Policy is immutable after Parse; Evaluate may run on many threads at once.

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cn::attestd {

using ClaimValue = std::variant<bool, int64_t, std::string>;

struct Claim {
  std::string type;
  ClaimValue value;

  friend bool operator==(const Claim&, const Claim&) = default;
};

struct PolicyDecision {
  bool permitted = false;
  // When refused: the denying rule as written ("line 3: c:[type==...] => deny()"), or
  // "no permit rule matched". Empty when permitted.
  std::string reason;
  // issue()d claims, in rule order (the token gets them besides the quote's own claims).
  std::vector<Claim> issued;
};

class Policy {
 public:
  // InvalidArgument "line L, column C: <what is wrong>" for text that is not a policy of version
  // 1.0 or 1.1 (the caller prefixes the file name or "draftPolicyForAttestation").
  static absl::StatusOr<Policy> Parse(absl::string_view text);

  // The policy the service uses without --policy: permits every verified quote, issues nothing
  // beyond the quote's own claims.
  static const Policy& Default();

  PolicyDecision Evaluate(const std::vector<Claim>& incoming) const;

  // The exact text it was parsed from (x-ms-policy-hash is computed over it).
  const std::string& text() const { return text_; }

  // Implementation detail: the parsed rules (defined in policy.cc).
  struct Rules;

 private:
  std::string text_;
  std::shared_ptr<const Rules> rules_;
};

// MAA's x-ms-policy-hash: base64url(SHA-256(UTF-8 of base64url(policy text))), without padding.
std::string PolicyHash(absl::string_view policy_text);

}  // namespace cn::attestd
