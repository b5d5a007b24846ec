// The attestation API over real loopback sockets: the service and the HTTP server in process
// (so the clock can be set to each vector's time), driven by cpp-httplib's client and raw
// sockets for misbehaving clients.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "src/attestd/request.h"
#include "src/attestd/service.h"
#include "src/http/event_server.h"
#include "src/http/http_client.h"
#include "src/pccs/collateral_cache.h"
#include "src/pccs/pcs_client.h"
#include "src/testing/fake_clock.h"
#include "src/testing/fake_collateral_source.h"
#include "src/testing/jws.h"
#include "src/testing/pccs_standin.h"
#include "src/testing/quote_builder.h"
#include "src/testing/temp_dir.h"
#include "src/testing/test_pki.h"

namespace cn::attestd {
namespace {

using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

std::string Vector(const std::string& relative) {
  return absl::StrCat(CN_VECTORS_DIR, "/", relative);
}

const std::string& SigningKeyPem() {
  static const std::string* pem = new std::string(testing::RsaKeyPem(2048));
  return *pem;
}

// One running service: verifier, fake source (or `source`, when given) and clock, HTTP server
// on a free port.
class Instance {
 public:
  Instance(dcap::TrustAnchor anchor, absl::Time now, http::EventServerOptions options = {},
           pccs::CollateralSource* source = nullptr)
      : clock_(now), verifier_(std::move(anchor)) {
    std::vector<SigningKey> keys;
    keys.push_back(*SigningKey::Load(SigningKeyPem(), "key.pem", "", "", now));
    registry_ = std::make_shared<prometheus::Registry>();
    service_ = std::make_unique<AttestationService>(
        ServiceOptions{.issuer = "http://127.0.0.1"}, std::move(keys), verifier_,
        source != nullptr ? *source : source_, clock_,
        std::shared_ptr<const Policy>(std::shared_ptr<const Policy>(), &Policy::Default()),
        *registry_);
    options.host = "127.0.0.1";
    options.port = 0;
    if (options.threads == 0) {
      options.threads = 4;
    }
    server_ = std::make_unique<http::EventServer>(options, registry_);
    service_->Register(*server_);
    absl::Status started = server_->Start();
    EXPECT_TRUE(started.ok()) << started;
  }

  testing::FakeCollateralSource& source() { return source_; }
  int port() const { return server_->port(); }
  nlohmann::json Jwks() const { return nlohmann::json::parse(service_->Certs().body); }

  httplib::Result Attest(const std::string& body, const std::string& version = "2022-08-01") {
    return Post("SgxEnclave", body, version);
  }
  httplib::Result AttestTdxVm(const std::string& body,
                              const std::string& version = "2023-04-01-preview") {
    return Post("TdxVm", body, version);
  }
  // POST /attest/<call>?api-version=<version>.
  httplib::Result Post(const std::string& call, const std::string& body,
                       const std::string& version) {
    httplib::Client client("127.0.0.1", port());
    client.set_read_timeout(10, 0);
    return client.Post(absl::StrCat("/attest/", call, "?api-version=", version), body,
                       "application/json");
  }

