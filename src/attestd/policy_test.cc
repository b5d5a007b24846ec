#include "src/attestd/policy.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/testing/sgx_quote_claims.h"

namespace cn::attestd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<Claim> QuoteClaims() { return testing::SgxQuoteClaims(); }

// Wraps authorization and issuance rules into a version 1.0 policy.
std::string PolicyOf(const std::string& authorization, const std::string& issuance = "") {
  return absl::StrCat("version=1.0;\nauthorizationrules {\n", authorization,
                      "\n};\nissuancerules {\n", issuance, "\n};\n");
}

Policy MustParse(const std::string& text) {
  absl::StatusOr<Policy> policy = Policy::Parse(text);
  EXPECT_TRUE(policy.ok()) << policy.status() << "\n" << text;
  if (!policy.ok()) {
    return Policy::Default();
  }
  return *std::move(policy);
}

// The error message of a text that must not parse.
std::string ParseError(const std::string& text) {
  absl::StatusOr<Policy> policy = Policy::Parse(text);
  EXPECT_FALSE(policy.ok()) << text;
  if (policy.ok()) {
    return "";
  }
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(policy.status().message());
}

bool Permits(const std::string& authorization, const std::vector<Claim>& claims = QuoteClaims()) {
  return MustParse(PolicyOf(authorization)).Evaluate(claims).permitted;
}

TEST(PolicyTest, DefaultPermitsAnyQuoteAndIssuesNothingOfItsOwn) {
  const PolicyDecision decision = Policy::Default().Evaluate(QuoteClaims());
  EXPECT_TRUE(decision.permitted);
  EXPECT_THAT(decision.reason, IsEmpty());
  EXPECT_THAT(decision.issued, IsEmpty());
  EXPECT_TRUE(Policy::Default().Evaluate({}).permitted);
  // The text docs/policy.md prints (x-ms-policy-hash is computed over it).
  EXPECT_EQ(Policy::Default().text(),
            "version=1.0;\nauthorizationrules\n{\n    => permit();\n};\nissuancerules\n{\n};\n");
}

TEST(PolicyTest, ParsesTheHeaderExampleAndKeepsItsText) {
  const std::string text = R"(version=1.0;
authorizationrules {
  c:[type=="x-ms-sgx-is-debuggable", value==true] => deny();
  [type=="x-ms-sgx-mrsigner", value=="c0ffee"] && [type=="x-ms-sgx-svn", value>=2]
    => permit();
};
issuancerules {
  c:[type=="x-ms-sgx-mrsigner"] => issue(type="signer", value=c.value);
  => add(type="tier", value="gold");
};
)";
  const Policy policy = MustParse(text);
  EXPECT_EQ(policy.text(), text);
  const PolicyDecision decision = policy.Evaluate(QuoteClaims());
  EXPECT_TRUE(decision.permitted) << decision.reason;
  EXPECT_THAT(decision.issued, ElementsAre(Claim{"signer", std::string("c0ffee")}));
}

TEST(PolicyTest, ParsesMicrosoftsSgxSamplePolicyLayout) {
  // The layout of MAA's documented SGX policies: "version= 1.0;", tabs, sections on their own
  // lines, conditions split over lines, comments.
  const std::string text =
      "version= 1.0;\r\n"
      "authorizationrules\r\n"
      "{\r\n"
      "\t[ type==\"x-ms-sgx-is-debuggable\", value==false ]\r\n"
      "\t\t&& [ type==\"x-ms-sgx-product-id\", value==3 ] // our product\r\n"
      "\t\t&& [ type==\"x-ms-sgx-svn\", value>= 0 ]\r\n"
      "\t\t&& [ type==\"x-ms-sgx-mrsigner\", value==\"c0ffee\"]\r\n"
      "\t=> permit();\r\n"
      "};\r\n"
      "issuancerules {\r\n"
      "\tc:[type==\"x-ms-sgx-mrsigner\"] => issue(type=\"sgx-mrsigner\", value=c.value);\r\n"
      "};\r\n";
  const PolicyDecision decision = MustParse(text).Evaluate(QuoteClaims());
  EXPECT_TRUE(decision.permitted) << decision.reason;
  EXPECT_THAT(decision.issued, ElementsAre(Claim{"sgx-mrsigner", std::string("c0ffee")}));
}

