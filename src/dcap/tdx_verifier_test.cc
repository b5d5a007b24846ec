// TDX quote verification against the test PKI: v4 and v5 quotes (TD report 1.0 and 1.5), the
// TDX module (identity selection, MRSIGNERSEAM, SEAMATTRIBUTES, each module status), TCB level
// selection by the TDX components, the combined status, TD relaunch advice, TD QE identity,
// debug TDs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "src/dcap/verifier.h"
#include "src/dcap/verifier_test_util.h"
#include "src/testing/quote_builder.h"
#include "src/testing/test_pki.h"

namespace cn::dcap {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::QeLevelSpec;
using testing::QuoteBuilder;
using testing::TcbLevelSpec;
using testing::TestPki;
using testing::TestPkiDefaultAt;

class TdxVerifierTest : public ::testing::Test {
 protected:
  TdxVerifierTest() : builder_(pki_) {
    pki_.UseTdx();
    builder_.UseTdx(4);
  }

  VerificationResult Verify(const std::string& quote) {
    Verifier verifier(pki_.Anchor());
    VerifyOptions options;
    options.at = TestPkiDefaultAt();
    return verifier.Verify(quote, pki_.BuildCollateral(), options);
  }
  VerificationResult Verify() { return Verify(builder_.Build()); }

  // A TDX level the quote's TEE_TCB_SVN does not reach (component 2 one higher), then `status`
  // at the quote's own TDX TCB; both at the PCK's SGX TCB.
  void SetTdxLevelStatus(const std::string& status, std::vector<std::string> advisories = {}) {
    std::array<uint8_t, 16> own = builder_.td.tee_tcb_svn;
    std::array<uint8_t, 16> higher = own;
    higher[2] += 1;
    pki_.tcb_info.levels = {
        TcbLevelSpec{
            pki_.pck_extension.tcb_components, pki_.pck_extension.pcesvn, "UpToDate", {}, higher},
        TcbLevelSpec{pki_.pck_extension.tcb_components, pki_.pck_extension.pcesvn, status,
                     std::move(advisories), own}};
  }

  TestPki pki_;
  QuoteBuilder builder_;
};

TEST_F(TdxVerifierTest, VerifiesTdxQuoteVersion4AsUpToDate) {
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  const Verdict& verdict = result.verdict();
  EXPECT_EQ(verdict.tee, Tee::kTdx);
  EXPECT_EQ(verdict.quote_version, 4);
  EXPECT_EQ(verdict.body_type, kBodyTypeTdReport10);
  EXPECT_EQ(verdict.tcb_status, TcbStatus::kUpToDate);
  EXPECT_EQ(verdict.tdx_module_identity, "TDX_01");
  EXPECT_EQ(verdict.tdx_module_status, TcbStatus::kUpToDate);
  ASSERT_TRUE(verdict.td_report.has_value());
  EXPECT_EQ(verdict.td_report->mr_td, builder_.td.mr_td);
  EXPECT_EQ(verdict.td_report->rtmr[3], builder_.td.rtmr[3]);
  EXPECT_EQ(verdict.td_report->mr_owner_config, builder_.td.mr_owner_config);
  EXPECT_EQ(verdict.td_report->report_data, builder_.td.report_data);
  EXPECT_FALSE(verdict.td_report->debug());
  EXPECT_FALSE(verdict.td_report->tee_tcb_svn2.has_value());
  EXPECT_EQ(verdict.pck.fmspc, pki_.pck_extension.fmspc);
}

TEST_F(TdxVerifierTest, VerifiesVersion5QuotesWithTdReport10And15) {
  builder_.UseTdx(5);
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().quote_version, 5);
  EXPECT_EQ(result.verdict().body_type, kBodyTypeTdReport10);

  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{5, 1, 2};
  builder_.td.mr_service_td = std::array<uint8_t, 48>{};
  builder_.td.mr_service_td->fill(0x5d);
  const std::string quote = builder_.Build();
  absl::StatusOr<Quote> parsed = ParseQuote(quote);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->signed_bytes.size(), kQuoteHeaderSize + kBodyDescriptorSize + 648);
  result = Verify(quote);
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().body_type, kBodyTypeTdReport15);
  ASSERT_TRUE(result.verdict().td_report->mr_service_td.has_value());
  EXPECT_EQ(*result.verdict().td_report->mr_service_td, *builder_.td.mr_service_td);
  EXPECT_EQ(*result.verdict().td_report->tee_tcb_svn2, *builder_.td.tee_tcb_svn2);
}