 private:
  testing::FakeClock clock_;
  dcap::Verifier verifier_;
  testing::FakeCollateralSource source_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<AttestationService> service_;
  std::unique_ptr<http::EventServer> server_;
};

std::string Body(absl::string_view quote, const std::string& extra = "") {
  return absl::StrCat(R"({"quote": ")", EncodeBase64Url(quote), "\"", extra, "}");
}

std::string ErrorCode(const httplib::Result& result) {
  const nlohmann::json body = nlohmann::json::parse(result->body, nullptr, false);
  return body.is_object() && body.contains("error") ? body["error"]["code"].get<std::string>()
                                                    : "(not an error body: " + result->body + ")";
}

TEST(AttestdApiTest, EverySgxQuoteVectorGetsTheSameVerdictThroughTheApi) {
  const nlohmann::json manifest = nlohmann::json::parse(ReadFile(Vector("manifest.json")));
  int checked = 0;
  for (const nlohmann::json& test_case : manifest) {
    const std::string id = test_case["id"];
    SCOPED_TRACE(id);
    const std::string quote = ReadFile(Vector(test_case["quote"]));
    absl::Time at;
    std::string error;
    ASSERT_TRUE(
        absl::ParseTime(absl::RFC3339_full, test_case["at"].get<std::string>(), &at, &error));
    dcap::TrustAnchor anchor =
        test_case.contains("root_ca")
            ? *dcap::TrustAnchor::FromCertificate(ReadFile(Vector(test_case["root_ca"])))
            : dcap::TrustAnchor::IntelSgxRoot();
    Instance instance(std::move(anchor), at);
    absl::StatusOr<pccs::PlatformId> platform = pccs::PlatformIdOfQuote(quote);
    if (platform.ok()) {
      instance.source().Put(*platform,
                            *dcap::Collateral::FromJson(ReadFile(Vector(test_case["collateral"]))));
    }
    const nlohmann::json& expect = test_case["expect"];
    auto result = instance.Attest(Body(quote));
    ASSERT_TRUE(result);
    EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
    if (id == "real-tdx") {
      // A TDX quote is not an SGX enclave's: this endpoint refuses it (sgx-quote verifies it).
      EXPECT_EQ(result->status, 400);
      EXPECT_EQ(ErrorCode(result), "unsupported_quote_format");
      ++checked;
      continue;
    }
    if (test_case.contains("pck_chain")) {
      // Certification data type 1: the PCK chain travels beside the quote, which MAA's request
      // has no field for; the service refuses it rather than guess a chain.
      EXPECT_EQ(result->status, 400);
      EXPECT_EQ(ErrorCode(result), "untrusted_pck_chain") << result->body;
      ++checked;
      continue;
    }
    if (expect["verified"].get<bool>()) {
      ASSERT_EQ(result->status, 200) << result->body;
      const std::string token = nlohmann::json::parse(result->body)["token"];
      auto verified = testing::VerifyJws(token, instance.Jwks());
      ASSERT_TRUE(verified.ok()) << verified.status();
      EXPECT_EQ(verified->payload["attester_tcb_status"], expect["tcb_status"]);
      if (expect.contains("advisory_ids")) {
        EXPECT_EQ(verified->payload["attester_advisory_ids"], expect["advisory_ids"]);
      }
      EXPECT_EQ(verified->payload["x-ms-sgx-collateral"]["quotehash"],
                dcap::HexEncode(dcap::Sha256(quote)));
    } else {
      EXPECT_EQ(result->status, 400) << result->body;
      EXPECT_EQ(ErrorCode(result), expect["error"].get<std::string>());
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(manifest.size()));
}

// The verified payload of a 200 answer to an attestation.
nlohmann::json TokenPayload(const httplib::Result& result, const nlohmann::json& jwks) {
  EXPECT_TRUE(result);
  if (!result) {
    return nlohmann::json();
  }
  EXPECT_EQ(result->status, 200) << result->body;
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  const nlohmann::json body = nlohmann::json::parse(result->body, nullptr, false);
  if (!body.is_object() || !body.contains("token")) {
    ADD_FAILURE() << "no token: " << result->body;
    return nlohmann::json();
  }
  auto verified = testing::VerifyJws(body["token"].get<std::string>(), jwks);
  EXPECT_TRUE(verified.ok()) << verified.status();
  return verified.ok() ? verified->payload : nlohmann::json();
}

// A refusal: `status` with the error `code`.
void ExpectRefused(const httplib::Result& result, int status, const std::string& code) {
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, status) << result->body;
  EXPECT_EQ(ErrorCode(result), code);
}

// The real TDX quote (v4, TD report 1.0) and its real collateral through MAA's TDX call, at the
// manifest's time, with Intel's root: every claim against what `sgx-quote verify --json --at
// 2025-07-01T00:00:00Z --collateral real-tdx/collateral.json real-tdx/quote.bin` prints.
TEST(AttestdApiTest, RealTdxQuoteThroughTheTdxCallCarriesSgxQuotesVerdict) {
  const std::string quote = ReadFile(Vector("real-tdx/quote.bin"));
  absl::Time at;
  std::string error;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2025-07-01T00:00:00Z", &at, &error));
  Instance instance(dcap::TrustAnchor::IntelSgxRoot(), at);
  absl::StatusOr<pccs::PlatformId> platform = pccs::PlatformIdOfQuote(quote);
  ASSERT_TRUE(platform.ok()) << platform.status();
  EXPECT_EQ(platform->tee, pccs::Tee::kTdx);
  instance.source().Put(*platform,
                        *dcap::Collateral::FromJson(ReadFile(Vector("real-tdx/collateral.json"))));

  const std::string zeros(96, '0');
  const nlohmann::json claims =
      TokenPayload(instance.AttestTdxVm(Body(quote, R"(, "nonce": "real")")), instance.Jwks());
  EXPECT_EQ(claims["x-ms-attestation-type"], "tdxvm");
  EXPECT_EQ(claims["attester_tcb_status"], "UpToDate");
  EXPECT_EQ(claims["attester_advisory_ids"], nlohmann::json::array());
  EXPECT_EQ(claims["tdx_mrtd"],
            "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b25"
            "38873118b7");
  EXPECT_EQ(claims["tdx_rtmr0"],
            "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf"
            "994b9bc9c0");
  EXPECT_EQ(claims["tdx_rtmr1"],
            "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d5"
            "4e579e9378");
  EXPECT_EQ(claims["tdx_rtmr2"],
            "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e"
            "01d48c3132");
  EXPECT_EQ(claims["tdx_rtmr3"], zeros);
  EXPECT_EQ(claims["tdx_mrconfigid"], zeros);
  EXPECT_EQ(claims["tdx_mrowner"], zeros);
  EXPECT_EQ(claims["tdx_mrownerconfig"], zeros);
  EXPECT_EQ(claims["tdx_mrseam"],
            "5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad"
            "34207b00c1");
  EXPECT_EQ(claims["tdx_mrsignerseam"], zeros);
  EXPECT_EQ(claims["tdx_seamsvn"], 0x0106);  // tee_tcb_svn 06 01 ...: module 1, ISVSVN 6
  EXPECT_EQ(claims["tdx_td_attributes"], "0000001000000000");
  EXPECT_EQ(claims["tdx_xfam"], "e702060000000000");
  EXPECT_EQ(claims["tdx_report_data"],
            "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf5"
            "2493d6e44aed55d51ec39b7e518fadb92c2b523f20");
  EXPECT_EQ(claims["tdx_is_debuggable"], false);
  EXPECT_EQ(claims["nonce"], "real");
  EXPECT_EQ(claims["x-ms-ver"], "1.0");
  EXPECT_EQ(claims["x-ms-policy-hash"], PolicyHash(Policy::Default().text()));
  EXPECT_EQ(claims["iat"], absl::ToUnixSeconds(at));
  EXPECT_EQ(claims["exp"], absl::ToUnixSeconds(at + absl::Hours(8)));

  // Its report data is no SHA-256 the test knows: any runtime data is a mismatch.
  auto wrong = instance.AttestTdxVm(
      Body(quote, absl::StrCat(R"(, "runtimeData": {"data": ")", EncodeBase64Url("nonce-1"),
                               R"(", "dataType": "Binary"})")));
  ExpectRefused(wrong, 400, "runtime_data_mismatch");
  // The SGX call refuses it; the TDX call refuses other api-versions.
  auto sgx = instance.Attest(Body(quote));
  ExpectRefused(sgx, 400, "unsupported_quote_format");
  auto version = instance.AttestTdxVm(Body(quote), "2022-08-01");
  ExpectRefused(version, 400, "unsupported_api_version");
  EXPECT_THAT(version->body, HasSubstr("2023-04-01-preview"));
  // A flipped bit in the TD report (MRTD) is the quote signature's.
  std::string flipped = quote;
  flipped[48 + 136] ^= 1;
  auto forged = instance.AttestTdxVm(Body(flipped));
  ASSERT_TRUE(forged);
  EXPECT_EQ(ErrorCode(forged), "invalid_quote_signature");
}

http::EventServerOptions FastTimeouts() {
  http::EventServerOptions options;
  options.request_timeout = absl::Seconds(1);
  return options;
}

class AttestdPkiTest : public ::testing::Test {
 protected:
  AttestdPkiTest()
      : builder_(pki_), instance_(pki_.Anchor(), testing::TestPkiDefaultAt(), FastTimeouts()) {
    instance_.source().Put(*pccs::PlatformIdOfQuote(builder_.Build()), pki_.BuildCollateral());
  }

