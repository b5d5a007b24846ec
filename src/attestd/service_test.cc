// The service's handlers in process: a test PKI platform, a fake collateral source and a fake
// clock; tokens are checked with an independent verifier (src/testing/jws.h).

#include "src/attestd/service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/attestd/request.h"
#include "src/testing/fake_clock.h"
#include "src/testing/fake_collateral_source.h"
#include "src/testing/jws.h"
#include "src/testing/quote_builder.h"
#include "src/testing/test_pki.h"

namespace cn::attestd {
namespace {

using ::testing::HasSubstr;

const std::string& RsaPem() {
  static const std::string* pem = new std::string(testing::RsaKeyPem(2048));
  return *pem;
}

std::shared_ptr<const Policy> DefaultPolicy() {
  return std::shared_ptr<const Policy>(std::shared_ptr<const Policy>(), &Policy::Default());
}

std::string Hex(absl::string_view bytes) { return dcap::HexEncode(dcap::Sha256(bytes)); }

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest() : clock_(testing::TestPkiDefaultAt()), builder_(pki_), verifier_(pki_.Anchor()) {
    builder_.enclave.mr_enclave.fill(0xe1);
    builder_.enclave.mr_signer.fill(0x51);
    builder_.enclave.isv_prod_id = 7;
    builder_.enclave.isv_svn = 3;
    const dcap::Collateral collateral = pki_.BuildCollateral();
    collateral_json_ = collateral.ToJson();
    source_.Put(*pccs::PlatformIdOfQuote(builder_.Build()), collateral);
    MakeService({RsaPem()});
  }

  void MakeService(const std::vector<std::string>& key_pems) {
    std::vector<SigningKey> keys;
    for (const std::string& pem : key_pems) {
      keys.push_back(*SigningKey::Load(pem, "key.pem", "", "", clock_.Now()));
    }
    service_.reset();
    registry_ = std::make_shared<prometheus::Registry>();
    service_ = std::make_unique<AttestationService>(ServiceOptions{.issuer = "https://attest.test"},
                                                    std::move(keys), verifier_, source_, clock_,
                                                    DefaultPolicy(), *registry_);
  }

  std::string QuoteWithReportData(absl::string_view data) {
    dcap::ReportBody body = builder_.enclave;
    std::copy(data.begin(), data.end(), body.report_data.begin());
    return builder_.Build(body);
  }

  http::Response Post(const std::string& body, const char* version = "2022-08-01") {
    return Call(&AttestationService::Attest, body, version);
  }
  http::Response PostTdx(const std::string& body, const char* version = "2023-04-01-preview") {
    return Call(&AttestationService::AttestTdxVm, body, version);
  }
  http::Response Call(http::Response (AttestationService::*handler)(const http::Request&) const,
                      const std::string& body, const char* version) {
    http::Request request;
    request.method = "POST";
    request.body = body;
    if (version != nullptr) {
      request.params.emplace("api-version", version);
    }
    return (service_.get()->*handler)(request);
  }

  static std::string Body(const std::string& quote, const std::string& extra = "") {
    return absl::StrCat(R"({"quote": ")", EncodeBase64Url(quote), "\"", extra, "}");
  }

  // The verified payload of a 200 answer.
  nlohmann::json Payload(const http::Response& response) {
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.content_type, "application/json");
    const nlohmann::json body = nlohmann::json::parse(response.body);
    auto verified = testing::VerifyJws(body["token"].get<std::string>(),
                                       nlohmann::json::parse(service_->Certs().body));
    EXPECT_TRUE(verified.ok()) << verified.status();
    header_ = verified.ok() ? verified->header : nlohmann::json();
    return verified.ok() ? verified->payload : nlohmann::json();
  }

  // The claims of every token, whatever the TEE (the header of the last Payload()).
  void ExpectCommonClaims(const nlohmann::json& claims, const std::string& nonce) {
    EXPECT_EQ(header_["alg"], "RS256");
    EXPECT_EQ(header_["typ"], "JWT");
    EXPECT_EQ(header_["jku"], "https://attest.test/certs");
    EXPECT_EQ(claims["iss"], "https://attest.test");
    const int64_t now = absl::ToUnixSeconds(clock_.Now());
    EXPECT_EQ(claims["iat"], now);
    EXPECT_EQ(claims["nbf"], now);
    EXPECT_EQ(claims["exp"], now + 8 * 3600);
    EXPECT_EQ(claims["jti"].get<std::string>().size(), 64u);
    EXPECT_EQ(claims["nonce"], nonce);
    EXPECT_EQ(claims["x-ms-ver"], "1.0");
  }

  static std::string Code(const http::Response& response) {
    return nlohmann::json::parse(response.body)["error"]["code"];
  }
  static std::string Message(const http::Response& response) {
    return nlohmann::json::parse(response.body)["error"]["message"];
  }

  testing::TestPki pki_;
  testing::FakeClock clock_;
  testing::QuoteBuilder builder_;
  dcap::Verifier verifier_;
  testing::FakeCollateralSource source_;
  std::string collateral_json_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<AttestationService> service_;
  nlohmann::json header_;
};

