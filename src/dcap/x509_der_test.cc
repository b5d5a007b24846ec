// Certificate and Crl read their DER themselves (x509_der.h). These tests hold them against
// OpenSSL's decoders on real Intel certificates and CRLs and on every one-bit change of them:
// whatever the verifier's decoders accept, OpenSSL accepts too and reads the same fields from.
// (The reverse may differ: where OpenSSL is more lenient, ours refuse.)

#include "src/dcap/x509_der.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "src/dcap/certificate.h"
#include "src/dcap/collateral.h"
#include "src/dcap/crl.h"
#include "src/dcap/crypto.h"
#include "src/dcap/quote.h"
#include "src/testing/test_pki.h"

namespace cn::dcap {
namespace {

using ::testing::HasSubstr;

std::string ReadVector(const std::string& relative) {
  std::ifstream file(std::string(CN_VECTORS_DIR) + "/" + relative, std::ios::binary);
  EXPECT_TRUE(file.good()) << "cannot open " << relative;
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

// The DER of every certificate in `pem`.
std::vector<std::string> CertificateDers(absl::string_view pem) {
  absl::StatusOr<std::vector<X509Ptr>> certs = ParsePemCertificates(pem, "test chain");
  EXPECT_TRUE(certs.ok()) << certs.status();
  std::vector<std::string> ders;
  if (certs.ok()) {
    for (const X509Ptr& cert : *certs) {
      ders.push_back(CertificateDer(cert.get()));
    }
  }
  return ders;
}

// Every distinct certificate of a real vector: the quote's PCK chain (leaf, Intel's PCK CA,
// root) and the TCB signing chain.
std::vector<std::string> RealCertificates(const std::string& vector) {
  const std::string quote_bytes = ReadVector(vector + "/quote.bin");
  absl::StatusOr<Quote> quote = ParseQuote(quote_bytes);  // views into quote_bytes
  EXPECT_TRUE(quote.ok()) << quote.status();
  absl::StatusOr<Collateral> collateral =
      Collateral::FromJson(ReadVector(vector + "/collateral.json"));
  EXPECT_TRUE(collateral.ok()) << collateral.status();
  std::vector<std::string> ders = CertificateDers(quote->certification_data);
  for (std::string& der : CertificateDers(collateral->parts().tcb_info_issuer_chain)) {
    if (std::find(ders.begin(), ders.end(), der) == ders.end()) {
      ders.push_back(std::move(der));
    }
  }
  return ders;
}

std::string NameDer(const X509_NAME* name) {
  unsigned char* buffer = nullptr;
  const int size = i2d_X509_NAME(name, &buffer);
  std::string der = size > 0 ? std::string(reinterpret_cast<char*>(buffer), size) : "";
  OPENSSL_free(buffer);
  return der;
}

std::string IntegerContents(const ASN1_INTEGER* integer) {
  unsigned char* buffer = nullptr;
  const int size = i2d_ASN1_INTEGER(integer, &buffer);
  std::string der = size > 0 ? std::string(reinterpret_cast<char*>(buffer), size) : "";
  OPENSSL_free(buffer);
  DerReader reader(der, "integer");
  absl::StatusOr<absl::string_view> contents = reader.ReadExpected(der::kInteger, "integer");
  return contents.ok() ? std::string(*contents) : "(unencodable)";
}

std::optional<absl::Time> OpenSslTime(const ASN1_TIME* time) {
  absl::StatusOr<absl::Time> converted = ToTime(time);
  return converted.ok() ? std::optional<absl::Time>(*converted) : std::nullopt;
}

// OpenSSL decodes here in a library context with no algorithms, so it leaves keys undecoded and
// skips CRL fingerprints: each decode costs microseconds rather than the provider lookups' 100+,
// and the sweeps stay quick. What is accepted is the same (the decoders' structure is OpenSSL's).
OSSL_LIB_CTX* NoAlgorithms() {
  static OSSL_LIB_CTX* const context = [] {
    OSSL_LIB_CTX* created = OSSL_LIB_CTX_new();
    OSSL_PROVIDER_load(created, "null");
    return created;
  }();
  return context;
}

// When ours accepts `der`, OpenSSL's d2i_X509 accepts all of it and reads the same fields.
// Returns whether ours accepted.
bool CertificateAgreesWithOpenSsl(const std::string& der, const std::string& label) {
  absl::StatusOr<CertificatePtr> ours = Certificate::FromDer(der, "");
  if (!ours.ok()) {
    return false;
  }
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  X509* decoded = X509_new_ex(NoAlgorithms(), nullptr);
  X509Ptr theirs(d2i_X509(&decoded, &cursor, static_cast<long>(der.size())));  // frees on failure
  ERR_clear_error();
  EXPECT_NE(theirs, nullptr) << label << ": ours accepts what OpenSSL refuses";
  if (theirs == nullptr) {
    return true;
  }
  EXPECT_EQ(cursor, reinterpret_cast<const unsigned char*>(der.data() + der.size())) << label;
  EXPECT_EQ((*ours)->serial(), IntegerContents(X509_get0_serialNumber(theirs.get()))) << label;
  EXPECT_EQ((*ours)->issuer_der(), NameDer(X509_get_issuer_name(theirs.get()))) << label;
  EXPECT_EQ((*ours)->subject_der(), NameDer(X509_get_subject_name(theirs.get()))) << label;
  EXPECT_EQ((*ours)->key_der(), CertificateKeyDer(theirs.get())) << label;
  // A time ours reads, OpenSSL reads the same way (ours may refuse forms OpenSSL takes).
  if ((*ours)->not_before()) {
    EXPECT_EQ((*ours)->not_before(), OpenSslTime(X509_get0_notBefore(theirs.get()))) << label;
  }
  if ((*ours)->not_after()) {
    EXPECT_EQ((*ours)->not_after(), OpenSslTime(X509_get0_notAfter(theirs.get()))) << label;
  }
  return true;
}

bool CrlAgreesWithOpenSsl(const std::string& der, const std::string& label) {
  absl::StatusOr<CrlPtr> ours = Crl::FromDer(der, "CRL");
  if (!ours.ok()) {
    return false;
  }
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  X509_CRL* decoded = X509_CRL_new_ex(NoAlgorithms(), nullptr);
  X509CrlPtr theirs(d2i_X509_CRL(&decoded, &cursor, static_cast<long>(der.size())));
  ERR_clear_error();
  EXPECT_NE(theirs, nullptr) << label << ": ours accepts what OpenSSL refuses";
  if (theirs == nullptr) {
    return true;
  }
  EXPECT_EQ(cursor, reinterpret_cast<const unsigned char*>(der.data() + der.size())) << label;
  EXPECT_EQ((*ours)->issuer_der(), NameDer(X509_CRL_get_issuer(theirs.get()))) << label;
  if ((*ours)->this_update()) {
    EXPECT_EQ((*ours)->this_update(), OpenSslTime(X509_CRL_get0_lastUpdate(theirs.get()))) << label;
  }
  EXPECT_EQ((*ours)->has_next_update(), X509_CRL_get0_nextUpdate(theirs.get()) != nullptr) << label;
  if ((*ours)->next_update()) {
    EXPECT_EQ((*ours)->next_update(), OpenSslTime(X509_CRL_get0_nextUpdate(theirs.get()))) << label;
  }
  std::vector<std::string> revoked;
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(theirs.get());
  for (int i = 0; entries != nullptr && i < sk_X509_REVOKED_num(entries); ++i) {
    revoked.push_back(
        IntegerContents(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i))));
  }
  EXPECT_THAT((*ours)->revoked_serials(), ::testing::ElementsAreArray(revoked)) << label;
  return true;
}

// Every one-bit change of `der` (of its first `head` and last `tail` bytes, when it is longer),
// each given to `agrees`; returns how many ours accepted.
template <typename Agrees>
int SweepBitFlips(const std::string& der, const std::string& label, Agrees agrees,
                  size_t head = ~size_t{0}, size_t tail = 0) {
  int accepted = 0;
  for (size_t bit = 0; bit < der.size() * 8; ++bit) {
    if (bit / 8 >= head && bit / 8 + tail < der.size()) {
      continue;
    }
    std::string flipped = der;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    accepted += agrees(flipped, absl::StrCat(label, " bit ", bit)) ? 1 : 0;
    if (::testing::Test::HasFailure()) {
      return accepted;  // one counterexample is enough to read
    }
  }
  return accepted;
}

TEST(X509DerTest, RealCertificatesDecodeAsOpenSslDecodesThem) {
  for (const std::string vector : {"real-sgx", "real-tdx"}) {
    const std::vector<std::string> certs = RealCertificates(vector);
    ASSERT_GE(certs.size(), 4u) << vector;
    for (size_t i = 0; i < certs.size(); ++i) {
      EXPECT_TRUE(CertificateAgreesWithOpenSsl(certs[i], absl::StrCat(vector, " cert ", i)));
    }
  }
  ASSERT_TRUE(CertificateAgreesWithOpenSsl(
      ReadVector("intel-root/Intel_SGX_Provisioning_Certification_RootCA.der"), "Intel root file"));
}

TEST(X509DerTest, EveryBitFlipOfRealCertificatesIsAcceptedOnlyAsOpenSslReadsIt) {
  // The PCK leaf (the largest, with the SGX extension) and the TCB signing certificate.
  const std::vector<std::string> certs = RealCertificates("real-sgx");
  for (size_t i : {size_t{0}, certs.size() - 1}) {
    const int accepted =
        SweepBitFlips(certs[i], absl::StrCat("cert ", i), CertificateAgreesWithOpenSsl);
    // Flips inside names, keys, signatures and extension values decode; structure flips do not.
    EXPECT_GT(accepted, 0);
    EXPECT_LT(accepted, static_cast<int>(certs[i].size() * 8));
  }
}

TEST(X509DerTest, RealCrlsAndEveryBitFlipOfThemDecodeOnlyAsOpenSslReadsThem) {
  std::vector<std::string> swept;
  for (const std::string vector : {"real-sgx", "real-tdx"}) {
    absl::StatusOr<Collateral> collateral =
        Collateral::FromJson(ReadVector(vector + "/collateral.json"));
    ASSERT_TRUE(collateral.ok()) << collateral.status();
    for (const std::string& crl : {collateral->parts().root_ca_crl, collateral->parts().pck_crl}) {
      ASSERT_TRUE(CrlAgreesWithOpenSsl(crl, vector));
      if (std::find(swept.begin(), swept.end(), crl) != swept.end()) {
        continue;  // both vectors carry the same root CA CRL
      }
      swept.push_back(crl);
      // The TDX PCK CRL revokes many certificates (2.6 kB): its header, first entries and end
      // are swept, which covers every field's kind.
      EXPECT_GT(SweepBitFlips(crl, vector, CrlAgreesWithOpenSsl, 256, 160), 0);
    }
  }
  // And a CRL that revokes: the test PKI's, with three serials, one needing a leading zero.
  EvpPkeyPtr key = testing::GenerateP256Key();
  X509Ptr issuer =
      testing::IssueCertificate({.common_name = "Issuer",
                                 .subject_key = key.get(),
                                 .not_before = testing::TestTime("2025-01-01T00:00:00Z"),
                                 .not_after = testing::TestTime("2030-01-01T00:00:00Z"),
                                 .is_ca = true});
  const std::string crl =
      testing::IssueCrlDer({.issuer = issuer.get(),
                            .signing_key = key.get(),
                            .revoked_serials = {7, 200, 65536},
                            .this_update = testing::TestTime("2025-06-01T00:00:00Z"),
                            .next_update = testing::TestTime("2025-08-01T00:00:00Z")});
  ASSERT_TRUE(CrlAgreesWithOpenSsl(crl, "test CRL"));
  absl::StatusOr<CrlPtr> decoded = Crl::FromDer(crl, "CRL");
  ASSERT_TRUE(decoded.ok());
  EXPECT_THAT((*decoded)->revoked_serials(),
              ::testing::ElementsAre(absl::string_view("\x07"), absl::string_view("\x00\xc8", 2),
                                     absl::string_view("\x01\x00\x00", 3)));
  EXPECT_GT(SweepBitFlips(crl, "test CRL", CrlAgreesWithOpenSsl), 0);
}

// DER rules ours holds where OpenSSL is lenient, each on a real certificate changed by hand.
TEST(X509DerTest, TimesAndIntegersAreRfc5280sAndDers) {
  // Times: fractions, offsets and impossible dates.
  auto time = [](uint8_t tag, absl::string_view text) {
    return x509::DecodeTime(DerElement{tag, text});
  };
  EXPECT_EQ(time(x509::kUtcTime, "250101000000Z"), testing::TestTime("2025-01-01T00:00:00Z"));
  EXPECT_EQ(time(x509::kUtcTime, "491231235959Z"), testing::TestTime("2049-12-31T23:59:59Z"));
  EXPECT_EQ(time(x509::kUtcTime, "500101000000Z"), testing::TestTime("1950-01-01T00:00:00Z"));
  EXPECT_EQ(time(x509::kGeneralizedTime, "20500101000000Z"),
            testing::TestTime("2050-01-01T00:00:00Z"));
  EXPECT_EQ(time(x509::kGeneralizedTime, "20240229120000Z"),
            testing::TestTime("2024-02-29T12:00:00Z"));
  for (absl::string_view bad :
       {"2501010000Z", "250101000000", "250101000000+0100", "250230000000Z", "251301000000Z",
        "250101240000Z", "250101006000Z", "250101000060Z", "25010100000aZ"}) {
    EXPECT_EQ(time(x509::kUtcTime, bad), std::nullopt) << bad;
  }
  EXPECT_EQ(time(x509::kGeneralizedTime, "20250101000000.5Z"), std::nullopt);
  EXPECT_EQ(time(x509::kGeneralizedTime, "20230229000000Z"), std::nullopt);
  // INTEGERs: empty and padded ones are not DER.
  for (absl::string_view bad :
       {absl::string_view("\x02\x00", 2), absl::string_view("\x02\x02\x00\x01", 4),
        absl::string_view("\x02\x02\xff\x80", 4)}) {
    DerReader reader(bad, "integer");
    EXPECT_FALSE(x509::ReadInteger(reader, "serial").ok());
  }
  DerReader negative(absl::string_view("\x02\x01\x80", 3), "integer");
  absl::StatusOr<absl::string_view> contents = x509::ReadInteger(negative, "serial");
  ASSERT_TRUE(contents.ok());
  EXPECT_EQ(x509::IntegerHex(*contents), "-80");
  EXPECT_EQ(x509::IntegerHex(absl::string_view("\x00\x81", 2)), "81");
}

TEST(X509DerTest, NamesAreOidsAndDirectoryStringsAndMatchAsOpenSslMatchesThem) {
  auto name = [](absl::string_view attribute_value) {
    // SEQUENCE { SET { SEQUENCE { OID 2.5.4.3 (commonName), value } } }
    const std::string attribute =
        absl::StrCat(std::string("\x06\x03\x55\x04\x03", 5), attribute_value);
    const std::string sequence = absl::StrCat("\x30", std::string(1, attribute.size()), attribute);
    const std::string set = absl::StrCat("\x31", std::string(1, sequence.size()), sequence);
    return absl::StrCat("\x30", std::string(1, set.size()), set);
  };
  auto reads = [](const std::string& der) {
    DerReader reader(der, "name");
    return x509::ReadName(reader, "issuer").ok() && reader.at_end();
  };
  EXPECT_TRUE(reads(name("\x0c\x05Intel")));                     // UTF8String
  EXPECT_TRUE(reads(name("\x13\x02US")));                        // PrintableString
  EXPECT_TRUE(reads(name(std::string("\x1e\x02\x00\x41", 4))));  // BMPString "A"
  EXPECT_FALSE(reads(name("\x0c\x02\xc0\x80")));                 // overlong UTF-8
  EXPECT_FALSE(reads(name("\x0c\x03\xed\xa0\x80")));             // a UTF-16 surrogate in UTF-8
  EXPECT_FALSE(reads(name("\x1e\x01\x41")));                     // half a BMP character
  EXPECT_FALSE(reads(name("\x04\x01\x41")));                     // an OCTET STRING is no string
  EXPECT_FALSE(reads(std::string("\x30\x02\x31\x00", 4)));       // an empty RDN
  EXPECT_TRUE(reads(std::string("\x30\x00", 2)));                // an empty name is a name
  // Equal bytes match; so do names RFC 5280 folds together (case, string type).
  EXPECT_TRUE(x509::NamesMatch(name("\x0c\x05Intel"), name("\x0c\x05Intel")));
  EXPECT_TRUE(x509::NamesMatch(name("\x0c\x05Intel"), name("\x13\x05INTEL")));
  EXPECT_FALSE(x509::NamesMatch(name("\x0c\x05Intel"), name("\x0c\x05Intex")));
  EXPECT_EQ(x509::NameText(name("\x0c\x05Intel")), "CN=Intel");
  EXPECT_EQ(x509::NameText("\x30\x05junk"), "(unreadable name)");
}

TEST(X509DerTest, ReadsTheFieldsOfTheRealPckLeaf) {
  const std::string leaf = RealCertificates("real-sgx")[0];
  absl::StatusOr<CertificatePtr> cert = Certificate::FromDer(leaf, "leaf");
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ((*cert)->SerialHex(), "81b77732b761e98eb9b963a4abd1e5b9bf5dd8d6");
  EXPECT_THAT((*cert)->SubjectText(), HasSubstr("CN=Intel SGX PCK Certificate"));
  EXPECT_THAT((*cert)->IssuerText(), HasSubstr("CN=Intel SGX PCK Processor CA"));
  EXPECT_TRUE((*cert)->ExtensionValue("\x2a\x86\x48\x86\xf8\x4d\x01\x0d\x01").ok());
  EXPECT_TRUE(absl::IsNotFound((*cert)->ExtensionValue("\x55\x1d\x99").status()));
}

}  // namespace
}  // namespace cn::dcap
