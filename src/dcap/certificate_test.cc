// Certificates decoded without OpenSSL's key decoder, and signatures of certificates and CRLs
// checked over their TBS bytes: what verifies, and each refusal.

#include "src/dcap/certificate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "absl/strings/str_cat.h"
#include "src/common/check.h"
#include "src/dcap/crypto.h"
#include "src/testing/test_pki.h"

namespace cn::dcap {
namespace {

using ::testing::HasSubstr;

class CertificateTest : public ::testing::Test {
 protected:
  CertificateTest()
      : issuer_key_(testing::GenerateP256Key()),
        issuer_(testing::IssueCertificate({.common_name = "Issuer",
                                           .subject_key = issuer_key_.get(),
                                           .not_before = testing::TestTime("2025-01-01T00:00:00Z"),
                                           .not_after = testing::TestTime("2030-01-01T00:00:00Z"),
                                           .is_ca = true})),
        subject_key_(testing::GenerateP256Key()) {}

  X509Ptr Issue(EVP_PKEY* subject_key) {
    return testing::IssueCertificate({.common_name = "Subject",
                                      .subject_key = subject_key,
                                      .issuer = issuer_.get(),
                                      .issuer_key = issuer_key_.get(),
                                      .not_before = testing::TestTime("2025-01-01T00:00:00Z"),
                                      .not_after = testing::TestTime("2030-01-01T00:00:00Z")});
  }

  // A test key as the verifier holds keys.
  static P256PublicKey Key(const EvpPkeyPtr& key) {
    absl::StatusOr<P256PublicKey> imported =
        P256PublicKey::FromRaw(testing::RawPublicKey(key.get()));
    CN_CHECK(imported.ok());
    return *std::move(imported);
  }