  std::string BoundQuote(absl::string_view runtime) {
    dcap::ReportBody body = builder_.enclave;
    const dcap::Sha256Digest digest = dcap::Sha256(runtime);
    std::copy(digest.begin(), digest.end(), body.report_data.begin());
    return builder_.Build(body);
  }

  void ExpectStillServing() {
    auto result = instance_.Attest(Body(builder_.Build()));
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200) << result->body;
  }

  testing::TestPki pki_;
  testing::QuoteBuilder builder_;
  Instance instance_;
};

TEST_F(AttestdPkiTest, RuntimeDataBindingJsonAndBinary) {
  const std::string runtime = R"({"key": "abc"})";
  const std::string quote = BoundQuote(runtime);
  for (const char* type : {"JSON", "Binary"}) {
    SCOPED_TRACE(type);
    auto right = instance_.Attest(
        Body(quote, absl::StrCat(R"(, "runtimeData": {"data": ")", EncodeBase64Url(runtime),
                                 R"(", "dataType": ")", type, R"("})")));
    ASSERT_TRUE(right);
    ASSERT_EQ(right->status, 200) << right->body;
    auto payload = testing::VerifyJws(
        nlohmann::json::parse(right->body)["token"].get<std::string>(), instance_.Jwks());
    ASSERT_TRUE(payload.ok());
    EXPECT_EQ(payload->payload["x-ms-sgx-ehd"], EncodeBase64Url(runtime));
    EXPECT_EQ(payload->payload.contains("x-ms-runtime"), std::string(type) == "JSON");

    auto wrong = instance_.Attest(Body(
        quote, absl::StrCat(R"(, "runtimeData": {"data": ")", EncodeBase64Url(R"({"key": "abd"})"),
                            R"(", "dataType": ")", type, R"("})")));
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 400);
    EXPECT_EQ(ErrorCode(wrong), "runtime_data_mismatch");
  }
}

