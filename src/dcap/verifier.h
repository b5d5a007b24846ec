#pragma once

// Verifier: SGX DCAP ECDSA quote verification (DESIGN.md sections 5 and 7) as a pure function of
// the quote bytes, the collateral, the trust anchor and the time.
//
// Verify() runs every check, in this order, and the first that fails decides the rejection:
//   1. quote layout and header: version 3/4, ECDSA-P256 key, SGX (TDX parses but is refused),
//      Intel's QE vendor ID                                          -> unsupported_quote_format
//   2. quote signature over header+body with the attestation key    -> invalid_quote_signature
//   3. QE report data = SHA-256(attestation key || QE auth data) || zeros
//                                                                    -> qe_report_data_mismatch
//   4. the PCK chain (from the quote's type-5 certification data, or options.pck_chain_pem) parses,
//      and the QE report signature verifies with the PCK leaf key  -> invalid_qe_report_signature
//   5. PCK chain: leaf <- one intermediate CA <- trust anchor (matched by key, and only at the
//      end), basicConstraints cA on every issuer, SGX extension present and well-formed
//                                                                    -> untrusted_pck_chain
//   6. root CA CRL (issued and signed by the anchor) and PCK CRL (issued and signed by the PCK
//      leaf's issuer) parse and verify                               -> invalid_crl
//      a revoked intermediate or PCK leaf                            -> pck_revoked
//   7. TCB Info: signing chain (one certificate signed by the anchor, not revoked by the root CA
//      CRL), signature over the exact text, content                  -> invalid_tcb_info
//      QE Identity, likewise                                         -> invalid_qe_identity
//   8. FMSPC and PCE ID of the PCK certificate equal TCB Info's      -> fmspc_mismatch
//   9. QE report matches QE Identity (id "QE", MRSIGNER, ISVPRODID, masked MISCSELECT and
//      ATTRIBUTES)                                                   -> qe_identity_mismatch
//  10. QE TCB level by ISVSVN; platform TCB level by the 16 components and PCESVN
//                                                                    -> tcb_level_not_found
//  11. combined status Revoked (platform or QE)                      -> tcb_revoked
//  12. every validity window holds at `at`: each certificate, both CRLs (thisUpdate..nextUpdate),
//      TCB Info and QE Identity (issueDate..nextUpdate)              -> collateral_expired
//      (options.allow_expired_collateral waives this and sets Verdict::collateral_expired)
//
// Speed: results that do not depend on time are cached per Verifier, keyed by SHA-256 of the
// exact input bytes: parsed attestation keys, verified PCK chains, verified collateral sets (CRLs,
// TCB Info, QE Identity with their signing chains), and signature facts (QE report signature per
// PCK key, PCK CRL signature per issuer). Windows are cached as data and evaluated on every call;
// the quote's own signature is verified on every call. So a new quote from a known platform costs
// one ECDSA verification plus parsing and hashing. Caches are bounded (oldest entry evicted),
// and a PCK chain is kept only once it verifies: the quote's sender picks its size.
//
// Thread safety: Verify() may be called from many threads at once.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/dcap/bounded_cache.h"
#include "src/dcap/collateral.h"
#include "src/dcap/pck_extension.h"
#include "src/dcap/quote.h"
#include "src/dcap/tcb_info.h"
#include "src/dcap/trust_anchor.h"

namespace cn::dcap {

enum class ErrorCode {
  kUnsupportedQuoteFormat,
  kInvalidQuoteSignature,
  kInvalidQeReportSignature,
  kQeReportDataMismatch,
  kUntrustedPckChain,
  kPckRevoked,
  kInvalidCrl,
  kInvalidTcbInfo,
  kInvalidQeIdentity,
  kQeIdentityMismatch,
  kFmspcMismatch,
  kTcbLevelNotFound,
  kTcbRevoked,
  kCollateralExpired,
};

// The snake_case code of the CLI's JSON ("invalid_quote_signature").
absl::string_view ErrorCodeName(ErrorCode code);

struct Rejection {
  ErrorCode code;
  std::string message;  // names what failed, for people
};

struct Verdict {
  TcbStatus tcb_status = TcbStatus::kUpToDate;  // never kRevoked (that is a Rejection)
  TcbStatus platform_tcb_status = TcbStatus::kUpToDate;
  TcbStatus qe_tcb_status = TcbStatus::kUpToDate;
  std::vector<std::string> advisory_ids;  // platform's and QE's, sorted, no repeats
  bool collateral_expired = false;        // only ever true with allow_expired_collateral
  uint16_t quote_version = 0;
  ReportBody report;  // the enclave's report body
  PckExtension pck;   // FMSPC, PCE ID, TCB of the platform
};

class VerificationResult {
 public:
  VerificationResult(Verdict verdict) : value_(std::move(verdict)) {}        // NOLINT
  VerificationResult(Rejection rejection) : value_(std::move(rejection)) {}  // NOLINT

  bool verified() const { return std::holds_alternative<Verdict>(value_); }
  const Verdict& verdict() const { return std::get<Verdict>(value_); }
  const Rejection& rejection() const { return std::get<Rejection>(value_); }

 private:
  std::variant<Verdict, Rejection> value_;
};

struct VerifyOptions {
  absl::Time at;
  bool allow_expired_collateral = false;
  // PEM certificates (leaf first) to use as the PCK chain instead of the quote's own; needed for
  // quotes whose certification data is not type 5.
  std::string pck_chain_pem;
};

struct VerifierCacheOptions {
  size_t attestation_keys = 4096;
  size_t pck_chains = 1024;
  size_t collaterals = 64;
  size_t signatures = 16384;
};

struct VerifierCacheStats {
  uint64_t chain_hits = 0, chain_misses = 0;
  uint64_t collateral_hits = 0, collateral_misses = 0;
  uint64_t signature_hits = 0, signature_misses = 0;
  uint64_t attestation_key_hits = 0, attestation_key_misses = 0;
};

class Verifier {
 public:
  explicit Verifier(TrustAnchor anchor, VerifierCacheOptions cache_options = {});
  ~Verifier();

  VerificationResult Verify(absl::string_view quote_bytes, const Collateral& collateral,
                            const VerifyOptions& options) const;

  const TrustAnchor& anchor() const { return anchor_; }
  VerifierCacheStats cache_stats() const;
  void ClearCaches();

  struct VerifiedChain;       // defined in verifier.cc
  struct VerifiedCollateral;  // defined in verifier.cc
  struct AttestationKey;
  struct Context;  // one verification's state, defined in verifier.cc

 private:
  // The steps that use the caches (the others are free functions in verifier.cc); each returns
  // the rejection of its check, or nothing when it passes. Numbers as in the list above.
  std::optional<Rejection> CheckQuoteSignature(Context& context) const;     // 2
  std::optional<Rejection> CheckQeReportSignature(Context& context) const;  // 4
  std::optional<Rejection> CheckCrls(Context& context) const;               // 6
  std::shared_ptr<const VerifiedChain> GetChain(absl::string_view pem) const;
  std::shared_ptr<const VerifiedCollateral> GetCollateral(const Collateral& collateral) const;
  // Whether a signature check succeeded, computing it once per distinct key.
  template <typename Check>
  bool CachedSignatureFact(const std::string& key, Check check) const;

  TrustAnchor anchor_;
  mutable BoundedCache<AttestationKey> attestation_keys_;
  mutable BoundedCache<VerifiedChain> chains_;
  mutable BoundedCache<VerifiedCollateral> collaterals_;
  mutable BoundedCache<bool> signatures_;
};

}  // namespace cn::dcap
