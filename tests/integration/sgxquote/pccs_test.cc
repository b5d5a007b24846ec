// Runs the built sgx-quote binary (CN_SGX_QUOTE_BINARY) against a PCCS stand-in on loopback:
// `verify --pccs-url [--cache]` and `collateral`, whose output `verify --collateral` reads.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "src/common/check.h"
#include "src/pccs/collateral_source.h"
#include "src/testing/pccs_standin.h"
#include "src/testing/quote_builder.h"
#include "src/testing/subprocess.h"
#include "src/testing/temp_dir.h"
#include "src/testing/test_pki.h"

namespace cn::sgxquote {
namespace {

using ::testing::HasSubstr;
using testing::ProcessResult;

ProcessResult RunSgxQuote(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {CN_SGX_QUOTE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunProcess(argv, absl::Seconds(30));
}

class SgxQuotePccsTest : public ::testing::Test {
 protected:
  SgxQuotePccsTest() {
    // Collateral valid around the real now: sgx-quote verifies at the current time by default.
    const absl::Time now = absl::Now();
    pki_.tcb_info.issue_date = pki_.qe_identity.issue_date = now - absl::Hours(1);
    pki_.tcb_info.next_update = pki_.qe_identity.next_update = now + absl::Hours(24 * 30);
    pki_.root_crl.this_update = pki_.pck_crl.this_update = now - absl::Hours(1);
    pki_.root_crl.next_update = pki_.pck_crl.next_update = now + absl::Hours(24 * 30);
    quote_path_ = dir_.WriteFile("quote.bin", testing::QuoteBuilder(pki_).Build());
    root_path_ = dir_.WriteFile("root.pem", pki_.RootPem());
    Serve();
  }
  void Serve() {
    absl::StatusOr<pccs::PlatformId> platform =
        pccs::PlatformIdOfQuote(testing::QuoteBuilder(pki_).Build());
    CN_CHECK(platform.ok());
    standin_->Serve(*platform, pki_.BuildCollateral());
  }
  std::vector<std::string> VerifyOnline(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"verify",    quote_path_, "--pccs-url", standin_->url(),
                                     "--root-ca", root_path_,  "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  testing::TestPki pki_;
  testing::TempDir dir_;
  std::string quote_path_;
  std::string root_path_;
  std::unique_ptr<testing::PccsStandin> standin_ = std::make_unique<testing::PccsStandin>();
};

TEST_F(SgxQuotePccsTest, CollateralOutputGivesTheSameVerdictAsPccsUrl) {
  for (const char* status : {"UpToDate", "SWHardeningNeeded", "OutOfDate", "Revoked"}) {
    SCOPED_TRACE(status);
    pki_.tcb_info.levels[0].status = status;
    Serve();
    const ProcessResult collateral =
        RunSgxQuote({"collateral", quote_path_, "--pccs-url", standin_->url()});
    ASSERT_EQ(collateral.exit_code, 0) << collateral.err;
    const nlohmann::json printed = nlohmann::json::parse(collateral.out, nullptr, false);
    ASSERT_TRUE(printed.is_object()) << collateral.out;
    EXPECT_TRUE(printed.contains("tcb_info_signature"));
    const std::string file = dir_.WriteFile("collateral.json", collateral.out);

    const ProcessResult offline = RunSgxQuote(
        {"verify", quote_path_, "--collateral", file, "--root-ca", root_path_, "--json"});
    const ProcessResult online = RunSgxQuote(VerifyOnline());
    EXPECT_EQ(online.exit_code, offline.exit_code) << online.err << offline.err;
    EXPECT_EQ(online.out, offline.out);
    const nlohmann::json verdict = nlohmann::json::parse(online.out, nullptr, false);
    if (std::string(status) == "Revoked") {
      EXPECT_EQ(online.exit_code, 1);
      EXPECT_EQ(verdict["error"], "tcb_revoked");
    } else {
      EXPECT_EQ(online.exit_code, 0) << online.out << online.err;
      EXPECT_EQ(verdict["tcb_status"], status);
    }
  }
}

TEST_F(SgxQuotePccsTest, ExpiredCollateralFromThePccsIsCollateralExpired) {
  pki_.tcb_info.issue_date = absl::Now() - absl::Hours(24 * 40);
  pki_.tcb_info.next_update = absl::Now() - absl::Hours(24 * 10);
  Serve();
  const std::string cache = dir_.path() + "/collateral.db";
  const ProcessResult result = RunSgxQuote(VerifyOnline({"--cache", cache}));
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_THAT(result.out, HasSubstr("collateral_expired"));
  // Served again from the cache once the PCCS is gone: still the freshest to be had.
  const std::vector<std::string> args = VerifyOnline({"--cache", cache});
  standin_.reset();
  const ProcessResult again = RunSgxQuote(args);
  EXPECT_EQ(again.exit_code, 1) << again.err;
  EXPECT_THAT(again.out, HasSubstr("collateral_expired"));
}

TEST_F(SgxQuotePccsTest, TheCacheFileKeepsVerifyWorkingWhenThePccsIsGone) {
  const std::string cache = dir_.path() + "/collateral.db";
  const ProcessResult first = RunSgxQuote(VerifyOnline({"--cache", cache}));
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const std::vector<std::string> args = VerifyOnline({"--cache", cache});
  standin_.reset();
  const ProcessResult second = RunSgxQuote(args);
  EXPECT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_EQ(second.out, first.out);
}

TEST_F(SgxQuotePccsTest, APccsThatIsDownIsAnInputErrorNamingTheUrl) {
  const std::vector<std::string> args = VerifyOnline();
  const std::string url = standin_->url();
  standin_.reset();
  const ProcessResult result = RunSgxQuote(args);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr(url));
}

TEST_F(SgxQuotePccsTest, AnUnknownPlatformSaysWhatThePccsAnswered) {
  standin_ = std::make_unique<testing::PccsStandin>();  // serves nothing
  const ProcessResult result = RunSgxQuote(VerifyOnline());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("HTTP 404"));
  EXPECT_THAT(result.err, HasSubstr("FMSPC 00906ed50000"));
}

TEST_F(SgxQuotePccsTest, ASlowPccsIsCutOffAtTheUpstreamTimeout) {
  standin_->set_delay(absl::Seconds(20));
  const absl::Time start = absl::Now();
  const ProcessResult result = RunSgxQuote(VerifyOnline({"--upstream-timeout", "0.5"}));
  standin_->ReleaseStalled();
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_THAT(result.err, HasSubstr("no complete answer"));
}

TEST_F(SgxQuotePccsTest, ACorruptCacheFileIsAnInputErrorNamingIt) {
  const std::string cache = dir_.WriteFile("broken.db", std::string(4096, 'x'));
  const ProcessResult result = RunSgxQuote(VerifyOnline({"--cache", cache}));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr(cache));
}

TEST_F(SgxQuotePccsTest, TakesEitherCollateralOrPccsUrl) {
  const std::string file = dir_.WriteFile("collateral.json", pki_.BuildCollateral().ToJson());
  std::vector<std::string> both = VerifyOnline({"--collateral", file});
  EXPECT_EQ(RunSgxQuote(both).exit_code, 2);
  const ProcessResult neither = RunSgxQuote({"verify", quote_path_, "--root-ca", root_path_});
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_THAT(neither.err, HasSubstr("--collateral FILE or --pccs-url URL"));
  EXPECT_EQ(RunSgxQuote({"collateral", quote_path_}).exit_code, 2);  // --pccs-url is required
}

TEST_F(SgxQuotePccsTest, AQuoteThatDoesNotParseIsARejection) {
  const std::string junk = dir_.WriteFile("junk.bin", "not a quote");
  std::vector<std::string> args = VerifyOnline();
  args[1] = junk;
  const ProcessResult verify = RunSgxQuote(args);
  EXPECT_EQ(verify.exit_code, 1) << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("unsupported_quote_format"));
  const ProcessResult collateral = RunSgxQuote({"collateral", junk, "--pccs-url", standin_->url()});
  EXPECT_EQ(collateral.exit_code, 1);
  EXPECT_THAT(collateral.err, HasSubstr("unsupported_quote_format"));
  EXPECT_EQ(standin_->request_count(), 0);
}

}  // namespace
}  // namespace cn::sgxquote