TEST_F(TdxVerifierTest, VerifiesSgxQuoteVersion5) {
  TestPki sgx_pki;
  QuoteBuilder sgx(sgx_pki);
  sgx.version = 5;
  Verifier verifier(sgx_pki.Anchor());
  VerifyOptions options;
  options.at = TestPkiDefaultAt();
  VerificationResult result = verifier.Verify(sgx.Build(), sgx_pki.BuildCollateral(), options);
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tee, Tee::kSgx);
  EXPECT_EQ(result.verdict().body_type, kBodyTypeSgx);
  EXPECT_EQ(result.verdict().report.mr_enclave, sgx.enclave.mr_enclave);
}

TEST_F(TdxVerifierTest, RejectsVersion5BodyOfAnotherTeeUnknownTypeOrWrongSize) {
  builder_.UseTdx(5);
  builder_.body_type = kBodyTypeSgx;
  ExpectRejected(Verify(), ErrorCode::kUnsupportedQuoteFormat, "does not belong to TEE TDX");
  builder_.body_type = 7;
  ExpectRejected(Verify(), ErrorCode::kUnsupportedQuoteFormat, "body type 7 is unknown");
  builder_.body_type = kBodyTypeTdReport15;  // but a 1.0 body's 584 bytes
  ExpectRejected(Verify(), ErrorCode::kUnsupportedQuoteFormat, "body size 584 is not 648");
}

TEST_F(TdxVerifierTest, RejectsTdxQuoteVersion3) {
  builder_.version = 3;
  ExpectRejected(Verify(), ErrorCode::kUnsupportedQuoteFormat, "TDX quotes of version 3");
}

TEST_F(TdxVerifierTest, ReportsDebugTds) {
  builder_.td.td_attributes[0] |= 0x01;
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_TRUE(result.verdict().td_report->debug());
}

TEST_F(TdxVerifierTest, RejectsSgxCollateralAndSgxQeIdentity) {
  pki_.qe_identity.id = "QE";
  ExpectRejected(Verify(), ErrorCode::kQeIdentityMismatch, "\"TD_QE\"");
  pki_.qe_identity.id = "TD_QE";
  pki_.tcb_info.id = "SGX";
  ExpectRejected(Verify(), ErrorCode::kFmspcMismatch, "SGX TCB Info");
  pki_.tcb_info.version = 2;
  ExpectRejected(Verify(), ErrorCode::kFmspcMismatch, "SGX TCB Info (version 2");
}

TEST_F(TdxVerifierTest, ChoosesTheModuleIdentityByMajorVersion) {
  builder_.td.tee_tcb_svn[1] = 3;  // TDX_03: one level, ISVSVN 2
  builder_.td.tee_tcb_svn[0] = 2;
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tdx_module_identity, "TDX_03");
  EXPECT_EQ(result.verdict().tdx_module_status, TcbStatus::kUpToDate);

  pki_.tcb_info.tdx_module_identities[0].id = "tdx_01";  // Intel's QVL compares ignoring case
  builder_.td.tee_tcb_svn = {5, 1, 2};
  result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tdx_module_identity, "tdx_01");
}

TEST_F(TdxVerifierTest, RejectsModuleWhoseIdentityIsMissing) {
  builder_.td.tee_tcb_svn[1] = 2;
  ExpectRejected(Verify(), ErrorCode::kTdxModuleIdentityNotFound, "TDX_02");
  builder_.td.tee_tcb_svn[1] = 1;
  pki_.tcb_info.tdx_module_identities.clear();  // no tdxModuleIdentities at all
  ExpectRejected(Verify(), ErrorCode::kTdxModuleIdentityNotFound, "TDX_01");
}

TEST_F(TdxVerifierTest, RejectsModuleSignedByAnotherKey) {
  builder_.td.mr_signer_seam[0] = 1;
  ExpectRejected(Verify(), ErrorCode::kTdxModuleMismatch, "MRSIGNERSEAM 01");
  builder_.td.mr_signer_seam[0] = 0;
  pki_.tcb_info.tdx_module_identities[0].module.mrsigner[47] = 0x42;
  ExpectRejected(Verify(), ErrorCode::kTdxModuleMismatch, "identity TDX_01");
}

