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
// Version 1.1 adds a `configurationrules { ... };` section before the others; `issuancerules`
// may be left out (as MAA allows). A rule is a
// condition, `=>`, and one action. A condition is zero or more claim matchers joined by `&&`;
// a matcher `[type=="T", value OP X]` (the value part optional) matches an incoming claim of
// type T whose value compares with X: integers with == != < <= > >=, strings and booleans with
// == and !=. `c:` binds the matched claim so the action can use `c.value` (or `c.type`). `//`
// starts a comment to the end of the line. The full grammar, with what MAA has that we do not,
// is in docs/policy.md.
//
// Values are typed: integers are int64, strings are "..." with \" and \\ escapes, booleans are
// true and false. Comparisons are strict: a claim whose value has another type than the literal
// (the string "2" against the integer 2) matches no operator, != included. Operators other than
// == and != on a string or boolean literal are a parse error.
//
// Semantics (Evaluate):
//   - authorization rules, in order: a matching deny() wins (the quote is refused, naming the
//     rule); otherwise at least one permit() must match, else refused ("no permit rule matched");
//     add() there feeds later rules of both sections;
//   - issuance rules, in order, over the incoming claims plus those that earlier rules add():
//     add() puts a claim into the incoming set only; issue() puts it into the token (and, like
//     add, into the incoming set for later rules);
//   - an action runs once for every distinct combination of claims that satisfies its
//     conditions (MAA's and ADFS's claim-rule semantics); a claim already in a set is not added
//     twice;
//   - the service always issues the claims of the verified quote itself (attestd.md); a policy
//     cannot remove or replace them: issue()/add() of a reserved type (IsReservedClaimType) is a
//     parse error when the type is a literal and is skipped when it comes from a bound claim.
//   - configuration rules (1.1) only record issueproperty(type=..., value=...) settings
//     (configuration()); none of them changes how an SGX attestation is judged (MAA's default
//     policy sets x-ms-sgx-tcbidentifier, Azure's TCB baseline; we judge against the collateral
//     the service has).
//
// Limits (hostile text, e.g. a draftPolicyForAttestation from any client, costs bounded work):
// the grammar has a fixed depth (section, rule, condition, property), so parsing never recurses
// on input; text above kMaxPolicyBytes, more than kMaxRulesPerSection rules in a section or
// kMaxConditionsPerRule conditions in a rule is a parse error. Evaluate does at most
// kMaxEvaluationSteps claim comparisons and holds at most kMaxClaims claims; past either it
// refuses the quote, saying so.
//
// Thread safety: a Policy is immutable after Parse; Evaluate may run on many threads at once.

#include <cstddef>
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

// Parse and evaluation limits (see above); docs/policy.md states them too.
inline constexpr size_t kMaxPolicyBytes = 64 * 1024;
inline constexpr size_t kMaxRulesPerSection = 1024;
inline constexpr size_t kMaxConditionsPerRule = 16;
inline constexpr size_t kMaxEvaluationSteps = 200'000;
inline constexpr size_t kMaxClaims = 4096;

// True for claim types the service itself puts into every token, which a policy may neither
// issue nor add: the JWT registered claims (iss, sub, aud, exp, nbf, iat, jti), nonce, and every
// type starting with "x-ms-" or "attester_".
bool IsReservedClaimType(absl::string_view type);

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
  // 1.0 or 1.1 (the caller prefixes the file name or "draftPolicyForAttestation"). Lines and
  // columns count from 1; a column counts characters (UTF-8 code points), a tab as one. Text
  // that is not UTF-8 is refused at the first bad byte (tokens carry its strings as JSON).
  static absl::StatusOr<Policy> Parse(absl::string_view text);

  // The policy the service uses without --policy: permits every verified quote, issues nothing
  // beyond the quote's own claims.
  static const Policy& Default();

  // `incoming` are the claims of the verified quote (issuer "AttestationService" for the
  // `issuer==` property). Never fails: limits reached refuse the quote with a reason, and so
  // does a Policy that did not come from Parse or Default (default-constructed, moved-from).
  PolicyDecision Evaluate(const std::vector<Claim>& incoming) const;

  // The issueproperty() settings of the configuration rules (version 1.1), in order.
  const std::vector<Claim>& configuration() const;

  // The exact text it was parsed from (x-ms-policy-hash is computed over it).
  const std::string& text() const { return text_; }

  // Implementation detail: the parsed rules (defined in policy.cc).
  struct Rules;

 private:
  std::string text_;
  std::shared_ptr<const Rules> rules_;
};

// MAA's x-ms-policy-hash: base64url(SHA-256(UTF-8 of base64url(policy text))), both base64url
// encodings without padding.
std::string PolicyHash(absl::string_view policy_text);

}  // namespace cn::attestd