TEST_F(ServiceTest, IssuesASignedTokenWithEveryClaim) {
  const std::string quote = builder_.Build();
  const nlohmann::json claims = Payload(Post(Body(quote, R"(, "nonce": "n-1")")));
  ExpectCommonClaims(claims, "n-1");
  EXPECT_EQ(claims["x-ms-attestation-type"], "sgx");
  EXPECT_EQ(claims["x-ms-sgx-is-debuggable"], false);
  std::string mrenclave;
  for (int i = 0; i < 32; ++i) {
    mrenclave += "e1";
  }
  EXPECT_EQ(claims["x-ms-sgx-mrenclave"], mrenclave);
  EXPECT_EQ(claims["x-ms-sgx-mrsigner"],
            "5151515151515151515151515151515151515151515151515151515151515151");
  EXPECT_EQ(claims["x-ms-sgx-product-id"], 7);
  EXPECT_EQ(claims["x-ms-sgx-svn"], 3);
  EXPECT_EQ(claims["x-ms-sgx-report-data"], std::string(128, '0'));
  EXPECT_FALSE(claims.contains("x-ms-sgx-ehd"));
  EXPECT_FALSE(claims.contains("x-ms-runtime"));
  EXPECT_EQ(claims["x-ms-sgx-fmspc"], "00906ed50000");
  EXPECT_EQ(claims["x-ms-sgx-pceid"], "0000");
  EXPECT_EQ(claims["attester_tcb_status"], "UpToDate");
  EXPECT_EQ(claims["attester_advisory_ids"], nlohmann::json::array());
  // MAA's policy hash: base64url(SHA-256(base64url(policy text))), recomputed here.
  const std::string encoded_policy = absl::WebSafeBase64Escape(Policy::Default().text());
  EXPECT_EQ(claims["x-ms-policy-hash"],
            absl::WebSafeBase64Escape(dcap::AsView(dcap::Sha256(encoded_policy))));
  const dcap::Collateral collateral = *dcap::Collateral::FromJson(collateral_json_);
  const nlohmann::json& hashes = claims["x-ms-sgx-collateral"];
  EXPECT_EQ(hashes["quotehash"], Hex(quote));
  EXPECT_EQ(hashes["tcbinfohash"], Hex(collateral.parts().tcb_info));
  EXPECT_EQ(hashes["qeidhash"], Hex(collateral.parts().qe_identity));
  EXPECT_EQ(hashes["tcbinfocertshash"], Hex(collateral.parts().tcb_info_issuer_chain));
  EXPECT_EQ(hashes["qeidcertshash"], Hex(collateral.parts().qe_identity_issuer_chain));
  EXPECT_EQ(hashes["tcbinfocrlhash"], Hex(collateral.parts().root_ca_crl));
  EXPECT_EQ(hashes["qeidcrlhash"], Hex(collateral.parts().root_ca_crl));
}

TEST_F(ServiceTest, DebugEnclavesAndTcbStatusAreReported) {
  pki_.tcb_info.levels[0].status = "SWHardeningNeeded";
  pki_.tcb_info.levels[0].advisory_ids = {"INTEL-SA-00334"};
  source_.Put(*pccs::PlatformIdOfQuote(builder_.Build()), pki_.BuildCollateral());
  builder_.enclave.attributes[0] |= 0x02;
  const nlohmann::json claims = Payload(Post(Body(builder_.Build())));
  EXPECT_EQ(claims["x-ms-sgx-is-debuggable"], true);
  EXPECT_EQ(claims["attester_tcb_status"], "SWHardeningNeeded");
  EXPECT_EQ(claims["attester_advisory_ids"], nlohmann::json::array({"INTEL-SA-00334"}));
}