TEST_F(TdxVerifierTest, RejectsSeamAttributesUnderTheMaskAndAnyThatAreNotZero) {
  builder_.td.seam_attributes[0] = 0x01;
  ExpectRejected(Verify(), ErrorCode::kTdxModuleMismatch, "under mask");
  // A mask that lets the bit through still leaves Intel's rule: SEAMATTRIBUTES must be zero.
  pki_.tcb_info.tdx_module_identities[0].module.attributes_mask = "00FFFFFFFFFFFFFF";
  ExpectRejected(Verify(), ErrorCode::kTdxModuleMismatch, "are not zero");
}

TEST_F(TdxVerifierTest, MajorVersionZeroModuleIsJudgedByTdxModuleAndComponents) {
  builder_.td.tee_tcb_svn = {4, 0, 2};
  // No identity is used; bytes 0 and 1 count in the TDX components.
  pki_.tcb_info.tdx_module_identities.clear();
  pki_.tcb_info.levels = {TcbLevelSpec{pki_.pck_extension.tcb_components,
                                       pki_.pck_extension.pcesvn,
                                       "UpToDate",
                                       {},
                                       std::array<uint8_t, 16>{5, 0, 2}},
                          TcbLevelSpec{pki_.pck_extension.tcb_components,
                                       pki_.pck_extension.pcesvn,
                                       "OutOfDate",
                                       {"INTEL-SA-00837"},
                                       std::array<uint8_t, 16>{3, 0, 2}}};
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tcb_status, TcbStatus::kOutOfDate);
  EXPECT_TRUE(result.verdict().tdx_module_identity.empty());
  EXPECT_EQ(result.verdict().tdx_module_status, TcbStatus::kUpToDate);
  pki_.tcb_info.tdx_module->mrsigner[0] = 0x99;
  ExpectRejected(Verify(), ErrorCode::kTdxModuleMismatch, "tdxModule");
}

TEST_F(TdxVerifierTest, ReportsEachTcbStatusOfTheTdxComponents) {
  for (const char* status :
       {"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded",
        "OutOfDate", "OutOfDateConfigurationNeeded"}) {
    SetTdxLevelStatus(status, {"INTEL-SA-00001"});
    VerificationResult result = Verify();
    ASSERT_TRUE(result.verified()) << status << ": " << result.rejection().message;
    EXPECT_EQ(TcbStatusName(result.verdict().tcb_status), status);
    EXPECT_EQ(TcbStatusName(result.verdict().platform_tcb_status), status);
    EXPECT_THAT(result.verdict().advisory_ids, ElementsAre("INTEL-SA-00001"));
  }
  SetTdxLevelStatus("Revoked");
  ExpectRejected(Verify(), ErrorCode::kTcbRevoked, "platform level Revoked");
}

TEST_F(TdxVerifierTest, ModuleBytesDoNotCountInComponentsWhenTheModuleHasAnIdentity) {
  // The level asks for module ISVSVN 9 in tdxtcbcomponents[0]; with major version 1 the identity
  // judges the module, so the level still applies.
  pki_.tcb_info.levels[0].tdx_components = std::array<uint8_t, 16>{9, 9, 2};
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tcb_status, TcbStatus::kUpToDate);
}

TEST_F(TdxVerifierTest, TdxLevelMustAlsoBeReachedByTheSgxComponents) {
  // First level: TDX components fit, but PCESVN is above the PCK's; second: both fit.
  const auto& sgx = pki_.pck_extension.tcb_components;
  const uint16_t pcesvn = pki_.pck_extension.pcesvn;
  pki_.tcb_info.levels = {
      TcbLevelSpec{sgx, static_cast<uint16_t>(pcesvn + 1), "UpToDate", {}, builder_.td.tee_tcb_svn},
      TcbLevelSpec{sgx, pcesvn, "SWHardeningNeeded", {}, builder_.td.tee_tcb_svn}};
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tcb_status, TcbStatus::kSwHardeningNeeded);
}