TEST(PolicyTest, ParsesMicrosoftsDefaultSgxPolicy) {
  // MAA's default SGX policy as its documentation prints it (version 1.1, a TCB identifier
  // property, the deprecated short claim names).
  const std::string text =
      "version= 1.1;\n"
      "configurationrules{\n"
      "\t=> issueproperty(type=\"x-ms-sgx-tcbidentifier\", value=\"azuredefault\");\n"
      "};\n"
      "authorizationrules{\n"
      "\t=> permit();\n"
      "};\n"
      "issuancerules{\n"
      "\tc:[type==\"x-ms-sgx-is-debuggable\"] => issue(type=\"is-debuggable\", value=c.value);\n"
      "\tc:[type==\"x-ms-sgx-mrsigner\"] => issue(type=\"sgx-mrsigner\", value=c.value);\n"
      "\tc:[type==\"x-ms-sgx-mrenclave\"] => issue(type=\"sgx-mrenclave\", value=c.value);\n"
      "\tc:[type==\"x-ms-sgx-product-id\"] => issue(type=\"product-id\", value=c.value);\n"
      "\tc:[type==\"x-ms-sgx-svn\"] => issue(type=\"svn\", value=c.value);\n"
      "\tc:[type==\"x-ms-attestation-type\"] => issue(type=\"tee\", value=c.value);\n"
      "};\n";
  const Policy policy = MustParse(text);
  EXPECT_THAT(policy.configuration(),
              ElementsAre(Claim{"x-ms-sgx-tcbidentifier", std::string("azuredefault")}));
  const PolicyDecision decision = policy.Evaluate(QuoteClaims());
  ASSERT_TRUE(decision.permitted);
  EXPECT_THAT(
      decision.issued,
      ElementsAre(Claim{"is-debuggable", false}, Claim{"sgx-mrsigner", std::string("c0ffee")},
                  Claim{"sgx-mrenclave", std::string("aa11")}, Claim{"product-id", int64_t{3}},
                  Claim{"svn", int64_t{2}}, Claim{"tee", std::string("sgx")}));
}

TEST(PolicyTest, IssuanceRulesAreOptional) {
  // MAA's documentation: "Issuance rules section isn't mandatory".
  const Policy policy = MustParse("version=1.0;\nauthorizationrules { => permit(); };\n");
  const PolicyDecision decision = policy.Evaluate(QuoteClaims());
  EXPECT_TRUE(decision.permitted);
  EXPECT_THAT(decision.issued, IsEmpty());
}

TEST(PolicyTest, DenyWinsWhereverItStands) {
  const std::string deny_mrsigner = R"([type=="x-ms-sgx-mrsigner", value=="c0ffee"] => deny();)";
  for (const std::string& rules : {absl::StrCat("=> permit();\n", deny_mrsigner),
                                   absl::StrCat(deny_mrsigner, "\n=> permit();")}) {
    const PolicyDecision decision = MustParse(PolicyOf(rules)).Evaluate(QuoteClaims());
    EXPECT_FALSE(decision.permitted);
    EXPECT_THAT(decision.reason, HasSubstr(R"([type=="x-ms-sgx-mrsigner", value=="c0ffee"] => )"
                                           R"(deny())"));
    EXPECT_THAT(decision.issued, IsEmpty());
  }
}

TEST(PolicyTest, ReasonQuotesTheDenyingRuleWithItsLine) {
  const PolicyDecision decision =
      MustParse(PolicyOf("=> permit();\n"
                         "c:[type==\"x-ms-sgx-svn\",   value<3]   // too old\n"
                         "  => deny();"))
          .Evaluate(QuoteClaims());
  EXPECT_FALSE(decision.permitted);
  EXPECT_EQ(decision.reason, R"(line 4: c:[type=="x-ms-sgx-svn", value<3] => deny())");
}

TEST(PolicyTest, RefusesWhenNoPermitRuleMatches) {
  const PolicyDecision decision =
      MustParse(PolicyOf(R"([type=="x-ms-sgx-mrsigner", value=="other"] => permit();)"))
          .Evaluate(QuoteClaims());
  EXPECT_FALSE(decision.permitted);
  EXPECT_EQ(decision.reason, "no permit rule matched");
  // An empty authorization section permits nothing.
  EXPECT_FALSE(Permits(""));
}