// A test-PKI TDX quote over HTTP beside the SGX one: runtime data bound or not, each TEE only at
// its own call, api-versions per call.
TEST_F(AttestdPkiTest, TdxCallServesTdxQuotesWithRuntimeDataBinding) {
  const std::string sgx_quote = builder_.Build();
  pki_.UseTdx();
  testing::QuoteBuilder tdx(pki_);
  tdx.UseTdx(5);
  const std::string runtime = R"({"key": "td"})";
  const dcap::Sha256Digest digest = dcap::Sha256(runtime);
  std::copy(digest.begin(), digest.end(), tdx.td.report_data.begin());
  const std::string quote = tdx.Build();
  instance_.source().Put(*pccs::PlatformIdOfQuote(quote), pki_.BuildCollateral());

  for (const char* type : {"JSON", "Binary"}) {
    SCOPED_TRACE(type);
    const nlohmann::json claims = TokenPayload(
        instance_.AttestTdxVm(
            Body(quote, absl::StrCat(R"(, "runtimeData": {"data": ")", EncodeBase64Url(runtime),
                                     R"(", "dataType": ")", type, R"("})"))),
        instance_.Jwks());
    EXPECT_EQ(claims["x-ms-attestation-type"], "tdxvm");
    EXPECT_EQ(claims["tdx_report_data"].get<std::string>().substr(0, 64), dcap::HexEncode(digest));
    EXPECT_EQ(claims.contains("x-ms-runtime"), std::string(type) == "JSON");
    if (std::string(type) == "JSON") {
      EXPECT_EQ(claims["x-ms-runtime"], nlohmann::json::parse(runtime));
    }
    auto wrong = instance_.AttestTdxVm(Body(
        quote, absl::StrCat(R"(, "runtimeData": {"data": ")", EncodeBase64Url(R"({"key": "te"})"),
                            R"(", "dataType": ")", type, R"("})")));
    ExpectRefused(wrong, 400, "runtime_data_mismatch");
  }
  auto sgx_at_tdx = instance_.AttestTdxVm(Body(sgx_quote));
  ExpectRefused(sgx_at_tdx, 400, "unsupported_quote_format");
  EXPECT_THAT(sgx_at_tdx->body, HasSubstr("not a TDX quote"));
  auto tdx_at_sgx = instance_.Attest(Body(quote));
  ASSERT_TRUE(tdx_at_sgx);
  EXPECT_EQ(ErrorCode(tdx_at_sgx), "unsupported_quote_format");
  EXPECT_THAT(tdx_at_sgx->body, HasSubstr("not an SGX enclave quote"));
  auto tdx_version_at_sgx = instance_.Attest(Body(sgx_quote), "2023-04-01-preview");
  ASSERT_TRUE(tdx_version_at_sgx);
  EXPECT_EQ(ErrorCode(tdx_version_at_sgx), "unsupported_api_version");
  httplib::Client client("127.0.0.1", instance_.port());
  EXPECT_EQ(ErrorCode(client.Post("/attest/TdxVm", Body(quote), "application/json")),
            "unsupported_api_version");
  EXPECT_EQ(client.Get("/attest/TdxVm?api-version=2023-04-01-preview")->status, 405);
  ExpectStillServing();
}

