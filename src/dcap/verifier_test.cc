#include "src/dcap/verifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "src/dcap/verifier_test_util.h"
#include "src/testing/quote_builder.h"
#include "src/testing/test_pki.h"

namespace cn::dcap {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::QuoteBuilder;
using testing::TestPki;
using testing::TestPkiDefaultAt;
using testing::TestTime;

constexpr std::array<uint8_t, 16> kLower = {4, 4, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0};

class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest() : builder_(pki_) {}

  // A PCK leaf with the test PKI's key and platform facts, issued by whoever the test needs.
  dcap::X509Ptr IssuePckLeaf(X509* issuer, EVP_PKEY* issuer_key, int64_t serial) {
    return testing::IssueCertificate(
        {.common_name = "Test SGX PCK Certificate",
         .subject_key = pki_.pck_key(),
         .issuer = issuer,
         .issuer_key = issuer_key,
         .serial = serial,
         .not_before = TestTime("2020-01-01T00:00:00Z"),
         .not_after = TestTime("2040-01-01T00:00:00Z"),
         .sgx_extension_der = testing::EncodeSgxExtension(pki_.pck_extension)});
  }

  VerificationResult Verify(const std::string& quote, const Collateral& collateral,
                            absl::Time at = TestPkiDefaultAt(), bool allow_expired = false) {
    Verifier verifier(pki_.Anchor());
    VerifyOptions options;
    options.at = at;
    options.allow_expired_collateral = allow_expired;
    return verifier.Verify(quote, collateral, options);
  }
  VerificationResult Verify() { return Verify(builder_.Build(), pki_.BuildCollateral()); }

  // Sets the platform's TCB levels: the PCK's own TCB at `status`, preceded by a higher level.
  void SetPlatformStatus(const std::string& status, std::vector<std::string> advisories = {}) {
    testing::TcbLevelSpec higher{pki_.pck_extension.tcb_components, 14, "UpToDate", {}};
    testing::TcbLevelSpec own{pki_.pck_extension.tcb_components, 13, status, std::move(advisories)};
    pki_.tcb_info.levels = {higher, own};
  }

  TestPki pki_;
  QuoteBuilder builder_;
};

TEST_F(VerifierTest, VerifiesHealthyPlatformAsUpToDate) {
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tcb_status, TcbStatus::kUpToDate);
  EXPECT_TRUE(result.verdict().advisory_ids.empty());
  EXPECT_FALSE(result.verdict().collateral_expired);
  EXPECT_EQ(result.verdict().report.mr_enclave, builder_.enclave.mr_enclave);
  EXPECT_EQ(result.verdict().report.isv_prod_id, 7);
  EXPECT_EQ(result.verdict().pck.fmspc, pki_.pck_extension.fmspc);
  EXPECT_EQ(result.verdict().quote_version, 3);
}

TEST_F(VerifierTest, VerifiesQuoteVersion4) {
  builder_.version = 4;
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().quote_version, 4);
}

TEST_F(VerifierTest, VerifiesTcbInfoVersion2) {
  pki_.tcb_info.version = 2;
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
}

TEST_F(VerifierTest, ReportsEachPlatformTcbStatus) {
  for (const char* status :
       {"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded",
        "OutOfDate", "OutOfDateConfigurationNeeded"}) {
    SetPlatformStatus(status);
    VerificationResult result = Verify();
    ASSERT_TRUE(result.verified()) << status << ": " << result.rejection().message;
    EXPECT_EQ(TcbStatusName(result.verdict().tcb_status), status);
  }
}

TEST_F(VerifierTest, RejectsRevokedPlatformTcb) {
  SetPlatformStatus("Revoked");
  ExpectRejected(Verify(), ErrorCode::kTcbRevoked, "platform level Revoked");
}

TEST_F(VerifierTest, RejectsRevokedQeTcb) {
  pki_.qe_identity.levels = {{9, "UpToDate", {}}, {8, "Revoked", {}}};
  ExpectRejected(Verify(), ErrorCode::kTcbRevoked, "QE level Revoked");
}

TEST_F(VerifierTest, PicksFirstLevelTheWholeTcbReaches) {
  // A level that needs a higher component 7 comes first; the platform meets only the second.
  std::array<uint8_t, 16> higher = pki_.pck_extension.tcb_components;
  higher[6] = 13;
  pki_.tcb_info.levels = {{higher, 13, "UpToDate", {}},
                          {kLower, 13, "SWHardeningNeeded", {"INTEL-SA-00615"}},
                          {kLower, 10, "OutOfDate", {"INTEL-SA-00828"}}};
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tcb_status, TcbStatus::kSwHardeningNeeded);
  EXPECT_THAT(result.verdict().advisory_ids, ElementsAre("INTEL-SA-00615"));
}

