#pragma once

// Verifier: SGX and TDX DCAP ECDSA quote verification (DESIGN.md sections 5 and 7) as a pure
// function of the quote bytes, the collateral, the trust anchor and the time.
//
// Verify() runs every check, in this order, and the first that fails decides the rejection. The
// steps are shared by SGX and TDX except where marked; TDX follows Intel's QVL
// (docs/sgx-quote.md lists where public verifiers differ):
//   1. quote layout and header: version 3/4/5 (TDX: 4/5), ECDSA-P256 key, SGX or TDX, Intel's QE
//      vendor ID                                                     -> unsupported_quote_format
//   2. quote signature over header+body with the attestation key    -> invalid_quote_signature
//   3. QE report data = SHA-256(attestation key || QE auth data) || zeros
//                                                                    -> qe_report_data_mismatch
//   4. the PCK chain (from the quote's type-5 certification data, or options.pck_chain_pem) parses,
//      and the QE report signature verifies with the PCK leaf key  -> invalid_qe_report_signature
//   5. PCK chain: leaf <- one intermediate CA <- trust anchor (matched by key, and only at the
//      end), basicConstraints cA on every issuer, SGX extension present and well-formed; every
//      certificate (here and in the signing chains) EC P-256, signed ecdsa-with-SHA256
//      (certificate.h)                                               -> untrusted_pck_chain
//   6. root CA CRL (issued and signed by the anchor) and PCK CRL (issued and signed by the PCK
//      leaf's issuer) parse and verify                               -> invalid_crl
//      a revoked intermediate or PCK leaf                            -> pck_revoked
//   7. TCB Info: signing chain (one certificate signed by the anchor, not revoked by the root CA
//      CRL), signature over the exact text, content                  -> invalid_tcb_info
//      QE Identity, likewise                                         -> invalid_qe_identity
//   8. FMSPC and PCE ID of the PCK certificate equal TCB Info's, and the TCB Info is for the
//      quote's TEE (id "SGX" or v2 for SGX, id "TDX" for TDX)       -> fmspc_mismatch
//   9. QE report matches QE Identity (id "QE" for SGX, "TD_QE" for TDX, MRSIGNER, ISVPRODID,
//      masked MISCSELECT and ATTRIBUTES)                             -> qe_identity_mismatch
//  10. TDX only: the TDX module. For a module of major version TEE_TCB_SVN[1] > 0 the TCB Info
//      must hold the module identity "TDX_<major, 2 hex digits>" -> tdx_module_identity_not_found;
//      MRSIGNERSEAM equals the identity's (or tdxModule's, for major 0) mrsigner, and
//      SEAMATTRIBUTES match its attributes under the mask and are zero (Intel's rule)
//                                                                    -> tdx_module_mismatch
//  11. QE TCB level by ISVSVN; platform TCB level: SGX, the first level whose 16 components and
//      PCESVN the PCK certificate reaches; TDX, the first level that the PCK certificate reaches
//      and whose 16 tdxtcbcomponents TEE_TCB_SVN reaches (bytes 0 and 1, the module's, skipped
//      when its major version is > 0); TDX module level by TEE_TCB_SVN[0] (major > 0)
//                                                                    -> tcb_level_not_found
//  12. combined status (platform, then module, then QE, as Intel's QVL converges them) Revoked
//                                                                    -> tcb_revoked
//      TD report 1.5 only, before the QE's status joins: Intel's relaunch advice. With the QE
//      not OutOfDate, the SGX level UpToDate, SWHardeningNeeded, ConfigurationNeeded or
//      ConfigurationAndSWHardeningNeeded, the TDX status OutOfDate(ConfigurationNeeded) and the
//      module's level OutOfDate, a TEE_TCB_SVN2 that reaches the latest (first) level makes the
//      status TDRelaunchAdvised (TDRelaunchAdvisedConfigurationNeeded when the SGX or TDX status
//      needs configuration): verified, like OutOfDate, never UpToDate. A module running now
//      of major version TEE_TCB_SVN2[1] > 0 without its identity in TCB Info
//                                                          -> tdx_module_identity_not_found
//  13. every validity window holds at `at`: each certificate, both CRLs (thisUpdate..nextUpdate),
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
  kTdxModuleMismatch,
  kTdxModuleIdentityNotFound,
};

enum class Tee { kSgx, kTdx };
absl::string_view TeeName(Tee tee);  // "sgx", "tdx"

// The snake_case code of the CLI's JSON ("invalid_quote_signature").
absl::string_view ErrorCodeName(ErrorCode code);

struct Rejection {
  ErrorCode code;
  std::string message;  // names what failed, for people
};

struct Verdict {
  // Never kRevoked (that is a Rejection); kTdRelaunchAdvised(ConfigurationNeeded) only for a
  // TDX quote with a TD report 1.5.
  TcbStatus tcb_status = TcbStatus::kUpToDate;
  // The selected TCB Info level's status (for TDX, the level the SGX and TDX components chose).
  TcbStatus platform_tcb_status = TcbStatus::kUpToDate;
  TcbStatus qe_tcb_status = TcbStatus::kUpToDate;
  // Platform's, TDX module's and QE's, sorted, no repeats.
  std::vector<std::string> advisory_ids;
  bool collateral_expired = false;  // only ever true with allow_expired_collateral
  uint16_t quote_version = 0;
  ReportBody report;  // the enclave's report body (SGX; all zero for TDX)
  PckExtension pck;   // FMSPC, PCE ID, TCB of the platform

  Tee tee = Tee::kSgx;
  uint16_t body_type = 0;  // 1 SGX, 2 TD report 1.0, 3 TD report 1.5
  // TDX only: the TD report (every field a relying party or MAA's TDX claims need), the module
  // identity used ("TDX_01"; empty for a major version 0 module, which TCB Info's tdxModule and
  // the TDX components cover) and its level's status (UpToDate when there is no identity, as
  // Intel's QVL reports it).
  std::optional<TdReportBody> td_report;
  std::string tdx_module_identity;
  std::optional<TcbStatus> tdx_module_status;
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
