#pragma once

// QuoteBuilder: SGX quotes (v3, v4 or v5) and TDX quotes (v4 or v5, TD report 1.0 or 1.5)
// signed by a TestPki platform, for tests and benchmarks.
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
// The 584-byte encoding of a TD report 1.0, or 648 bytes (1.5) when tee_tcb_svn2 and
// mr_service_td are set (both must be, or neither).
std::string EncodeTdReportBody(const dcap::TdReportBody& body);

class QuoteBuilder {
 public:
  explicit QuoteBuilder(const TestPki& pki);

  uint16_t version = 3;
  // kTeeTypeTdx makes Build() sign `td` instead of `enclave` (set version to 4 or 5 too).
  uint32_t tee_type = dcap::kTeeTypeSgx;
  // v5 body type; 0 means the one the TEE and body imply (1 SGX, 2 TD 1.0, 3 TD 1.5).
  uint16_t body_type = 0;
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
  // The TD report for TDX quotes; by default a TDX 1.5 module (major 1, ISVSVN 5) that matches
  // TestPki::UseTdx()'s collateral as UpToDate.
  dcap::TdReportBody td;

  // Makes Build() give TDX quotes of `version` (4 or 5) over `td`, from a TD QE (ISVPRODID of
  // the PKI's QE Identity: call after TestPki::UseTdx()).
  void UseTdx(uint16_t quote_version = 4);

  // A quote over `enclave` (or the body given), signed with the platform's keys.
  std::string Build() const;
  std::string Build(const dcap::ReportBody& body) const;
  std::string Build(const dcap::TdReportBody& body) const;

  EVP_PKEY* attestation_key() const { return attestation_key_.get(); }

 private:
  // Header, body descriptor (v5) and `body`, signed, followed by the signature data.
  std::string BuildWithBody(const std::string& body) const;

  const TestPki& pki_;
  dcap::EvpPkeyPtr attestation_key_;
  // ECDSA signatures are randomised: keep the QE report's signature while the QE report stays
  // the same, as a real QE's report and signature stay the same for one attestation key.
  mutable std::string signed_qe_bytes_;
  mutable std::string qe_signature_;
};

}  // namespace cn::testing