TEST_F(TdxVerifierTest, RejectsTdxTcbBelowEveryLevel) {
  builder_.td.tee_tcb_svn[2] = 1;
  ExpectRejected(Verify(), ErrorCode::kTcbLevelNotFound, "TEE_TCB_SVN 5,1,1");
  builder_.td.tee_tcb_svn[2] = 2;
  pki_.pck_extension.pcesvn = 2;
  pki_.ReissuePckLeaf();
  ExpectRejected(Verify(), ErrorCode::kTcbLevelNotFound, "PCESVN 2");
}

TEST_F(TdxVerifierTest, OutOfDateModuleMakesTheTdOutOfDate) {
  builder_.td.tee_tcb_svn[0] = 4;  // TDX_01 level ISVSVN 3: OutOfDate, INTEL-SA-01036
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tcb_status, TcbStatus::kOutOfDate);
  EXPECT_EQ(result.verdict().platform_tcb_status, TcbStatus::kUpToDate);
  EXPECT_EQ(result.verdict().tdx_module_status, TcbStatus::kOutOfDate);
  EXPECT_THAT(result.verdict().advisory_ids, ElementsAre("INTEL-SA-01036"));

  SetTdxLevelStatus("ConfigurationNeeded");
  result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tcb_status, TcbStatus::kOutOfDateConfigurationNeeded);
}

TEST_F(TdxVerifierTest, RevokedModuleOrModuleBelowEveryLevelIsRejected) {
  pki_.tcb_info.tdx_module_identities[0].levels = {QeLevelSpec{6, "UpToDate", {}},
                                                   QeLevelSpec{5, "Revoked", {}}};
  ExpectRejected(Verify(), ErrorCode::kTcbRevoked, "TDX module level Revoked");
  builder_.td.tee_tcb_svn[0] = 4;
  ExpectRejected(Verify(), ErrorCode::kTcbLevelNotFound, "module ISVSVN 4");
}

TEST_F(TdxVerifierTest, OutOfDateTdQeAndModuleCombineWithThePlatform) {
  builder_.qe_report.isv_svn = 7;  // QE level ISVSVN 6: OutOfDate, INTEL-SA-00615
  builder_.td.tee_tcb_svn[0] = 3;  // module OutOfDate, INTEL-SA-01036
  SetTdxLevelStatus("SWHardeningNeeded", {"INTEL-SA-00828"});
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tcb_status, TcbStatus::kOutOfDate);
  EXPECT_EQ(result.verdict().qe_tcb_status, TcbStatus::kOutOfDate);
  EXPECT_THAT(result.verdict().advisory_ids,
              ElementsAre("INTEL-SA-00615", "INTEL-SA-00828", "INTEL-SA-01036"));
}

TEST_F(TdxVerifierTest, RejectsTdxTcbInfoWithoutTdxComponentsOrModule) {
  pki_.tcb_info.levels[0].tdx_components.reset();
  ExpectRejected(Verify(), ErrorCode::kInvalidTcbInfo, "tdxtcbcomponents is missing");
  pki_.UseTdx();
  pki_.tcb_info.tdx_module_identities[1].levels[0].status = "SWHardeningNeeded";
  ExpectRejected(Verify(), ErrorCode::kInvalidTcbInfo, "not an ISVSVN level status");
}

// TD relaunch advice (Intel's QVL checkForRelaunch), TD report 1.5 only. The base case meets all
// four conditions: QE UpToDate; the SGX level UpToDate; TEE_TCB_SVN {3,1,2} puts the module at
// TDX_01's OutOfDate level (ISVSVN 3), so the TDX status is OutOfDate; TEE_TCB_SVN2 {5,1,2}, the
// module running now, reaches TDX_01's latest level (ISVSVN 5) and the latest TCB level's
// tdxtcbcomponents[2] (2).
class TdRelaunchTest : public TdxVerifierTest {
 protected:
  TdRelaunchTest() {
    builder_.UseTdx(5);
    builder_.td.tee_tcb_svn = {3, 1, 2};
    builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{5, 1, 2};
    builder_.td.mr_service_td = std::array<uint8_t, 48>{};
  }

  // The verified status's name, or the rejection's code.
  std::string Outcome() {
    const VerificationResult result = Verify();
    return result.verified() ? std::string(TcbStatusName(result.verdict().tcb_status))
                             : absl::StrCat("rejected: ", ErrorCodeName(result.rejection().code),
                                            ": ", result.rejection().message);
  }
};

