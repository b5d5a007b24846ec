#include "src/pccs/collateral_source.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/testing/quote_builder.h"
#include "src/testing/test_pki.h"

namespace cn::pccs {
namespace {

using ::testing::HasSubstr;

std::string ReadVector(const std::string& name) {
  std::ifstream in(std::string(CN_VECTORS_DIR) + "/" + name, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(PlatformIdOfQuote, ReadsFmspcAndProcessorCaOfTheRealSgxQuote) {
  const std::string quote = ReadVector("real-sgx/quote.bin");
  ASSERT_FALSE(quote.empty());
  absl::StatusOr<PlatformId> platform = PlatformIdOfQuote(quote);
  ASSERT_TRUE(platform.ok()) << platform.status();
  // ../shared/vectors/README.md: FMSPC 00a067110000, PCK issued by the Processor CA.
  EXPECT_EQ(platform->fmspc, (std::array<uint8_t, 6>{0x00, 0xa0, 0x67, 0x11, 0x00, 0x00}));
  EXPECT_EQ(platform->ca, PckCa::kProcessor);
  EXPECT_EQ(platform->tee, Tee::kSgx);
}

TEST(PlatformIdOfQuote, ReadsTheTestPkiPlatformFromAV4Quote) {
  testing::TestPki pki;
  pki.pck_extension.fmspc = {1, 2, 3, 4, 5, 6};
  pki.ReissuePckLeaf();
  testing::QuoteBuilder builder(pki);
  builder.version = 4;
  absl::StatusOr<PlatformId> platform = PlatformIdOfQuote(builder.Build());
  ASSERT_TRUE(platform.ok()) << platform.status();
  EXPECT_EQ(platform->fmspc, (std::array<uint8_t, 6>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(platform->ca, PckCa::kProcessor);
}

TEST(PlatformIdOfQuote, TakesTheGivenChainForAQuoteWithoutOne) {
  testing::TestPki pki;
  testing::QuoteBuilder builder(pki);
  builder.certification_data_type = 1;
  builder.certification_data = std::string(16, 'x');
  const std::string quote = builder.Build();

  absl::StatusOr<PlatformId> without = PlatformIdOfQuote(quote);
  EXPECT_EQ(without.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(without.status().message(), HasSubstr("type 1"));

  absl::StatusOr<PlatformId> with = PlatformIdOfQuote(quote, pki.PckChainPem());
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_EQ(with->fmspc, pki.pck_extension.fmspc);
}

TEST(PlatformIdOfQuote, RejectsALeafIssuedByNeitherPckCa) {
  testing::TestPki pki;
  dcap::EvpPkeyPtr other_key = testing::GenerateP256Key();
  dcap::X509Ptr other_ca =
      testing::IssueCertificate({.common_name = "Some Other CA",
                                 .subject_key = other_key.get(),
                                 .not_before = absl::FromUnixSeconds(0),
                                 .not_after = absl::FromUnixSeconds(4102444800),
                                 .is_ca = true});
  dcap::X509Ptr leaf = testing::IssueCertificate(
      {.common_name = "Test SGX PCK Certificate",
       .subject_key = pki.pck_key(),
       .issuer = other_ca.get(),
       .issuer_key = other_key.get(),
       .not_before = absl::FromUnixSeconds(0),
       .not_after = absl::FromUnixSeconds(4102444800),
       .sgx_extension_der = testing::EncodeSgxExtension(pki.pck_extension)});
  testing::QuoteBuilder builder(pki);
  const std::string chain =
      testing::CertificatePem(leaf.get()) + testing::CertificatePem(other_ca.get());
  absl::StatusOr<PlatformId> platform = PlatformIdOfQuote(builder.Build(), chain);
  EXPECT_EQ(platform.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(platform.status().message(), HasSubstr("Some Other CA"));
}

TEST(PlatformIdOfQuote, RejectsAQuoteThatDoesNotParse) {
  absl::StatusOr<PlatformId> platform = PlatformIdOfQuote("not a quote");
  EXPECT_EQ(platform.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PckCaName, SpellsThePcsQueryParameter) {
  EXPECT_EQ(PckCaName(PckCa::kProcessor), "processor");
  EXPECT_EQ(PckCaName(PckCa::kPlatform), "platform");
}

}  // namespace
}  // namespace cn::pccs
