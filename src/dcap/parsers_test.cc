// Quote, PCK extension, collateral and TCB Info parsing: what is accepted and how each kind of
// malformed input is named.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/dcap/collateral.h"
#include "src/dcap/crypto.h"
#include "src/dcap/der_reader.h"
#include "src/dcap/pck_extension.h"
#include "src/dcap/quote.h"
#include "src/dcap/tcb_info.h"
#include "src/testing/quote_builder.h"
#include "src/testing/test_pki.h"

namespace cn::dcap {
namespace {

using ::testing::HasSubstr;

class QuoteParserTest : public ::testing::Test {
 protected:
  QuoteParserTest() : builder_(pki_) {}
  testing::TestPki pki_;
  testing::QuoteBuilder builder_;
};

TEST_F(QuoteParserTest, ParsesEveryFieldOfAVersion3Quote) {
  builder_.enclave.isv_svn = 0x1234;
  builder_.enclave.report_data[63] = 0xab;
  const std::string bytes = builder_.Build();
  absl::StatusOr<Quote> quote = ParseQuote(bytes);
  ASSERT_TRUE(quote.ok()) << quote.status();
  EXPECT_EQ(quote->header.version, 3);
  EXPECT_EQ(quote->header.pce_svn, 13);
  EXPECT_EQ(quote->header.qe_vendor_id, kIntelQeVendorId);
  ASSERT_TRUE(quote->sgx_report.has_value());
  EXPECT_EQ(quote->sgx_report->isv_svn, 0x1234);
  EXPECT_EQ(quote->sgx_report->report_data[63], 0xab);
  EXPECT_EQ(quote->sgx_report->mr_enclave, builder_.enclave.mr_enclave);
  EXPECT_EQ(quote->signed_bytes.size(), 432u);
  EXPECT_EQ(quote->qe_report.isv_svn, 8);
  EXPECT_EQ(quote->qe_auth_data, builder_.qe_auth_data);
  EXPECT_EQ(quote->certification_data_type, kCertificationDataPckChain);
  EXPECT_EQ(quote->certification_data, pki_.PckChainPem());
}

TEST_F(QuoteParserTest, ParsesVersion4QuoteWithNestedQeReport) {
  builder_.version = 4;
  absl::StatusOr<Quote> quote = ParseQuote(builder_.Build());
  ASSERT_TRUE(quote.ok()) << quote.status();
  EXPECT_EQ(quote->header.version, 4);
  EXPECT_EQ(quote->certification_data_type, kCertificationDataPckChain);
  EXPECT_EQ(quote->qe_report.isv_prod_id, 1);
}

TEST_F(QuoteParserTest, RejectsEveryTruncation) {
  const std::string bytes = builder_.Build();
  for (size_t size = 0; size < bytes.size(); size += 7) {
    absl::StatusOr<Quote> quote = ParseQuote(absl::string_view(bytes).substr(0, size));
    EXPECT_FALSE(quote.ok()) << "size " << size;
  }
}

TEST_F(QuoteParserTest, NamesTheFieldThatRunsPastTheEnd) {
  const std::string bytes = builder_.Build();
  absl::StatusOr<Quote> quote = ParseQuote(absl::string_view(bytes).substr(0, 200));
  ASSERT_FALSE(quote.ok());
  EXPECT_THAT(quote.status().message(), HasSubstr("MRSIGNER needs 32 bytes"));
  EXPECT_THAT(quote.status().message(), HasSubstr("offset 176"));
}

TEST_F(QuoteParserTest, AcceptsZeroPaddingButNotOtherTrailingBytes) {
  std::string bytes = builder_.Build() + std::string(70, '\0');
  absl::StatusOr<Quote> quote = ParseQuote(bytes);
  ASSERT_TRUE(quote.ok()) << quote.status();
  EXPECT_EQ(quote->trailing_padding, 70u);
  bytes.back() = 1;
  EXPECT_THAT(ParseQuote(bytes).status().message(), HasSubstr("non-zero bytes after"));
}

TEST_F(QuoteParserTest, RejectsSignatureDataWithUnaccountedBytes) {
  std::string bytes = builder_.Build();
  // Claim 4 more bytes of signature data than the parts use, and supply them.
  uint32_t size = 0;
  for (int i = 3; i >= 0; --i) size = (size << 8) | static_cast<uint8_t>(bytes[432 + i]);
  size += 4;
  for (int i = 0; i < 4; ++i) bytes[432 + i] = static_cast<char>((size >> (8 * i)) & 0xff);
  bytes += std::string(4, '\x01');
  EXPECT_THAT(ParseQuote(bytes).status().message(), HasSubstr("unaccounted"));
}

TEST_F(QuoteParserTest, RejectsUnknownVersionAndTeeType) {
  std::string bytes = builder_.Build();
  bytes[0] = 6;
  EXPECT_THAT(ParseQuote(bytes).status().message(), HasSubstr("version 6"));
  bytes[0] = 2;
  EXPECT_THAT(ParseQuote(bytes).status().message(), HasSubstr("version 2"));
  bytes[0] = 3;
  bytes[4] = 0x42;
  EXPECT_THAT(ParseQuote(bytes).status().message(), HasSubstr("TEE type 0x42"));
}

TEST(PckExtensionTest, RoundTripsEveryField) {
  PckExtension extension;
  extension.fmspc = {1, 2, 3, 4, 5, 6};
  extension.pce_id = {0, 7};
  for (int i = 0; i < 16; ++i) extension.tcb_components[i] = static_cast<uint8_t>(i * 17);
  extension.pcesvn = 300;
  extension.cpusvn.fill(9);
  extension.ppid.fill(3);
  absl::StatusOr<PckExtension> parsed = ParsePckExtension(testing::EncodeSgxExtension(extension));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->fmspc, extension.fmspc);
  EXPECT_EQ(parsed->pce_id, extension.pce_id);
  EXPECT_EQ(parsed->tcb_components, extension.tcb_components);
  EXPECT_EQ(parsed->pcesvn, 300);
  EXPECT_EQ(parsed->cpusvn, extension.cpusvn);
  EXPECT_EQ(parsed->ppid, extension.ppid);
}

TEST(PckExtensionTest, RejectsTruncatedAndTrailingDer) {
  const std::string der = testing::EncodeSgxExtension(PckExtension{});
  for (size_t size = 0; size < der.size(); ++size) {
    EXPECT_FALSE(ParsePckExtension(absl::string_view(der).substr(0, size)).ok()) << size;
  }
  EXPECT_THAT(ParsePckExtension(der + "x").status().message(), HasSubstr("trailing"));
}

TEST(PckExtensionTest, RejectsMissingEntries) {
  EXPECT_THAT(ParsePckExtension(std::string("\x30\x00", 2)).status().message(),
              HasSubstr("TCB entry is missing"));
}

TEST(DerReaderTest, RejectsIndefiniteAndNonMinimalLengths) {
  // The reader keeps views: the bytes must outlive it.
  const std::string indefinite_bytes("\x30\x80\x00\x00", 4);
  DerReader indefinite(indefinite_bytes, "test");
  EXPECT_THAT(indefinite.ReadElement("x").status().message(), HasSubstr("indefinite"));
  const std::string long_form_bytes("\x04\x81\x05hello", 8);
  DerReader long_form(long_form_bytes, "test");
  EXPECT_THAT(long_form.ReadElement("x").status().message(), HasSubstr("below 128"));
  const std::string huge_bytes("\x04\x84\x7f\xff\xff\xff", 6);
  DerReader huge(huge_bytes, "test");
  EXPECT_THAT(huge.ReadElement("x").status().message(), HasSubstr("remain"));
}

TEST(DerReaderTest, DecodesObjectIdentifiersAndIntegers) {
  EXPECT_EQ(*DecodeObjectIdentifier(std::string("\x2a\x86\x48\x86\xf8\x4d\x01\x0d\x01", 9)),
            "1.2.840.113741.1.13.1");
  EXPECT_FALSE(DecodeObjectIdentifier(std::string("\x2a\x86", 2)).ok());
  EXPECT_EQ(*DecodeUnsignedInteger(std::string("\x00\xff", 2), 255), 255u);
  EXPECT_FALSE(DecodeUnsignedInteger(std::string("\x01\x00", 2), 255).ok());
  EXPECT_FALSE(DecodeUnsignedInteger(std::string("\x80", 1), 255).ok());
  EXPECT_FALSE(DecodeUnsignedInteger(std::string("\x00\x01", 2), 255).ok());
}

TEST(P256KeyTest, ImportsPointsOnTheCurveAndRefusesOthers) {
  EvpPkeyPtr generated = testing::GenerateP256Key();
  const std::string raw = testing::RawPublicKey(generated.get());
  absl::StatusOr<EvpPkeyPtr> key = P256KeyFromRaw(raw);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(PublicKeyDer(key->get()), PublicKeyDer(generated.get()));
  const std::string signature = testing::SignRaw(generated.get(), "message");
  EXPECT_TRUE(VerifyEcdsaSha256(key->get(), "message", signature));
  std::string off_curve = raw;
  off_curve[63] = static_cast<char>(off_curve[63] ^ 1);
  EXPECT_THAT(P256KeyFromRaw(off_curve).status().message(), HasSubstr("not a point on the curve"));
  EXPECT_FALSE(P256KeyFromRaw(std::string(64, '\0')).ok());
  EXPECT_THAT(P256KeyFromRaw(raw.substr(1)).status().message(), HasSubstr("63 bytes"));
}

TEST(PemTest, RefusesEncryptedBlocksWithoutAskingForAPassphrase) {
  // Left to its defaults, OpenSSL reads a passphrase from the terminal for an encrypted PEM
  // block: untrusted certification data could then block the verifier indefinitely.
  testing::TestPki pki;
  testing::PassphrasePromptCounter prompts;
  absl::StatusOr<std::vector<X509Ptr>> certs =
      ParsePemCertificates(testing::WithEncryptedPemHeaders(pki.RootPem()), "chain");
  ASSERT_FALSE(certs.ok());
  EXPECT_THAT(certs.status().message(), HasSubstr("chain: certificate 1 does not parse"));
  EXPECT_EQ(prompts.count(), 0);
}

TEST(PemTest, RefusesABlockFarTooLargeForACertificate) {
  // OpenSSL's memory BIO takes an int length: a block of 2 GiB or more would turn negative,
  // and OpenSSL then measures the buffer with strlen, past the end of the input. Certificates
  // are about a kilobyte, so a block of megabytes is refused before OpenSSL sees it.
  const std::string pem = absl::StrCat("-----BEGIN CERTIFICATE-----\n", std::string(2 << 20, 'A'),
                                       "\n-----END CERTIFICATE-----\n");
  absl::StatusOr<std::vector<X509Ptr>> certs = ParsePemCertificates(pem, "chain");
  ASSERT_FALSE(certs.ok());
  EXPECT_THAT(certs.status().message(), HasSubstr("chain: certificate 1 is a PEM block of"));
  testing::TestPki pki;
  EXPECT_TRUE(ParsePemCertificates(pki.PckChainPem(), "chain").ok());
}

TEST(CollateralTest, NamesTheMissingOrMalformedKey) {
  EXPECT_THAT(Collateral::FromJson("{").status().message(), HasSubstr("not valid JSON at byte"));
  EXPECT_THAT(Collateral::FromJson("[]").status().message(), HasSubstr("not a JSON object"));
  testing::TestPki pki;
  const std::string json = pki.BuildCollateral().ToJson();
  nlohmann::json parsed = nlohmann::json::parse(json);
  parsed.erase("pck_crl");
  EXPECT_THAT(Collateral::FromJson(parsed.dump()).status().message(),
              HasSubstr("\"pck_crl\" is missing"));
  parsed = nlohmann::json::parse(json);
  parsed["root_ca_crl"] = "zz";
  EXPECT_THAT(Collateral::FromJson(parsed.dump()).status().message(),
              HasSubstr("\"root_ca_crl\": hex text has a non-hex character"));
  parsed = nlohmann::json::parse(json);
  parsed["tcb_info"] = 5;
  EXPECT_THAT(Collateral::FromJson(parsed.dump()).status().message(),
              HasSubstr("\"tcb_info\" is not a string"));
}

TEST(CollateralTest, RejectsNumbersTooLargeForJsonInsteadOfThrowing) {
  // Found by fuzz_collateral_parser: nlohmann throws out_of_range, not parse_error, here.
  absl::StatusOr<Collateral> collateral =
      Collateral::FromJson(R"({"pck_crl": 6e7465612345678901234567890})");
  ASSERT_FALSE(collateral.ok());
  EXPECT_THAT(collateral.status().message(), HasSubstr("number overflow"));
  EXPECT_FALSE(ParseTcbInfo(R"({"version": 1e999999})").ok());
}

TEST(CollateralTest, JsonRoundTripKeepsBytesAndDigest) {
  testing::TestPki pki;
  const Collateral collateral = pki.BuildCollateral();
  absl::StatusOr<Collateral> again = Collateral::FromJson(collateral.ToJson());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->digest(), collateral.digest());
  EXPECT_EQ(again->parts().tcb_info, collateral.parts().tcb_info);
}