  EvpPkeyPtr issuer_key_;
  X509Ptr issuer_;
  EvpPkeyPtr subject_key_;
};

TEST_F(CertificateTest, DecodesAndVerifiesAgainstTheIssuersKeyOnly) {
  X509Ptr issued = Issue(subject_key_.get());
  absl::StatusOr<CertificatePtr> cert = Certificate::FromDer(CertificateDer(issued.get()), "leaf");
  ASSERT_TRUE(cert.ok()) << cert.status();
  // The key is the subject's, imported from the point, while the X509 itself has none.
  EXPECT_EQ((*cert)->key().UncompressedPoint(), "\x04" + testing::RawPublicKey(subject_key_.get()));
  EXPECT_EQ(X509_get0_pubkey((*cert)->x509()), nullptr);
  EXPECT_EQ((*cert)->key_der(), CertificateKeyDer(issued.get()));
  EXPECT_EQ((*cert)->key_der(), PublicKeyDer(subject_key_.get()));
  EXPECT_EQ(NameText(X509_get_subject_name((*cert)->x509())), "O=Test PKI,CN=Subject");
  EXPECT_EQ(X509_cmp((*cert)->x509(), issued.get()), 0);
  EXPECT_TRUE((*cert)->SignatureVerifiesWith(Key(issuer_key_)));
  EXPECT_FALSE((*cert)->SignatureVerifiesWith(Key(subject_key_)));
}

TEST_F(CertificateTest, ATamperedTbsByteNoLongerVerifies) {
  std::string der = CertificateDer(Issue(subject_key_.get()).get());
  const size_t at = der.find("Subject");
  ASSERT_NE(at, std::string::npos);
  der[at] = 's';
  absl::StatusOr<CertificatePtr> cert = Certificate::FromDer(der, "leaf");
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_FALSE((*cert)->SignatureVerifiesWith(Key(issuer_key_)));
}

TEST_F(CertificateTest, RefusesAKeyThatIsNotP256) {
  EvpPkeyPtr p384(EVP_EC_gen("P-384"));
  ASSERT_NE(p384, nullptr);
  absl::StatusOr<CertificatePtr> cert =
      Certificate::FromDer(CertificateDer(Issue(p384.get()).get()), "leaf");
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(cert.status().message(), HasSubstr("leaf: the public key is not an EC P-256 key"));
}

TEST_F(CertificateTest, RefusesASignatureAlgorithmOtherThanEcdsaWithSha256) {
  X509Ptr issued = Issue(subject_key_.get());
  ASSERT_GT(X509_sign(issued.get(), issuer_key_.get(), EVP_sha384()), 0);
  absl::StatusOr<CertificatePtr> cert = Certificate::FromDer(CertificateDer(issued.get()), "leaf");
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(cert.status().message(), HasSubstr("not ecdsa-with-SHA256"));
}

TEST_F(CertificateTest, RefusesAnInnerSignatureAlgorithmThatDiffersFromTheOuter) {
  // RFC 5280 4.1.1.2: the algorithm inside the signed part must be the outer one. Make the inner
  // (first) occurrence ecdsa-with-SHA384 and leave the outer one alone.
  std::string der = CertificateDer(Issue(subject_key_.get()).get());
  const std::string sha256_oid = "\x2a\x86\x48\xce\x3d\x04\x03\x02";
  const size_t inner = der.find(sha256_oid);
  ASSERT_NE(inner, std::string::npos);
  ASSERT_NE(der.find(sha256_oid, inner + 1), std::string::npos);
  der[inner + sha256_oid.size() - 1] = 0x03;
  absl::StatusOr<CertificatePtr> cert = Certificate::FromDer(der, "leaf");
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(cert.status().message(), HasSubstr("differs from the outer one"));
}

TEST_F(CertificateTest, RefusesTrailingBytesAndNonCertificates) {
  const std::string der = CertificateDer(Issue(subject_key_.get()).get());
  EXPECT_THAT(Certificate::FromDer(der + "x", "leaf").status().message(),
              HasSubstr("leaf: trailing bytes after the certificate"));
  EXPECT_THAT(Certificate::FromDer("not a certificate", "leaf").status().message(),
              HasSubstr("leaf: not a DER certificate"));
  EXPECT_THAT(Certificate::FromDer(der.substr(0, der.size() - 1), "leaf").status().message(),
              HasSubstr("leaf: not a DER certificate"));
}

TEST_F(CertificateTest, PemChainReusesTheKnownCertificateAndRefusesEncryptedBlocks) {
  const std::string issuer_pem = testing::CertificatePem(issuer_.get());
  const std::string pem =
      absl::StrCat(testing::CertificatePem(Issue(subject_key_.get()).get()), issuer_pem);
  absl::StatusOr<CertificatePtr> known =
      Certificate::FromDer(CertificateDer(issuer_.get()), "issuer");
  ASSERT_TRUE(known.ok()) << known.status();
  absl::StatusOr<std::vector<CertificatePtr>> chain =
      DecodePemCertificates(pem, "chain", *known, Base64((*known)->der()));
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[1], *known);
  EXPECT_TRUE((*chain)[0]->SignatureVerifiesWith((*chain)[1]->key()));

  testing::PassphrasePromptCounter prompts;
  absl::StatusOr<std::vector<CertificatePtr>> encrypted =
      DecodePemCertificates(testing::WithEncryptedPemHeaders(issuer_pem), "chain", nullptr, "");
  ASSERT_FALSE(encrypted.ok());
  EXPECT_THAT(encrypted.status().message(), HasSubstr("chain: certificate 1 does not parse"));
  EXPECT_EQ(prompts.count(), 0);
  EXPECT_THAT(DecodePemCertificates("no PEM here", "chain", nullptr, "").status().message(),
              HasSubstr("chain: no PEM certificate found"));
}

TEST_F(CertificateTest, CrlSignatureVerifiesOnlyWithItsIssuersKeyAndUntampered) {
  std::string crl =
      testing::IssueCrlDer({.issuer = issuer_.get(),
                            .signing_key = issuer_key_.get(),
                            .revoked_serials = {7},
                            .this_update = testing::TestTime("2025-06-01T00:00:00Z"),
                            .next_update = testing::TestTime("2025-08-01T00:00:00Z")});
  EXPECT_TRUE(CrlSignatureVerifiesWith(crl, Key(issuer_key_)));
  EXPECT_FALSE(CrlSignatureVerifiesWith(crl, Key(subject_key_)));
  EXPECT_FALSE(CrlSignatureVerifiesWith(crl + "x", Key(issuer_key_)));
  const size_t name = crl.find("Issuer");
  ASSERT_NE(name, std::string::npos);
  crl[name] = 'i';
  EXPECT_FALSE(CrlSignatureVerifiesWith(crl, Key(issuer_key_)));
}

}  // namespace
}  // namespace cn::dcap
