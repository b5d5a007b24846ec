// Certificates decoded without OpenSSL's key decoder, and signatures of certificates and CRLs
// checked over their TBS bytes: what verifies, and each refusal.

#include "src/dcap/certificate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/common/check.h"
#include "src/dcap/crl.h"
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
  // The key is the subject's, imported from the point; the fields are OpenSSL's.
  EXPECT_EQ((*cert)->key().UncompressedPoint(), "\x04" + testing::RawPublicKey(subject_key_.get()));
  EXPECT_EQ((*cert)->key_der(), CertificateKeyDer(issued.get()));
  EXPECT_EQ((*cert)->key_der(), PublicKeyDer(subject_key_.get()));
  EXPECT_EQ((*cert)->SubjectText(), "O=Test PKI,CN=Subject");
  EXPECT_EQ((*cert)->IssuerText(), "O=Test PKI,CN=Issuer");
  EXPECT_EQ((*cert)->SerialHex(), SerialHex(issued.get()));
  EXPECT_EQ((*cert)->not_before(), testing::TestTime("2025-01-01T00:00:00Z"));
  EXPECT_EQ((*cert)->not_after(), testing::TestTime("2030-01-01T00:00:00Z"));
  EXPECT_EQ((*cert)->der(), CertificateDer(issued.get()));
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
  absl::StatusOr<CrlPtr> decoded = Crl::FromDer(crl, "CRL");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE((*decoded)->SignatureVerifiesWith(Key(issuer_key_)));
  EXPECT_FALSE((*decoded)->SignatureVerifiesWith(Key(subject_key_)));
  EXPECT_EQ((*decoded)->IssuerText(), "O=Test PKI,CN=Issuer");
  EXPECT_EQ((*decoded)->this_update(), testing::TestTime("2025-06-01T00:00:00Z"));
  EXPECT_EQ((*decoded)->next_update(), testing::TestTime("2025-08-01T00:00:00Z"));
  EXPECT_THAT((*decoded)->revoked_serials(), ::testing::ElementsAre(absl::string_view("\x07")));
  EXPECT_THAT(Crl::FromDer(crl + "x", "CRL").status().message(),
              HasSubstr("CRL: trailing bytes after the CRL"));
  const size_t name = crl.find("Issuer");
  ASSERT_NE(name, std::string::npos);
  crl[name] = 'i';
  decoded = Crl::FromDer(crl, "CRL");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_FALSE((*decoded)->SignatureVerifiesWith(Key(issuer_key_)));
}

// What the chain rules read from the DER, against what OpenSSL's extension cache says of the same
// certificate (decoded normally, in the default library context): the rules are OpenSSL's.
struct ConstraintCase {
  const char* name;
  testing::CertificateSpec spec;  // subject and issuer keys are filled in
  bool is_ca;
  bool may_be_ca;
  std::optional<uint64_t> path_length;
  bool unknown_critical;
  bool malformed;
};