TEST_F(ServiceTest, RuntimeDataIsBoundToReportData) {
  const std::string json = R"({"jwk": {"kty": "EC"}, "n": 12})";
  const std::string quote = QuoteWithReportData(
      absl::string_view(reinterpret_cast<const char*>(dcap::Sha256(json).data()), 32));
  const std::string runtime = EncodeBase64Url(json);
  nlohmann::json claims =
      Payload(Post(Body(quote, absl::StrCat(R"(, "runtimeData": {"data": ")", runtime,
                                            R"(", "dataType": "JSON"})"))));
  EXPECT_EQ(claims["x-ms-sgx-ehd"], runtime);
  EXPECT_EQ(claims["x-ms-runtime"], nlohmann::json::parse(json));

  std::string padded = runtime;
  while (padded.size() % 4 != 0) {
    padded += '=';
  }
  ASSERT_NE(padded, runtime);
  claims = Payload(Post(Body(quote, absl::StrCat(R"(, "runtimeData": {"data": ")", padded,
                                                 R"(", "dataType": "Binary"})"))));
  EXPECT_EQ(claims["x-ms-sgx-ehd"], runtime);
  EXPECT_FALSE(claims.contains("x-ms-runtime"));

  const http::Response wrong =
      Post(Body(quote, absl::StrCat(R"(, "runtimeData": {"data": ")", EncodeBase64Url(json + " "),
                                    R"(", "dataType": "JSON"})")));
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(Code(wrong), "runtime_data_mismatch");
  EXPECT_THAT(Message(wrong), HasSubstr("report_data[0:32]"));
}

TEST_F(ServiceTest, ApiVersionIsChecked) {
  const std::string body = Body(builder_.Build());
  EXPECT_EQ(Post(body, "2020-10-01").status, 200);
  for (const char* version : {static_cast<const char*>(nullptr), "2018-09-01-preview"}) {
    const http::Response refused = Post(body, version);
    EXPECT_EQ(refused.status, 400);
    EXPECT_EQ(Code(refused), "unsupported_api_version");
    EXPECT_THAT(Message(refused), HasSubstr("2022-08-01, 2020-10-01"));
  }
}

TEST_F(ServiceTest, MalformedRequestsAreInvalidRequestNamingTheField) {
  EXPECT_EQ(Code(Post("not json")), "invalid_request");
  EXPECT_EQ(Message(Post(R"({"quote": "AAAAAAAAAAAAAAAAA+"})")),
            "quote: not base64url at offset 17");
  const http::Response type =
      Post(Body(builder_.Build(), R"(, "runtimeData": {"data": "AA", "dataType": 1})"));
  EXPECT_EQ(type.status, 400);
  EXPECT_EQ(Message(type), "runtimeData.dataType: must be Binary or JSON");
}

TEST_F(ServiceTest, RejectedQuotesGetSgxQuotesCodes) {
  std::string quote = builder_.Build();
  std::string flipped = quote;
  flipped[48 + 100] ^= 1;  // in the report body
  http::Response response = Post(Body(flipped));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Code(response), "invalid_quote_signature");

  response = Post(Body(quote.substr(0, 1000)));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Code(response), "unsupported_quote_format");

  clock_.Advance(absl::Hours(24 * 30));  // past the TCB Info's nextUpdate
  response = Post(Body(quote));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Code(response), "collateral_expired");
}

TEST_F(ServiceTest, MissingCollateralIs400ButAnUnreachableSourceIs503) {
  source_.FailWith(absl::NotFoundError("no collateral for FMSPC 00906ed50000"));
  http::Response response = Post(Body(builder_.Build()));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Code(response), "collateral_unavailable");
  source_.FailWith(absl::DeadlineExceededError("PCCS did not answer in 5 s"));
  response = Post(Body(builder_.Build()));
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(Code(response), "collateral_unavailable");
  EXPECT_THAT(Message(response), HasSubstr("PCCS did not answer"));
  // A forged quote still gets its own code, whatever the source says.
  std::string flipped = builder_.Build();
  flipped[60] ^= 1;
  response = Post(Body(flipped));
  EXPECT_EQ(Code(response), "invalid_quote_signature");
}

