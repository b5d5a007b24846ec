// Runs the built sgx-quote binary (CN_SGX_QUOTE_BINARY) against the shared vectors and against
// files written from the test PKI into a temporary directory.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/testing/quote_builder.h"
#include "src/testing/subprocess.h"
#include "src/testing/temp_dir.h"
#include "src/testing/test_pki.h"

namespace cn::sgxquote {
namespace {

using ::testing::HasSubstr;
using testing::ProcessResult;

std::string Vector(const std::string& relative) {
  return absl::StrCat(CN_VECTORS_DIR, "/", relative);
}

ProcessResult RunSgxQuote(std::vector<std::string> args) {
  args.insert(args.begin(), CN_SGX_QUOTE_BINARY);
  return testing::RunProcess(args);
}

nlohmann::json ParseJson(const ProcessResult& result) {
  nlohmann::json json = nlohmann::json::parse(result.out, nullptr, false);
  EXPECT_FALSE(json.is_discarded()) << "stdout is not JSON: " << result.out << result.err;
  return json;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

TEST(SgxQuoteTest, EveryManifestCaseGivesItsExpectedJsonAndExitStatus) {
  const nlohmann::json manifest = nlohmann::json::parse(ReadFile(Vector("manifest.json")));
  for (const nlohmann::json& test_case : manifest) {
    const std::string id = test_case["id"];
    SCOPED_TRACE(id);
    std::vector<std::string> args = {"verify",       Vector(test_case["quote"]),
                                     "--collateral", Vector(test_case["collateral"]),
                                     "--at",         test_case["at"],
                                     "--json"};
    if (test_case.contains("root_ca")) {
      args.insert(args.end(), {"--root-ca", Vector(test_case["root_ca"])});
    }
    if (test_case.contains("pck_chain")) {
      args.push_back("--pck-chain");
      for (const nlohmann::json& path : test_case["pck_chain"]) {
        args.push_back(Vector(path));
      }
    }
    const ProcessResult result = RunSgxQuote(args);
    const nlohmann::json json = ParseJson(result);
    const nlohmann::json& expect = test_case["expect"];
    for (auto it = expect.begin(); it != expect.end(); ++it) {
      EXPECT_EQ(json[it.key()], it.value()) << it.key() << " in " << result.out;
    }
    EXPECT_EQ(result.exit_code, expect["verified"].get<bool>() ? 0 : 1) << result.err;
  }
}

TEST(SgxQuoteTest, RealSgxQuotePrintsTheReadmeVerdict) {
  const ProcessResult result =
      RunSgxQuote({"verify", Vector("real-sgx/quote.bin"), "--collateral",
                   Vector("real-sgx/collateral.json"), "--at", "2025-07-01T00:00:00Z"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("VERIFIED"));
  EXPECT_THAT(result.out, HasSubstr("ConfigurationAndSWHardeningNeeded"));
  EXPECT_THAT(result.out, HasSubstr("INTEL-SA-00289, INTEL-SA-00615"));
}

TEST(SgxQuoteTest, JsonVerdictHasEveryDocumentedField) {
  const ProcessResult result =
      RunSgxQuote({"verify", Vector("real-sgx/quote.bin"), "--collateral",
                   Vector("real-sgx/collateral.json"), "--at", "1751328000", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json json = ParseJson(result);
  for (const char* key : {"verified", "tee", "quote_version", "tcb_status", "advisory_ids", "fmspc",
                          "pce_id", "mrenclave", "mrsigner", "isv_prod_id", "isv_svn", "debug",
                          "report_data", "collateral_expired"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json["quote_version"], 3);
  EXPECT_EQ(json["fmspc"], "00a067110000");
  EXPECT_EQ(json["collateral_expired"], false);
}

// `sgx-quote verify` on the real TDX vector at the manifest's time, with `extra` arguments.
ProcessResult VerifyRealTdx(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"verify",       Vector("real-tdx/quote.bin"),
                                   "--collateral", Vector("real-tdx/collateral.json"),
                                   "--at",         "2025-07-01T00:00:00Z"};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunSgxQuote(std::move(args));
}

TEST(SgxQuoteTest, TdxJsonVerdictHasEveryFieldOfTheIssue) {
  const ProcessResult result = VerifyRealTdx({"--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json json = ParseJson(result);
  const std::vector<std::string> keys = {"verified",      "tee",
                                         "quote_version", "tcb_status",
                                         "advisory_ids",  "fmspc",
                                         "pce_id",        "tdx_module_status",
                                         "mr_td",         "mr_config_id",
                                         "mr_owner",      "mr_owner_config",
                                         "rtmr0",         "rtmr1",
                                         "rtmr2",         "rtmr3",
                                         "mr_seam",       "mr_signer_seam",
                                         "td_attributes", "xfam",
                                         "tee_tcb_svn",   "report_data",
                                         "debug",         "collateral_expired"};
  std::vector<std::string> printed;
  for (auto it = json.begin(); it != json.end(); ++it) {
    printed.push_back(it.key());
  }
  std::sort(printed.begin(), printed.end());
  std::vector<std::string> expected = keys;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(printed, expected) << result.out;  // no SGX fields, no 1.5 fields for a 1.0 body
  EXPECT_EQ(json["tee"], "tdx");
  EXPECT_EQ(json["quote_version"], 4);
  EXPECT_EQ(json["tcb_status"], "UpToDate");
  EXPECT_EQ(json["tdx_module_status"], "UpToDate");
  EXPECT_EQ(json["fmspc"], "b0c06f000000");
  EXPECT_EQ(json["tee_tcb_svn"], "06010300000000000000000000000000");
  EXPECT_EQ(json["td_attributes"], "0000001000000000");
  EXPECT_EQ(json["debug"], false);

  const ProcessResult text = VerifyRealTdx({});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("VERIFIED: TDX quote v4, TCB status UpToDate"));
  EXPECT_THAT(text.out, HasSubstr("TDX module TDX_01 status UpToDate"));
}

TEST(SgxQuoteTest, RepeatReportsVerificationsPerSecond) {
  const ProcessResult result = RunSgxQuote({"verify", Vector("real-sgx/quote.bin"), "--collateral",
                                            Vector("real-sgx/collateral.json"), "--at",
                                            "2025-07-01T00:00:00Z", "--json", "--repeat", "20"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_GT(ParseJson(result)["verifications_per_second"].get<double>(), 0.0);
}

TEST(SgxQuoteTest, ExpiredCollateralIsRejectedUnlessAllowed) {
  const std::vector<std::string> base = {
      "verify", Vector("real-sgx/quote.bin"), "--collateral", Vector("real-sgx/collateral.json"),
      "--at",   "2030-01-01T00:00:00Z",       "--json"};
  ProcessResult result = RunSgxQuote(base);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(ParseJson(result)["error"], "collateral_expired");
  std::vector<std::string> allowed = base;
  allowed.push_back("--allow-expired-collateral");
  result = RunSgxQuote(allowed);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(ParseJson(result)["collateral_expired"], true);
}

TEST(SgxQuoteTest, InputErrorsExitWithTwoAndSayWhat) {
  ProcessResult result = RunSgxQuote(
      {"verify", "/nonexistent/quote.bin", "--collateral", Vector("real-sgx/collateral.json")});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("/nonexistent/quote.bin"));

  testing::TempDir dir;
  const std::string broken = dir.WriteFile("broken.json", "{\"pck_crl\": ");
  result = RunSgxQuote({"verify", Vector("real-sgx/quote.bin"), "--collateral", broken});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("broken.json"));
  EXPECT_THAT(result.err, HasSubstr("not valid JSON at byte"));

  const std::string missing = dir.WriteFile("missing.json", "{\"pck_crl\": \"00\"}");
  result = RunSgxQuote({"verify", Vector("real-sgx/quote.bin"), "--collateral", missing});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("is missing"));

  result = RunSgxQuote({"verify", Vector("real-sgx/quote.bin"), "--collateral",
                        Vector("real-sgx/collateral.json"), "--at", "yesterday"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("yesterday"));

  result = RunSgxQuote({"verify", Vector("real-sgx/quote.bin")});
  EXPECT_EQ(result.exit_code, 2);
  result = RunSgxQuote({"frobnicate"});
  EXPECT_EQ(result.exit_code, 2);

  const std::string not_pem = dir.WriteFile("chain.pem", "hello");
  result = RunSgxQuote({"verify", Vector("real-sgx/quote.bin"), "--collateral",
                        Vector("real-sgx/collateral.json"), "--pck-chain", not_pem});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("no PEM certificate"));
}

TEST(SgxQuoteTest, UnparsableQuoteIsARejection) {
  const ProcessResult result =
      RunSgxQuote({"verify", Vector("tampered/sgx_quote_truncated"), "--collateral",
                   Vector("real-sgx/collateral.json"), "--at", "2025-07-01T00:00:00Z"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.out, HasSubstr("unsupported_quote_format"));
}

class SgxQuoteTestPkiTest : public ::testing::Test {
 protected:
  SgxQuoteTestPkiTest() : builder_(pki_) {}

  std::vector<std::string> VerifyArgs(const std::string& quote_name) {
    return {"verify",       dir_.WriteFile(quote_name, builder_.Build()),
            "--collateral", dir_.WriteFile("collateral.json", pki_.BuildCollateral().ToJson()),
            "--root-ca",    dir_.WriteFile("root.pem", pki_.RootPem()),
            "--at",         "2025-07-01T00:00:00Z",
            "--json"};
  }

  testing::TempDir dir_;
  testing::TestPki pki_;
  testing::QuoteBuilder builder_;
};

TEST_F(SgxQuoteTestPkiTest, RevokedTcbExitsOneWithTcbRevoked) {
  pki_.tcb_info.levels[0].status = "Revoked";
  const ProcessResult result = RunSgxQuote(VerifyArgs("quote.bin"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(ParseJson(result)["error"], "tcb_revoked");
}

TEST_F(SgxQuoteTestPkiTest, OutOfDateTcbStillExitsZero) {
  pki_.tcb_info.levels[0].status = "OutOfDate";
  pki_.tcb_info.levels[0].advisory_ids = {"INTEL-SA-00001"};
  const ProcessResult result = RunSgxQuote(VerifyArgs("quote.bin"));
  EXPECT_EQ(result.exit_code, 0) << result.out;
  const nlohmann::json json = ParseJson(result);
  EXPECT_EQ(json["tcb_status"], "OutOfDate");
  EXPECT_EQ(json["advisory_ids"], nlohmann::json::array({"INTEL-SA-00001"}));
  EXPECT_EQ(json["isv_prod_id"], 7);
}

// A TD report 1.5 whose module was updated in place (TEE_TCB_SVN at TDX_01's OutOfDate level,
// TEE_TCB_SVN2 at its latest): verified, exit 0, with Intel's relaunch status, never UpToDate.
TEST_F(SgxQuoteTestPkiTest, TdRelaunchAdvisedIsVerifiedWithItsStatus) {
  pki_.UseTdx();
  builder_.UseTdx(5);
  builder_.td.tee_tcb_svn = {3, 1, 2};
  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{5, 1, 2};
  builder_.td.mr_service_td = std::array<uint8_t, 48>{};
  ProcessResult result = RunSgxQuote(VerifyArgs("quote.bin"));
  EXPECT_EQ(result.exit_code, 0) << result.out;
  nlohmann::json json = ParseJson(result);
  EXPECT_EQ(json["verified"], true);
  EXPECT_EQ(json["tee"], "tdx");
  EXPECT_EQ(json["tcb_status"], "TDRelaunchAdvised");
  EXPECT_EQ(json["tdx_module_status"], "OutOfDate");
  EXPECT_EQ(json["tee_tcb_svn"], "03010200000000000000000000000000");
  EXPECT_EQ(json["tee_tcb_svn2"], "05010200000000000000000000000000");
  EXPECT_EQ(json["advisory_ids"], nlohmann::json::array({"INTEL-SA-01036"}));

  pki_.tcb_info.levels[0].status = "ConfigurationNeeded";
  std::vector<std::string> args = VerifyArgs("quote.bin");
  result = RunSgxQuote(args);
  EXPECT_EQ(result.exit_code, 0) << result.out;
  EXPECT_EQ(ParseJson(result)["tcb_status"], "TDRelaunchAdvisedConfigurationNeeded");
  args.pop_back();  // text
  result = RunSgxQuote(args);
  EXPECT_EQ(result.exit_code, 0) << result.out;
  EXPECT_THAT(result.out,
              HasSubstr("VERIFIED: TDX quote v5, TCB status TDRelaunchAdvisedConfigurationNeeded"));
  EXPECT_THAT(result.out, HasSubstr("relaunch the TD"));
}

TEST_F(SgxQuoteTestPkiTest, RevokedPckExitsOneWithPckRevoked) {
  pki_.pck_crl.revoked_serials = {pki_.pck_serial};
  const ProcessResult result = RunSgxQuote(VerifyArgs("quote.bin"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(ParseJson(result)["error"], "pck_revoked");
}

TEST_F(SgxQuoteTestPkiTest, WithoutRootCaTheIntelRootIsTrustedAndTestChainsAreNot) {
  std::vector<std::string> args = VerifyArgs("quote.bin");
  args.erase(args.begin() + 4, args.begin() + 6);  // drop --root-ca FILE
  const ProcessResult result = RunSgxQuote(args);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(ParseJson(result)["error"], "untrusted_pck_chain");
}

TEST_F(SgxQuoteTestPkiTest, BenchVerifiesDistinctQuotesRoundRobin) {
  std::vector<std::string> args = {
      "bench",
      "--collateral",
      dir_.WriteFile("collateral.json", pki_.BuildCollateral().ToJson()),
      "--root-ca",
      dir_.WriteFile("root.pem", pki_.RootPem()),
      "--at",
      "2025-07-01T00:00:00Z",
      "--seconds",
      "0.2",
      "--json"};
  for (int i = 0; i < 3; ++i) {
    builder_.enclave.report_data[0] = static_cast<uint8_t>(i);
    args.push_back(dir_.WriteFile(absl::StrCat("quote", i, ".bin"), builder_.Build()));
  }
  const ProcessResult result = RunSgxQuote(args);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json json = ParseJson(result);
  EXPECT_EQ(json["quotes"], 3);
  EXPECT_GE(json["verifications"].get<int>(), 3);
  EXPECT_GT(json["verifications_per_second"].get<double>(), 0.0);
}

TEST_F(SgxQuoteTestPkiTest, BenchRefusesQuotesThatDoNotVerify) {
  pki_.pck_crl.revoked_serials = {pki_.pck_serial};
  const ProcessResult result = RunSgxQuote(
      {"bench", "--collateral", dir_.WriteFile("collateral.json", pki_.BuildCollateral().ToJson()),
       "--root-ca", dir_.WriteFile("root.pem", pki_.RootPem()), "--at", "2025-07-01T00:00:00Z",
       "--seconds", "0.1", dir_.WriteFile("quote.bin", builder_.Build())});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("pck_revoked"));
}

TEST(SgxQuoteShowTest, ShowsHeaderBodyQeReportAndCertificates) {
  const ProcessResult result = RunSgxQuote({"show", Vector("real-sgx/quote.bin"), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json json = ParseJson(result);
  EXPECT_EQ(json["header"]["version"], 3);
  EXPECT_EQ(json["header"]["qe_vendor_id"], "939a7233f79c4ca9940a0db3957f0607");
  EXPECT_EQ(json["report_body"]["mrenclave"],
            "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb");
  EXPECT_EQ(json["qe_report"]["isv_prod_id"], 1);
  ASSERT_EQ(json["certificates"].size(), 3u);
  EXPECT_THAT(json["certificates"][0]["issuer"].get<std::string>(),
              HasSubstr("Intel SGX PCK Processor CA"));
  EXPECT_EQ(json["certificates"][0]["sgx_extension"]["fmspc"], "00a067110000");
  EXPECT_TRUE(json["certificates"][2].contains("not_after"));

  const ProcessResult text = RunSgxQuote({"show", Vector("real-tdx/quote.bin")});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("tee_type: tdx"));
  EXPECT_THAT(text.out, HasSubstr("mr_td: 91eb2b44d141d4ec"));
  for (const char* field : {"mr_seam:", "mr_signer_seam:", "seam_attributes:", "td_attributes:",
                            "xfam:", "mr_config_id:", "mr_owner:", "mr_owner_config:", "rtmr0:",
                            "rtmr3:", "tee_tcb_svn: 060103", "report_data:"}) {
    EXPECT_THAT(text.out, HasSubstr(field));
  }
}

TEST(SgxQuoteShowTest, UnparsableQuoteExitsOne) {
  const ProcessResult result =
      RunSgxQuote({"show", Vector("tampered/sgx_quote_version2"), "--json"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(ParseJson(result)["error"], "unsupported_quote_format");
}

}  // namespace
}  // namespace cn::sgxquote
