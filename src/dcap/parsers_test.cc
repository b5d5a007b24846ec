// Quote, PCK extension, collateral and TCB Info parsing: what is accepted and how each kind of
// malformed input is named.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/check.h"
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

TEST(PckExtensionTest, NamesTheTcbEntryThatIsWrong) {
  const std::string der = testing::EncodeSgxExtension(PckExtension{});
  // TCB entry 5: OID 1.2.840.113741.1.13.1.2.5, then its INTEGER.
  const std::string entry5("\x06\x0b\x2a\x86\x48\x86\xf8\x4d\x01\x0d\x01\x02\x05\x02", 14);
  const size_t at = der.find(entry5);
  ASSERT_NE(at, std::string::npos);
  const size_t index = at + 12;
  std::string other = der;
  other[index] = 19;
  EXPECT_THAT(ParsePckExtension(other).status().message(),
              HasSubstr("unexpected TCB entry 1.2.840.113741.1.13.1.2.19"));
  other[index] = 0;
  EXPECT_THAT(ParsePckExtension(other).status().message(),
              HasSubstr("unexpected TCB entry 1.2.840.113741.1.13.1.2.0"));
  other[index] = 6;
  EXPECT_THAT(ParsePckExtension(other).status().message(),
              HasSubstr("TCB entry 1.2.840.113741.1.13.1.2.6 repeats"));
  other = der;
  other[index + 1] = 0x04;  // an OCTET STRING where the INTEGER belongs
  EXPECT_THAT(ParsePckExtension(other).status().message(),
              HasSubstr("TCB entry 1.2.840.113741.1.13.1.2.5"));
  other = der;
  other[index - 1] = 0x03;  // 1.2.840.113741.1.13.1.3.5: not a TCB entry
  EXPECT_THAT(ParsePckExtension(other).status().message(),
              HasSubstr("unexpected TCB entry 1.2.840.113741.1.13.1.3.5"));
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

// P-256's group order n and field prime p, big-endian.
constexpr char kP256OrderHex[] = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
constexpr char kP256PrimeHex[] = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";

std::string Bytes32(const BIGNUM* value) {
  std::string out(32, '\0');
  CN_CHECK(BN_bn2binpad(value, reinterpret_cast<unsigned char*>(out.data()), 32) == 32);
  return out;
}
std::string Hex32(const char* hex) {
  BIGNUM* value = nullptr;
  CN_CHECK(BN_hex2bn(&value, hex) > 0);
  std::string out = Bytes32(value);
  BN_free(value);
  return out;
}

// A DER INTEGER of the unsigned big-endian `value`, minimal unless `pad` adds a zero byte.
std::string DerInteger(absl::string_view value, bool pad = false) {
  size_t start = 0;
  while (start + 1 < value.size() && value[start] == 0) {
    ++start;
  }
  std::string content(value.substr(start));
  if ((static_cast<uint8_t>(content[0]) & 0x80) != 0) {
    content.insert(content.begin(), '\0');
  }
  if (pad) {
    content.insert(content.begin(), '\0');
  }
  return absl::StrCat("\x02", std::string(1, static_cast<char>(content.size())), content);
}
std::string DerSignature(absl::string_view raw, bool pad_r = false) {
  const std::string body = DerInteger(raw.substr(0, 32), pad_r) + DerInteger(raw.substr(32));
  return absl::StrCat("\x30", std::string(1, static_cast<char>(body.size())), body);
}

class P256PublicKeyTest : public ::testing::Test {
 protected:
  P256PublicKeyTest()
      : generated_(testing::GenerateP256Key()),
        raw_(testing::RawPublicKey(generated_.get())),
        signature_(testing::SignRaw(generated_.get(), "message")) {}

  P256PublicKey Key() const {
    absl::StatusOr<P256PublicKey> key = P256PublicKey::FromRaw(raw_);
    CN_CHECK(key.ok());
    return *std::move(key);
  }

  EvpPkeyPtr generated_;
  std::string raw_;        // X || Y
  std::string signature_;  // r || s over "message"
};

TEST_F(P256PublicKeyTest, ImportsPointsOnTheCurveInEitherForm) {
  absl::StatusOr<P256PublicKey> key = P256PublicKey::FromRaw(raw_);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->UncompressedPoint(), "\x04" + raw_);
  const char y_parity = static_cast<char>(0x02 | (raw_[63] & 1));
  absl::StatusOr<P256PublicKey> compressed =
      P256PublicKey::FromPoint(std::string(1, y_parity) + raw_.substr(0, 32));
  ASSERT_TRUE(compressed.ok()) << compressed.status();
  EXPECT_EQ(compressed->UncompressedPoint(), "\x04" + raw_);
  EXPECT_TRUE(compressed->VerifySha256("message", signature_));
}

