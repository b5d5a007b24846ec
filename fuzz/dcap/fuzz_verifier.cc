// libFuzzer target: the whole verifier on quote bytes, against the real SGX vector's collateral
// (SGX inputs) or the real TDX vector's (inputs whose TEE type byte says TDX) and Intel's root at
// the vectors' time. The quote signature covers only the header and report body, so mutations of
// the signature data (QE report, QE authentication data, the PEM chain in the certification data)
// get past it and reach the QE checks, the PCK chain, the CRLs, the TDX module checks and the TCB
// evaluation behind them. One verifier serves every input, so its caches are exercised too.
//
// Besides crashes, sanitizer reports and hangs, a verdict for anything but a seed's enclave or TD
// at that seed's TCB status is a bug (nothing here can sign a new quote).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/time/time.h"
#include "src/dcap/collateral.h"
#include "src/dcap/trust_anchor.h"
#include "src/dcap/verifier.h"

namespace {

// One real vector: its collateral and the verdict its quote gets.
struct Seed {
  std::unique_ptr<cn::dcap::Collateral> collateral;
  cn::dcap::Verdict verdict;
};

struct Fixture {
  std::unique_ptr<cn::dcap::Verifier> verifier;
  cn::dcap::VerifyOptions options;
  Seed sgx;
  Seed tdx;
};

std::string ReadVector(const std::string& relative) {
  const std::string path = std::string(CN_VECTORS_DIR) + "/" + relative;
  std::ifstream file(path, std::ios::binary);
  if (!file.good()) {
    std::cerr << "fuzz_verifier: cannot read " << path << "\n";
    std::abort();
  }
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

Seed LoadSeed(const Fixture& fixture, const std::string& folder) {
  Seed seed;
  absl::StatusOr<cn::dcap::Collateral> collateral =
      cn::dcap::Collateral::FromJson(ReadVector(folder + "/collateral.json"));
  if (!collateral.ok()) {
    std::cerr << "fuzz_verifier: " << collateral.status() << "\n";
    std::abort();
  }
  seed.collateral = std::make_unique<cn::dcap::Collateral>(*std::move(collateral));
  cn::dcap::VerificationResult result = fixture.verifier->Verify(ReadVector(folder + "/quote.bin"),
                                                                 *seed.collateral, fixture.options);
  if (!result.verified()) {
    std::cerr << "fuzz_verifier: the " << folder
              << " quote does not verify: " << result.rejection().message << "\n";
    std::abort();
  }
  seed.verdict = result.verdict();
  return seed;
}

const Fixture& GetFixture() {
  static const Fixture* fixture = [] {
    auto built = new Fixture;
    built->verifier = std::make_unique<cn::dcap::Verifier>(cn::dcap::TrustAnchor::IntelSgxRoot());
    built->options.at = absl::FromUnixSeconds(1751328000);  // 2025-07-01T00:00:00Z
    built->sgx = LoadSeed(*built, "real-sgx");
    built->tdx = LoadSeed(*built, "real-tdx");
    return built;
  }();
  return *fixture;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& fixture = GetFixture();
  const std::string quote(reinterpret_cast<const char*>(data), size);
  // The TEE type's low byte (offset 4): TDX inputs get the TDX collateral.
  const bool tdx = size > 4 && data[4] == 0x81;
  const Seed& seed = tdx ? fixture.tdx : fixture.sgx;
  cn::dcap::VerificationResult result =
      fixture.verifier->Verify(quote, *seed.collateral, fixture.options);
  if (result.verified()) {
    const cn::dcap::Verdict& verdict = result.verdict();
    const cn::dcap::Verdict& expected = seed.verdict;
    const bool same_subject =
        verdict.tee == expected.tee && verdict.report.mr_enclave == expected.report.mr_enclave &&
        verdict.report.report_data == expected.report.report_data &&
        verdict.td_report.has_value() == expected.td_report.has_value() &&
        (!verdict.td_report || (verdict.td_report->mr_td == expected.td_report->mr_td &&
                                verdict.td_report->report_data == expected.td_report->report_data &&
                                verdict.td_report->rtmr == expected.td_report->rtmr));
    if (!same_subject || verdict.tcb_status != expected.tcb_status) {
      __builtin_trap();
    }
  }
  return 0;
}