TEST_F(VerifierTest, OutOfDateQeMakesPlatformOutOfDateAndUnitesAdvisories) {
  builder_.qe_report.isv_svn = 7;  // meets the OutOfDate QE level (ISVSVN 6)
  SetPlatformStatus("SWHardeningNeeded", {"INTEL-SA-00828", "INTEL-SA-00615"});
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tcb_status, TcbStatus::kOutOfDate);
  EXPECT_EQ(result.verdict().qe_tcb_status, TcbStatus::kOutOfDate);
  EXPECT_THAT(result.verdict().advisory_ids, ElementsAre("INTEL-SA-00615", "INTEL-SA-00828"));
}

TEST_F(VerifierTest, OutOfDateQeWithConfigurationNeededGivesOutOfDateConfigurationNeeded) {
  builder_.qe_report.isv_svn = 6;
  SetPlatformStatus("ConfigurationAndSWHardeningNeeded");
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_EQ(result.verdict().tcb_status, TcbStatus::kOutOfDateConfigurationNeeded);
}

TEST_F(VerifierTest, RejectsPlatformBelowEveryTcbLevel) {
  pki_.pck_extension.pcesvn = 9;
  pki_.ReissuePckLeaf();
  ExpectRejected(Verify(), ErrorCode::kTcbLevelNotFound, "PCESVN 9");
}

TEST_F(VerifierTest, RejectsQeBelowEveryQeIdentityLevel) {
  builder_.qe_report.isv_svn = 5;
  ExpectRejected(Verify(), ErrorCode::kTcbLevelNotFound, "QE ISVSVN 5");
}

TEST_F(VerifierTest, RejectsRevokedPckCertificate) {
  pki_.pck_crl.revoked_serials = {7, pki_.pck_serial};
  ExpectRejected(Verify(), ErrorCode::kPckRevoked, "revoked by the PCK CRL");
}

TEST_F(VerifierTest, RejectsRevokedIntermediateCa) {
  pki_.root_crl.revoked_serials = {2};
  ExpectRejected(Verify(), ErrorCode::kPckRevoked, "intermediate CA");
}

TEST_F(VerifierTest, VerifiesBothCrlsBeforeReadingEitherRevocationList) {
  // Step 6 of the contract: both CRLs parse and verify (invalid_crl), then revocations
  // (pck_revoked). A forged PCK CRL is reported as such even when the intermediate is revoked.
  pki_.root_crl.revoked_serials = {2};
  dcap::EvpPkeyPtr other = testing::GenerateP256Key();
  pki_.pck_crl.signing_key = other.get();
  ExpectRejected(Verify(), ErrorCode::kInvalidCrl, "PCK CRL signature");
}

TEST_F(VerifierTest, AcceptsCrlsThatRevokeOtherSerials) {
  pki_.pck_crl.revoked_serials = {1, 2, 3, 0x1000};
  pki_.root_crl.revoked_serials = {99};
  EXPECT_TRUE(Verify().verified());
}

TEST_F(VerifierTest, RejectsRootCaCrlWherePckCrlBelongs) {
  pki_.pck_crl = pki_.root_crl;
  ExpectRejected(Verify(), ErrorCode::kInvalidCrl, "not by the PCK certificate's issuer");
}

TEST_F(VerifierTest, RejectsPckCrlSignedByAnotherKey) {
  testing::CrlSpec forged = pki_.pck_crl;
  dcap::EvpPkeyPtr other = testing::GenerateP256Key();
  forged.signing_key = other.get();
  pki_.pck_crl = forged;
  ExpectRejected(Verify(), ErrorCode::kInvalidCrl, "PCK CRL signature");
}

TEST_F(VerifierTest, RejectsRootCrlNotIssuedByRoot) {
  pki_.root_crl.issuer = pki_.intermediate();
  pki_.root_crl.signing_key = pki_.intermediate_key();
  ExpectRejected(Verify(), ErrorCode::kInvalidCrl, "root CA CRL is issued by");
}

TEST_F(VerifierTest, RejectsRootCrlSignedByAnotherKey) {
  dcap::EvpPkeyPtr other = testing::GenerateP256Key();
  pki_.root_crl.signing_key = other.get();
  ExpectRejected(Verify(), ErrorCode::kInvalidCrl, "root CA CRL signature");
}

TEST_F(VerifierTest, RejectsPckChainOfOnlyTheRootOrWithAnExtraIntermediate) {
  builder_.certification_data = pki_.RootPem();
  // The QE report signature is checked with the first certificate's key before the chain.
  ExpectRejected(Verify(), ErrorCode::kInvalidQeReportSignature);
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(pki_.pck_leaf()), pki_.RootPem());
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain, "is issued by");
  // leaf <- intermediate <- second CA <- root: one CA too many for the two CRLs to cover.
  dcap::EvpPkeyPtr second_key = testing::GenerateP256Key();
  dcap::X509Ptr second = testing::IssueCertificate({.common_name = "Test SGX Second CA",
                                                    .subject_key = second_key.get(),
                                                    .issuer = pki_.root(),
                                                    .issuer_key = pki_.root_key(),
                                                    .serial = 20,
                                                    .not_before = TestTime("2020-01-01T00:00:00Z"),
                                                    .not_after = TestTime("2040-01-01T00:00:00Z"),
                                                    .is_ca = true});
  dcap::X509Ptr middle = testing::IssueCertificate({.common_name = "Test SGX PCK Processor CA",
                                                    .subject_key = pki_.intermediate_key(),
                                                    .issuer = second.get(),
                                                    .issuer_key = second_key.get(),
                                                    .serial = 21,
                                                    .not_before = TestTime("2020-01-01T00:00:00Z"),
                                                    .not_after = TestTime("2040-01-01T00:00:00Z"),
                                                    .is_ca = true});
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(pki_.pck_leaf()), testing::CertificatePem(middle.get()),
                   testing::CertificatePem(second.get()), pki_.RootPem());
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain, "one intermediate CA");
}