TEST_F(ServiceTest, AForeignPckChainNeverReachesTheCollateralSource) {
  // Another root's platform, with the same FMSPC as ours: before the chain was checked, its
  // FMSPC was looked up (upstream, a PCCS request per forged FMSPC) and only then refused.
  testing::TestPki foreign_pki;
  testing::QuoteBuilder foreign(foreign_pki);
  const int lookups_before = source_.calls();
  for (int i = 0; i < 3; ++i) {
    const http::Response response = Post(Body(foreign.Build()));
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(Code(response), "untrusted_pck_chain");
  }
  EXPECT_EQ(source_.calls(), lookups_before);
  // Our own platform is still looked up once and served.
  EXPECT_EQ(Post(Body(builder_.Build())).status, 200);
  EXPECT_EQ(source_.calls(), lookups_before + 1);
}

TEST_F(ServiceTest, DraftPolicyThatDoesNotParseIsInvalidPolicy) {
  const http::Response response =
      Post(Body(builder_.Build(), R"(, "draftPolicyForAttestation": "version=9; nonsense")"));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Code(response), "invalid_policy");
  EXPECT_THAT(Message(response), HasSubstr("draftPolicyForAttestation: line "));
}

TEST_F(ServiceTest, JwksListsEveryKeyAndTheFirstSigns) {
  MakeService({testing::EcKeyPem("P-256"), RsaPem()});
  const nlohmann::json jwks = nlohmann::json::parse(service_->Certs().body);
  ASSERT_EQ(jwks["keys"].size(), 2u);
  EXPECT_EQ(jwks["keys"][0]["alg"], "ES256");
  EXPECT_EQ(jwks["keys"][1]["alg"], "RS256");
  for (const nlohmann::json& key : jwks["keys"]) {
    EXPECT_EQ(key["use"], "sig");
    EXPECT_EQ(key["x5c"].size(), 1u);
  }
  Payload(Post(Body(builder_.Build())));
  EXPECT_EQ(header_["alg"], "ES256");
  EXPECT_EQ(header_["kid"], jwks["keys"][0]["kid"]);

  const nlohmann::json openid = nlohmann::json::parse(service_->OpenIdConfiguration().body);
  EXPECT_EQ(openid["issuer"], "https://attest.test");
  EXPECT_EQ(openid["jwks_uri"], "https://attest.test/certs");
  EXPECT_EQ(openid["id_token_signing_alg_values_supported"],
            nlohmann::json::array({"ES256", "RS256"}));
  EXPECT_EQ(openid["response_types_supported"], nlohmann::json::array({"token"}));
  EXPECT_THAT(openid["claims_supported"].dump(), HasSubstr("x-ms-sgx-mrsigner"));
}

}  // namespace
}  // namespace cn::attestd