TEST(TcbInfoTest, ParsesVersion2AndVersion3Alike) {
  testing::TcbInfoSpec spec;
  spec.issue_date = testing::TestTime("2025-06-15T00:00:00Z");
  spec.next_update = testing::TestTime("2025-07-15T00:00:00Z");
  spec.fmspc = {0, 0x90, 0x6e, 0xd5, 0, 0};
  spec.levels = {
      {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 11, "OutOfDate", {"INTEL-SA-1"}}};
  for (int version : {2, 3}) {
    spec.version = version;
    absl::StatusOr<TcbInfo> info = ParseTcbInfo(testing::TcbInfoJson(spec));
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->version, version);
    ASSERT_EQ(info->levels.size(), 1u);
    EXPECT_EQ(info->levels[0].components[15], 16);
    EXPECT_EQ(info->levels[0].pcesvn, 11);
    EXPECT_EQ(info->levels[0].status, TcbStatus::kOutOfDate);
    EXPECT_EQ(info->fmspc, spec.fmspc);
    EXPECT_EQ(info->next_update, spec.next_update);
  }
}

TEST(TcbInfoTest, NamesTheFieldThatIsWrong) {
  EXPECT_THAT(ParseTcbInfo("nope").status().message(), HasSubstr("not valid JSON"));
  EXPECT_THAT(ParseTcbInfo(R"({"version":4})").status().message(), HasSubstr("version 4"));
  EXPECT_THAT(ParseTcbInfo(R"({"version":2,"issueDate":"2025-01-01T00:00:00Z","nextUpdate":"x"})")
                  .status()
                  .message(),
              HasSubstr("tcbInfo.nextUpdate is not an RFC 3339 time"));
  EXPECT_THAT(ParseQeIdentity(R"({"version":2,"id":"QE","issueDate":"2025-01-01T00:00:00Z",
      "nextUpdate":"2025-01-01T00:00:00Z","miscselect":"0000"})")
                  .status()
                  .message(),
              HasSubstr("enclaveIdentity.miscselect is not 4 bytes of hex"));
  EXPECT_THAT(ParseTcbStatus("Fine").status().message(), HasSubstr("unknown TCB status"));
}