TEST_F(CertificateTest, ConstraintsFromTheDerAgreeWithOpenSslsExtensionCache) {
  const std::string bc_ca_pathlen_2("\x30\x06\x01\x01\xff\x02\x01\x02", 8);
  const std::string bc_not_ca_with_pathlen("\x30\x03\x02\x01\x00", 5);
  const std::string bc_negative_pathlen("\x30\x06\x01\x01\xff\x02\x01\xff", 8);
  const std::string bc_truncated("\x30\x03\x01\x01", 4);
  const std::string empty_sequence("\x30\x00", 2);
  const std::string null("\x05\x00", 2);
  const std::string ns_ssl_ca("\x03\x02\x02\x04", 4);  // nsCertType sslCA
  std::vector<ConstraintCase> cases = {
      {"leaf", {}, false, false, std::nullopt, false, false},
      {"ca", {.is_ca = true}, true, true, std::nullopt, false, false},
      {"ca pathlen 0", {.is_ca = true, .path_length = 0}, true, true, 0, false, false},
      {"ca pathlen 3", {.is_ca = true, .path_length = 3}, true, true, 3, false, false},
      {"ca without keyCertSign",
       {.is_ca = true, .key_usage = "critical,cRLSign,digitalSignature"},
       false,
       false,
       std::nullopt,
       false,
       false},
      {"keyCertSign without basicConstraints",
       {.is_ca = true, .basic_constraints = false},
       false,
       true,
       std::nullopt,
       false,
       false},
      {"keyUsage without keyCertSign, no basicConstraints",
       {.basic_constraints = false},
       false,
       false,
       std::nullopt,
       false,
       false},
      {"raw basicConstraints, CA, pathlen 2",
       {.basic_constraints = false,
        .key_usage = "critical,keyCertSign",
        .extra_extensions = {{"2.5.29.19", true, bc_ca_pathlen_2}}},
       true,
       true,
       2,
       false,
       false},
      {"pathlen without cA",
       {.basic_constraints = false,
        .extra_extensions = {{"2.5.29.19", true, bc_not_ca_with_pathlen}}},
       false,
       false,
       std::nullopt,
       false,
       false},
      {"negative pathlen",
       {.basic_constraints = false,
        .key_usage = "critical,keyCertSign",
        .extra_extensions = {{"2.5.29.19", true, bc_negative_pathlen}}},
       false,
       false,
       std::nullopt,
       false,
       true},
      {"truncated basicConstraints",
       {.basic_constraints = false,
        .key_usage = "critical,keyCertSign",
        .extra_extensions = {{"2.5.29.19", true, bc_truncated}}},
       false,
       false,
       std::nullopt,
       false,
       true},
      {"duplicate basicConstraints",
       {.is_ca = true, .extra_extensions = {{"2.5.29.19", true, bc_ca_pathlen_2}}},
       false,
       false,
       std::nullopt,
       false,
       true},
      {"duplicate keyUsage",
       {.extra_extensions = {{"2.5.29.15", true, std::string("\x03\x02\x07\x80", 4)}}},
       false,
       false,
       std::nullopt,
       false,
       true},
      {"unknown critical",
       {.extra_extensions = {{testing::kUnknownExtensionOid, true, empty_sequence}}},
       false,
       false,
       std::nullopt,
       true,
       false},
      {"unknown non-critical",
       {.extra_extensions = {{testing::kUnknownExtensionOid, false, empty_sequence}}},
       false,
       false,
       std::nullopt,
       false,
       false},
      {"critical nameConstraints (supported)",
       {.extra_extensions = {{"2.5.29.30", true, empty_sequence}}},
       false,
       false,
       std::nullopt,
       false,
       false},
      {"critical subjectKeyIdentifier (not supported)",
       {.extra_extensions = {{"2.5.29.14", true, std::string("\x04\x01\x01", 3)}}},
       false,
       false,
       std::nullopt,
       true,
       false},
      {"subjectKeyIdentifier holding NULL",
       {.extra_extensions = {{"2.5.29.14", false, null}}},
       false,
       false,
       std::nullopt,
       false,
       true},
      {"authorityKeyIdentifier holding NULL",
       {.extra_extensions = {{"2.5.29.35", false, null}}},
       false,
       false,
       std::nullopt,
       false,
       true},
      {"extendedKeyUsage holding NULL",
       {.extra_extensions = {{"2.5.29.37", false, null}}},
       false,
       false,
       std::nullopt,
       false,
       true},
      {"Netscape SSL CA without basicConstraints",
       {.basic_constraints = false,
        .key_usage = "critical,keyCertSign",
        .extra_extensions = {{"2.16.840.1.113730.1.1", false, ns_ssl_ca}}},
       false,
       true,
       std::nullopt,
       false,
       false},
  };
  for (ConstraintCase& c : cases) {
    SCOPED_TRACE(c.name);
    c.spec.common_name = "Subject";
    c.spec.subject_key = subject_key_.get();
    c.spec.issuer = issuer_.get();
    c.spec.issuer_key = issuer_key_.get();
    c.spec.not_before = testing::TestTime("2025-01-01T00:00:00Z");
    c.spec.not_after = testing::TestTime("2030-01-01T00:00:00Z");
    const std::string der = CertificateDer(testing::IssueCertificate(c.spec).get());
    absl::StatusOr<CertificatePtr> cert = Certificate::FromDer(der, "cert");
    ASSERT_TRUE(cert.ok()) << cert.status();
    EXPECT_EQ((*cert)->IsCa(), c.is_ca);
    EXPECT_EQ((*cert)->MayBeCa(), c.may_be_ca);
    EXPECT_EQ((*cert)->path_length(), c.path_length);
    EXPECT_EQ((*cert)->has_unknown_critical_extension(), c.unknown_critical);
    EXPECT_EQ((*cert)->has_malformed_extension(), c.malformed);

    const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
    X509Ptr openssl(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
    ASSERT_NE(openssl, nullptr);
    const uint32_t flags = X509_get_extension_flags(openssl.get());
    EXPECT_EQ((*cert)->IsCa(), X509_check_ca(openssl.get()) == 1);
    EXPECT_EQ((*cert)->MayBeCa(), X509_check_ca(openssl.get()) != 0);
    EXPECT_EQ((*cert)->has_unknown_critical_extension(), (flags & EXFLAG_CRITICAL) != 0);
    EXPECT_EQ((*cert)->has_malformed_extension(), (flags & EXFLAG_INVALID) != 0);
    if ((*cert)->path_length()) {
      EXPECT_EQ(static_cast<long>(*(*cert)->path_length()), X509_get_pathlen(openssl.get()));
    }
    for (uint32_t usage : {KU_DIGITAL_SIGNATURE, KU_KEY_CERT_SIGN, KU_CRL_SIGN}) {
      const bool openssl_allows =
          (flags & EXFLAG_KUSAGE) == 0 || (X509_get_key_usage(openssl.get()) & usage) != 0;
      EXPECT_EQ((*cert)->KeyUsageAllows(usage), openssl_allows) << usage;
    }
  }
}

TEST_F(CertificateTest, KeyUsageBitsAreReadAsOpenSslReadsThem) {
  absl::StatusOr<CertificatePtr> leaf =
      Certificate::FromDer(CertificateDer(Issue(subject_key_.get()).get()), "leaf");
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  // The default leaf: digitalSignature and nonRepudiation.
  EXPECT_TRUE((*leaf)->KeyUsageAllows(KU_DIGITAL_SIGNATURE));
  EXPECT_TRUE((*leaf)->KeyUsageAllows(KU_NON_REPUDIATION));
  EXPECT_FALSE((*leaf)->KeyUsageAllows(KU_KEY_CERT_SIGN));
  EXPECT_FALSE((*leaf)->KeyUsageAllows(KU_CRL_SIGN));
  // decipherOnly is bit 8: the second byte of the BIT STRING.
  absl::StatusOr<CertificatePtr> decipher = Certificate::FromDer(
      CertificateDer(
          testing::IssueCertificate({.common_name = "Subject",
                                     .subject_key = subject_key_.get(),
                                     .issuer = issuer_.get(),
                                     .issuer_key = issuer_key_.get(),
                                     .not_before = testing::TestTime("2025-01-01T00:00:00Z"),
                                     .not_after = testing::TestTime("2030-01-01T00:00:00Z"),
                                     .key_usage = "critical,keyAgreement,decipherOnly"})
              .get()),
      "leaf");
  ASSERT_TRUE(decipher.ok()) << decipher.status();
  EXPECT_TRUE((*decipher)->KeyUsageAllows(KU_DECIPHER_ONLY));
  EXPECT_TRUE((*decipher)->KeyUsageAllows(KU_KEY_AGREEMENT));
  EXPECT_FALSE((*decipher)->KeyUsageAllows(KU_DIGITAL_SIGNATURE));
}

TEST_F(CertificateTest, ADuplicateUnknownExtensionIsMalformed) {
  // RFC 5280 4.2: no extension twice. OpenSSL only notices for the extensions it decodes; the
  // verifier refuses it for any.
  const std::string empty_sequence("\x30\x00", 2);
  absl::StatusOr<CertificatePtr> cert = Certificate::FromDer(
      CertificateDer(
          testing::IssueCertificate(
              {.common_name = "Subject",
               .subject_key = subject_key_.get(),
               .issuer = issuer_.get(),
               .issuer_key = issuer_key_.get(),
               .not_before = testing::TestTime("2025-01-01T00:00:00Z"),
               .not_after = testing::TestTime("2030-01-01T00:00:00Z"),
               .extra_extensions = {{testing::kUnknownExtensionOid, false, empty_sequence},
                                    {testing::kUnknownExtensionOid, false, empty_sequence}}})
              .get()),
      "leaf");
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_TRUE((*cert)->has_malformed_extension());
}

}  // namespace
}  // namespace cn::dcap