TEST_F(VerifierTest, RejectsPckChainWhoseIntermediateIsTheRootItself) {
  // A leaf issued by the root directly, with the root repeated to look like leaf, intermediate,
  // root: the "intermediate" would then be checked against the PCK CRL's issuer, so the root CA
  // CRL could stand in for the PCK CRL and nothing would check the root CA CRL's revocations.
  dcap::X509Ptr leaf = IssuePckLeaf(pki_.root(), pki_.root_key(), 31);
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(leaf.get()), pki_.RootPem(), pki_.RootPem());
  pki_.pck_crl = pki_.root_crl;
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain, "the root may only end the chain");
}

TEST_F(VerifierTest, RejectsPckChainThroughANonCaCertificate) {
  // The TCB signing certificate is issued by the root but is no CA: it cannot issue PCKs.
  dcap::X509Ptr leaf = IssuePckLeaf(pki_.tcb_signer(), pki_.tcb_signing_key(), 30);
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(leaf.get()), testing::CertificatePem(pki_.tcb_signer()),
                   pki_.RootPem());
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain, "is not a CA certificate");
}

TEST_F(VerifierTest, RejectsIntermediateWithoutBasicConstraints) {
  // The intermediate's key and name, but no basicConstraints: keyCertSign alone does not make a
  // CA (RFC 5280 4.2.1.9), though OpenSSL's X509_check_ca() tolerates it.
  dcap::X509Ptr intermediate =
      testing::IssueCertificate({.common_name = "Test SGX PCK Processor CA",
                                 .subject_key = pki_.intermediate_key(),
                                 .issuer = pki_.root(),
                                 .issuer_key = pki_.root_key(),
                                 .serial = 2,
                                 .not_before = TestTime("2020-01-01T00:00:00Z"),
                                 .not_after = TestTime("2040-01-01T00:00:00Z"),
                                 .is_ca = true,
                                 .basic_constraints = false});
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(pki_.pck_leaf()),
                   testing::CertificatePem(intermediate.get()), pki_.RootPem());
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain, "is not a CA certificate");
}

// A PCK leaf like the default one, issued by the test intermediate, with `spec`'s changes.
dcap::X509Ptr PckLeafWith(const testing::TestPki& pki, testing::CertificateSpec spec) {
  spec.common_name = "Test SGX PCK Certificate";
  spec.subject_key = pki.pck_key();
  spec.issuer = pki.intermediate();
  spec.issuer_key = pki.intermediate_key();
  spec.serial = pki.pck_serial;
  spec.not_before = pki.pck_not_before;
  spec.not_after = pki.pck_not_after;
  spec.sgx_extension_der = testing::EncodeSgxExtension(pki.pck_extension);
  return testing::IssueCertificate(spec);
}

// A certificate issued by the test root, valid 2020-2040, with `spec`'s name, key and extensions.
dcap::X509Ptr IssuedByRoot(const testing::TestPki& pki, testing::CertificateSpec spec) {
  spec.issuer = pki.root();
  spec.issuer_key = pki.root_key();
  spec.not_before = TestTime("2020-01-01T00:00:00Z");
  spec.not_after = TestTime("2040-01-01T00:00:00Z");
  return testing::IssueCertificate(spec);
}

TEST_F(VerifierTest, RejectsPckLeafWithAnUnknownCriticalExtension) {
  dcap::X509Ptr leaf = PckLeafWith(
      pki_,
      {.extra_extensions = {{testing::kUnknownExtensionOid, true, std::string("\x30\x00", 2)}}});
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(leaf.get()),
                   testing::CertificatePem(pki_.intermediate()), pki_.RootPem());
  ExpectRejected(
      Verify(), ErrorCode::kUntrustedPckChain,
      "certificate 1 (O=Test PKI,CN=Test SGX PCK Certificate) has a critical extension this "
      "verifier does not know");
}

TEST_F(VerifierTest, RejectsPckLeafWithAMalformedExtension) {
  // A subjectKeyIdentifier (2.5.29.14, non-critical) holding a NULL instead of an OCTET STRING.
  dcap::X509Ptr leaf =
      PckLeafWith(pki_, {.extra_extensions = {{"2.5.29.14", false, std::string("\x05\x00", 2)}}});
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(leaf.get()),
                   testing::CertificatePem(pki_.intermediate()), pki_.RootPem());
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain, "has a malformed extension");
}

