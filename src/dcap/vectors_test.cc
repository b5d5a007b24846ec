// The shared test vectors (../shared/vectors): every manifest case, the bit-flip sweeps over the
// signed part of the real SGX and TDX quotes, and the older encoding of Intel's root.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "nlohmann/json.hpp"
#include "src/dcap/verifier.h"

namespace cn::dcap {
namespace {

using ::testing::ElementsAreArray;

std::string VectorPath(const std::string& relative) {
  return std::string(CN_VECTORS_DIR) + "/" + relative;
}

std::string ReadVector(const std::string& relative) {
  std::ifstream file(VectorPath(relative), std::ios::binary);
  EXPECT_TRUE(file.good()) << "cannot open " << VectorPath(relative);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

absl::Time ParseAt(const std::string& text) {
  absl::Time time;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &time, &error)) << text;
  return time;
}

Collateral LoadCollateral(const std::string& relative) {
  absl::StatusOr<Collateral> collateral = Collateral::FromJson(ReadVector(relative));
  EXPECT_TRUE(collateral.ok()) << collateral.status();
  return *std::move(collateral);
}

TEST(VectorsTest, EveryManifestCaseGivesItsExpectedResult) {
  const nlohmann::json manifest = nlohmann::json::parse(ReadVector("manifest.json"));
  int checked = 0;
  for (const nlohmann::json& test_case : manifest) {
    const std::string id = test_case["id"];
    SCOPED_TRACE(id);
    TrustAnchor anchor = TrustAnchor::IntelSgxRoot();
    if (test_case.contains("root_ca")) {
      absl::StatusOr<TrustAnchor> custom =
          TrustAnchor::FromCertificate(ReadVector(test_case["root_ca"]));
      ASSERT_TRUE(custom.ok()) << custom.status();
      anchor = *std::move(custom);
    }
    Verifier verifier(std::move(anchor));
    VerifyOptions options;
    options.at = ParseAt(test_case["at"]);
    if (test_case.contains("pck_chain")) {
      for (const nlohmann::json& path : test_case["pck_chain"]) {
        options.pck_chain_pem += ReadVector(path);
      }
    }
    const VerificationResult result = verifier.Verify(
        ReadVector(test_case["quote"]), LoadCollateral(test_case["collateral"]), options);
    const nlohmann::json& expect = test_case["expect"];
    ASSERT_EQ(result.verified(), expect["verified"].get<bool>())
        << (result.verified() ? "verified" : result.rejection().message);
    if (result.verified()) {
      EXPECT_EQ(TeeName(result.verdict().tee), expect["tee"].get<std::string>());
      EXPECT_EQ(TcbStatusName(result.verdict().tcb_status),
                expect["tcb_status"].get<std::string>());
      if (expect.contains("advisory_ids")) {
        EXPECT_THAT(result.verdict().advisory_ids,
                    ElementsAreArray(expect["advisory_ids"].get<std::vector<std::string>>()));
      }
      EXPECT_FALSE(result.verdict().collateral_expired);
    } else {
      EXPECT_EQ(ErrorCodeName(result.rejection().code), expect["error"].get<std::string>())
          << result.rejection().message;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 11);
}

TEST(VectorsTest, RealSgxQuoteReportsItsPlatformAndEnclave) {
  Verifier verifier(TrustAnchor::IntelSgxRoot());
  VerifyOptions options;
  options.at = ParseAt("2025-07-01T00:00:00Z");
  const VerificationResult result = verifier.Verify(
      ReadVector("real-sgx/quote.bin"), LoadCollateral("real-sgx/collateral.json"), options);
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(HexEncode(result.verdict().pck.fmspc), "00a067110000");
  const std::array<uint8_t, 16> components = {11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(result.verdict().pck.tcb_components, components);
  EXPECT_EQ(result.verdict().pck.pcesvn, 13);
  EXPECT_EQ(result.verdict().report.report_data[0], 'H');  // "Hello, world!"
  EXPECT_EQ(result.verdict().platform_tcb_status, TcbStatus::kConfigurationAndSwHardeningNeeded);
  EXPECT_EQ(result.verdict().qe_tcb_status, TcbStatus::kUpToDate);
  EXPECT_EQ(result.verdict().quote_version, 3);
}

TEST(VectorsTest, RealSgxQuoteVerifiesAgainstTheOlderEncodingOfIntelsRoot) {
  absl::StatusOr<TrustAnchor> old_root =
      TrustAnchor::FromCertificate(ReadVector("maa-example/old_root_2033.pem"));
  ASSERT_TRUE(old_root.ok()) << old_root.status();
  Verifier verifier(*std::move(old_root));
  VerifyOptions options;
  options.at = ParseAt("2025-07-01T00:00:00Z");
  const VerificationResult result = verifier.Verify(
      ReadVector("real-sgx/quote.bin"), LoadCollateral("real-sgx/collateral.json"), options);
  EXPECT_TRUE(result.verified()) << result.rejection().message;
}

TEST(VectorsTest, RealSgxQuoteIsRejectedOutsideItsCollateralWindow) {
  Verifier verifier(TrustAnchor::IntelSgxRoot());
  VerifyOptions options;
  options.at = ParseAt("2026-07-01T00:00:00Z");
  const std::string quote = ReadVector("real-sgx/quote.bin");
  const Collateral collateral = LoadCollateral("real-sgx/collateral.json");
  VerificationResult result = verifier.Verify(quote, collateral, options);
  ASSERT_FALSE(result.verified());
  EXPECT_EQ(result.rejection().code, ErrorCode::kCollateralExpired);
  options.allow_expired_collateral = true;
  result = verifier.Verify(quote, collateral, options);
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_TRUE(result.verdict().collateral_expired);
}

TEST(VectorsTest, RealTdxQuoteVerifiesAndReportsItsTdAndModule) {
  const std::string bytes = ReadVector("real-tdx/quote.bin");
  absl::StatusOr<Quote> quote = ParseQuote(bytes);
  ASSERT_TRUE(quote.ok()) << quote.status();
  EXPECT_EQ(quote->header.tee_type, kTeeTypeTdx);
  EXPECT_EQ(quote->body_type, kBodyTypeTdReport10);
  EXPECT_EQ(quote->trailing_padding, 70u);
  EXPECT_EQ(quote->signed_bytes.size(), kQuoteHeaderSize + kTdReportBodySize);
  Verifier verifier(TrustAnchor::IntelSgxRoot());
  VerifyOptions options;
  options.at = ParseAt("2025-07-01T00:00:00Z");
  const VerificationResult result =
      verifier.Verify(bytes, LoadCollateral("real-tdx/collateral.json"), options);
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  const Verdict& verdict = result.verdict();
  EXPECT_EQ(verdict.tee, Tee::kTdx);
  EXPECT_EQ(verdict.quote_version, 4);
  EXPECT_EQ(verdict.tcb_status, TcbStatus::kUpToDate);
  EXPECT_TRUE(verdict.advisory_ids.empty());
  EXPECT_EQ(HexEncode(verdict.pck.fmspc), "b0c06f000000");
  // TEE_TCB_SVN 06 01 03: module major version 1 (identity TDX_01), ISVSVN 6 >= its level 4.
  EXPECT_EQ(verdict.tdx_module_identity, "TDX_01");
  ASSERT_TRUE(verdict.tdx_module_status.has_value());
  EXPECT_EQ(*verdict.tdx_module_status, TcbStatus::kUpToDate);
  ASSERT_TRUE(verdict.td_report.has_value());
  const TdReportBody& td = *verdict.td_report;
  EXPECT_EQ(HexEncode(td.tee_tcb_svn), "06010300000000000000000000000000");
  EXPECT_EQ(HexEncode(td.mr_td),
            "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2"
            "538873118b7");
  EXPECT_EQ(HexEncode(td.rtmr[0]).substr(0, 16), "44c0197b39157fdd");
  EXPECT_EQ(HexEncode(td.td_attributes), "0000001000000000");
  EXPECT_FALSE(td.debug());
  EXPECT_EQ(HexEncode(td.xfam), "e702060000000000");
  EXPECT_FALSE(td.tee_tcb_svn2.has_value());
}

TEST(VectorsTest, RealQuotesAreRefusedWithTheOtherTeesTcbInfo) {
  Verifier verifier(TrustAnchor::IntelSgxRoot());
  VerifyOptions options;
  options.at = ParseAt("2025-07-01T00:00:00Z");
  // Each quote's own collateral, with the other vector's (validly signed) TCB Info in it.
  const Collateral sgx = LoadCollateral("real-sgx/collateral.json");
  const Collateral tdx = LoadCollateral("real-tdx/collateral.json");
  auto with_tcb_info_of = [](const Collateral& base, const Collateral& other) {
    CollateralParts parts = base.parts();
    parts.tcb_info = other.parts().tcb_info;
    parts.tcb_info_signature = other.parts().tcb_info_signature;
    parts.tcb_info_issuer_chain = other.parts().tcb_info_issuer_chain;
    return Collateral::FromParts(std::move(parts));
  };
  VerificationResult result =
      verifier.Verify(ReadVector("real-tdx/quote.bin"), with_tcb_info_of(tdx, sgx), options);
  ASSERT_FALSE(result.verified());
  EXPECT_EQ(result.rejection().code, ErrorCode::kFmspcMismatch) << result.rejection().message;
  result = verifier.Verify(ReadVector("real-sgx/quote.bin"), with_tcb_info_of(sgx, tdx), options);
  ASSERT_FALSE(result.verified());
  EXPECT_EQ(result.rejection().code, ErrorCode::kFmspcMismatch) << result.rejection().message;
}

// Every single-bit change to the header or report body must be rejected: either the header no
// longer describes an acceptable quote, or the signature fails.
void ExpectEveryBitFlipOfTheSignedPartRejected(const std::string& quote_path,
                                               const std::string& collateral_path,
                                               size_t signed_bytes) {
  const std::string original = ReadVector(quote_path);
  const Collateral collateral = LoadCollateral(collateral_path);
  Verifier verifier(TrustAnchor::IntelSgxRoot());
  VerifyOptions options;
  options.at = ParseAt("2025-07-01T00:00:00Z");
  ASSERT_TRUE(verifier.Verify(original, collateral, options).verified());
  const size_t signed_bits = signed_bytes * 8;
  size_t rejected = 0;
  for (size_t bit = 0; bit < signed_bits; ++bit) {
    std::string quote = original;
    quote[bit / 8] = static_cast<char>(quote[bit / 8] ^ (1 << (bit % 8)));
    const VerificationResult result = verifier.Verify(quote, collateral, options);
    if (result.verified()) {
      ADD_FAILURE() << "bit " << bit << " flipped still verifies";
      continue;
    }
    const ErrorCode code = result.rejection().code;
    EXPECT_TRUE(code == ErrorCode::kUnsupportedQuoteFormat ||
                code == ErrorCode::kInvalidQuoteSignature)
        << "bit " << bit << ": " << ErrorCodeName(code);
    ++rejected;
  }
  EXPECT_EQ(rejected, signed_bits);
}

TEST(VectorsTest, EveryBitFlipOfTheSignedPartIsRejected) {
  static_assert((kQuoteHeaderSize + kSgxReportBodySize) * 8 == 3456);
  ExpectEveryBitFlipOfTheSignedPartRejected("real-sgx/quote.bin", "real-sgx/collateral.json",
                                            kQuoteHeaderSize + kSgxReportBodySize);
}

TEST(VectorsTest, EveryBitFlipOfTheSignedHeaderAndTdReportIsRejected) {
  static_assert((kQuoteHeaderSize + kTdReportBodySize) * 8 == 5056);
  ExpectEveryBitFlipOfTheSignedPartRejected("real-tdx/quote.bin", "real-tdx/collateral.json",
                                            kQuoteHeaderSize + kTdReportBodySize);
}

}  // namespace
}  // namespace cn::dcap