TEST_F(P256PublicKeyTest, RefusesPointsOffTheCurveAndOtherEncodings) {
  std::string off_curve = raw_;
  off_curve[63] = static_cast<char>(off_curve[63] ^ 1);
  EXPECT_THAT(P256PublicKey::FromRaw(off_curve).status().message(),
              HasSubstr("not a point on the curve"));
  EXPECT_FALSE(P256PublicKey::FromRaw(std::string(64, '\0')).ok());
  EXPECT_THAT(P256PublicKey::FromRaw(raw_.substr(1)).status().message(), HasSubstr("63 bytes"));
  EXPECT_THAT(P256PublicKey::FromRaw(raw_ + "x").status().message(), HasSubstr("65 bytes"));
  // The point at infinity, the hybrid form (RFC 5480 forbids it), wrong lengths, nothing.
  EXPECT_THAT(P256PublicKey::FromPoint(std::string(1, '\0')).status().message(),
              HasSubstr("point form 0"));
  const char hybrid = static_cast<char>(0x06 | (raw_[63] & 1));
  EXPECT_THAT(P256PublicKey::FromPoint(std::string(1, hybrid) + raw_).status().message(),
              HasSubstr("point form"));
  EXPECT_FALSE(P256PublicKey::FromPoint("\x04" + raw_.substr(0, 63)).ok());
  EXPECT_FALSE(P256PublicKey::FromPoint("\x04" + raw_ + "x").ok());
  EXPECT_FALSE(P256PublicKey::FromPoint("\x02" + raw_).ok());
  EXPECT_THAT(P256PublicKey::FromPoint("").status().message(), HasSubstr("empty encoding"));
}

TEST_F(P256PublicKeyTest, RefusesCoordinatesOfThePrimeOrMore) {
  // A point whose x is small, written with x + p instead of x: the same point modulo p, but not
  // its encoding, which must be refused.
  BIGNUM* prime = nullptr;
  ASSERT_GT(BN_hex2bn(&prime, kP256PrimeHex), 0);
  bool tried = false;
  for (unsigned x = 1; x < 64 && !tried; ++x) {
    std::string compressed(33, '\0');
    compressed[0] = 0x02;
    compressed[32] = static_cast<char>(x);
    absl::StatusOr<P256PublicKey> point = P256PublicKey::FromPoint(compressed);
    if (!point.ok()) {
      continue;  // no point with this x
    }
    tried = true;
    const std::string uncompressed = point->UncompressedPoint();
    ASSERT_TRUE(P256PublicKey::FromPoint(uncompressed).ok());
    BIGNUM* shifted = BN_dup(prime);
    ASSERT_EQ(BN_add_word(shifted, x), 1);
    EXPECT_FALSE(
        P256PublicKey::FromPoint("\x04" + Bytes32(shifted) + uncompressed.substr(33)).ok());
    BN_free(shifted);
  }
  BN_free(prime);
  EXPECT_TRUE(tried);
}

TEST_F(P256PublicKeyTest, VerifiesOnlyTheSignedMessageWithTheSignersKey) {
  const P256PublicKey key = Key();
  EXPECT_TRUE(key.VerifySha256("message", signature_));
  EXPECT_FALSE(key.VerifySha256("messagf", signature_));
  EXPECT_FALSE(key.VerifySha256("message", signature_.substr(1)));
  EXPECT_FALSE(key.VerifySha256("message", signature_ + "x"));
  EvpPkeyPtr other = testing::GenerateP256Key();
  absl::StatusOr<P256PublicKey> other_key =
      P256PublicKey::FromRaw(testing::RawPublicKey(other.get()));
  ASSERT_TRUE(other_key.ok());
  EXPECT_FALSE(other_key->VerifySha256("message", signature_));
  EXPECT_TRUE(key.VerifySha256Der("message", DerSignature(signature_)));
  EXPECT_FALSE(other_key->VerifySha256Der("message", DerSignature(signature_)));
}

TEST_F(P256PublicKeyTest, RefusesROrSOfZeroOrNotBelowTheOrder) {
  const P256PublicKey key = Key();
  const std::string r = signature_.substr(0, 32);
  const std::string s = signature_.substr(32);
  const std::string zero(32, '\0');
  const std::string order = Hex32(kP256OrderHex);
  const std::string all_ones(32, '\xff');
  for (const std::string& bad : {zero, order, all_ones}) {
    EXPECT_FALSE(key.VerifySha256("message", bad + s));
    EXPECT_FALSE(key.VerifySha256("message", r + bad));
    EXPECT_FALSE(key.VerifySha256Der("message", DerSignature(bad + s)));
    EXPECT_FALSE(key.VerifySha256Der("message", DerSignature(r + bad)));
  }
  EXPECT_FALSE(key.VerifySha256("message", zero + zero));
}

