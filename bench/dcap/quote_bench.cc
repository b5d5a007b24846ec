// Quote verification benchmarks (Google Benchmark). items_per_second is per CPU second, the same
// measure `openssl speed` reports, so the ratio to BM_EcdsaP256Verify (measured in the same run)
// is the figure docs/PERFORMANCE.md records. bench/dcap/run-quote-bench runs both and prints it.

#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "src/common/check.h"
#include "src/dcap/crypto.h"
#include "src/dcap/verifier.h"
#include "src/testing/quote_builder.h"
#include "src/testing/test_pki.h"

namespace cn::dcap {
namespace {

constexpr int kDistinctQuotes = 256;

enum class Kind { kSgx, kTdx };

// One known platform and many distinct quotes from it (different report bodies, each signed):
// SGX enclaves, or TDX TDs (v4 quotes, TDX collateral with a module identity).
struct Platform {
  explicit Platform(Kind kind) : builder(pki), collateral(Prepare(kind, pki, builder)) {
    for (int i = 0; i < kDistinctQuotes; ++i) {
      auto& report_data = kind == Kind::kTdx ? builder.td.report_data : builder.enclave.report_data;
      report_data[0] = static_cast<uint8_t>(i);
      report_data[1] = static_cast<uint8_t>(i >> 8);
      quotes.push_back(builder.Build());
    }
    options.at = testing::TestPkiDefaultAt();
  }
  // Makes the PKI and builder TDX ones for kTdx (before the collateral is signed).
  static Collateral Prepare(Kind kind, testing::TestPki& pki, testing::QuoteBuilder& builder) {
    if (kind == Kind::kTdx) {
      pki.UseTdx();
      builder.UseTdx(4);
    }
    return pki.BuildCollateral();
  }

