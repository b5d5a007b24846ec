// RunCli in-process, over a FakeFileSystem and a FakeClock: argument handling, input errors and
// the output contract, fast enough to run under the sanitizers.

#include "src/sgxquote/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "nlohmann/json.hpp"
#include "src/testing/fake_clock.h"
#include "src/testing/fake_file_system.h"
#include "src/testing/quote_builder.h"
#include "src/testing/test_pki.h"

namespace cn::sgxquote {
namespace {

using ::testing::HasSubstr;

class CliTest : public ::testing::Test {
 protected:
  CliTest() : builder_(pki_), clock_(testing::TestPkiDefaultAt()) {
    files_.AddFile("/in/quote.bin", builder_.Build());
    files_.AddFile("/in/collateral.json", pki_.BuildCollateral().ToJson());
    files_.AddFile("/in/root.pem", pki_.RootPem());
  }

  int Run(const std::vector<std::string>& args) {
    std::vector<std::string> command_line = {"sgx-quote"};
    command_line.insert(command_line.end(), args.begin(), args.end());
    out_.str("");
    err_.str("");
    return RunCli(command_line, files_, clock_, out_, err_);
  }

  testing::TestPki pki_;
  testing::QuoteBuilder builder_;
  testing::FakeFileSystem files_;
  testing::FakeClock clock_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(CliTest, VerifiesAtTheClockTimeByDefault) {
  EXPECT_EQ(Run({"verify", "/in/quote.bin", "--collateral", "/in/collateral.json", "--root-ca",
                 "/in/root.pem"}),
            kExitVerified)
      << out_.str() << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("VERIFIED: SGX quote v3, TCB status UpToDate"));
  clock_.Set(testing::TestTime("2030-01-01T00:00:00Z"));
  EXPECT_EQ(Run({"verify", "/in/quote.bin", "--collateral", "/in/collateral.json", "--root-ca",
                 "/in/root.pem"}),
            kExitRejected);
  EXPECT_THAT(out_.str(), HasSubstr("REJECTED (collateral_expired)"));
}

TEST_F(CliTest, ExplicitRepeatAddsVerificationsPerSecond) {
  ASSERT_EQ(Run({"verify", "/in/quote.bin", "--collateral", "/in/collateral.json", "--root-ca",
                 "/in/root.pem", "--json", "--repeat", "1"}),
            kExitVerified);
  const nlohmann::json json = nlohmann::json::parse(out_.str());
  EXPECT_TRUE(json.contains("verifications_per_second"));
  EXPECT_EQ(json["tcb_status"], "UpToDate");
}

TEST_F(CliTest, JsonDebugIsBitOneOfTheEnclaveAttributes) {
  struct Case {
    uint8_t flags_low;   // ATTRIBUTES byte 0: INIT (bit 0), DEBUG (bit 1), MODE64BIT (bit 2)
    uint8_t flags_next;  // ATTRIBUTES byte 1
    bool debug;
  };
  for (const Case& c : {Case{0x05, 0x00, false}, Case{0x07, 0x00, true}, Case{0x05, 0x02, false},
                        Case{0x02, 0x00, true}}) {
    builder_.enclave.attributes[0] = c.flags_low;
    builder_.enclave.attributes[1] = c.flags_next;
    files_.AddFile("/in/quote.bin", builder_.Build());
    ASSERT_EQ(Run({"verify", "/in/quote.bin", "--collateral", "/in/collateral.json", "--root-ca",
                   "/in/root.pem", "--json"}),
              kExitVerified)
        << out_.str() << err_.str();
    EXPECT_EQ(nlohmann::json::parse(out_.str())["debug"], c.debug)
        << "attributes " << int{c.flags_low} << " " << int{c.flags_next};
  }
}

TEST_F(CliTest, RejectsBadRootCaAndRepeatAsUsageErrors) {
  files_.AddFile("/in/bad-root.pem", "not a certificate");
  EXPECT_EQ(Run({"verify", "/in/quote.bin", "--collateral", "/in/collateral.json", "--root-ca",
                 "/in/bad-root.pem"}),
            kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("root CA file /in/bad-root.pem"));
  EXPECT_EQ(
      Run({"verify", "/in/quote.bin", "--collateral", "/in/collateral.json", "--repeat", "0"}),
      kExitUsage);
  EXPECT_EQ(Run({"verify", "/in/missing.bin", "--collateral", "/in/collateral.json"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("cannot read quote file /in/missing.bin"));
}

TEST_F(CliTest, RootCaMayBeDer) {
  const std::string pem = pki_.RootPem();
  std::string der;
  {
    absl::StatusOr<dcap::X509Ptr> cert = dcap::ParseCertificate(pem, "root");
    ASSERT_TRUE(cert.ok());
    der = dcap::CertificateDer(cert->get());
  }
  files_.AddFile("/in/root.der", der);
  EXPECT_EQ(Run({"verify", "/in/quote.bin", "--collateral", "/in/collateral.json", "--root-ca",
                 "/in/root.der"}),
            kExitVerified)
      << out_.str() << err_.str();
}

TEST_F(CliTest, ShowPrintsTheQuoteAsText) {
  ASSERT_EQ(Run({"show", "/in/quote.bin"}), kExitVerified) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("version: 3"));
  EXPECT_THAT(out_.str(), HasSubstr("isv_prod_id: 7"));
  EXPECT_THAT(out_.str(), HasSubstr("CN=Test SGX PCK Certificate"));
  EXPECT_THAT(out_.str(), HasSubstr("fmspc: 00906ed50000"));
}

TEST_F(CliTest, PrintsTdReport15FieldsAndDebugForTdxQuotes) {
  pki_.UseTdx();
  builder_.UseTdx(5);
  builder_.td.td_attributes[0] = 0x01;  // DEBUG
  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{6, 1, 2};
  builder_.td.mr_service_td = std::array<uint8_t, 48>{};
  builder_.td.mr_service_td->fill(0x5d);
  files_.AddFile("/in/tdx.bin", builder_.Build());
  files_.AddFile("/in/tdx.json", pki_.BuildCollateral().ToJson());
  ASSERT_EQ(Run({"verify", "/in/tdx.bin", "--collateral", "/in/tdx.json", "--root-ca",
                 "/in/root.pem", "--json"}),
            kExitVerified)
      << out_.str() << err_.str();
  const nlohmann::json json = nlohmann::json::parse(out_.str());
  EXPECT_EQ(json["tee"], "tdx");
  EXPECT_EQ(json["quote_version"], 5);
  EXPECT_EQ(json["debug"], true);
  EXPECT_EQ(json["td_attributes"], "0100001000000000");
  EXPECT_EQ(json["tee_tcb_svn"], "05010200000000000000000000000000");
  EXPECT_EQ(json["tee_tcb_svn2"], "06010200000000000000000000000000");
  std::string service_td_hex;
  for (int i = 0; i < 48; ++i) {
    service_td_hex += "5d";
  }
  EXPECT_EQ(json["mr_service_td"], service_td_hex);
  EXPECT_FALSE(json.contains("mrenclave"));
  ASSERT_EQ(
      Run({"verify", "/in/tdx.bin", "--collateral", "/in/tdx.json", "--root-ca", "/in/root.pem"}),
      kExitVerified);
  EXPECT_THAT(out_.str(), HasSubstr("VERIFIED: TDX quote v5, TCB status UpToDate"));
  EXPECT_THAT(out_.str(), HasSubstr("(DEBUG TD)"));
  ASSERT_EQ(Run({"show", "/in/tdx.bin"}), kExitVerified) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("body_type: 3"));
  EXPECT_THAT(out_.str(), HasSubstr("mr_service_td: 5d5d"));
}

TEST(ParseTimeArgumentTest, AcceptsRfc3339AndUnixSeconds) {
  EXPECT_EQ(*ParseTimeArgument("2025-07-01T00:00:00Z"), absl::FromUnixSeconds(1751328000));
  EXPECT_EQ(*ParseTimeArgument("2025-07-01T02:00:00+02:00"), absl::FromUnixSeconds(1751328000));
  EXPECT_EQ(*ParseTimeArgument("1751328000"), absl::FromUnixSeconds(1751328000));
  EXPECT_FALSE(ParseTimeArgument("").ok());
  EXPECT_FALSE(ParseTimeArgument("2025-07-01").ok());
  EXPECT_FALSE(ParseTimeArgument("12-3").ok());
}

}  // namespace
}  // namespace cn::sgxquote