TEST_F(P256PublicKeyTest, DerSignaturesMustBeStrictDer) {
  const P256PublicKey key = Key();
  const std::string der = DerSignature(signature_);
  ASSERT_TRUE(key.VerifySha256Der("message", der));
  EXPECT_FALSE(key.VerifySha256Der("message", der + std::string(1, '\0')));
  EXPECT_FALSE(key.VerifySha256Der("message", der.substr(0, der.size() - 1)));
  EXPECT_FALSE(key.VerifySha256Der("message", DerSignature(signature_, /*pad_r=*/true)));
  // The same SEQUENCE with a long-form length.
  std::string long_form = der;
  long_form.insert(1, 1, '\x81');
  EXPECT_FALSE(key.VerifySha256Der("message", long_form));
  EXPECT_FALSE(key.VerifySha256Der("message", signature_));  // raw r||s is not DER
  EXPECT_FALSE(key.VerifySha256Der("message", ""));
  EXPECT_FALSE(key.VerifySha256Der("message", std::string(2000, '\x30')));
}

TEST_F(P256PublicKeyTest, AnswersAsTheEvpPathForEveryOneBitChange) {
  // The verifier moved from EVP_PKEY_verify to ECDSA_do_verify: for the signature, every one-bit
  // change of it, its DER form and the message, both must give the same answer.
  const P256PublicKey key = Key();
  absl::StatusOr<EvpPkeyPtr> evp = P256KeyFromRaw(raw_);
  ASSERT_TRUE(evp.ok());
  const std::string der = DerSignature(signature_);
  int accepted = 0;
  auto compare = [&](absl::string_view message, const std::string& raw, const std::string& d) {
    const bool fast = key.VerifySha256(message, raw);
    EXPECT_EQ(fast, VerifyEcdsaSha256(evp->get(), message, raw));
    EXPECT_EQ(key.VerifySha256Der(message, d), VerifyEcdsaSha256Der(evp->get(), message, d));
    accepted += fast ? 1 : 0;
  };
  compare("message", signature_, der);
  for (size_t bit = 0; bit < 8 * signature_.size(); bit += 7) {
    std::string raw = signature_;
    raw[bit / 8] = static_cast<char>(raw[bit / 8] ^ (1 << (bit % 8)));
    std::string d = der;
    d[bit / 8 % d.size()] = static_cast<char>(d[bit / 8 % d.size()] ^ (1 << (bit % 8)));
    compare("message", raw, d);
    std::string message = "message";
    message[bit / 8 % message.size()] ^= static_cast<char>(1 << (bit % 8));
    compare(message, signature_, der);
  }
  EXPECT_EQ(accepted, 1);
}

TEST_F(P256PublicKeyTest, DerSignaturesAnswerAsOpenSslsDecoderForEveryOneBitChange) {
  // VerifySha256Der reads the ECDSA-Sig-Value itself; ECDSA_verify (through EVP) is the oracle.
  const P256PublicKey key = Key();
  absl::StatusOr<EvpPkeyPtr> evp = P256KeyFromRaw(raw_);
  ASSERT_TRUE(evp.ok());
  const std::string der = DerSignature(signature_);
  for (size_t bit = 0; bit < 8 * der.size(); ++bit) {
    std::string changed = der;
    changed[bit / 8] = static_cast<char>(changed[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_EQ(key.VerifySha256Der("message", changed),
              VerifyEcdsaSha256Der(evp->get(), "message", changed))
        << "bit " << bit;
  }
}

TEST_F(P256PublicKeyTest, DerSignaturesWithShortIntegersVerify) {
  // About one signature in 128 has an r or s below 2^248, written in 31 bytes or fewer: sign
  // until one does, so the left-padding into r||s is exercised.
  const P256PublicKey key = Key();
  for (int attempt = 0; attempt < 4000; ++attempt) {
    const std::string raw = testing::SignRaw(generated_.get(), "message");
    if (raw[0] != 0 && raw[32] != 0) {
      continue;
    }
    // r or s has at most 31 bytes of magnitude (its DER INTEGER 31 bytes, or 32 with the sign
    // byte): VerifySha256Der must place it at the right of its 32.
    const std::string der = DerSignature(raw);
    ASSERT_LT(der.size(), 72u);
    EXPECT_TRUE(key.VerifySha256Der("message", der));
    EXPECT_FALSE(key.VerifySha256Der("messagf", der));
    return;
  }
  FAIL() << "no signature with a short integer in 4000";
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