namespace cn::attestd {
namespace {

// Policies the tests below need: a parse failure fails the test.
std::optional<Policy> ParsePolicy(const std::string& text) {
  absl::StatusOr<Policy> policy = Policy::Parse(text);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? std::optional<Policy>(*std::move(policy)) : std::nullopt;
}

TEST_F(ServiceTest, DraftPolicyGivesAnUnsignedTokenMarkedAsMaaDoes) {
  const std::string draft =
      "version=1.0; authorizationrules { => permit(); }; issuancerules { => "
      "issue(type=\"draft\", value=true); };";
  ASSERT_TRUE(ParsePolicy(draft).has_value());
  const http::Response response =
      Post(Body(builder_.Build(),
                absl::StrCat(R"(, "draftPolicyForAttestation": )", nlohmann::json(draft).dump())));
  ASSERT_EQ(response.status, 200) << response.body;
  const std::string token = nlohmann::json::parse(response.body)["token"];
  EXPECT_EQ(token.back(), '.');  // no signature
  auto decoded = testing::DecodeJws(token.substr(0, token.size() - 1) + ".x");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->header["alg"], "none");
  EXPECT_FALSE(testing::VerifyJws(token, nlohmann::json::parse(service_->Certs().body)).ok());
  EXPECT_EQ(decoded->payload["x-ms-policy-hash"], PolicyHash(draft));
  EXPECT_EQ(decoded->payload["draft"], true);
}

TEST_F(ServiceTest, PolicyDenyByMrsignerAndIssuedClaims) {
  std::optional<Policy> deny = ParsePolicy(
      absl::StrCat("version=1.0; authorizationrules { [type==\"x-ms-sgx-mrsigner\", ", "value==\"",
                   "5151515151515151515151515151515151515151515151515151515151515151",
                   "\"] => deny(); => permit(); }; ", "issuancerules { };"));
  ASSERT_TRUE(deny.has_value());
  service_->SetPolicy(std::make_shared<const Policy>(*deny));
  http::Response response = Post(Body(builder_.Build()));
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(Code(response), "policy_denied");

  std::optional<Policy> issue = ParsePolicy(
      "version=1.0; authorizationrules { [type==\"x-ms-sgx-svn\", value>=3] => permit(); }; "
      "issuancerules { c:[type==\"x-ms-sgx-svn\"] => issue(type=\"tier\", value=\"gold\"); };");
  service_->SetPolicy(std::make_shared<const Policy>(*issue));
  const nlohmann::json claims = Payload(Post(Body(builder_.Build())));
  EXPECT_EQ(claims["tier"], "gold");
  EXPECT_EQ(claims["x-ms-policy-hash"], PolicyHash(issue->text()));
  builder_.enclave.isv_svn = 2;
  response = Post(Body(builder_.Build()));
  EXPECT_EQ(response.status, 403);
  EXPECT_THAT(Message(response), HasSubstr("no permit rule matched"));
}

// The payload's claims in their documented order (the token is written as text, not dumped from
// a DOM); issued claims after the service's own, a type issued twice as an array at its first
// place.
TEST_F(ServiceTest, ClaimsComeInTheirOrderWithIssuedClaimsLast) {
  std::optional<Policy> issue = ParsePolicy(
      "version=1.0; authorizationrules { => permit(); }; issuancerules { "
      "c:[type==\"x-ms-sgx-svn\"] => issue(type=\"tier\", value=\"gold\"); "
      "=> issue(type=\"level\", value=true); "
      "c:[type==\"x-ms-sgx-product-id\"] => issue(type=\"tier\", value=c.value); };");
  ASSERT_TRUE(issue.has_value());
  service_->SetPolicy(std::make_shared<const Policy>(*issue));
  const http::Response response = Post(Body(builder_.Build()));
  const nlohmann::json claims = Payload(response);
  EXPECT_EQ(claims["tier"], nlohmann::json::array({"gold", 7}));
  EXPECT_EQ(claims["level"], true);
  const std::string token = nlohmann::json::parse(response.body)["token"];
  const std::vector<std::string> parts = absl::StrSplit(token, '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string payload_text;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[1], &payload_text));
  std::vector<std::string> order;
  const nlohmann::ordered_json payload = nlohmann::ordered_json::parse(payload_text);
  for (auto it = payload.begin(); it != payload.end(); ++it) {
    order.push_back(it.key());
  }
  EXPECT_THAT(
      order, ::testing::ElementsAre(
                 "iss", "iat", "nbf", "exp", "jti", "x-ms-ver", "x-ms-policy-hash",
                 "x-ms-attestation-type", "x-ms-sgx-is-debuggable", "x-ms-sgx-mrenclave",
                 "x-ms-sgx-mrsigner", "x-ms-sgx-product-id", "x-ms-sgx-svn", "x-ms-sgx-report-data",
                 "x-ms-sgx-fmspc", "x-ms-sgx-pceid", "attester_tcb_status", "x-ms-sgx-collateral",
                 "attester_advisory_ids", "tier", "level"));
}

}  // namespace
}  // namespace cn::attestd

namespace cn::attestd {
namespace {

// MAA's TDX call over the test PKI's TDX platform (TestPki::UseTdx's collateral, served beside
// the fixture's SGX collateral by the same source, keyed by PlatformId.tee).
class TdxServiceTest : public ServiceTest {
 protected:
  TdxServiceTest() : tdx_(pki_) {
    pki_.UseTdx();
    tdx_.UseTdx(4);
    const std::string quote = tdx_.Build();
    const pccs::PlatformId platform = *pccs::PlatformIdOfQuote(quote);
    EXPECT_EQ(platform.tee, pccs::Tee::kTdx);
    source_.Put(platform, pki_.BuildCollateral());
  }