TEST(PolicyTest, IntegerOperators) {
  struct Case {
    const char* op;
    int64_t literal;
    bool matches;  // against x-ms-sgx-svn == 2
  };
  const Case cases[] = {
      {"==", 2, true}, {"==", 3, false}, {"!=", 3, true},  {"!=", 2, false}, {"<", 3, true},
      {"<", 2, false}, {"<=", 2, true},  {"<=", 1, false}, {">", 1, true},   {">", 2, false},
      {">=", 2, true}, {">=", 3, false}, {">", -1, true},  {"<", -5, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(
        Permits(absl::StrCat("[type==\"x-ms-sgx-svn\", value", c.op, c.literal, "] => permit();")),
        c.matches)
        << "svn " << c.op << " " << c.literal;
  }
}

TEST(PolicyTest, IntegersSpanInt64AndOverflowIsAnErrorNamingTheLiteral) {
  const std::vector<Claim> extremes = {{"low", INT64_MIN}, {"high", INT64_MAX}};
  EXPECT_TRUE(Permits(R"([type=="low", value==-9223372036854775808] &&
                         [type=="high", value==9223372036854775807] => permit();)",
                      extremes));
  EXPECT_EQ(ParseError(PolicyOf(R"([type=="x", value==9223372036854775808] => permit();)")),
            "line 3, column 20: integer 9223372036854775808 does not fit in 64 bits "
            "(-9223372036854775808 to 9223372036854775807)");
  EXPECT_THAT(ParseError(PolicyOf(R"([type=="x", value>-9223372036854775809] => permit();)")),
              HasSubstr("integer -9223372036854775809 does not fit in 64 bits"));
  EXPECT_THAT(ParseError(PolicyOf(R"([type=="x", value==12abc] => permit();)")),
              HasSubstr("line 3, column 22: unexpected 'a' after the number 12"));
}

TEST(PolicyTest, StringAndBooleanEquality) {
  EXPECT_TRUE(Permits(R"([type=="x-ms-sgx-mrsigner", value=="c0ffee"] => permit();)"));
  EXPECT_FALSE(Permits(R"([type=="x-ms-sgx-mrsigner", value=="C0FFEE"] => permit();)"));
  EXPECT_TRUE(Permits(R"([type=="x-ms-sgx-mrsigner", value!="C0FFEE"] => permit();)"));
  EXPECT_FALSE(Permits(R"([type=="x-ms-sgx-mrsigner", value!="c0ffee"] => permit();)"));
  EXPECT_TRUE(Permits(R"([type=="x-ms-sgx-is-debuggable", value==false] => permit();)"));
  EXPECT_FALSE(Permits(R"([type=="x-ms-sgx-is-debuggable", value==true] => permit();)"));
  EXPECT_TRUE(Permits(R"([type=="x-ms-sgx-is-debuggable", value!=true] => permit();)"));
  EXPECT_FALSE(Permits(R"([type=="x-ms-sgx-is-debuggable", value!=false] => permit();)"));
  // type compares too, with != as well.
  EXPECT_TRUE(Permits(R"([type!="x-ms-sgx-svn", value=="sgx"] => permit();)"));
}

TEST(PolicyTest, ValuesOfDifferentTypesMatchNoOperator) {
  const std::vector<Claim> claims = {{"s", std::string("2")}, {"i", int64_t{2}}, {"b", true}};
  for (const char* condition :
       {R"([type=="s", value==2])", R"([type=="s", value!=2])", R"([type=="s", value>=2])",
        R"([type=="i", value=="2"])", R"([type=="i", value!="2"])", R"([type=="b", value==1])",
        R"([type=="b", value!=1])", R"([type=="b", value=="true"])",
        R"([type=="i", value==true])"}) {
    EXPECT_FALSE(Permits(absl::StrCat(condition, " => permit();"), claims)) << condition;
  }
  EXPECT_TRUE(Permits(R"([type=="s", value=="2"] => permit();)", claims));
  EXPECT_TRUE(Permits(R"([type=="i", value==2] => permit();)", claims));
}