TEST_F(VerifierTest, RejectsPckLeafWhoseKeyUsageForbidsSigning) {
  dcap::X509Ptr leaf = PckLeafWith(pki_, {.key_usage = "critical,keyEncipherment"});
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(leaf.get()),
                   testing::CertificatePem(pki_.intermediate()), pki_.RootPem());
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain, "keyUsage without digitalSignature");
}

TEST_F(VerifierTest, RejectsAPckLeafThatIsACa) {
  // A CA whose keyUsage allows signing too, so only the CA rule can refuse it.
  dcap::X509Ptr leaf =
      PckLeafWith(pki_, {.is_ca = true, .key_usage = "critical,keyCertSign,digitalSignature"});
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(leaf.get()),
                   testing::CertificatePem(pki_.intermediate()), pki_.RootPem());
  ExpectRejected(
      Verify(), ErrorCode::kUntrustedPckChain,
      "PCK chain: the leaf (O=Test PKI,CN=Test SGX PCK Certificate) is a CA certificate");
}

TEST_F(VerifierTest, IntermediateWithPathLengthZeroMayIssueThePck) {
  // Intel's Platform and Processor CAs carry pathLenConstraint 0: a leaf right below is fine.
  dcap::X509Ptr intermediate = IssuedByRoot(pki_, {.common_name = "Test SGX PCK Processor CA",
                                                   .subject_key = pki_.intermediate_key(),
                                                   .serial = 2,
                                                   .is_ca = true,
                                                   .path_length = 0});
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(pki_.pck_leaf()),
                   testing::CertificatePem(intermediate.get()), pki_.RootPem());
  VerificationResult result = Verify();
  EXPECT_TRUE(result.verified()) << result.rejection().message;
}

TEST_F(VerifierTest, RejectsAChainLongerThanAnIssuersPathLength) {
  // Root <- intermediate (pathlen 0) <- another CA <- the PCK: the intermediate allows no CA
  // below it.
  dcap::X509Ptr intermediate = IssuedByRoot(pki_, {.common_name = "Test SGX PCK Processor CA",
                                                   .subject_key = pki_.intermediate_key(),
                                                   .serial = 2,
                                                   .is_ca = true,
                                                   .path_length = 0});
  dcap::EvpPkeyPtr sub_key = testing::GenerateP256Key();
  dcap::X509Ptr sub_ca = testing::IssueCertificate({.common_name = "Test Sub CA",
                                                    .subject_key = sub_key.get(),
                                                    .issuer = intermediate.get(),
                                                    .issuer_key = pki_.intermediate_key(),
                                                    .serial = 50,
                                                    .not_before = TestTime("2020-01-01T00:00:00Z"),
                                                    .not_after = TestTime("2040-01-01T00:00:00Z"),
                                                    .is_ca = true});
  dcap::X509Ptr leaf = IssuePckLeaf(sub_ca.get(), sub_key.get(), 51);
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(leaf.get()), testing::CertificatePem(sub_ca.get()),
                   testing::CertificatePem(intermediate.get()), pki_.RootPem());
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain,
                 "PCK chain: issuer O=Test PKI,CN=Test SGX PCK Processor CA allows 0 intermediate "
                 "CA certificate(s) below it (pathLenConstraint), but the chain has 1");
}

TEST_F(VerifierTest, RejectsPckCrlFromAnIssuerWithoutCrlSign) {
  // The intermediate's key and name, allowed to certify but not to sign CRLs.
  dcap::X509Ptr intermediate = IssuedByRoot(pki_, {.common_name = "Test SGX PCK Processor CA",
                                                   .subject_key = pki_.intermediate_key(),
                                                   .serial = 2,
                                                   .is_ca = true,
                                                   .key_usage = "critical,keyCertSign"});
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(pki_.pck_leaf()),
                   testing::CertificatePem(intermediate.get()), pki_.RootPem());
  ExpectRejected(Verify(), ErrorCode::kInvalidCrl, "without cRLSign");
}

TEST_F(VerifierTest, RejectsTcbSigningCertificateWithAnUnknownCriticalExtension) {
  dcap::X509Ptr signer = IssuedByRoot(
      pki_,
      {.common_name = "Test SGX TCB Signing",
       .subject_key = pki_.tcb_signing_key(),
       .serial = 3,
       .extra_extensions = {{testing::kUnknownExtensionOid, true, std::string("\x30\x00", 2)}}});
  pki_.tcb_info_chain_override =
      absl::StrCat(testing::CertificatePem(signer.get()), pki_.RootPem());
  ExpectRejected(Verify(), ErrorCode::kInvalidTcbInfo, "critical extension");
}

