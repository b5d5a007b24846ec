#pragma once

// Collateral: the Intel-signed material a quote is verified against, as one immutable value.
//
// The JSON layout is the one of ../shared/vectors (DESIGN.md section 6): PEM issuer chains, CRLs
// as hex of DER, TCB Info and QE Identity as the exact signed text, their signatures as hex of
// raw r||s. FromJson checks only that layout (every key present, a string, hex where hex is
// due); what the strings contain is checked by the verifier, which maps each problem to its
// rejection code. A Collateral also carries a digest of all its bytes, computed once, that the
// verifier uses as its cache key.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/dcap/crypto.h"

namespace cn::dcap {

struct CollateralParts {
  std::string pck_crl_issuer_chain;   // PEM; may be empty (the issuer is the PCK cert's issuer)
  std::string root_ca_crl;            // DER
  std::string pck_crl;                // DER
  std::string tcb_info_issuer_chain;  // PEM: TCB signing certificate (+ root)
  std::string tcb_info;               // the signed JSON text of the inner tcbInfo object
  std::string tcb_info_signature;     // raw r||s
  std::string qe_identity_issuer_chain;
  std::string qe_identity;  // the signed JSON text of the inner enclaveIdentity object
  std::string qe_identity_signature;
};

class Collateral {
 public:
  // InvalidArgument naming the key (and JSON position for syntax errors) when `json` is not the
  // documented layout.
  static absl::StatusOr<Collateral> FromJson(absl::string_view json);
  static Collateral FromParts(CollateralParts parts);

  const CollateralParts& parts() const { return parts_; }
  // SHA-256 over every part, length-prefixed.
  const Sha256Digest& digest() const { return digest_; }

  // The documented JSON layout (the inverse of FromJson), for tests and tools.
  std::string ToJson() const;

 private:
  Collateral(CollateralParts parts, Sha256Digest digest)
      : parts_(std::move(parts)), digest_(digest) {}

  CollateralParts parts_;
  Sha256Digest digest_;
};

}  // namespace cn::dcap