  std::string QuoteWithReportData(absl::string_view data) {
    dcap::TdReportBody td = tdx_.td;
    std::copy(data.begin(), data.end(), td.report_data.begin());
    return tdx_.Build(td);
  }

  static std::string Repeat(absl::string_view byte_hex, size_t count) {
    std::string out;
    for (size_t i = 0; i < count; ++i) {
      out.append(byte_hex.data(), byte_hex.size());
    }
    return out;
  }

  testing::QuoteBuilder tdx_;
};

TEST_F(TdxServiceTest, IssuesATokenWithMaasTdxClaims) {
  const nlohmann::json claims = Payload(PostTdx(Body(tdx_.Build(), R"(, "nonce": "n-2")")));
  ExpectCommonClaims(claims, "n-2");
  EXPECT_EQ(claims["x-ms-policy-hash"], PolicyHash(Policy::Default().text()));
  EXPECT_EQ(claims["x-ms-attestation-type"], "tdxvm");
  // QuoteBuilder's TD report: every field its own byte pattern.
  EXPECT_EQ(claims["tdx_mrtd"], Repeat("7d", 48));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(claims[absl::StrCat("tdx_rtmr", i)], Repeat(absl::StrCat("a", i), 48));
  }
  EXPECT_EQ(claims["tdx_mrconfigid"], Repeat("c1", 48));
  EXPECT_EQ(claims["tdx_mrowner"], Repeat("0e", 48));
  EXPECT_EQ(claims["tdx_mrownerconfig"], Repeat("0c", 48));
  EXPECT_EQ(claims["tdx_mrseam"], Repeat("5e", 48));
  EXPECT_EQ(claims["tdx_mrsignerseam"], Repeat("00", 48));
  EXPECT_EQ(claims["tdx_seamsvn"], 0x0105);  // TEE_TCB_SVN 05 01: major 1, ISVSVN 5
  EXPECT_EQ(claims["tdx_td_attributes"], "0000001000000000");
  EXPECT_EQ(claims["tdx_xfam"], "e702060000000000");
  EXPECT_EQ(claims["tdx_report_data"], Repeat("d5", 64));
  EXPECT_EQ(claims["tdx_is_debuggable"], false);
  EXPECT_EQ(claims["attester_tcb_status"], "UpToDate");
  EXPECT_EQ(claims["attester_advisory_ids"], nlohmann::json::array());
  // No SGX claim leaks into a TDX token.
  for (auto it = claims.begin(); it != claims.end(); ++it) {
    EXPECT_EQ(it.key().rfind("x-ms-sgx-", 0), std::string::npos) << it.key();
  }
  const nlohmann::json openid = nlohmann::json::parse(service_->OpenIdConfiguration().body);
  EXPECT_THAT(openid["claims_supported"].dump(), HasSubstr("tdx_mrtd"));
}

TEST_F(TdxServiceTest, DebugTdsAreReported) {
  tdx_.td.td_attributes[0] |= 0x01;
  const nlohmann::json claims = Payload(PostTdx(Body(tdx_.Build())));
  EXPECT_EQ(claims["tdx_is_debuggable"], true);
  EXPECT_EQ(claims["tdx_td_attributes"], "0100001000000000");
}

TEST_F(TdxServiceTest, RuntimeDataIsBoundToReportData) {
  const std::string json = R"({"user": "td", "key": [1, 2]})";
  const std::string quote = QuoteWithReportData(
      absl::string_view(reinterpret_cast<const char*>(dcap::Sha256(json).data()), 32));
  const std::string runtime = EncodeBase64Url(json);
  nlohmann::json claims =
      Payload(PostTdx(Body(quote, absl::StrCat(R"(, "runtimeData": {"data": ")", runtime,
                                               R"(", "dataType": "JSON"})"))));
  EXPECT_EQ(claims["x-ms-runtime"], nlohmann::json::parse(json));
  claims = Payload(PostTdx(Body(quote, absl::StrCat(R"(, "runtimeData": {"data": ")", runtime,
                                                    R"(", "dataType": "Binary"})"))));
  EXPECT_FALSE(claims.contains("x-ms-runtime"));

  const http::Response wrong =
      PostTdx(Body(quote, absl::StrCat(R"(, "runtimeData": {"data": ")",
                                       EncodeBase64Url(json + " "), R"(", "dataType": "JSON"})")));
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(Code(wrong), "runtime_data_mismatch");
  EXPECT_THAT(Message(wrong), HasSubstr("report_data[0:32]"));
}

TEST_F(TdxServiceTest, AQuoteOfTheOtherTeeIsRefusedBothWays) {
  http::Response response = PostTdx(Body(builder_.Build()));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Code(response), "unsupported_quote_format");
  EXPECT_THAT(Message(response), HasSubstr("not a TDX quote"));
  EXPECT_THAT(Message(response), HasSubstr("/attest/SgxEnclave"));

  response = Post(Body(tdx_.Build()));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Code(response), "unsupported_quote_format");
  EXPECT_THAT(Message(response), HasSubstr("not an SGX enclave quote"));
  EXPECT_THAT(Message(response), HasSubstr("/attest/TdxVm"));
  // Each endpoint still serves its own TEE.
  EXPECT_EQ(Post(Body(builder_.Build())).status, 200);
  EXPECT_EQ(PostTdx(Body(tdx_.Build())).status, 200);
}

TEST_F(TdxServiceTest, ApiVersionIsChecked) {
  const std::string body = Body(tdx_.Build());
  for (const char* version :
       {static_cast<const char*>(nullptr), "2022-08-01", "2020-10-01", "2023-04-01"}) {
    const http::Response refused = PostTdx(body, version);
    EXPECT_EQ(refused.status, 400);
    EXPECT_EQ(Code(refused), "unsupported_api_version");
    EXPECT_THAT(Message(refused), HasSubstr("supported is 2023-04-01-preview"));
  }
  EXPECT_EQ(Post(Body(builder_.Build()), "2023-04-01-preview").status, 400);
}

TEST_F(TdxServiceTest, RejectedTdxQuotesGetSgxQuotesCodes) {
  std::string flipped = tdx_.Build();
  flipped[48 + 200] ^= 1;  // in the TD report
  http::Response response = PostTdx(Body(flipped));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Code(response), "invalid_quote_signature");