TEST_F(TdRelaunchTest, AdvisesRelaunchWhenTheModuleRunningNowReachesTheLatestLevel) {
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  const Verdict& verdict = result.verdict();
  EXPECT_EQ(verdict.body_type, kBodyTypeTdReport15);
  EXPECT_EQ(verdict.tcb_status, TcbStatus::kTdRelaunchAdvised);
  EXPECT_EQ(TcbStatusName(verdict.tcb_status), "TDRelaunchAdvised");
  // The parts keep their own statuses: the launch-time module is OutOfDate.
  EXPECT_EQ(verdict.platform_tcb_status, TcbStatus::kUpToDate);
  EXPECT_EQ(verdict.tdx_module_status, TcbStatus::kOutOfDate);
  EXPECT_EQ(verdict.qe_tcb_status, TcbStatus::kUpToDate);
  EXPECT_THAT(verdict.advisory_ids, ElementsAre("INTEL-SA-01036"));
}

TEST_F(TdRelaunchTest, AdvisesRelaunchWithConfigurationWhenTheSgxOrTdxStatusNeedsIt) {
  // One level, ConfigurationNeeded: SGX and TDX status both need configuration.
  pki_.tcb_info.levels[0].status = "ConfigurationNeeded";
  EXPECT_EQ(Outcome(), "TDRelaunchAdvisedConfigurationNeeded");
  pki_.tcb_info.levels[0].status = "ConfigurationAndSWHardeningNeeded";
  EXPECT_EQ(Outcome(), "TDRelaunchAdvisedConfigurationNeeded");
  pki_.tcb_info.levels[0].status = "SWHardeningNeeded";
  EXPECT_EQ(Outcome(), "TDRelaunchAdvised");

  // The SGX level UpToDate, the TDX level (TEE_TCB_SVN[2] = 2 misses the first level's 3)
  // ConfigurationNeeded: only the TDX status needs configuration. TEE_TCB_SVN2[2] must reach the
  // latest level's 3.
  SetTdxLevelStatus("ConfigurationNeeded");
  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{5, 1, 3};
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tcb_status, TcbStatus::kTdRelaunchAdvisedConfigurationNeeded);
  EXPECT_EQ(result.verdict().platform_tcb_status, TcbStatus::kConfigurationNeeded);

  // Only the SGX level (the first) needs configuration; the TDX level is plain OutOfDate.
  SetTdxLevelStatus("OutOfDate");
  pki_.tcb_info.levels[0].status = "ConfigurationNeeded";
  result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tcb_status, TcbStatus::kTdRelaunchAdvisedConfigurationNeeded);
  EXPECT_EQ(result.verdict().platform_tcb_status, TcbStatus::kOutOfDate);
}

TEST_F(TdRelaunchTest, QeNotCurrentGivesTheOutOfDateStatus) {
  builder_.qe_report.isv_svn = 7;  // QE level ISVSVN 6: OutOfDate
  EXPECT_EQ(Outcome(), "OutOfDate");
  builder_.qe_report.isv_svn = 8;
  pki_.qe_identity.levels = {QeLevelSpec{8, "Revoked", {}}};
  EXPECT_THAT(Outcome(), HasSubstr("rejected: tcb_revoked"));
}

TEST_F(TdRelaunchTest, SgxLevelOutOfDateGivesTheOutOfDateStatus) {
  pki_.tcb_info.levels[0].status = "OutOfDate";
  EXPECT_EQ(Outcome(), "OutOfDate");
  pki_.tcb_info.levels[0].status = "OutOfDateConfigurationNeeded";
  EXPECT_EQ(Outcome(), "OutOfDateConfigurationNeeded");
}

TEST_F(TdRelaunchTest, ModuleCurrentAtLaunchGivesNoAdvice) {
  // Module at TDX_01's UpToDate level: the TDX status is not OutOfDate.
  builder_.td.tee_tcb_svn = {5, 1, 2};
  EXPECT_EQ(Outcome(), "UpToDate");
  // The TDX status OutOfDate by the TDX components, the module UpToDate: condition 3 wants the
  // module's own level OutOfDate.
  SetTdxLevelStatus("OutOfDate");
  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{5, 1, 3};
  EXPECT_EQ(Outcome(), "OutOfDate");
}