  testing::TestPki pki;
  testing::QuoteBuilder builder;
  Collateral collateral;
  std::vector<std::string> quotes;
  VerifyOptions options;
};

Platform& SharedPlatform(Kind kind = Kind::kSgx) {
  static Platform* sgx = new Platform(Kind::kSgx);
  static Platform* tdx = new Platform(Kind::kTdx);
  return kind == Kind::kTdx ? *tdx : *sgx;
}

void VerifyWarmDistinctQuotes(benchmark::State& state, Kind kind) {
  Platform& platform = SharedPlatform(kind);
  Verifier verifier(platform.pki.Anchor());
  CN_CHECK(verifier.Verify(platform.quotes[0], platform.collateral, platform.options).verified());
  size_t next = 0;
  for (auto _ : state) {
    VerificationResult result =
        verifier.Verify(platform.quotes[next], platform.collateral, platform.options);
    if (!result.verified()) {
      state.SkipWithError("a quote did not verify");
      break;
    }
    next = (next + 1) % platform.quotes.size();
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_VerifyWarmDistinctQuotes(benchmark::State& state) {
  VerifyWarmDistinctQuotes(state, Kind::kSgx);
}
BENCHMARK(BM_VerifyWarmDistinctQuotes);
void BM_VerifyWarmDistinctTdxQuotes(benchmark::State& state) {
  VerifyWarmDistinctQuotes(state, Kind::kTdx);
}
BENCHMARK(BM_VerifyWarmDistinctTdxQuotes);

void VerifyCold(benchmark::State& state, Kind kind) {
  Platform& platform = SharedPlatform(kind);
  Verifier verifier(platform.pki.Anchor());
  for (auto _ : state) {
    verifier.ClearCaches();
    benchmark::DoNotOptimize(
        verifier.Verify(platform.quotes[0], platform.collateral, platform.options));
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_VerifyCold(benchmark::State& state) { VerifyCold(state, Kind::kSgx); }
BENCHMARK(BM_VerifyCold)->Unit(benchmark::kMicrosecond);
void BM_VerifyColdTdx(benchmark::State& state) { VerifyCold(state, Kind::kTdx); }
BENCHMARK(BM_VerifyColdTdx)->Unit(benchmark::kMicrosecond);

#ifdef CN_VECTORS_DIR
std::string ReadVector(const std::string& relative) {
  std::ifstream file(std::string(CN_VECTORS_DIR) + "/" + relative, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

// A real Intel-signed quote and its collateral (one quote, so every verification is warm).
void VerifyWarmRealQuote(benchmark::State& state, const std::string& folder) {
  const std::string quote = ReadVector(folder + "/quote.bin");
  absl::StatusOr<Collateral> collateral =
      Collateral::FromJson(ReadVector(folder + "/collateral.json"));
  if (!collateral.ok()) {
    state.SkipWithError("vectors not found");
    return;
  }
  Verifier verifier(TrustAnchor::IntelSgxRoot());
  VerifyOptions options;
  options.at = absl::FromUnixSeconds(1751328000);  // 2025-07-01
  for (auto _ : state) {
    if (!verifier.Verify(quote, *collateral, options).verified()) {
      state.SkipWithError("real quote did not verify");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_VerifyWarmRealSgxQuote(benchmark::State& state) { VerifyWarmRealQuote(state, "real-sgx"); }
BENCHMARK(BM_VerifyWarmRealSgxQuote);
void BM_VerifyWarmRealTdxQuote(benchmark::State& state) { VerifyWarmRealQuote(state, "real-tdx"); }
BENCHMARK(BM_VerifyWarmRealTdxQuote);
#endif

// The one signature check a warm verification cannot avoid, measured the same way: the quote
// signature with the attestation key, as the verifier holds and checks it (P256PublicKey).
void BM_EcdsaP256Verify(benchmark::State& state) {
  Platform& platform = SharedPlatform();
  absl::StatusOr<Quote> quote = ParseQuote(platform.quotes[0]);
  CN_CHECK(quote.ok());
  absl::StatusOr<P256PublicKey> key = P256PublicKey::FromRaw(AsView(quote->attestation_key));
  CN_CHECK(key.ok());
  CN_CHECK(key->VerifySha256(quote->signed_bytes, AsView(quote->signature)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(key->VerifySha256(quote->signed_bytes, AsView(quote->signature)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EcdsaP256Verify);

// The same check through OpenSSL 3's EVP layer (EVP_PKEY_verify), which the verifier used
// before: the difference is the provider overhead P256PublicKey avoids.
void BM_EcdsaP256VerifyEvp(benchmark::State& state) {
  Platform& platform = SharedPlatform();
  absl::StatusOr<Quote> quote = ParseQuote(platform.quotes[0]);
  CN_CHECK(quote.ok());
  absl::StatusOr<EvpPkeyPtr> key = P256KeyFromRaw(AsView(quote->attestation_key));
  CN_CHECK(key.ok());
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        VerifyEcdsaSha256(key->get(), quote->signed_bytes, AsView(quote->signature)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EcdsaP256VerifyEvp);

// Importing a key from a certificate's point, as a cold verification does four times, by each
// path.
void BM_P256KeyImport(benchmark::State& state) {
  Platform& platform = SharedPlatform();
  absl::StatusOr<Quote> quote = ParseQuote(platform.quotes[0]);
  CN_CHECK(quote.ok());
  for (auto _ : state) {
    benchmark::DoNotOptimize(P256PublicKey::FromRaw(AsView(quote->attestation_key)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_P256KeyImport);
void BM_P256KeyImportEvp(benchmark::State& state) {
  Platform& platform = SharedPlatform();
  absl::StatusOr<Quote> quote = ParseQuote(platform.quotes[0]);
  CN_CHECK(quote.ok());
  for (auto _ : state) {
    benchmark::DoNotOptimize(P256KeyFromRaw(AsView(quote->attestation_key)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_P256KeyImportEvp);

void BM_ParseQuote(benchmark::State& state) {
  Platform& platform = SharedPlatform();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseQuote(platform.quotes[0]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseQuote);

// The signed collateral's parsing, a part of the cold path (docs/PERFORMANCE.md, "TCB Info and QE
// Identity through simdjson").
void BM_ColdPartParseTcbInfo(benchmark::State& state, Kind kind) {
  Platform& platform = SharedPlatform(kind);
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseTcbInfo(platform.collateral.parts().tcb_info));
  }
}
BENCHMARK_CAPTURE(BM_ColdPartParseTcbInfo, sgx, Kind::kSgx)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_ColdPartParseTcbInfo, tdx, Kind::kTdx)->Unit(benchmark::kMicrosecond);
void BM_ColdPartParseQeIdentity(benchmark::State& state) {
  Platform& platform = SharedPlatform();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseQeIdentity(platform.collateral.parts().qe_identity));
  }
}
BENCHMARK(BM_ColdPartParseQeIdentity)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace cn::dcap

BENCHMARK_MAIN();
