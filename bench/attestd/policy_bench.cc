// Policy benchmarks (Google Benchmark): the cost the policy adds to one attestation, on the
// default policy and on a 20-rule policy of the kind people write (pinning signer, product and
// SVN, refusing debug enclaves, issuing a dozen claims), next to parsing and PolicyHash.
// Commands and figures: docs/PERFORMANCE.md, "Attestation policy".

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/attestd/policy.h"
#include "src/common/check.h"
#include "src/testing/sgx_quote_claims.h"

namespace cn::attestd {
namespace {

std::vector<Claim> QuoteClaims() { return testing::SgxQuoteClaims(); }

// 20 rules: 6 authorization (4 denies, 2 permits with several conditions), 14 issuance.
std::string TwentyRulePolicy() {
  const std::string mrsigner = "c0ffee";
  std::string text = absl::StrCat(R"(version=1.0;
authorizationrules {
  [type=="x-ms-sgx-is-debuggable", value==true] => deny();
  [type=="attester_tcb_status", value=="Revoked"] => deny();
  [type=="attester_tcb_status", value=="OutOfDate"] => deny();
  [type=="x-ms-sgx-svn", value<2] => deny();
  [type=="x-ms-sgx-mrsigner", value==")",
                                  mrsigner, R"("] && [type=="x-ms-sgx-product-id", value==3]
    && [type=="x-ms-sgx-svn", value>=2] => permit();
  [type=="x-ms-sgx-mrenclave", value=="0000"] => permit();
};
issuancerules {
)");
  const char* const copies[] = {
      "x-ms-sgx-mrsigner",      "x-ms-sgx-mrenclave",    "x-ms-sgx-product-id", "x-ms-sgx-svn",
      "x-ms-sgx-is-debuggable", "x-ms-attestation-type", "attester_tcb_status", "x-ms-sgx-fmspc"};
  for (const char* type : copies) {
    absl::StrAppend(&text, "  c:[type==\"", type, "\"] => issue(type=\"app-", type,
                    "\", value=c.value);\n");
  }
  absl::StrAppend(&text, R"(  => add(type="tier", value="gold");
  c:[type=="tier", issuer=="AttestationPolicy"] => issue(type="service-tier", value=c.value);
  s:[type=="x-ms-sgx-svn", value>=2] && p:[type=="x-ms-sgx-product-id"]
    => issue(type="svn-of-product", value=s.value);
  [type=="x-ms-sgx-svn", value>=100] => issue(type="future", value=true);
  c:[type=="x-ms-sgx-fmspc", value!="000000000000"] => add(type="known-platform", value=c.value);
  c:[type=="known-platform"] => issue(type="platform", value=c.value);
};
)");
  return text;
}

const Policy& TwentyRules() {
  static const Policy* const policy = [] {
    absl::StatusOr<Policy> parsed = Policy::Parse(TwentyRulePolicy());
    CN_CHECK(parsed.ok());
    return new Policy(*std::move(parsed));
  }();
  return *policy;
}

void BM_EvaluateDefault(benchmark::State& state) {
  const std::vector<Claim> claims = QuoteClaims();
  for (auto _ : state) {
    PolicyDecision decision = Policy::Default().Evaluate(claims);
    benchmark::DoNotOptimize(decision);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EvaluateDefault);

void BM_EvaluateTwentyRules(benchmark::State& state) {
  const std::vector<Claim> claims = QuoteClaims();
  const Policy& policy = TwentyRules();
  {
    const PolicyDecision check = policy.Evaluate(claims);
    CN_CHECK(check.permitted && check.issued.size() == 11);  // the policy does what it says
  }
  for (auto _ : state) {
    PolicyDecision decision = policy.Evaluate(claims);
    benchmark::DoNotOptimize(decision);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EvaluateTwentyRules);

void BM_ParseTwentyRules(benchmark::State& state) {
  const std::string text = TwentyRulePolicy();
  for (auto _ : state) {
    absl::StatusOr<Policy> policy = Policy::Parse(text);
    benchmark::DoNotOptimize(policy);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_ParseTwentyRules);

void BM_PolicyHashTwentyRules(benchmark::State& state) {
  const std::string text = TwentyRulePolicy();
  for (auto _ : state) {
    std::string hash = PolicyHash(text);
    benchmark::DoNotOptimize(hash);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PolicyHashTwentyRules);

// The worst a hostile draftPolicyForAttestation can make one evaluation cost: a rule that
// searches the whole comparison budget before refusing.
void BM_EvaluateHostileBudget(benchmark::State& state) {
  std::string conditions;
  for (size_t i = 1; i < kMaxConditionsPerRule; ++i) {
    conditions += "[type==\"a\"]&&";
  }
  absl::StatusOr<Policy> policy =
      Policy::Parse(absl::StrCat("version=1.0; authorizationrules {", conditions,
                                 "[type==\"none\"] => deny(); => permit(); }; issuancerules { };"));
  CN_CHECK(policy.ok());
  std::vector<Claim> claims;
  for (int64_t i = 0; i < 100; ++i) {
    claims.push_back({"a", i});
  }
  CN_CHECK(!policy->Evaluate(claims).permitted);
  for (auto _ : state) {
    PolicyDecision decision = policy->Evaluate(claims);
    benchmark::DoNotOptimize(decision);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EvaluateHostileBudget);

}  // namespace
}  // namespace cn::attestd

BENCHMARK_MAIN();
