#pragma once

// QuoteBuilder: SGX quotes (v3 or v4) signed by a TestPki platform, for tests and benchmarks.
//
// One builder is one platform: a fixed attestation key, QE report and PCK certificate; each
// Build() call signs a new header+body with the attestation key, so distinct report bodies give
// distinct, valid quotes from one known platform (what the warm benchmark needs). The QE report
// is signed with the PCK key once per change, and its report data binds the attestation key and
// QE authentication data as the verifier expects. Every field is public so a test can break
// exactly one thing.
//
// Not thread-safe; test-only.

#include <cstdint>
#include <string>

#include "src/dcap/crypto.h"
#include "src/dcap/quote.h"
#include "src/testing/test_pki.h"

namespace cn::testing {

// The 384-byte encoding of a report body (enclave report or QE report).
std::string EncodeReportBody(const dcap::ReportBody& body);

class QuoteBuilder {
 public:
  explicit QuoteBuilder(const TestPki& pki);

  uint16_t version = 3;
  uint16_t attestation_key_type = dcap::kAttestationKeyTypeEcdsaP256;
  std::array<uint8_t, 16> qe_vendor_id = dcap::kIntelQeVendorId;
  // The QE's own report (MRSIGNER, ISVPRODID, ISVSVN matched against QE Identity). Its report
  // data is filled in by Build() unless keep_qe_report_data is set.
  dcap::ReportBody qe_report;
  bool keep_qe_report_data = false;
  std::string qe_auth_data = std::string(32, '\x5a');
  // Type 5 with TestPki::PckChainPem() unless changed.
  uint16_t certification_data_type = dcap::kCertificationDataPckChain;
  std::string certification_data;
  // A report body whose fields tests may set; Build() signs whatever it holds.
  dcap::ReportBody enclave;

  // A quote over `enclave` (or the body given), signed with the platform's keys.
  std::string Build() const;
  std::string Build(const dcap::ReportBody& body) const;

  EVP_PKEY* attestation_key() const { return attestation_key_.get(); }

 private:
  const TestPki& pki_;
  dcap::EvpPkeyPtr attestation_key_;
  // ECDSA signatures are randomised: keep the QE report's signature while the QE report stays
  // the same, as a real QE's report and signature stay the same for one attestation key.
  mutable std::string signed_qe_bytes_;
  mutable std::string qe_signature_;
};

}  // namespace cn::testing