// Every claim type against every literal type and operator: which conditions parse, and which
// of those match. Claims: b=true, i=5, s="m"; literals true, 5, "m" (equal) and false, 6, "n".
TEST(PolicyTest, EveryOperatorAgainstEveryTypeCombination) {
  const std::vector<Claim> claims = {{"b", true}, {"i", int64_t{5}}, {"s", std::string("m")}};
  struct Literal {
    const char* text;
    int type;  // 0 bool, 1 integer, 2 string (ClaimValue's index)
    bool equal_to_claim_of_its_type;
    int order;  // integers: literal compared with 5 (-1 below, 0 equal, 1 above)
  };
  const Literal literals[] = {{"true", 0, true, 0},  {"false", 0, false, 0}, {"5", 1, true, 0},
                              {"6", 1, false, 1},    {"4", 1, false, -1},    {"\"m\"", 2, true, 0},
                              {"\"n\"", 2, false, 0}};
  const char* const claim_types[] = {"b", "i", "s"};
  const char* const ops[] = {"==", "!=", "<", "<=", ">", ">="};
  int checked = 0;
  for (int claim_type = 0; claim_type < 3; ++claim_type) {
    for (const Literal& literal : literals) {
      for (const char* op : ops) {
        const std::string rule = absl::StrCat("[type==\"", claim_types[claim_type], "\", value", op,
                                              literal.text, "] => permit();");
        const std::string text = PolicyOf(rule);
        const bool ordering = op[0] == '<' || op[0] == '>';
        const absl::StatusOr<Policy> policy = Policy::Parse(text);
        if (ordering && literal.type != 1) {
          EXPECT_FALSE(policy.ok()) << rule;  // < <= > >= take integers only
          continue;
        }
        ASSERT_TRUE(policy.ok()) << rule << ": " << policy.status();
        bool expected = false;
        if (claim_type == literal.type) {  // different types never match
          const std::string o = op;
          if (o == "==") expected = literal.equal_to_claim_of_its_type;
          if (o == "!=") expected = !literal.equal_to_claim_of_its_type;
          // 5 OP literal, with literal.order the sign of (literal - 5).
          if (o == "<") expected = literal.order > 0;
          if (o == "<=") expected = literal.order >= 0;
          if (o == ">") expected = literal.order < 0;
          if (o == ">=") expected = literal.order <= 0;
        }
        EXPECT_EQ(policy->Evaluate(claims).permitted, expected) << rule;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 3 * (7 * 2 + 3 * 4));
}

TEST(PolicyTest, OrderingAStringOrBooleanIsAParseError) {
  EXPECT_EQ(ParseError(PolicyOf(R"([type=="x", value<"abc"] => permit();)")),
            "line 3, column 18: operator < compares integers; strings and booleans take == or "
            "!=");
  EXPECT_THAT(ParseError(PolicyOf(R"([type=="x", value>=true] => permit();)")),
              HasSubstr("line 3, column 18: operator >="));
  EXPECT_THAT(ParseError(PolicyOf(R"([type>"x"] => permit();)")),
              HasSubstr("line 3, column 6: only value compares with < <= > >="));
  EXPECT_THAT(ParseError(PolicyOf(R"([type==3] => permit();)")),
              HasSubstr("line 3, column 8: type, issuer and valueType compare with a string"));
}

TEST(PolicyTest, StringEscapesAndUtf8) {
  const std::vector<Claim> claims = {{"q", std::string("say \"hi\" \\o/")},
                                     {"u", std::string("caf\xC3\xA9")}};
  EXPECT_TRUE(Permits(R"([type=="q", value=="say \"hi\" \\o/"] => permit();)", claims));
  EXPECT_TRUE(Permits("[type==\"u\", value==\"caf\xC3\xA9\"] => permit();", claims));
  EXPECT_EQ(ParseError(PolicyOf(R"([type=="a\nb"] => permit();)")),
            "line 3, column 10: unknown escape in string (only \\\" and \\\\ are escapes)");
  EXPECT_EQ(ParseError(PolicyOf("[type==\"open] => permit();")),
            "line 3, column 8: string not closed on its line (a '\"' is missing)");
  // Columns count characters: the é before the error is one column.
  EXPECT_THAT(ParseError(PolicyOf("[type==\"\xC3\xA9\", value==\"x\" ? ] => permit();")),
              HasSubstr("line 3, column 24: unexpected character '?'"));
  EXPECT_EQ(ParseError(PolicyOf("[type==\"ab\xFF\"] => permit();")),
            "line 3, column 11: byte 0xff is not UTF-8 (a policy is UTF-8 text)");
  EXPECT_THAT(ParseError(PolicyOf("// comment \xC0\xAF\n=> permit();")),
              HasSubstr("line 3, column 12: byte 0xc0 is not UTF-8"));
}

TEST(PolicyTest, CommentsRunToTheEndOfTheLine) {
  const std::vector<Claim> claims = {{"url", std::string("https://x//y")}};
  EXPECT_TRUE(Permits("// => deny();\n[type==\"url\", value==\"https://x//y\"] => permit(); // ok",
                      claims));
}

TEST(PolicyTest, SkipsALeadingByteOrderMarkButHashesIt) {
  const std::string text = "\xEF\xBB\xBF" + PolicyOf("=> permit();");
  EXPECT_TRUE(MustParse(text).Evaluate(QuoteClaims()).permitted);
  EXPECT_NE(PolicyHash(text), PolicyHash(text.substr(3)));
  EXPECT_EQ(ParseError("\xEF\xBB\xBFversion=3.0;"),
            "line 1, column 9: version 3.0 is not supported (1.0 and 1.1 are)");
}

TEST(PolicyTest, ErrorsNameLineAndColumn) {
  struct Case {
    std::string text;
    std::string error;
  };
  const Case cases[] = {
      {"",
       "line 1, column 1: expected 'version=1.0;' or 'version=1.1;' first, found the end of "
       "the policy"},
      {"version=2.0;", "line 1, column 9: version 2.0 is not supported (1.0 and 1.1 are)"},
      {"version=1.0",
       "line 1, column 12: expected ';' after the version, found the end of the "
       "policy"},
      {"version=1.0;\nissuancerules {};",
       "line 2, column 1: expected 'authorizationrules', found 'issuancerules'"},
      {"version=1.0;\nauthorizationrules { };\nissuancerule { };",
       "line 3, column 1: expected 'issuancerules' or the end of the policy, found "
       "'issuancerule'"},
      {"version=1.0;\nauthorizationrules { => permit(); }\nissuancerules {};",
       "line 3, column 1: expected ';' after the '}' of authorizationrules, found "
       "'issuancerules'"},
      {PolicyOf("=> permit()"), "line 4, column 1: expected ';' after the rule, found '}'"},
      {PolicyOf("[type=\"x\"] => permit();"),
       "line 3, column 6: '=' in a condition: compare with '==' (or != < <= > >=)"},
      {PolicyOf("[type==\"x\"] => allow();"),
       "line 3, column 16: expected an action (permit, deny, issue, add or issueproperty), "
       "found 'allow'"},
      {PolicyOf("[type==\"x\"] & [type==\"y\"] => permit();"),
       "line 3, column 13: '&' is not an operator (conditions are joined with '&&')"},
      {PolicyOf("[type==\"x\"] || [type==\"y\"] => permit();"),
       "line 3, column 13: '|' is not an operator (there is no '||': write one rule per "
       "alternative)"},
      {PolicyOf("[color==\"x\"] => permit();"),
       "line 3, column 2: expected a claim property (type, value, issuer or valueType), found "
       "'color'"},
      {PolicyOf("[type==\"x\"] => permit(1);"),
       "line 3, column 23: expected ')': permit() takes nothing, found the number 1"},
      {PolicyOf("=> permit();", "=> issue(type=\"a\");"),
       "line 6, column 18: expected value= before ')': issue() needs a type and a value, found "
       "')'"},
      {PolicyOf("=> permit();", "=> issue(type=\"a\", type=\"b\", value=1);"),
       "line 6, column 20: type= is given twice"},
      {PolicyOf("=> permit();", "=> issue(type=\"a\", value=d.value);"),
       "line 6, column 26: 'd' is not bound by an earlier condition of this rule"},
      {PolicyOf("=> permit();", "=> issue(claim=d);"),
       "line 6, column 16: 'd' is not bound by a condition of this rule"},
      {PolicyOf("c:[type==\"a\"] && c:[type==\"b\"] => permit();"),
       "line 3, column 18: 'c' is already bound in this rule"},
      {PolicyOf("=> permit();") + "extra",
       "line 8, column 1: expected the end of the policy after issuancerules, found 'extra'"},
      {PolicyOf("[type==\"x\", value==v] => permit();"),
       "line 3, column 20: expected a value (a string, an integer, true, false or c.value), found "
       "'v'"},
      {PolicyOf("=> permit();") + "\x01", "line 8, column 1: unexpected control character 0x01"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseError(c.text), c.error) << c.text;
  }
}

TEST(PolicyTest, ActionsBelongToTheirSections) {
  EXPECT_THAT(ParseError(PolicyOf("=> issue(type=\"a\", value=1);")),
              HasSubstr("line 3, column 4: issue() is not allowed in authorizationrules"));
  EXPECT_THAT(ParseError(PolicyOf("=> permit();", "=> permit();")),
              HasSubstr("line 6, column 4: permit() is not allowed in issuancerules"));
  EXPECT_THAT(ParseError(PolicyOf("=> permit();", "=> deny();")),
              HasSubstr("deny() is not allowed in issuancerules"));
  EXPECT_THAT(ParseError(PolicyOf("=> issueproperty(type=\"a\", value=1);")),
              HasSubstr("line 3, column 4: issueproperty() is not allowed in authorizationrules"));
}

TEST(PolicyTest, Version11AddsConfigurationRules) {
  const Policy policy = MustParse(R"(version=1.1;
configurationrules {
  => issueproperty(type="require_valid_aik_cert", value=false);
  => issueproperty(type="required_pcr_mask", value=131070);
};
authorizationrules { => permit(); };
issuancerules { };
)");
  EXPECT_THAT(policy.configuration(), ElementsAre(Claim{"require_valid_aik_cert", false},
                                                  Claim{"required_pcr_mask", int64_t{131070}}));
  EXPECT_TRUE(policy.Evaluate(QuoteClaims()).permitted);
  EXPECT_THAT(Policy::Default().configuration(), IsEmpty());
  // A 1.1 policy need not have configuration rules.
  EXPECT_TRUE(Policy::Parse("version=1.1; authorizationrules { }; issuancerules { };").ok());
  EXPECT_EQ(ParseError("version=1.0;\nconfigurationrules { };"),
            "line 2, column 1: configurationrules needs version 1.1 (this policy says 1.0)");
  EXPECT_EQ(ParseError("version=1.1;\nconfigurationrules { [type==\"x\"] => "
                       "issueproperty(type=\"a\", value=1); };"),
            "line 2, column 22: expected '=>' (configuration rules take no conditions), found '['");
  EXPECT_EQ(ParseError("version=1.1;\nauthorizationrules { }; configurationrules { };"),
            "line 2, column 25: expected 'issuancerules' or the end of the policy, found "
            "'configurationrules'");
}

TEST(PolicyTest, AddFeedsLaterRulesButNotTheToken) {
  const PolicyDecision decision =
      MustParse(PolicyOf(R"(c:[type=="x-ms-sgx-svn", value>=2] => add(type="fresh", value=true);
[type=="fresh", value==true] => permit();)",
                         R"(c:[type=="fresh"] => add(type="tier", value="gold");
c:[type=="tier"] => issue(type="level", value=c.value);
c:[type=="level"] => issue(type="level-seen", value=true);)"))
          .Evaluate(QuoteClaims());
  EXPECT_TRUE(decision.permitted) << decision.reason;
  // "fresh" and "tier" were add()ed: not in the token. "level" was issued and, like an added
  // claim, seen by the rule after it.
  EXPECT_THAT(decision.issued,
              ElementsAre(Claim{"level", std::string("gold")}, Claim{"level-seen", true}));
}

TEST(PolicyTest, ARuleSeesOnlyClaimsOfEarlierRules) {
  // The rule that adds "later" comes after the rule that looks for it.
  const PolicyDecision decision = MustParse(PolicyOf("=> permit();", R"(
c:[type=="later"] => issue(type="seen", value=true);
=> add(type="later", value=1);)"))
                                      .Evaluate(QuoteClaims());
  EXPECT_TRUE(decision.permitted);
  EXPECT_THAT(decision.issued, IsEmpty());
}

TEST(PolicyTest, IssueRunsOncePerMatchingClaimWithoutDuplicates) {
  const std::vector<Claim> claims = {{"group", std::string("a")},
                                     {"group", std::string("b")},
                                     {"other", int64_t{1}},
                                     {"other", int64_t{2}}};
  const PolicyDecision decision = MustParse(PolicyOf("=> permit();", R"(
c:[type=="group"] => issue(type="g", value=c.value);
c:[type=="group"] && d:[type=="other"] => issue(type="pair", value=c.value);
c:[type=="group"] => issue(claim=c);)"))
                                      .Evaluate(claims);
  ASSERT_TRUE(decision.permitted);
  EXPECT_THAT(decision.issued,
              ElementsAre(Claim{"g", std::string("a")}, Claim{"g", std::string("b")},
                          Claim{"pair", std::string("a")}, Claim{"pair", std::string("b")},
                          Claim{"group", std::string("a")}, Claim{"group", std::string("b")}));
}

TEST(PolicyTest, ConditionsCanReferToEarlierBoundClaims) {
  const std::vector<Claim> claims = {{"expected-signer", std::string("c0ffee")},
                                     {"x-ms-sgx-mrsigner", std::string("c0ffee")},
                                     {"min-svn", int64_t{2}},
                                     {"x-ms-sgx-svn", int64_t{2}}};
  EXPECT_TRUE(Permits(R"(e:[type=="expected-signer"] && [type=="x-ms-sgx-mrsigner", value==e.value]
                         => permit();)",
                      claims));
  EXPECT_TRUE(Permits(R"(m:[type=="min-svn"] && [type=="x-ms-sgx-svn", value>=m.value]
                         => permit();)",
                      claims));
  EXPECT_FALSE(Permits(R"(m:[type=="min-svn"] && [type=="x-ms-sgx-svn", value>m.value]
                          => permit();)",
                       claims));
  // Ordering through a reference to a string is a non-match, not an error.
  EXPECT_FALSE(Permits(R"(e:[type=="expected-signer"] && [type=="x-ms-sgx-svn", value<e.value]
                          => permit();)",
                       claims));
  // c.type copies the type.
  const PolicyDecision decision =
      MustParse(
          PolicyOf("=> permit();", R"(c:[type=="min-svn"] => issue(type="t", value=c.type);)"))
          .Evaluate(claims);
  EXPECT_THAT(decision.issued, ElementsAre(Claim{"t", std::string("min-svn")}));
}