TEST_F(TdRelaunchTest, ModuleRunningNowBelowTheLatestLevelGivesTheOutOfDateStatus) {
  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{4, 1, 2};  // TDX_01's latest is ISVSVN 5
  EXPECT_EQ(Outcome(), "OutOfDate");
  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{5, 1, 1};  // latest tdxtcbcomponents[2] 2
  EXPECT_EQ(Outcome(), "OutOfDate");
  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{9, 1, 9};
  EXPECT_EQ(Outcome(), "TDRelaunchAdvised");
}

TEST_F(TdRelaunchTest, ModuleRunningNowOfMajorVersionZeroIsJudgedByTheLatestLevel) {
  // TEE_TCB_SVN2[1] = 0: its ISVSVN is compared with the latest level's tdxtcbcomponents[0] (5).
  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{4, 0, 2};
  EXPECT_EQ(Outcome(), "OutOfDate");
  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{5, 0, 2};
  EXPECT_EQ(Outcome(), "TDRelaunchAdvised");
}

TEST_F(TdRelaunchTest, ModuleRunningNowIsJudgedByItsOwnIdentity) {
  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{2, 3, 2};  // TDX_03's latest: ISVSVN 2
  EXPECT_EQ(Outcome(), "TDRelaunchAdvised");
  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{1, 3, 2};
  EXPECT_EQ(Outcome(), "OutOfDate");
}

TEST_F(TdRelaunchTest, RejectsModuleRunningNowWithoutItsIdentity) {
  // As Intel's STATUS_TDX_MODULE_MISMATCH, once the other conditions hold.
  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{5, 2, 2};
  ExpectRejected(Verify(), ErrorCode::kTdxModuleIdentityNotFound, "TEE_TCB_SVN2[1]");
  ExpectRejected(Verify(), ErrorCode::kTdxModuleIdentityNotFound, "TDX_02");
  // Not looked for when a condition before it fails.
  builder_.qe_report.isv_svn = 7;
  EXPECT_EQ(Outcome(), "OutOfDate");
}

TEST_F(TdRelaunchTest, TdReport10IsNeverAdvised) {
  builder_.td.tee_tcb_svn2.reset();
  builder_.td.mr_service_td.reset();
  EXPECT_EQ(Outcome(), "OutOfDate");  // v5, body type 2
  builder_.UseTdx(4);
  EXPECT_EQ(Outcome(), "OutOfDate");
}

TEST_F(TdRelaunchTest, TcbInfoCannotAssertTheRelaunchStatuses) {
  EXPECT_FALSE(ParseTcbStatus("TDRelaunchAdvised").ok());
  EXPECT_FALSE(ParseTcbStatus("TDRelaunchAdvisedConfigurationNeeded").ok());
  pki_.tcb_info.levels[0].status = "TDRelaunchAdvised";
  ExpectRejected(Verify(), ErrorCode::kInvalidTcbInfo, "TDRelaunchAdvised");
}

TEST_F(TdxVerifierTest, EveryBitFlipOfTheSignedPartIsRejected) {
  builder_.UseTdx(5);
  builder_.td.tee_tcb_svn2 = std::array<uint8_t, 16>{};
  builder_.td.mr_service_td = std::array<uint8_t, 48>{};
  const std::string original = builder_.Build();
  Verifier verifier(pki_.Anchor());
  VerifyOptions options;
  options.at = TestPkiDefaultAt();
  const Collateral collateral = pki_.BuildCollateral();
  ASSERT_TRUE(verifier.Verify(original, collateral, options).verified());
  const size_t signed_bits = (kQuoteHeaderSize + kBodyDescriptorSize + kTdReport15BodySize) * 8;
  for (size_t bit = 0; bit < signed_bits; ++bit) {
    std::string quote = original;
    quote[bit / 8] = static_cast<char>(quote[bit / 8] ^ (1 << (bit % 8)));
    const VerificationResult result = verifier.Verify(quote, collateral, options);
    ASSERT_FALSE(result.verified()) << "bit " << bit << " flipped still verifies";
    const ErrorCode code = result.rejection().code;
    ASSERT_TRUE(code == ErrorCode::kUnsupportedQuoteFormat ||
                code == ErrorCode::kInvalidQuoteSignature)
        << "bit " << bit << ": " << ErrorCodeName(code);
  }
}

}  // namespace
}  // namespace cn::dcap