  pki_.tcb_info.levels[0].status = "OutOfDate";
  pki_.tcb_info.levels[0].advisory_ids = {"INTEL-SA-00837"};
  source_.Put(*pccs::PlatformIdOfQuote(tdx_.Build()), pki_.BuildCollateral());
  const nlohmann::json claims = Payload(PostTdx(Body(tdx_.Build())));
  EXPECT_EQ(claims["attester_tcb_status"], "OutOfDate");
  EXPECT_EQ(claims["attester_advisory_ids"], nlohmann::json::array({"INTEL-SA-00837"}));
}

TEST_F(TdxServiceTest, ThePolicyRunsOverTheTdxClaims) {
  std::optional<Policy> policy = ParsePolicy(absl::StrCat(
      "version=1.0; authorizationrules { [type==\"tdx_is_debuggable\", value==true] => deny(); ",
      "[type==\"tdx_mrtd\", value==\"", Repeat("7d", 48), "\"] => permit(); }; ",
      "issuancerules { c:[type==\"tdx_seamsvn\"] => issue(type=\"seam\", value=c.value); };"));
  ASSERT_TRUE(policy.has_value());
  service_->SetPolicy(std::make_shared<const Policy>(*policy));
  const nlohmann::json claims = Payload(PostTdx(Body(tdx_.Build())));
  EXPECT_EQ(claims["seam"], 0x0105);
  EXPECT_EQ(claims["x-ms-policy-hash"], PolicyHash(policy->text()));

  tdx_.td.td_attributes[0] |= 0x01;
  http::Response response = PostTdx(Body(tdx_.Build()));
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(Code(response), "policy_denied");
  tdx_.td.td_attributes[0] &= ~0x01;
  tdx_.td.mr_td.fill(0x7e);
  response = PostTdx(Body(tdx_.Build()));
  EXPECT_EQ(response.status, 403);
  EXPECT_THAT(Message(response), HasSubstr("no permit rule matched"));
}

}  // namespace
}  // namespace cn::attestd