TEST_F(VerifierTest, RejectsTcbInfoSignedByACaCertificate) {
  // A CA issued by the root directly, whose keyUsage even allows signing: a CA key still never
  // signs TCB Info. (Without digitalSignature the keyUsage check would refuse it first.)
  dcap::X509Ptr ca =
      IssuedByRoot(pki_, {.common_name = "Test SGX TCB Signing",
                          .subject_key = pki_.tcb_signing_key(),
                          .serial = 40,
                          .is_ca = true,
                          .key_usage = "critical,keyCertSign,cRLSign,digitalSignature"});
  pki_.tcb_info_chain_override = absl::StrCat(testing::CertificatePem(ca.get()), pki_.RootPem());
  ExpectRejected(Verify(), ErrorCode::kInvalidTcbInfo, "is a CA certificate");
}

TEST_F(VerifierTest, RejectsTcbInfoSignedByAKeyNotForSigning) {
  // The intermediate CA (keyCertSign and cRLSign only) signing TCB Info.
  pki_.tcb_info_chain_override =
      absl::StrCat(testing::CertificatePem(pki_.intermediate()), pki_.RootPem());
  ExpectRejected(Verify(), ErrorCode::kInvalidTcbInfo, "keyUsage without digitalSignature");
}

TEST_F(VerifierTest, RejectsUnparsableCrl) {
  CollateralParts parts = pki_.BuildCollateral().parts();
  parts.pck_crl = "not a crl";
  ExpectRejected(Verify(builder_.Build(), Collateral::FromParts(parts)), ErrorCode::kInvalidCrl,
                 "PCK CRL");
}

TEST_F(VerifierTest, RejectsExpiredAndNotYetValidCrls) {
  const Collateral collateral = pki_.BuildCollateral();
  const std::string quote = builder_.Build();
  ExpectRejected(Verify(quote, collateral, TestTime("2025-08-02T00:00:00Z")),
                 ErrorCode::kCollateralExpired, "CRL");
  pki_.pck_crl.this_update = TestTime("2025-07-02T00:00:00Z");
  ExpectRejected(Verify(quote, pki_.BuildCollateral()), ErrorCode::kCollateralExpired,
                 "PCK CRL is not valid at 2025-07-01T00:00:00Z");
  pki_.pck_crl.this_update = TestTime("2025-06-01T00:00:00Z");
  pki_.root_crl.next_update = TestTime("2025-06-30T00:00:00Z");
  ExpectRejected(Verify(quote, pki_.BuildCollateral()), ErrorCode::kCollateralExpired,
                 "root CA CRL");
}

TEST_F(VerifierTest, RejectsExpiredAndNotYetValidTcbInfo) {
  pki_.tcb_info.next_update = TestTime("2025-06-30T00:00:00Z");
  ExpectRejected(Verify(), ErrorCode::kCollateralExpired, "TCB Info is not valid");
  pki_.tcb_info.next_update = TestTime("2025-07-15T00:00:00Z");
  pki_.tcb_info.issue_date = TestTime("2025-07-02T00:00:00Z");
  ExpectRejected(Verify(), ErrorCode::kCollateralExpired, "TCB Info is not valid");
}

TEST_F(VerifierTest, RejectsExpiredAndNotYetValidQeIdentity) {
  pki_.qe_identity.next_update = TestTime("2025-06-30T00:00:00Z");
  ExpectRejected(Verify(), ErrorCode::kCollateralExpired, "QE Identity is not valid");
  pki_.qe_identity.next_update = TestTime("2025-07-15T00:00:00Z");
  pki_.qe_identity.issue_date = TestTime("2025-07-02T00:00:00Z");
  ExpectRejected(Verify(), ErrorCode::kCollateralExpired, "QE Identity is not valid");
}

TEST_F(VerifierTest, RejectsExpiredAndNotYetValidPckCertificate) {
  pki_.pck_not_after = TestTime("2025-06-01T00:00:00Z");
  pki_.ReissuePckLeaf();
  ExpectRejected(
      Verify(), ErrorCode::kCollateralExpired,
      "PCK chain certificate 1 (O=Test PKI,CN=Test SGX PCK Certificate) is not valid at");
  pki_.pck_not_before = TestTime("2025-07-02T00:00:00Z");
  pki_.pck_not_after = TestTime("2030-01-01T00:00:00Z");
  pki_.ReissuePckLeaf();
  ExpectRejected(Verify(), ErrorCode::kCollateralExpired, "valid from 2025-07-02T00:00:00Z");
}

TEST_F(VerifierTest, AllowExpiredCollateralReportsExpiryInsteadOfRejecting) {
  VerificationResult result = Verify(builder_.Build(), pki_.BuildCollateral(),
                                     TestTime("2026-01-01T00:00:00Z"), /*allow_expired=*/true);
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  EXPECT_TRUE(result.verdict().collateral_expired);
}

TEST_F(VerifierTest, RejectsChainToAnotherRoot) {
  TestPki other;
  Verifier verifier(other.Anchor());
  VerifyOptions options;
  options.at = TestPkiDefaultAt();
  ExpectRejected(verifier.Verify(builder_.Build(), pki_.BuildCollateral(), options),
                 ErrorCode::kUntrustedPckChain, "does not chain to the trusted root");
}