TEST(TcbInfoTest, NamesTheFullPathOfAFieldDeepInsideTheLevels) {
  // Paths are composed only when an error names them; they must still be the whole path.
  testing::TcbInfoSpec spec;
  spec.version = 3;
  spec.issue_date = testing::TestTime("2025-07-01T00:00:00Z");
  spec.next_update = testing::TestTime("2025-07-15T00:00:00Z");
  spec.levels = {{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 11, "UpToDate", {}},
                 {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 10, "OutOfDate", {}}};
  nlohmann::json json = nlohmann::json::parse(testing::TcbInfoJson(spec));
  json["tcbLevels"][1]["tcb"]["sgxtcbcomponents"][3]["svn"] = 300;
  EXPECT_THAT(ParseTcbInfo(json.dump()).status().message(),
              HasSubstr("tcbInfo.tcbLevels[1].tcb.sgxtcbcomponents[3].svn is 300, outside 0..255"));
  json["tcbLevels"][1]["tcb"]["sgxtcbcomponents"][3] = 7;
  EXPECT_THAT(ParseTcbInfo(json.dump()).status().message(),
              HasSubstr("tcbInfo.tcbLevels[1].tcb.sgxtcbcomponents[3] is not an object"));
  json["tcbLevels"][0]["tcbStatus"] = "Fine";
  EXPECT_THAT(ParseTcbInfo(json.dump()).status().message(),
              HasSubstr("tcbInfo.tcbLevels[0].tcbStatus is an unknown TCB status \"Fine\""));
}

}  // namespace
}  // namespace cn::dcap
