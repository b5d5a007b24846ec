#pragma once

// PccsStandin: a PCS/PCCS v4 service on a loopback port, over real sockets, for tests of the
// collateral client, the cache and the binaries that use them. It serves whatever collateral a
// test gives it (normally made by TestPki) in the wire format of Intel's API: CRLs as DER (root
// CA CRL as hex, like PCCS, or DER), TCB Info and QE Identity as {"tcbInfo"|"enclaveIdentity":
// <the exact signed text>, "signature": hex}, issuer chains URL-encoded in response headers.
//
// A test can make it misbehave: answer slowly, fail with a status, answer garbage, or stop
// answering; and count what was asked. A slow answer waits on a condition that the destructor
// (or ReleaseStalled) signals, so stopping never waits for a delay to run out.
//
// Thread-safe: the server runs on its own threads; setters may be called at any time.

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "src/dcap/collateral.h"
#include "src/pccs/collateral_source.h"

namespace cn::testing {

class PccsStandin {
 public:
  enum class Behaviour {
    kServe,      // answer as the API documents
    kFail,       // answer every request with fail_status() and an Error-Code header
    kGarbage,    // 200 with a body that is no API answer, and no issuer chain headers
    kTruncated,  // 200 with the right headers and the first half of the right body
  };
  enum class CrlEncoding { kDer, kHex, kPem };

  PccsStandin();  // listening on 127.0.0.1 at a free port when it returns
  ~PccsStandin();
  PccsStandin(const PccsStandin&) = delete;
  PccsStandin& operator=(const PccsStandin&) = delete;

  // "http://127.0.0.1:PORT".
  std::string url() const;

  // Serves `collateral` for `platform`: its TCB Info under the FMSPC and TEE, its QE Identity
  // under the TEE, its PCK CRL under the CA, and its root CA CRL. Replaces what was served.
  void Serve(const pccs::PlatformId& platform, const dcap::Collateral& collateral);

  void set_behaviour(Behaviour behaviour, int fail_status = 500);
  // Every answer waits this long first (0: none).
  void set_delay(absl::Duration delay);
  void set_root_crl_encoding(CrlEncoding encoding);
  // Sends the TCB Info chain under the v3 name SGX-TCB-Info-Issuer-Chain instead.
  void set_v3_tcb_header(bool v3);
  // false: answer 404 for rootcacrl, as Intel's PCS does.
  void set_serve_root_crl(bool serve);
  // true: answer exactly as Intel's PCS v4 itself (api.trustedservices.intel.com) does, not as
  // a PCCS: `rootcacrl` is 404 (PCS has no such endpoint) and the root CA CRL is DER at
  // root_crl_distribution_url() (standing for certificates.trustedservices.intel.com); the PCK
  // CRL is DER as application/pkix-crl for `encoding=der` and PEM as application/x-pem-file
  // otherwise (PCS's default); the TCB Info chain comes in TCB-Info-Issuer-Chain, the QE
  // Identity's in SGX-Enclave-Identity-Issuer-Chain, the PCK CRL's in SGX-PCK-CRL-Issuer-Chain,
  // all URL-encoded PEM; every answer carries a Request-ID header.
  void set_intel_pcs_format(bool pcs);
  // Where the root CA CRL is served as DER in Intel PCS format (the root certificate's CRL
  // distribution point, IntelSGXRootCA.der, on this server).
  std::string root_crl_distribution_url() const;
  // Ends the waits of answers being delayed now.
  void ReleaseStalled();

  // Requests received so far (each "path?query"), and their number.
  std::vector<std::string> requests() const;
  int request_count() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cn::testing