TEST_F(VerifierTest, ChecksTheSelfSignatureOfARootThatIsNotTheAnchorsOwnCertificate) {
  // The anchor's key and name, but signed with another key: only the anchor's own certificate,
  // byte for byte, may skip the self-signature check.
  dcap::EvpPkeyPtr other_key = testing::GenerateP256Key();
  dcap::X509Ptr forged_root =
      testing::IssueCertificate({.common_name = "Test SGX Root CA",
                                 .subject_key = pki_.root_key(),
                                 .issuer = pki_.root(),
                                 .issuer_key = other_key.get(),
                                 .serial = 99,
                                 .not_before = TestTime("2020-01-01T00:00:00Z"),
                                 .not_after = TestTime("2040-01-01T00:00:00Z"),
                                 .is_ca = true});
  builder_.certification_data = absl::StrCat(testing::CertificatePem(pki_.pck_leaf()),
                                             testing::CertificatePem(pki_.intermediate()),
                                             testing::CertificatePem(forged_root.get()));
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain, "self-signature does not verify");
}

TEST_F(VerifierTest, AcceptsTheAnchorsCertificateWithOtherPemLineBreaks) {
  // Line breaks aside the base64 is the anchor's, so the anchor's parsed certificate serves.
  std::string root_pem = pki_.RootPem();
  root_pem.insert(root_pem.find('\n') + 1 + 10, "\n");
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(pki_.pck_leaf()),
                   testing::CertificatePem(pki_.intermediate()), root_pem);
  VerificationResult result = Verify();
  ASSERT_TRUE(result.verified()) << result.rejection().message;
}

TEST_F(VerifierTest, RejectsChainWhoseLeafIsSignedByAnotherKeyUnderTheSameName) {
  // An attacker's CA with the intermediate's name: the name matches, the signature cannot.
  dcap::EvpPkeyPtr rogue_key = testing::GenerateP256Key();
  dcap::X509Ptr rogue_ca =
      testing::IssueCertificate({.common_name = "Test SGX PCK Processor CA",
                                 .subject_key = rogue_key.get(),
                                 .serial = 2,
                                 .not_before = TestTime("2020-01-01T00:00:00Z"),
                                 .not_after = TestTime("2040-01-01T00:00:00Z"),
                                 .is_ca = true});
  dcap::X509Ptr leaf = IssuePckLeaf(rogue_ca.get(), rogue_key.get(), 5);
  builder_.certification_data =
      absl::StrCat(testing::CertificatePem(leaf.get()),
                   testing::CertificatePem(pki_.intermediate()), pki_.RootPem());
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain, "does not verify");
}

TEST_F(VerifierTest, RejectsPckLeafWithoutOrWithMalformedSgxExtension) {
  auto issue_leaf = [&](std::optional<std::string> extension) {
    dcap::X509Ptr leaf = testing::IssueCertificate({.common_name = "Test SGX PCK Certificate",
                                                    .subject_key = pki_.pck_key(),
                                                    .issuer = pki_.intermediate(),
                                                    .issuer_key = pki_.intermediate_key(),
                                                    .serial = 9,
                                                    .not_before = TestTime("2020-01-01T00:00:00Z"),
                                                    .not_after = TestTime("2040-01-01T00:00:00Z"),
                                                    .sgx_extension_der = std::move(extension)});
    return absl::StrCat(testing::CertificatePem(leaf.get()),
                        testing::CertificatePem(pki_.intermediate()), pki_.RootPem());
  };
  builder_.certification_data = issue_leaf(std::nullopt);
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain, "has no SGX extension");
  std::string truncated = testing::EncodeSgxExtension(pki_.pck_extension);
  truncated.resize(truncated.size() - 3);
  builder_.certification_data = issue_leaf(truncated);
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain, "PCK certificate SGX extension");
}

TEST_F(VerifierTest, RejectsEncryptedPemChainWithoutAskingForAPassphrase) {
  testing::PassphrasePromptCounter prompts;
  builder_.certification_data = testing::WithEncryptedPemHeaders(pki_.PckChainPem());
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain, "PCK chain: certificate 1");
  EXPECT_EQ(prompts.count(), 0);
}

TEST_F(VerifierTest, RejectsQuoteWithoutChainWhenNoneIsSupplied) {
  builder_.certification_data_type = 1;
  builder_.certification_data = std::string(36, '\x01');
  ExpectRejected(Verify(), ErrorCode::kUntrustedPckChain, "type 1");
}

TEST_F(VerifierTest, UsesSuppliedPckChainForQuotesWithoutOne) {
  builder_.certification_data_type = 1;
  builder_.certification_data = std::string(36, '\x01');
  Verifier verifier(pki_.Anchor());
  VerifyOptions options;
  options.at = TestPkiDefaultAt();
  options.pck_chain_pem = pki_.PckChainPem();
  VerificationResult result = verifier.Verify(builder_.Build(), pki_.BuildCollateral(), options);
  EXPECT_TRUE(result.verified()) << result.rejection().message;
}

