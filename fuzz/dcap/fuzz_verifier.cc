// libFuzzer target: the whole verifier on quote bytes, against the real SGX vector's collateral
// and Intel's root at the vector's time. The quote signature covers only the header and report
// body, so mutations of the signature data (QE report, QE authentication data, the PEM chain in
// the certification data) get past it and reach the QE checks, the PCK chain, the CRLs and the
// TCB evaluation behind it. One verifier serves every input, so its caches are exercised too.
//
// Besides crashes, sanitizer reports and hangs, a verdict for anything but the seed's enclave
// at the seed's TCB status is a bug (nothing here can sign a new quote).

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

struct Fixture {
  std::unique_ptr<cn::dcap::Collateral> collateral;
  std::unique_ptr<cn::dcap::Verifier> verifier;
  cn::dcap::VerifyOptions options;
  cn::dcap::ReportBody report;  // the seed quote's enclave
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

const Fixture& GetFixture() {
  static const Fixture* fixture = [] {
    auto built = new Fixture;
    absl::StatusOr<cn::dcap::Collateral> collateral =
        cn::dcap::Collateral::FromJson(ReadVector("real-sgx/collateral.json"));
    if (!collateral.ok()) {
      std::cerr << "fuzz_verifier: " << collateral.status() << "\n";
      std::abort();
    }
    built->collateral = std::make_unique<cn::dcap::Collateral>(*std::move(collateral));
    built->verifier = std::make_unique<cn::dcap::Verifier>(cn::dcap::TrustAnchor::IntelSgxRoot());
    built->options.at = absl::FromUnixSeconds(1751328000);  // 2025-07-01T00:00:00Z
    const std::string seed = ReadVector("real-sgx/quote.bin");
    cn::dcap::VerificationResult result =
        built->verifier->Verify(seed, *built->collateral, built->options);
    if (!result.verified()) {
      std::cerr << "fuzz_verifier: the seed quote does not verify: " << result.rejection().message
                << "\n";
      std::abort();
    }
    built->report = result.verdict().report;
    return built;
  }();
  return *fixture;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& fixture = GetFixture();
  const std::string quote(reinterpret_cast<const char*>(data), size);
  cn::dcap::VerificationResult result =
      fixture.verifier->Verify(quote, *fixture.collateral, fixture.options);
  if (result.verified()) {
    const cn::dcap::Verdict& verdict = result.verdict();
    if (verdict.report.mr_enclave != fixture.report.mr_enclave ||
        verdict.report.report_data != fixture.report.report_data ||
        verdict.tcb_status != cn::dcap::TcbStatus::kConfigurationAndSwHardeningNeeded) {
      __builtin_trap();
    }
  }
  return 0;
}
