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
#include "nlohmann/json.hpp"
#include "src/attestd/request.h"
#include "src/attestd/service.h"
#include "src/testing/fake_clock.h"
#include "src/testing/fake_collateral_source.h"
#include "src/testing/jws.h"
#include "src/testing/quote_builder.h"
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

// One running service: verifier, fake source and clock, HTTP server on a free port.
class Instance {
 public:
  Instance(dcap::TrustAnchor anchor, absl::Time now, http::ServerOptions options = {})
      : clock_(now), verifier_(std::move(anchor)) {
    std::vector<SigningKey> keys;
    keys.push_back(*SigningKey::Load(SigningKeyPem(), "key.pem", "", "", now));
    registry_ = std::make_shared<prometheus::Registry>();
    service_ = std::make_unique<AttestationService>(
        ServiceOptions{.issuer = "http://127.0.0.1"}, std::move(keys), verifier_, source_, clock_,
        std::shared_ptr<const Policy>(std::shared_ptr<const Policy>(), &Policy::Default()),
        *registry_);
    options.host = "127.0.0.1";
    options.port = 0;
    if (options.threads == 0) {
      options.threads = 4;
    }
    server_ = std::make_unique<http::Server>(options, registry_);
    service_->Register(*server_);
    absl::Status started = server_->Start();
    EXPECT_TRUE(started.ok()) << started;
  }

  testing::FakeCollateralSource& source() { return source_; }
  int port() const { return server_->port(); }
  nlohmann::json Jwks() const { return nlohmann::json::parse(service_->Certs().body); }

  httplib::Result Attest(const std::string& body, const std::string& version = "2022-08-01") {
    httplib::Client client("127.0.0.1", port());
    client.set_read_timeout(10, 0);
    return client.Post(absl::StrCat("/attest/SgxEnclave?api-version=", version), body,
                       "application/json");
  }

 private:
  testing::FakeClock clock_;
  dcap::Verifier verifier_;
  testing::FakeCollateralSource source_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<AttestationService> service_;
  std::unique_ptr<http::Server> server_;
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

http::ServerOptions FastTimeouts() {
  http::ServerOptions options;
  options.read_timeout = absl::Seconds(1);
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
  // Each is closed after the read timeout (1 s here) without a byte.
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

}  // namespace
}  // namespace cn::attestd
