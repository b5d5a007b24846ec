#include "src/attestd/keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "src/attestd/token.h"
#include "src/dcap/crypto.h"
#include "src/testing/jws.h"
#include "src/testing/test_pki.h"

namespace cn::attestd {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<SigningKey> LoadKey(const std::string& pem, const std::string& cert = "") {
  return SigningKey::Load(pem, "key.pem", cert, "cert.pem", absl::Now());
}

TEST(SigningKeyTest, RsaKeySignsRs256TokensThatVerifyWithItsJwkAndSelfSignedCertificate) {
  auto key = LoadKey(testing::RsaKeyPem(2048));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->alg(), "RS256");
  const nlohmann::json jwk = nlohmann::json::parse(key->jwk().dump());
  EXPECT_EQ(jwk["kty"], "RSA");
  EXPECT_EQ(jwk["use"], "sig");
  EXPECT_EQ(jwk["alg"], "RS256");
  EXPECT_EQ(jwk["e"], "AQAB");
  // RFC 7638 thumbprint, recomputed from the published members.
  const std::string canonical = R"({"e":")" + jwk["e"].get<std::string>() +
                                R"(","kty":"RSA","n":")" + jwk["n"].get<std::string>() + R"("})";
  const dcap::Sha256Digest digest = dcap::Sha256(canonical);
  EXPECT_EQ(key->kid(), absl::WebSafeBase64Escape(dcap::AsView(digest)));

  const std::string token = EncodeJws({{"alg", "RS256"}, {"kid", key->kid()}}, {{"a", 1}}, &*key);
  auto verified = testing::VerifyJws(token, {{"keys", {jwk}}});
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->payload["a"], 1);
  // One changed byte of the payload breaks it.
  std::string forged = token;
  forged[forged.find('.') + 2] ^= 1;
  EXPECT_FALSE(testing::VerifyJws(forged, {{"keys", {jwk}}}).ok());
}

TEST(SigningKeyTest, EcP256KeySignsEs256) {
  auto key = LoadKey(testing::EcKeyPem("P-256"));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->alg(), "ES256");
  const nlohmann::json jwk = nlohmann::json::parse(key->jwk().dump());
  EXPECT_EQ(jwk["crv"], "P-256");
  EXPECT_EQ(jwk["x"].get<std::string>().size(), 43u);
  const std::string token = EncodeJws({{"alg", "ES256"}, {"kid", key->kid()}}, {{"b", 2}}, &*key);
  EXPECT_TRUE(testing::VerifyJws(token, {{"keys", {jwk}}}).ok());
}

// Sign reuses pooled contexts: tokens signed one after another and from several threads at once,
// by the key and by its copies (which share the pool), each verify, and each ES256 signature is
// fresh (a reused context must not reuse the nonce).
TEST(SigningKeyTest, PooledContextsSignManyTokensFromManyThreadsThatAllVerify) {
  for (const std::string& pem : {testing::EcKeyPem("P-256"), testing::RsaKeyPem(2048)}) {
    auto loaded = LoadKey(pem);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    const SigningKey key = *loaded;  // a copy shares the pool
    const nlohmann::json jwks = {{"keys", {nlohmann::json::parse(key.jwk().dump())}}};
    constexpr int kThreads = 4;
    constexpr int kTokens = 8;
    std::vector<std::vector<std::string>> tokens(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kTokens; ++i) {
          tokens[t].push_back(EncodeJws({{"alg", key.alg()}, {"kid", key.kid()}},
                                        {{"t", t}, {"i", i}}, i % 2 == 0 ? &key : &*loaded));
        }
      });
    }
    for (std::thread& thread : threads) {
      thread.join();
    }
    std::set<std::string> signatures;
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kTokens; ++i) {
        auto verified = testing::VerifyJws(tokens[t][i], jwks);
        ASSERT_TRUE(verified.ok()) << key.alg() << " " << verified.status();
        EXPECT_EQ(verified->payload["t"], t);
        EXPECT_EQ(verified->payload["i"], i);
        signatures.insert(tokens[t][i].substr(tokens[t][i].rfind('.')));
      }
    }
    EXPECT_EQ(signatures.size(), static_cast<size_t>(kThreads * kTokens)) << key.alg();
  }
}

TEST(SigningKeyTest, UnusableKeysAreRefusedSayingWhy) {
  EXPECT_THAT(std::string(LoadKey(testing::RsaKeyPem(1024)).status().message()),
              HasSubstr("--signing-key key.pem: an RSA key of 1024 bits"));
  EXPECT_THAT(std::string(LoadKey(testing::EcKeyPem("P-384")).status().message()),
              HasSubstr("ES256 needs P-256"));
  EXPECT_THAT(std::string(LoadKey("garbage").status().message()),
              HasSubstr("not a PEM private key"));
  testing::PassphrasePromptCounter prompts;
  EXPECT_THAT(std::string(LoadKey(testing::EncryptedEcKeyPem()).status().message()),
              HasSubstr("encrypted"));
  EXPECT_EQ(prompts.count(), 0);
}

TEST(SigningKeyTest, GivenCertificateMustHoldTheKey) {
  dcap::EvpPkeyPtr other = testing::GenerateP256Key();
  dcap::X509Ptr cert = testing::IssueCertificate({.common_name = "signer",
                                                  .subject_key = other.get(),
                                                  .not_before = absl::Now() - absl::Hours(1),
                                                  .not_after = absl::Now() + absl::Hours(1)});
  auto mismatch = LoadKey(testing::EcKeyPem("P-256"), testing::CertificatePem(cert.get()));
  EXPECT_THAT(std::string(mismatch.status().message()),
              HasSubstr("--signing-cert cert.pem: its public key is not the key of key.pem"));
  EXPECT_THAT(std::string(LoadKey(testing::EcKeyPem("P-256"), "junk").status().message()),
              HasSubstr("--signing-cert cert.pem"));
}

}  // namespace
}  // namespace cn::attestd
