#include "src/pccs/pcs_client.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/check.h"
#include "src/dcap/crypto.h"
#include "src/dcap/tcb_info.h"
#include "src/dcap/trust_anchor.h"
#include "src/dcap/verifier.h"
#include "src/http/http_client.h"
#include "src/os/clock.h"
#include "src/pccs/collateral_validity.h"
#include "src/testing/fake_clock.h"
#include "src/testing/pccs_standin.h"
#include "src/testing/quote_builder.h"
#include "src/testing/test_pki.h"

namespace cn::pccs {
namespace {

dcap::VerifyOptions At(absl::Time at) {
  dcap::VerifyOptions options;
  options.at = at;
  return options;
}

using ::testing::Contains;
using ::testing::HasSubstr;
using testing::PccsStandin;
using ::testing::UnorderedElementsAre;

class PcsClientTest : public ::testing::Test {
 protected:
  PcsClientTest() : quote_(testing::QuoteBuilder(pki_).Build()) {
    absl::StatusOr<PlatformId> platform = PlatformIdOfQuote(quote_);
    CN_CHECK(platform.ok());
    platform_ = *platform;
    standin_.Serve(platform_, served_);
  }

  PcsClient Client(std::string url = "") {
    return PcsClient({.base_url = url.empty() ? standin_.url() : url}, &http_, &clock_);
  }
  absl::Time Soon() const { return absl::Now() + absl::Seconds(10); }