// A TD report 1.5 advised to relaunch (module at TDX_01's OutOfDate level at launch, updated in
// place to its latest): a token whose attester_tcb_status is Intel's TDRelaunchAdvised, counted
// under that label; a policy that permits only "UpToDate" refuses it.
TEST_F(AttestdPkiTest, TdRelaunchAdvisedIsItsOwnStatusForTokensPoliciesAndMetrics) {
  pki_.UseTdx();
  testing::QuoteBuilder tdx(pki_);
  tdx.UseTdx(5);
  tdx.td.tee_tcb_svn = {3, 1, 2};
  tdx.td.tee_tcb_svn2 = std::array<uint8_t, 16>{5, 1, 2};
  tdx.td.mr_service_td = std::array<uint8_t, 48>{};
  const std::string quote = tdx.Build();
  instance_.source().Put(*pccs::PlatformIdOfQuote(quote), pki_.BuildCollateral());

  const nlohmann::json claims = TokenPayload(instance_.AttestTdxVm(Body(quote)), instance_.Jwks());
  EXPECT_EQ(claims["attester_tcb_status"], "TDRelaunchAdvised");
  EXPECT_EQ(claims["attester_advisory_ids"], nlohmann::json::array({"INTEL-SA-01036"}));

  const std::string up_to_date_only =
      "version=1.0; authorizationrules { [type==\"attester_tcb_status\", "
      "value==\"UpToDate\"] => permit(); }; issuancerules { };";
  auto refused =
      instance_.AttestTdxVm(Body(quote, absl::StrCat(R"(, "draftPolicyForAttestation": )",
                                                     nlohmann::json(up_to_date_only).dump())));
  ExpectRefused(refused, 403, "policy_denied");

  httplib::Client client("127.0.0.1", instance_.port());
  EXPECT_THAT(
      client.Get("/metrics")->body,
      HasSubstr(
          R"(cn_attestd_attestations_total{code="none",result="issued",tcb_status="TDRelaunchAdvised"} 1)"));
}

TEST_F(AttestdPkiTest, BadInputsAreClear4xxAndTheServiceKeepsServing) {
  const std::string quote = builder_.Build();
  struct Case {
    std::string body;
    int status;
    std::string code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"not json", 400, "invalid_request", "body: not JSON"},
      {R"({"quote": 17})", 400, "invalid_request", "quote: must be a base64url string"},
      {R"({"quote": ["x"]})", 400, "invalid_request", "quote"},
      {Body(quote, R"(, "runtimeData": {"data": 5, "dataType": "JSON"})"), 400, "invalid_request",
       "runtimeData.data"},
      {Body(quote, R"(, "nonce": {"a": 1})"), 400, "invalid_request", "nonce"},
      {Body(quote.substr(0, 600)), 400, "unsupported_quote_format", "quote:"},
      {Body(std::string(700000, '\x03')), 400, "unsupported_quote_format", "quote:"},
      {absl::StrCat(R"({"quote": ")", std::string(900000, '*'), "\"}"), 400, "invalid_request",
       "quote: not base64url at offset 0"},
      {Body(quote, absl::StrCat(R"(, "nonce": ")", std::string(900000, 'n'), "\"")), 200, "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body.substr(0, 80));
    auto result = instance_.Attest(c.body);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, c.status) << result->body.substr(0, 300);
    if (!c.code.empty()) {
      EXPECT_EQ(ErrorCode(result), c.code);
      EXPECT_THAT(result->body, HasSubstr(c.message));
    }
  }
  // Versions, paths and methods.
  auto version = instance_.Attest(Body(quote), "2021-01-01");
  EXPECT_EQ(version->status, 400);
  EXPECT_EQ(ErrorCode(version), "unsupported_api_version");
  httplib::Client client("127.0.0.1", instance_.port());
  auto no_version = client.Post("/attest/SgxEnclave", Body(quote), "application/json");
  EXPECT_EQ(ErrorCode(no_version), "unsupported_api_version");
  auto get = client.Get("/attest/SgxEnclave?api-version=2022-08-01");
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(client.Get("/attest/OpenEnclave")->status, 404);
  // 10 MiB: refused with 413 whole.
  auto huge = instance_.Attest(std::string(10 << 20, ' '));
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  EXPECT_EQ(ErrorCode(huge), "request_too_large");
  ExpectStillServing();
}