TEST(PolicyTest, IssuerAndValueTypeProperties) {
  EXPECT_TRUE(Permits(R"([type=="x-ms-sgx-svn", issuer=="AttestationService", valueType=="Integer"]
                 => permit();)"));
  EXPECT_FALSE(Permits(R"([type=="x-ms-sgx-svn", valueType=="String"] => permit();)"));
  EXPECT_TRUE(Permits(R"(=> add(type="mine", value="x");
                         [type=="mine", issuer=="AttestationPolicy"] => permit();)"));
  EXPECT_FALSE(Permits(R"(=> add(type="mine", value="x");
                          [type=="mine", issuer=="AttestationService"] => permit();)"));
  EXPECT_THAT(ParseError(PolicyOf(R"([valueType=="Float"] => permit();)")),
              HasSubstr("line 3, column 13: valueType is one of"));
}

TEST(PolicyTest, ThePolicyCannotIssueOrReplaceTheServicesClaims) {
  for (const char* type : {"x-ms-sgx-mrsigner", "x-ms-policy-hash", "attester_tcb_status", "iss",
                           "exp", "nonce", "jti"}) {
    EXPECT_TRUE(IsReservedClaimType(type)) << type;
    EXPECT_THAT(ParseError(PolicyOf("=> permit();",
                                    absl::StrCat("=> issue(type=\"", type, "\", value=1);"))),
                HasSubstr(absl::StrCat("line 6, column 15: claim type \"", type,
                                       "\" is reserved: the service issues it itself")));
    EXPECT_THAT(ParseError(PolicyOf(absl::StrCat("=> add(type=\"", type, "\", value=1);"))),
                HasSubstr("is reserved"));
  }
  EXPECT_FALSE(IsReservedClaimType("sgx-mrsigner"));
  EXPECT_FALSE(IsReservedClaimType("issuer"));
  // Through a bound claim the type is only known at evaluation: such claims are skipped.
  const PolicyDecision decision = MustParse(PolicyOf("=> permit();", R"(
c:[type=="x-ms-sgx-mrsigner"] => issue(claim=c);
c:[type=="x-ms-sgx-mrsigner"] => add(type=c.type, value="forged");
c:[type=="x-ms-sgx-mrsigner", value=="forged"] => issue(type="forged", value=true);
c:[type=="x-ms-sgx-mrsigner"] => issue(type="signer", value=c.value);)"))
                                      .Evaluate(QuoteClaims());
  ASSERT_TRUE(decision.permitted);
  EXPECT_THAT(decision.issued, ElementsAre(Claim{"signer", std::string("c0ffee")}));
}

TEST(PolicyTest, TypeFromANonStringValueIssuesNothing) {
  const PolicyDecision decision =
      MustParse(
          PolicyOf("=> permit();", R"(c:[type=="x-ms-sgx-svn"] => issue(type=c.value, value=1);)"))
          .Evaluate(QuoteClaims());
  EXPECT_TRUE(decision.permitted);
  EXPECT_THAT(decision.issued, IsEmpty());
}

TEST(PolicyTest, RefusesTextAboveTheSizeLimit) {
  std::string text = PolicyOf("=> permit();");
  text.append(kMaxPolicyBytes - text.size(), ' ');
  EXPECT_TRUE(Policy::Parse(text).ok());
  text.push_back(' ');
  EXPECT_EQ(ParseError(text), absl::StrCat("line 1, column 1: the policy is ", kMaxPolicyBytes + 1,
                                           " bytes, more than the limit of ", kMaxPolicyBytes));
}

TEST(PolicyTest, RefusesTooManyRulesOrConditions) {
  std::string rules;
  for (size_t i = 0; i <= kMaxRulesPerSection; ++i) {
    rules += "=>permit();";
  }
  EXPECT_THAT(
      ParseError(PolicyOf(rules)),
      HasSubstr(absl::StrCat("authorizationrules has more than ", kMaxRulesPerSection, " rules")));
  std::string conditions = "[type==\"a\"]";
  for (size_t i = 1; i < kMaxConditionsPerRule; ++i) {
    conditions += "&&[type==\"a\"]";
  }
  EXPECT_TRUE(Policy::Parse(PolicyOf(conditions + "=>permit();")).ok());
  EXPECT_THAT(
      ParseError(PolicyOf(conditions + "&&[type==\"a\"]=>permit();")),
      HasSubstr(absl::StrCat("line 3, column ", 13 * kMaxConditionsPerRule + 1,
                             ": a rule has more than ", kMaxConditionsPerRule, " conditions")));
}

TEST(PolicyTest, HostileNestingFailsFastWithAPosition) {
  EXPECT_EQ(ParseError(PolicyOf(std::string(50000, '['))),
            "line 3, column 2: expected a claim property (type, value, issuer or valueType), "
            "found '['");
  EXPECT_THAT(ParseError(std::string(60000, '{')), HasSubstr("line 1, column 1:"));
}

TEST(PolicyTest, EvaluationStopsAtItsBudgetAndRefuses) {
  // 16 conditions over 100 claims of one type: 100^15 tuples before the last condition fails.
  std::vector<Claim> claims;
  for (int64_t i = 0; i < 100; ++i) {
    claims.push_back({"a", i});
  }
  std::string conditions;
  for (size_t i = 1; i < kMaxConditionsPerRule; ++i) {
    conditions += "[type==\"a\"]&&";
  }
  const Policy policy =
      MustParse(PolicyOf(conditions + "[type==\"none\"] => deny();\n=> permit();"));
  const PolicyDecision decision = policy.Evaluate(claims);
  EXPECT_FALSE(decision.permitted);
  EXPECT_THAT(decision.reason, HasSubstr("policy evaluation stopped at its limits"));
  EXPECT_THAT(decision.reason, HasSubstr("in line 3: [type==\"a\"]&&"));
}

TEST(PolicyTest, EvaluationStopsWhenAddGrowsTheClaimSetPastItsLimit) {
  // Every (type, value) pair of 100 string values: 10,000 distinct claims > kMaxClaims.
  std::vector<Claim> claims;
  for (int i = 0; i < 100; ++i) {
    claims.push_back({"s", absl::StrCat("v", i)});
  }
  const PolicyDecision decision =
      MustParse(PolicyOf("=> permit();", R"(c:[type=="s"] && d:[type=="s"] =>
                                              add(type=c.value, value=d.value);)"))
          .Evaluate(claims);
  EXPECT_FALSE(decision.permitted);
  EXPECT_THAT(decision.issued, IsEmpty());
  EXPECT_THAT(decision.reason, HasSubstr("policy evaluation stopped at its limits"));
  EXPECT_THAT(decision.reason, HasSubstr("in line 6: c:[type==\"s\"]"));
}

TEST(PolicyTest, PolicyHashIsMaasDoubleBase64urlSha256) {
  // Computed independently:
  //   T='version=1.0; authorizationrules { => permit(); }; issuancerules { };'
  //   printf '%s' "$T" | basenc --base64url | tr -d '=\n' > inner
  //   printf '%s' "$(cat inner)" | openssl dgst -sha256 -binary | basenc --base64url | tr -d '='
  EXPECT_EQ(PolicyHash("version=1.0; authorizationrules { => permit(); }; issuancerules { };"),
            "Sm2kvBI0AWa2SMR3MHMNQnMFK8QX1ICjnxeqmCahkTU");
  // Same commands with T='' (SHA-256 of the empty string).
  EXPECT_EQ(PolicyHash(""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
  EXPECT_NE(PolicyHash(Policy::Default().text()), PolicyHash(Policy::Default().text() + " "));
}

TEST(PolicyTest, EvaluatesOnManyThreadsAtOnceWithTheSameAnswers) {
  const Policy policy = MustParse(PolicyOf(R"([type=="x-ms-sgx-svn", value>=2] => permit();)",
                                           R"(c:[type=="x-ms-sgx-mrsigner"] =>
                                                add(type="s", value=c.value);
                                              c:[type=="s"] => issue(type="signer", value=c.value);)"));
  const PolicyDecision expected = policy.Evaluate(QuoteClaims());
  ASSERT_TRUE(expected.permitted);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::vector<Claim> claims = QuoteClaims();
      for (int i = 0; i < 500; ++i) {
        const PolicyDecision decision = policy.Evaluate(claims);
        if (decision.permitted != expected.permitted || decision.issued != expected.issued ||
            Policy::Default().Evaluate(claims).permitted != true) {
          ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
}

TEST(PolicyTest, APolicyThatWasNeverParsedRefusesEverything) {
  const Policy empty;
  const PolicyDecision decision = empty.Evaluate(QuoteClaims());
  EXPECT_FALSE(decision.permitted);
  EXPECT_THAT(decision.reason, HasSubstr("no policy"));
  EXPECT_THAT(empty.configuration(), IsEmpty());
}

TEST(PolicyTest, EverySeedPolicyOfTheFuzzCorpusParsesUnlessNamedAsAnError) {
  // The seeds are meant to be real-looking policies; a seed that stopped parsing would leave the
  // fuzzer starting from error paths only.
  size_t seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(CN_POLICY_CORPUS_DIR)) {
    std::ifstream file(entry.path(), std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    const absl::StatusOr<Policy> policy = Policy::Parse(text.str());
    const bool error_seed = entry.path().filename().string().rfind("error-", 0) == 0;
    EXPECT_EQ(policy.ok(), !error_seed) << entry.path() << ": " << policy.status();
    if (policy.ok()) {
      EXPECT_TRUE(policy->Evaluate(QuoteClaims()).permitted) << entry.path();
    }
    ++seeds;
  }
  EXPECT_GE(seeds, 8u);
}

}  // namespace
}  // namespace cn::attestd