  testing::TestPki pki_;
  // BuildCollateral signs afresh each time (ECDSA is randomised): keep what is served.
  const dcap::Collateral served_ = pki_.BuildCollateral();
  std::string quote_;
  PlatformId platform_;
  PccsStandin standin_;
  os::RealClock clock_;
  http::HttpClient http_{{}, &clock_};
};

TEST_F(PcsClientTest, FetchesTheFourItemsByteForByteAndTheQuoteVerifiesAgainstThem) {
  PcsClient client = Client();
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> collateral =
      client.Get(platform_, Soon());
  ASSERT_TRUE(collateral.ok()) << collateral.status();
  const std::string fmspc = dcap::HexEncode(platform_.fmspc);
  // The TCB Info first, the other three at once.
  ASSERT_EQ(standin_.requests().size(), 4u);
  EXPECT_EQ(standin_.requests()[0], absl::StrCat("/sgx/certification/v4/tcb?fmspc=", fmspc));
  EXPECT_THAT(standin_.requests(),
              UnorderedElementsAre(absl::StrCat("/sgx/certification/v4/tcb?fmspc=", fmspc),
                                   "/sgx/certification/v4/qe/identity",
                                   "/sgx/certification/v4/pckcrl?ca=processor&encoding=der",
                                   "/sgx/certification/v4/rootcacrl"));

  EXPECT_EQ((*collateral)->digest(), served_.digest());  // every part, byte for byte
  dcap::Verifier verifier(pki_.Anchor());
  dcap::VerificationResult result =
      verifier.Verify(quote_, **collateral, At(testing::TestPkiDefaultAt()));
  ASSERT_TRUE(result.verified()) << result.rejection().message;
}

TEST_F(PcsClientTest, KeepsTheExactSignedTextOfTheService) {
  // A TCB Info text with spacing and key order no serialiser would reproduce.
  const std::string text = testing::TcbInfoJson(pki_.tcb_info);
  pki_.tcb_info_text_override = absl::StrCat("{ \"padding\" : \"}{\\\"\" ,", text.substr(1));
  const dcap::Collateral odd = pki_.BuildCollateral();
  standin_.Serve(platform_, odd);
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> collateral =
      Client().Get(platform_, Soon());
  ASSERT_TRUE(collateral.ok()) << collateral.status();
  EXPECT_EQ((*collateral)->parts().tcb_info, odd.parts().tcb_info);
  EXPECT_EQ((*collateral)->parts().tcb_info_signature, odd.parts().tcb_info_signature);
  EXPECT_EQ((*collateral)->parts().qe_identity, odd.parts().qe_identity);
  EXPECT_EQ((*collateral)->digest(), odd.digest());
}

TEST_F(PcsClientTest, AsksTheTdxPathsForATdxPlatform) {
  PlatformId tdx = platform_;
  tdx.tee = Tee::kTdx;
  standin_.Serve(tdx, pki_.BuildCollateral());
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> collateral = Client().Get(tdx, Soon());
  ASSERT_TRUE(collateral.ok()) << collateral.status();
  EXPECT_THAT(standin_.requests(),
              UnorderedElementsAre(
                  absl::StrCat("/tdx/certification/v4/tcb?fmspc=", dcap::HexEncode(tdx.fmspc)),
                  "/tdx/certification/v4/qe/identity",
                  "/sgx/certification/v4/pckcrl?ca=processor&encoding=der",
                  "/sgx/certification/v4/rootcacrl"));
}

TEST_F(PcsClientTest, AsksForThePlatformCaCrl) {
  PlatformId platform_ca = platform_;
  platform_ca.ca = PckCa::kPlatform;
  standin_.Serve(platform_ca, pki_.BuildCollateral());
  ASSERT_TRUE(Client().Get(platform_ca, Soon()).ok());
  EXPECT_THAT(standin_.requests(),
              Contains("/sgx/certification/v4/pckcrl?ca=platform&encoding=der"));
}

TEST_F(PcsClientTest, AcceptsTheRootCaCrlAsHexDerOrPem) {
  const std::string expected = served_.parts().root_ca_crl;
  for (PccsStandin::CrlEncoding encoding :
       {PccsStandin::CrlEncoding::kHex, PccsStandin::CrlEncoding::kDer,
        PccsStandin::CrlEncoding::kPem}) {
    standin_.set_root_crl_encoding(encoding);
    absl::StatusOr<std::string> der = Client().FetchRootCaCrl(Soon());
    ASSERT_TRUE(der.ok()) << der.status();
    EXPECT_EQ(*der, expected);
  }
}

TEST_F(PcsClientTest, TakesTheRootCaCrlFromTheFallbackWhenTheServiceHasNone) {
  standin_.set_serve_root_crl(false);
  PccsStandin distribution_point;  // stands for certificates.trustedservices.intel.com
  distribution_point.Serve(platform_, served_);
  distribution_point.set_root_crl_encoding(PccsStandin::CrlEncoding::kDer);
  const std::string fallback =
      absl::StrCat(distribution_point.url(), "/sgx/certification/v4/rootcacrl");
  PcsClient client({.base_url = standin_.url(), .root_ca_crl_fallback_url = fallback}, &http_,
                   &clock_);
  absl::StatusOr<std::string> der = client.FetchRootCaCrl(Soon());
  ASSERT_TRUE(der.ok()) << der.status();
  EXPECT_EQ(*der, served_.parts().root_ca_crl);

  PcsClient without({.base_url = standin_.url(), .root_ca_crl_fallback_url = ""}, &http_, &clock_);
  EXPECT_EQ(without.FetchRootCaCrl(Soon()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PcsClientTest, DecodesIssuerChainHeadersIncludingTheV3Name) {
  standin_.set_v3_tcb_header(true);
  absl::StatusOr<PcsClient::SignedItem> tcb_info =
      Client().FetchTcbInfo(Tee::kSgx, platform_.fmspc, Soon());
  ASSERT_TRUE(tcb_info.ok()) << tcb_info.status();
  EXPECT_EQ(tcb_info->issuer_chain, pki_.TcbChainPem());
  absl::StatusOr<PcsClient::Crl> crl = Client().FetchPckCrl(PckCa::kProcessor, Soon());
  ASSERT_TRUE(crl.ok()) << crl.status();
  EXPECT_EQ(crl->issuer_chain, served_.parts().pck_crl_issuer_chain);
}

TEST_F(PcsClientTest, TakesABaseUrlInQcnlSpelling) {
  PcsClient client = Client(absl::StrCat(standin_.url(), "/sgx/certification/v4/"));
  EXPECT_EQ(client.base_url(), standin_.url());
  EXPECT_TRUE(client.Get(platform_, Soon()).ok());
}

TEST_F(PcsClientTest, AnUnknownFmspcIsNotFoundAfterOneRequest) {
  PlatformId unknown = platform_;
  unknown.fmspc = {9, 9, 9, 9, 9, 9};
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> collateral =
      Client().Get(unknown, Soon());
  EXPECT_EQ(collateral.status().code(), absl::StatusCode::kNotFound) << collateral.status();
  EXPECT_THAT(collateral.status().message(), HasSubstr("fmspc=090909090909"));
  EXPECT_EQ(standin_.request_count(), 1);
}

TEST_F(PcsClientTest, AServerErrorIsUnavailableNamingTheStatus) {
  standin_.set_behaviour(PccsStandin::Behaviour::kFail, 503);
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> collateral =
      Client().Get(platform_, Soon());
  EXPECT_EQ(collateral.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(collateral.status().message(), HasSubstr("HTTP 503 StandinFailure"));
}

TEST_F(PcsClientTest, GarbageAndTruncatedAnswersAreUnavailable) {
  standin_.set_behaviour(PccsStandin::Behaviour::kGarbage);
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> garbage = Client().Get(platform_, Soon());
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(garbage.status().message(), HasSubstr("not JSON"));

  standin_.set_behaviour(PccsStandin::Behaviour::kTruncated);
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> truncated =
      Client().Get(platform_, Soon());
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kUnavailable) << truncated.status();

  standin_.set_behaviour(PccsStandin::Behaviour::kTruncated);
  absl::StatusOr<std::string> crl = Client().FetchRootCaCrl(Soon());
  EXPECT_EQ(crl.status().code(), absl::StatusCode::kUnavailable) << crl.status();
}

TEST_F(PcsClientTest, ASlowServiceIsCutOffAtTheDeadline) {
  standin_.set_delay(absl::Seconds(30));
  const absl::Time start = absl::Now();
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> collateral =
      Client().Get(platform_, start + absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;
  standin_.ReleaseStalled();
  EXPECT_EQ(collateral.status().code(), absl::StatusCode::kDeadlineExceeded) << collateral.status();
  EXPECT_LT(took, absl::Seconds(2));
}

TEST_F(PcsClientTest, ASlowServiceCostsTwoRoundTripsNotFour) {
  // Four answers of 500 ms each one after another would need 2 s; the deadline allows 1.8 s.
  standin_.set_delay(absl::Milliseconds(500));
  const absl::Time start = absl::Now();
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> collateral =
      Client().Get(platform_, start + absl::Milliseconds(1800));
  EXPECT_TRUE(collateral.ok()) << collateral.status();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(1000));
}

TEST_F(PcsClientTest, ADeadServiceIsUnavailable) {
  std::string url;
  {
    PccsStandin gone;
    url = gone.url();
  }
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> collateral =
      Client(url).Get(platform_, Soon());
  EXPECT_EQ(collateral.status().code(), absl::StatusCode::kUnavailable) << collateral.status();
}

TEST(ExtractSignedJson, CutsOutTheInnerObjectExactly) {
  absl::StatusOr<SignedJson> json = ExtractSignedJson(
      " { \"signature\" : \"00ff\",\n \"tcbInfo\" :{\"a\":\"}\\\"{\", \"b\":[1,{\"c\":2}]} } ",
      "tcbInfo");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->text, "{\"a\":\"}\\\"{\", \"b\":[1,{\"c\":2}]}");
  EXPECT_EQ(json->signature, std::string("\x00\xff", 2));
}

TEST(ExtractSignedJson, RejectsWhatIsNotASignedObject) {
  EXPECT_THAT(ExtractSignedJson("nope", "tcbInfo").status().message(), HasSubstr("not JSON"));
  EXPECT_THAT(ExtractSignedJson("[1]", "tcbInfo").status().message(), HasSubstr("not a JSON"));
  EXPECT_THAT(ExtractSignedJson("{\"signature\":\"00\"}", "tcbInfo").status().message(),
              HasSubstr("no \"tcbInfo\""));
  EXPECT_THAT(ExtractSignedJson("{\"tcbInfo\":{}}", "tcbInfo").status().message(),
              HasSubstr("no \"signature\""));
  EXPECT_THAT(
      ExtractSignedJson("{\"tcbInfo\":{},\"signature\":\"xy\"}", "tcbInfo").status().message(),
      HasSubstr("not hex"));
  EXPECT_THAT(ExtractSignedJson("\xEF\xBB\xBF{\"tcbInfo\":{},\"signature\":\"00\"}", "tcbInfo")
                  .status()
                  .message(),
              HasSubstr("does not start with a JSON object"));
  // Two copies: nlohmann keeps one, the signature may cover the other.
  EXPECT_THAT(ExtractSignedJson(
                  "{\"tcbInfo\":{\"a\":1},\"tcbInfo\":{\"a\":2},\"signature\":\"00\"}", "tcbInfo")
                  .status()
                  .message(),
              HasSubstr("2 times"));
}

TEST(CrlBodyToDer, RefusesTextThatIsNoCrl) {
  EXPECT_EQ(CrlBodyToDer("hello").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CrlBodyToDer("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      CrlBodyToDer("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n").status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(ValidityOf, IsTheEarliestNextUpdateAndTheLatestIssueDate) {
  testing::TestPki pki;
  pki.tcb_info.next_update = testing::TestTime("2025-07-10T00:00:00Z");
  pki.pck_crl.this_update = testing::TestTime("2025-06-25T00:00:00Z");
  absl::StatusOr<CollateralValidity> validity = ValidityOf(pki.BuildCollateral());
  ASSERT_TRUE(validity.ok()) << validity.status();
  EXPECT_EQ(validity->next_update, testing::TestTime("2025-07-10T00:00:00Z"));
  EXPECT_EQ(validity->not_before, testing::TestTime("2025-06-25T00:00:00Z"));
}

TEST(ValidityOf, NamesTheItemWithoutDates) {
  testing::TestPki pki;
  pki.qe_identity_text_override = "{\"id\":\"QE\"}";
  EXPECT_THAT(ValidityOf(pki.BuildCollateral()).status().message(),
              HasSubstr("QE Identity: no string \"issueDate\""));
}

// The closest offline substitute for a test against Intel's real PCS: the real Intel collateral
// of ../shared/vectors (real-sgx, real-tdx), served by the stand-in exactly as PCS v4 answers
// (URL-encoded PEM chains in TCB-Info-Issuer-Chain, SGX-Enclave-Identity-Issuer-Chain and
// SGX-PCK-CRL-Issuer-Chain; {"tcbInfo"|"enclaveIdentity": ..., "signature": hex} bodies; the PCK
// CRL as DER for encoding=der; no rootcacrl, the root CA CRL as DER from its distribution point),
// fetched by the client and verified with the built-in Intel root at the vectors' time.
struct RealVector {
  const char* id;
  Tee tee;
  const char* tcb_path;  // the TCB Info request
  const char* qe_path;
  const char* tcb_status;
  std::vector<std::string> advisory_ids;
};

std::string ReadVector(const std::string& name) {
  std::ifstream in(std::string(CN_VECTORS_DIR) + "/" + name, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(PcsClientRealVectorsTest, IntelCollateralInPcsFormatVerifiesWithTheIntelRoot) {
  absl::Time at;
  std::string error;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2025-07-01T00:00:00Z", &at, &error));
  testing::FakeClock clock(at);
  http::HttpClient http({}, &clock);
  const std::vector<RealVector> vectors = {
      {"real-sgx",
       Tee::kSgx,
       "/sgx/certification/v4/tcb?fmspc=00a067110000",
       "/sgx/certification/v4/qe/identity",
       "ConfigurationAndSWHardeningNeeded",
       {"INTEL-SA-00289", "INTEL-SA-00615"}},
      {"real-tdx", Tee::kTdx, nullptr, "/tdx/certification/v4/qe/identity", "UpToDate", {}},
  };
  for (const RealVector& vector : vectors) {
    SCOPED_TRACE(vector.id);
    const std::string quote = ReadVector(absl::StrCat(vector.id, "/quote.bin"));
    absl::StatusOr<dcap::Collateral> file =
        dcap::Collateral::FromJson(ReadVector(absl::StrCat(vector.id, "/collateral.json")));
    ASSERT_TRUE(file.ok()) << file.status();
    absl::StatusOr<PlatformId> platform = PlatformIdOfQuote(quote);
    ASSERT_TRUE(platform.ok()) << platform.status();
    EXPECT_EQ(platform->tee, vector.tee);

    PccsStandin pcs;
    pcs.set_intel_pcs_format(true);
    pcs.Serve(*platform, *file);
    PcsClient client(
        {.base_url = pcs.url(), .root_ca_crl_fallback_url = pcs.root_crl_distribution_url()}, &http,
        &clock);
    absl::StatusOr<std::shared_ptr<const dcap::Collateral>> fetched =
        client.Get(*platform, at + absl::Seconds(10));
    ASSERT_TRUE(fetched.ok()) << fetched.status();
    // Every item and chain as Intel signed it, byte for byte, after the header decoding.
    const dcap::CollateralParts& got = (*fetched)->parts();
    const dcap::CollateralParts& want = file->parts();
    EXPECT_EQ(got.tcb_info, want.tcb_info);
    EXPECT_EQ(got.tcb_info_signature, want.tcb_info_signature);
    EXPECT_EQ(got.tcb_info_issuer_chain, want.tcb_info_issuer_chain);
    EXPECT_EQ(got.qe_identity, want.qe_identity);
    EXPECT_EQ(got.qe_identity_signature, want.qe_identity_signature);
    EXPECT_EQ(got.qe_identity_issuer_chain, want.qe_identity_issuer_chain);
    EXPECT_EQ(got.pck_crl, want.pck_crl);
    EXPECT_EQ(got.pck_crl_issuer_chain, want.pck_crl_issuer_chain);
    EXPECT_EQ(got.root_ca_crl, want.root_ca_crl);
    EXPECT_EQ((*fetched)->digest(), file->digest());

    const std::string fmspc = dcap::HexEncode(platform->fmspc);
    const std::string tcb_path = vector.tcb_path
                                     ? std::string(vector.tcb_path)
                                     : absl::StrCat("/tdx/certification/v4/tcb?fmspc=", fmspc);
    EXPECT_THAT(pcs.requests(),
                UnorderedElementsAre(tcb_path, vector.qe_path,
                                     absl::StrCat("/sgx/certification/v4/pckcrl?ca=",
                                                  PckCaName(platform->ca), "&encoding=der"),
                                     "/sgx/certification/v4/rootcacrl", "/IntelSGXRootCA.der"));

    dcap::Verifier verifier(dcap::TrustAnchor::IntelSgxRoot());
    const dcap::VerificationResult result = verifier.Verify(quote, **fetched, At(at));
    ASSERT_TRUE(result.verified()) << result.rejection().message;
    EXPECT_EQ(dcap::TcbStatusName(result.verdict().tcb_status), vector.tcb_status);
    EXPECT_EQ(result.verdict().advisory_ids, vector.advisory_ids);
    // A year on, the same answer has expired (as all of the vectors' collateral has today).
    const dcap::VerificationResult later =
        verifier.Verify(quote, **fetched, At(at + absl::Hours(24 * 365)));
    ASSERT_FALSE(later.verified());
    EXPECT_EQ(later.rejection().code, dcap::ErrorCode::kCollateralExpired);
  }
}

TEST(PcsClientRealVectorsTest, TheStandInAnswersInIntelsPcsFormat) {
  // The raw answers, as a client that is not ours would see them.
  const std::string quote = ReadVector("real-sgx/quote.bin");
  absl::StatusOr<dcap::Collateral> file =
      dcap::Collateral::FromJson(ReadVector("real-sgx/collateral.json"));
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<PlatformId> platform = PlatformIdOfQuote(quote);
  ASSERT_TRUE(platform.ok());
  PccsStandin pcs;
  pcs.set_intel_pcs_format(true);
  pcs.Serve(*platform, *file);
  os::RealClock clock;
  http::HttpClient http({}, &clock);
  auto get = [&](const std::string& path) {
    absl::StatusOr<http::HttpResponse> response =
        http.Get(absl::StrCat(pcs.url(), path), http::HttpRequestOptions{});
    CN_CHECK(response.ok());
    EXPECT_NE(response->Header("Request-ID"), nullptr) << path;
    return *response;
  };
  const char kChainStart[] = "-----BEGIN%20CERTIFICATE-----%0A";

  http::HttpResponse tcb = get("/sgx/certification/v4/tcb?fmspc=00a067110000");
  EXPECT_EQ(tcb.status, 200);
  EXPECT_EQ(*tcb.Header("Content-Type"), "application/json");
  EXPECT_EQ(tcb.body, absl::StrCat("{\"tcbInfo\":", file->parts().tcb_info, ",\"signature\":\"",
                                   dcap::HexEncode(file->parts().tcb_info_signature), "\"}"));
  ASSERT_NE(tcb.Header("TCB-Info-Issuer-Chain"), nullptr);
  EXPECT_THAT(*tcb.Header("TCB-Info-Issuer-Chain"), ::testing::StartsWith(kChainStart));
  EXPECT_EQ(tcb.Header("SGX-TCB-Info-Issuer-Chain"), nullptr);  // v3's name

  http::HttpResponse qe = get("/sgx/certification/v4/qe/identity");
  EXPECT_EQ(qe.status, 200);
  EXPECT_THAT(qe.body, ::testing::StartsWith("{\"enclaveIdentity\":{"));
  ASSERT_NE(qe.Header("SGX-Enclave-Identity-Issuer-Chain"), nullptr);
  EXPECT_THAT(*qe.Header("SGX-Enclave-Identity-Issuer-Chain"), ::testing::StartsWith(kChainStart));

  // PEM by default, DER when asked for.
  http::HttpResponse pem = get("/sgx/certification/v4/pckcrl?ca=processor");
  EXPECT_EQ(*pem.Header("Content-Type"), "application/x-pem-file");
  EXPECT_THAT(pem.body, ::testing::StartsWith("-----BEGIN X509 CRL-----"));
  absl::StatusOr<std::string> der = CrlBodyToDer(pem.body);
  ASSERT_TRUE(der.ok()) << der.status();
  EXPECT_EQ(*der, file->parts().pck_crl);
  http::HttpResponse raw = get("/sgx/certification/v4/pckcrl?ca=processor&encoding=der");
  EXPECT_EQ(*raw.Header("Content-Type"), "application/pkix-crl");
  EXPECT_EQ(raw.body, file->parts().pck_crl);
  ASSERT_NE(raw.Header("SGX-PCK-CRL-Issuer-Chain"), nullptr);
  EXPECT_THAT(*raw.Header("SGX-PCK-CRL-Issuer-Chain"), ::testing::StartsWith(kChainStart));

  EXPECT_EQ(get("/sgx/certification/v4/rootcacrl").status, 404);
  EXPECT_EQ(get("/IntelSGXRootCA.der").body, file->parts().root_ca_crl);
}

}  // namespace
}  // namespace cn::pccs