TEST_F(VerifierTest, RejectsQeReportSignedByAnotherPckKey) {
  TestPki other;
  builder_.certification_data = other.PckChainPem();
  ExpectRejected(Verify(), ErrorCode::kInvalidQeReportSignature);
}

TEST_F(VerifierTest, RejectsQeReportDataThatDoesNotBindTheAttestationKey) {
  builder_.keep_qe_report_data = true;
  builder_.qe_report.report_data.fill(0);
  ExpectRejected(Verify(), ErrorCode::kQeReportDataMismatch);
}

TEST_F(VerifierTest, RejectsForeignQeVendorAndKeyType) {
  builder_.qe_vendor_id[0] ^= 1;
  ExpectRejected(Verify(), ErrorCode::kUnsupportedQuoteFormat, "vendor");
  builder_.qe_vendor_id[0] ^= 1;
  builder_.attestation_key_type = 3;
  ExpectRejected(Verify(), ErrorCode::kUnsupportedQuoteFormat, "attestation key type 3");
}

TEST_F(VerifierTest, RejectsQeIdentityOfAnotherEnclave) {
  pki_.qe_identity.id = "QVE";
  ExpectRejected(Verify(), ErrorCode::kQeIdentityMismatch, "QVE");
}

TEST_F(VerifierTest, RejectsQeWithOtherMrsignerOrProductOrAttributes) {
  builder_.qe_report.mr_signer[0] ^= 1;
  ExpectRejected(Verify(), ErrorCode::kQeIdentityMismatch, "MRSIGNER");
  builder_.qe_report.mr_signer[0] ^= 1;
  builder_.qe_report.isv_prod_id = 2;
  ExpectRejected(Verify(), ErrorCode::kQeIdentityMismatch, "ISVPRODID");
  builder_.qe_report.isv_prod_id = 1;
  builder_.qe_report.misc_select = 1;
  ExpectRejected(Verify(), ErrorCode::kQeIdentityMismatch, "MISCSELECT");
  builder_.qe_report.misc_select = 0;
  builder_.qe_report.attributes[0] = 0x13;  // DEBUG bit, which the mask covers
  ExpectRejected(Verify(), ErrorCode::kQeIdentityMismatch, "ATTRIBUTES");
  builder_.qe_report.attributes[0] = 0x15;  // bit 2 is outside the mask
  EXPECT_TRUE(Verify().verified());
}

TEST_F(VerifierTest, RejectsTcbInfoForAnotherFmspcOrPceId) {
  pki_.tcb_info.fmspc[5] = 0x01;
  ExpectRejected(Verify(), ErrorCode::kFmspcMismatch, "FMSPC");
  pki_.tcb_info.fmspc[5] = 0x00;
  pki_.tcb_info.pce_id[1] = 0x01;
  ExpectRejected(Verify(), ErrorCode::kFmspcMismatch, "PCE ID");
}

TEST_F(VerifierTest, RejectsTamperedTcbInfoAndQeIdentity) {
  CollateralParts parts = pki_.BuildCollateral().parts();
  parts.tcb_info[parts.tcb_info.find("UpToDate")] = 'u';
  ExpectRejected(Verify(builder_.Build(), Collateral::FromParts(parts)), ErrorCode::kInvalidTcbInfo,
                 "signature");
  parts = pki_.BuildCollateral().parts();
  parts.qe_identity_signature[3] ^= 1;
  ExpectRejected(Verify(builder_.Build(), Collateral::FromParts(parts)),
                 ErrorCode::kInvalidQeIdentity, "signature");
}

TEST_F(VerifierTest, RejectsSignedButMalformedTcbInfo) {
  pki_.tcb_info_text_override = R"({"id":"SGX","version":3})";
  ExpectRejected(Verify(), ErrorCode::kInvalidTcbInfo, "issueDate is missing");
  pki_.tcb_info_text_override.reset();
  pki_.tcb_info.id = "TDX";
  ExpectRejected(Verify(), ErrorCode::kInvalidTcbInfo, "tdxModule is missing");
  pki_.tcb_info.id = "SEV";
  ExpectRejected(Verify(), ErrorCode::kInvalidTcbInfo, "only SGX and TDX");
}

TEST_F(VerifierTest, RejectsTdxTcbInfoForAnSgxQuote) {
  pki_.UseTdx();
  pki_.qe_identity.id = "QE";
  ExpectRejected(Verify(), ErrorCode::kFmspcMismatch, "TDX TCB Info");
}

TEST_F(VerifierTest, RejectsTcbSigningCertificateRevokedByRootCrl) {
  pki_.root_crl.revoked_serials = {3};
  ExpectRejected(Verify(), ErrorCode::kInvalidTcbInfo, "revoked by the root CA CRL");
}

TEST_F(VerifierTest, RejectsTcbInfoSignedByPckKeyThatChainsToRoot) {
  // A PCK key chains to the root too, but only a certificate issued by the root itself may sign
  // TCB Info: otherwise any platform could vouch for its own TCB.
  pki_.tcb_info_chain_override = pki_.PckChainPem();
  ExpectRejected(Verify(), ErrorCode::kInvalidTcbInfo, "issued by the root CA itself");
}