TEST_F(AttestdPkiTest, SlowlorisConnectionsAreDroppedAndOthersServed) {
  std::vector<int> slow;
  for (int i = 0; i < 2; ++i) {  // half the workers
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(instance_.port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    const std::string partial = "POST /attest/SgxEnclave?api-version=2022-08-01 HTTP/1.1\r\nHo";
    ASSERT_GT(send(fd, partial.data(), partial.size(), 0), 0);
    slow.push_back(fd);
  }
  ExpectStillServing();
  // Each is answered 408 and closed at the request deadline (1 s here).
  const absl::Time start = absl::Now();
  for (int fd : slow) {
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    // Either closed silently or answered with a 4xx, then closed.
    std::string answer;
    char buffer[256];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
      answer.append(buffer, static_cast<size_t>(n));
    }
    EXPECT_EQ(n, 0) << "not closed";
    if (!answer.empty()) {
      EXPECT_EQ(answer.substr(0, 10), "HTTP/1.1 4") << answer;
    }
    close(fd);
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  ExpectStillServing();
}

TEST_F(AttestdPkiTest, ProbesAndMetricsCountVerdicts) {
  ExpectStillServing();
  std::string flipped = builder_.Build();
  flipped[70] ^= 1;
  EXPECT_EQ(instance_.Attest(Body(flipped))->status, 400);
  httplib::Client client("127.0.0.1", instance_.port());
  EXPECT_EQ(client.Get("/healthz")->status, 200);
  EXPECT_EQ(client.Get("/readyz")->status, 200);
  const std::string metrics = client.Get("/metrics")->body;
  EXPECT_THAT(
      metrics,
      HasSubstr(
          R"(cn_attestd_attestations_total{code="none",result="issued",tcb_status="UpToDate"} 1)"));
  EXPECT_THAT(
      metrics,
      HasSubstr(
          R"(cn_attestd_attestations_total{code="invalid_quote_signature",result="refused",tcb_status="none"} 1)"));
  EXPECT_THAT(metrics,
              HasSubstr(R"(cn_http_requests_total{route="/attest/SgxEnclave",status="400"} 1)"));
  EXPECT_THAT(metrics, HasSubstr("cn_attestd_collateral_fetch_seconds_count 2"));
}

// The closest offline substitute for attesting against Intel's real PCS: the real Intel quotes
// and collateral of ../shared/vectors, the collateral served by the PCCS stand-in exactly as
// Intel's PCS v4 answers (src/testing/pccs_standin.h, set_intel_pcs_format), fetched by the
// service's own client and cache, verified with the built-in Intel root at the vectors' time.
// The token's collateral hashes are those of the files' bytes, so the URL-encoded PEM chains
// were decoded exactly.
TEST(AttestdApiTest, RealVectorsWithCollateralFromIntelsPcsFormatVerifyWithTheIntelRoot) {
  absl::Time at;
  std::string error;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2025-07-01T00:00:00Z", &at, &error));
  testing::FakeClock clock(at);  // the collateral's clock; the service has its own, also at `at`
  http::HttpClient http({}, &clock);
  for (const char* id : {"real-sgx", "real-tdx"}) {
    SCOPED_TRACE(id);
    const std::string quote = ReadFile(Vector(absl::StrCat(id, "/quote.bin")));
    const dcap::Collateral file =
        *dcap::Collateral::FromJson(ReadFile(Vector(absl::StrCat(id, "/collateral.json"))));
    absl::StatusOr<pccs::PlatformId> platform = pccs::PlatformIdOfQuote(quote);
    ASSERT_TRUE(platform.ok()) << platform.status();
    testing::PccsStandin pcs;
    pcs.set_intel_pcs_format(true);
    pcs.Serve(*platform, file);
    pccs::PcsClient client(
        {.base_url = pcs.url(), .root_ca_crl_fallback_url = pcs.root_crl_distribution_url()}, &http,
        &clock);
    testing::TempDir dir;
    auto store = pccs::CollateralStore::Open(dir.path() + "/collateral.db");
    ASSERT_TRUE(store.ok()) << store.status();
    auto cache = pccs::CachingCollateralSource::Create({}, *std::move(store), &client, &clock);
    ASSERT_TRUE(cache.ok()) << cache.status();
    Instance instance(dcap::TrustAnchor::IntelSgxRoot(), at, {}, cache->get());

    const bool tdx = std::string(id) == "real-tdx";
    for (int round = 0; round < 2; ++round) {  // the second from the cache
      const nlohmann::json claims = TokenPayload(
          tdx ? instance.AttestTdxVm(Body(quote)) : instance.Attest(Body(quote)), instance.Jwks());
      if (tdx) {
        EXPECT_EQ(claims["x-ms-attestation-type"], "tdxvm");
        EXPECT_EQ(claims["attester_tcb_status"], "UpToDate");
        EXPECT_EQ(claims["attester_advisory_ids"], nlohmann::json::array());
        continue;
      }
      EXPECT_EQ(claims["attester_tcb_status"], "ConfigurationAndSWHardeningNeeded");
      EXPECT_EQ(claims["attester_advisory_ids"],
                nlohmann::json::array({"INTEL-SA-00289", "INTEL-SA-00615"}));
      EXPECT_EQ(claims["x-ms-sgx-fmspc"], "00a067110000");
      const nlohmann::json& hashes = claims["x-ms-sgx-collateral"];
      const dcap::CollateralParts& parts = file.parts();
      auto sha = [](const std::string& bytes) { return dcap::HexEncode(dcap::Sha256(bytes)); };
      EXPECT_EQ(hashes["quotehash"], sha(quote));
      EXPECT_EQ(hashes["tcbinfohash"], sha(parts.tcb_info));
      EXPECT_EQ(hashes["qeidhash"], sha(parts.qe_identity));
      EXPECT_EQ(hashes["tcbinfocertshash"], sha(parts.tcb_info_issuer_chain));
      EXPECT_EQ(hashes["qeidcertshash"], sha(parts.qe_identity_issuer_chain));
      EXPECT_EQ(hashes["tcbinfocrlhash"], sha(parts.root_ca_crl));
      EXPECT_EQ(hashes["qeidcrlhash"], sha(parts.root_ca_crl));
    }
    // Four items, the root CA CRL from its distribution point after PCS's 404; once.
    EXPECT_EQ(pcs.request_count(), 5) << absl::StrJoin(pcs.requests(), " ");
    EXPECT_EQ((*cache)->stats().hits, 1u);
  }
}

// The service caches collateral, certificates and a quote's platform, never a verdict: on one
// instance, after the real quote was attested (so every cache is warm), each tampered copy of it
// still gets its own rejection, and the real one is still issued.
TEST(AttestdApiTest, WarmCachesNeverAnswerForAQuoteTheyDidNotCheck) {
  absl::Time at;
  std::string error;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2025-07-01T00:00:00Z", &at, &error));
  Instance instance(dcap::TrustAnchor::IntelSgxRoot(), at);
  const std::string quote = ReadFile(Vector("real-sgx/quote.bin"));
  instance.source().Put(*pccs::PlatformIdOfQuote(quote),
                        *dcap::Collateral::FromJson(ReadFile(Vector("real-sgx/collateral.json"))));
  const std::vector<std::pair<std::string, std::string>> tampered = {
      {"tampered/sgx_quote_signature_bitflip", "invalid_quote_signature"},
      {"tampered/sgx_quote_mrenclave_bitflip", "invalid_quote_signature"},
      {"tampered/sgx_quote_qe_report_bitflip", "invalid_qe_report_signature"},
      {"tampered/sgx_quote_qe_authdata_bitflip", "qe_report_data_mismatch"},
  };
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    auto issued = instance.Attest(Body(quote));
    ASSERT_TRUE(issued);
    EXPECT_EQ(issued->status, 200) << issued->body;
    for (const auto& [path, code] : tampered) {
      SCOPED_TRACE(path);
      ExpectRefused(instance.Attest(Body(ReadFile(Vector(path)))), 400, code);
    }
  }
}

}  // namespace
}  // namespace cn::attestd