TEST_F(VerifierTest, RejectsQeIdentitySigningChainToAnotherRoot) {
  TestPki other;
  pki_.qe_identity_chain_override = other.TcbChainPem();
  ExpectRejected(Verify(), ErrorCode::kInvalidQeIdentity, "does not chain");
}

TEST_F(VerifierTest, SecondQuoteFromKnownPlatformHitsEveryCache) {
  Verifier verifier(pki_.Anchor());
  VerifyOptions options;
  options.at = TestPkiDefaultAt();
  const Collateral collateral = pki_.BuildCollateral();
  ASSERT_TRUE(verifier.Verify(builder_.Build(), collateral, options).verified());
  const VerifierCacheStats before = verifier.cache_stats();
  builder_.enclave.mr_enclave.fill(0x77);
  ASSERT_TRUE(verifier.Verify(builder_.Build(), collateral, options).verified());
  const VerifierCacheStats after = verifier.cache_stats();
  EXPECT_EQ(after.chain_misses, before.chain_misses);
  EXPECT_EQ(after.collateral_misses, before.collateral_misses);
  EXPECT_EQ(after.signature_misses, before.signature_misses);
  EXPECT_EQ(after.attestation_key_misses, before.attestation_key_misses);
  EXPECT_GT(after.chain_hits, before.chain_hits);
}

TEST_F(VerifierTest, CachesNeverChangeAVerdict) {
  Verifier verifier(pki_.Anchor());
  VerifyOptions options;
  options.at = TestPkiDefaultAt();
  const Collateral collateral = pki_.BuildCollateral();
  const std::string quote = builder_.Build();
  ASSERT_TRUE(verifier.Verify(quote, collateral, options).verified());
  // Same inputs later: the cached collateral's windows are evaluated again.
  options.at = TestTime("2025-09-01T00:00:00Z");
  ExpectRejected(verifier.Verify(quote, collateral, options), ErrorCode::kCollateralExpired);
  // A tampered quote is still checked in full.
  std::string tampered = quote;
  tampered[100] ^= 1;
  options.at = TestPkiDefaultAt();
  ExpectRejected(verifier.Verify(tampered, collateral, options), ErrorCode::kInvalidQuoteSignature);
  // A revoking collateral set is a different cache entry.
  pki_.pck_crl.revoked_serials = {pki_.pck_serial};
  ExpectRejected(verifier.Verify(quote, pki_.BuildCollateral(), options), ErrorCode::kPckRevoked);
  EXPECT_TRUE(verifier.Verify(quote, collateral, options).verified());
}

TEST_F(VerifierTest, KeepsOnlyPckChainsThatVerify) {
  // The quote's sender chooses its certification data: a chain that does not verify must not
  // stay in the cache, or a thousand large made-up chains would stay in memory for good.
  TestPki other_pki;
  QuoteBuilder other(other_pki);
  Verifier verifier(pki_.Anchor());
  VerifyOptions options;
  options.at = TestPkiDefaultAt();
  const Collateral collateral = pki_.BuildCollateral();
  for (int i = 0; i < 2; ++i) {
    ExpectRejected(verifier.Verify(other.Build(), collateral, options),
                   ErrorCode::kUntrustedPckChain);
  }
  EXPECT_EQ(verifier.cache_stats().chain_hits, 0u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(verifier.Verify(builder_.Build(), collateral, options).verified());
  }
  EXPECT_EQ(verifier.cache_stats().chain_hits, 1u);
}

TEST_F(VerifierTest, BoundedCachesEvictOldEntries) {
  Verifier verifier(pki_.Anchor(),
                    VerifierCacheOptions{
                        .attestation_keys = 1, .pck_chains = 1, .collaterals = 1, .signatures = 1});
  VerifyOptions options;
  options.at = TestPkiDefaultAt();
  TestPki other_pki;
  QuoteBuilder other(other_pki);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(verifier.Verify(builder_.Build(), pki_.BuildCollateral(), options).verified());
    ExpectRejected(verifier.Verify(other.Build(), pki_.BuildCollateral(), options),
                   ErrorCode::kUntrustedPckChain);
  }
}

TEST_F(VerifierTest, ConcurrentVerificationsShareCachesAndAgree) {
  Verifier verifier(pki_.Anchor());
  VerifyOptions options;
  options.at = TestPkiDefaultAt();
  const Collateral collateral = pki_.BuildCollateral();
  std::vector<std::string> quotes;
  for (int i = 0; i < 4; ++i) {
    builder_.enclave.report_data[0] = static_cast<uint8_t>(i);
    quotes.push_back(builder_.Build());
  }
  std::string tampered = quotes[0];
  tampered[200] ^= 4;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        if (!verifier.Verify(quotes[(t + i) % quotes.size()], collateral, options).verified()) {
          ++wrong;
        }
        if (verifier.Verify(tampered, collateral, options).verified()) {
          ++wrong;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace cn::dcap
