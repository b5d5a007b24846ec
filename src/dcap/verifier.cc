#include "src/dcap/verifier.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/common/status_macros.h"
#include "src/dcap/certificate.h"
#include "src/dcap/crl.h"

namespace cn::dcap {

// A span of time during which one piece of collateral is valid, checked on every call.
struct ValidityWindow {
  std::string what;
  absl::Time from;
  absl::Time until;
  // A certificate's window names its subject too, composed only for a window that does not hold
  // (a subject's text costs more than the rest of the window).
  CertificatePtr certificate = nullptr;
};

struct Verifier::AttestationKey {
  P256PublicKey key;
};

struct Verifier::VerifiedChain {
  // Set when the chain cannot even give a leaf key: nothing else below is meaningful.
  std::optional<Rejection> parse_error;
  std::vector<CertificatePtr> certs;
  std::string leaf_key_der;
  // Set when the chain does not lead to the anchor or the leaf is not a PCK certificate.
  std::optional<Rejection> trust_error;
  PckExtension extension;
  std::vector<ValidityWindow> windows;
  // The intermediate CA (issued by the root; checked against the root CA CRL).
  std::string intermediate_serial;
  std::string leaf_serial;
  std::string leaf_issuer_key_der;
};

// Revoked serial numbers (INTEGER contents, Crl::revoked_serials), views into a CRL kept with
// them.
using SerialSet = absl::flat_hash_set<absl::string_view>;

struct Verifier::VerifiedCollateral {
  std::optional<Rejection> root_crl_error;
  CrlPtr root_crl;
  SerialSet root_revoked;  // into root_crl
  ValidityWindow root_crl_window;

  std::optional<Rejection> pck_crl_error;
  CrlPtr pck_crl;
  SerialSet pck_revoked;  // into pck_crl
  ValidityWindow pck_crl_window;

  std::optional<Rejection> tcb_info_error;
  TcbInfo tcb_info;
  std::vector<ValidityWindow> tcb_info_windows;

  std::optional<Rejection> qe_identity_error;
  QeIdentity qe_identity;
  std::vector<ValidityWindow> qe_identity_windows;
};

// What one verification has established so far: each step reads what the steps before it set,
// and sets what it establishes. Pointers point into the quote, the caches' shared entries (held
// here) or the collateral, all of which outlive the verification.
struct Verifier::Context {
  Context(const Quote& quote_in, const Collateral& collateral_in, const VerifyOptions& options_in)
      : quote(quote_in), collateral(collateral_in), options(options_in) {}

  const Quote& quote;
  const Collateral& collateral;
  const VerifyOptions& options;
  std::string raw_attestation_key;                     // step 2
  std::shared_ptr<const VerifiedChain> chain;          // step 4
  std::shared_ptr<const VerifiedCollateral> verified;  // step 6
  const TdxModuleIdentity* module_identity = nullptr;  // step 10 (TDX, major version > 0)
  const QeTcbLevel* qe_level = nullptr;                // step 11
  const TcbLevel* platform_level = nullptr;            // step 11
  const TcbLevel* sgx_level = nullptr;                 // step 11 (TDX: by the SGX TCB alone)
  const QeTcbLevel* module_level = nullptr;            // step 11 (TDX, major version > 0)
  TcbStatus status = TcbStatus::kUpToDate;             // step 12
  bool expired = false;                                // step 13
};

namespace {

Rejection Reject(ErrorCode code, std::string message) {
  return Rejection{code, std::move(message)};
}

std::string TimeText(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

std::string Subject(const Certificate& cert) { return cert.SubjectText(); }

absl::Status AddCertificateWindow(const CertificatePtr& certificate, absl::string_view what,
                                  std::vector<ValidityWindow>* windows) {
  const std::optional<absl::Time> from = certificate->not_before();
  const std::optional<absl::Time> until = certificate->not_after();
  if (!from || !until) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " (", Subject(*certificate), ") has an unreadable validity period"));
  }
  windows->push_back(ValidityWindow{std::string(what), *from, *until, certificate});
  return absl::OkStatus();
}

// Verifies certs[0] <- certs[1] <- ... <- the anchor, where the last certificate may be the root
// itself (any encoding of the anchor's key). Returns how many certificates precede the root, and
// adds every certificate's validity window. Errors are messages for the caller's code.
absl::StatusOr<size_t> VerifyChainToAnchor(const std::vector<CertificatePtr>& certs,
                                           const TrustAnchor& anchor, absl::string_view what,
                                           std::vector<ValidityWindow>* windows) {
  const size_t count = certs.size();
  const bool root_in_chain = anchor.IsKeyOf(*certs[count - 1]);
  const size_t below_root = root_in_chain ? count - 1 : count;
  if (below_root == 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, " holds only the root certificate"));
  }
  const Certificate& last_certificate = *certs[count - 1];
  const Certificate& last = last_certificate;
  if (!root_in_chain && x509::NamesMatch(last.issuer_der(), last.subject_der())) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " does not chain to the trusted root: it ends in a root certificate (",
                     Subject(last), ") whose key is not the trusted root's"));
  }
  // A root that is the anchor's own certificate, byte for byte, carries the anchor's own
  // self-signature: checking it again proves nothing (and cost one ECDSA per chain).
  if (root_in_chain && !anchor.IsCertificate(last_certificate)) {
    if (!last_certificate.SignatureVerifiesWith(anchor.public_key())) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the root certificate's self-signature does not verify"));
    }
  }
  for (size_t i = 0; i < below_root; ++i) {
    const Certificate& cert = *certs[i];
    // The root may only end the chain: repeated in the middle, it would pass for the
    // intermediate CA (or the signer) and so be held to the wrong CRL and role.
    if (anchor.IsKeyOf(*certs[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": certificate ", i + 1, " (", Subject(cert),
                       ") carries the trusted root's key, but the root may only end the chain"));
    }
    const Certificate& issuer_certificate = i + 1 < count ? *certs[i + 1] : *anchor.root();
    const Certificate& issuer = issuer_certificate;
    if (!x509::NamesMatch(cert.issuer_der(), issuer.subject_der())) {
      if (i + 1 == count) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " does not chain to the trusted root: certificate ", i + 1, " (",
                         Subject(cert), ") is issued by ", cert.IssuerText()));
      }
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": certificate ", i + 1, " (", Subject(cert), ") is issued by ",
                       cert.IssuerText(), ", not by the next certificate (", Subject(issuer), ")"));
    }
    // basicConstraints with cA TRUE (and keyUsage, if present, allowing keyCertSign). What
    // MayBeCa() adds (keyUsage alone, a v1 root, Netscape types) are not CAs under RFC 5280
    // 4.2.1.9, and no Intel CA relies on them.
    if (!issuer_certificate.IsCa()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": issuer ", Subject(issuer),
                       " is not a CA certificate (it needs basicConstraints with cA TRUE)"));
    }
    // RFC 5280 4.2.1.9: a CA's pathLenConstraint bounds the intermediate CA certificates below
    // it (here i of them: certs[1..i]; self-issued ones are counted too, the stricter reading).
    const std::optional<uint64_t> path_length = issuer_certificate.path_length();
    if (path_length && i > *path_length) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": issuer ", Subject(issuer), " allows ", *path_length,
          " intermediate CA certificate(s) below it (pathLenConstraint), but the chain has ", i));
    }
    if (!certs[i]->SignatureVerifiesWith(issuer_certificate.key())) {
      const bool by_root = &issuer == anchor.root().get() || i + 2 == count;
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the signature of certificate ", i + 1, " (", Subject(cert),
                       ") does not verify with the key of ", Subject(issuer),
                       by_root && !root_in_chain ? " (the trusted root)" : ""));
    }
  }
  for (size_t i = 0; i < count; ++i) {
    // RFC 5280 4.2: a certificate with a critical extension we do not process must be refused;
    // a malformed extension (OpenSSL flags both) is no better.
    if (certs[i]->has_malformed_extension() || certs[i]->has_unknown_critical_extension()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": certificate ", i + 1, " (", Subject(*certs[i]), ") has ",
                       certs[i]->has_malformed_extension()
                           ? "a malformed extension"
                           : "a critical extension this verifier does not know"));
    }
    RETURN_IF_ERROR(
        AddCertificateWindow(certs[i], absl::StrCat(what, " certificate ", i + 1), windows));
  }
  // The first certificate signs (the QE report, or TCB Info / QE Identity); when it restricts its
  // key's use, signing must be among the uses.
  if (!certs[0]->KeyUsageAllows(KU_DIGITAL_SIGNATURE)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": certificate 1 (", Subject(*certs[0]),
                     ") has a keyUsage without digitalSignature, so its key may not sign"));
  }
  if (!root_in_chain) {
    RETURN_IF_ERROR(AddCertificateWindow(anchor.root(), "trusted root", windows));
  }
  return below_root;
}

absl::Status CheckCrlWindow(const Crl& crl, absl::string_view what, ValidityWindow* window) {
  const std::optional<absl::Time> from = crl.this_update();
  if (!from) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has an unreadable thisUpdate"));
  }
  if (!crl.has_next_update()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has no nextUpdate"));
  }
  const std::optional<absl::Time> until = crl.next_update();
  if (!until) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has an unreadable nextUpdate"));
  }
  *window = ValidityWindow{std::string(what), *from, *until};
  return absl::OkStatus();
}

SerialSet RevokedSerials(const Crl& crl) {
  return SerialSet(crl.revoked_serials().begin(), crl.revoked_serials().end());
}

// A verified TCB signing certificate (shared between TCB Info and QE Identity when both name the
// same chain, as Intel's collateral does).
using SharedX509 = CertificatePtr;

// Verifies a signing chain (TCB Info or QE Identity) up to the anchor: one certificate issued by
// the root itself, not a CA, not revoked by the root CA CRL. Returns the signing certificate and
// adds the chain's validity windows.
absl::StatusOr<SharedX509> VerifySigningChain(absl::string_view chain_pem, absl::string_view what,
                                              const TrustAnchor& anchor,
                                              const SerialSet& root_revoked,
                                              std::vector<ValidityWindow>* windows) {
  const std::string chain_name = absl::StrCat(what, " signing chain");
  ASSIGN_OR_RETURN(std::vector<CertificatePtr> certs,
                   DecodePemCertificates(chain_pem, chain_name, anchor.root(), anchor.base64()));
  ASSIGN_OR_RETURN(size_t below_root, VerifyChainToAnchor(certs, anchor, chain_name, windows));
  const Certificate& signer = *certs[0];
  if (below_root != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        chain_name, ": the signing certificate must be issued by the root CA itself, but ",
        below_root - 1, " intermediate certificate(s) stand between them"));
  }
  if (certs[0]->MayBeCa()) {
    return absl::InvalidArgumentError(absl::StrCat(chain_name, ": the signing certificate (",
                                                   Subject(signer), ") is a CA certificate"));
  }
  if (root_revoked.contains(signer.serial())) {
    return absl::InvalidArgumentError(absl::StrCat(chain_name, ": the signing certificate (",
                                                   Subject(signer), ", serial ", signer.SerialHex(),
                                                   ") is revoked by the root CA CRL"));
  }
  return certs[0];
}

// Verifies one signed JSON document (TCB Info or QE Identity): its signing chain (unless
// `*signer` already holds the verified signer of this same chain), then the signature over the
// exact text, then the parse of the verified text; the document's issueDate..nextUpdate joins
// the windows. Any failure becomes a rejection with `code`. Sets `*signer` once it verifies.
template <typename Document, typename Parse>
std::optional<Rejection> VerifySignedDocument(absl::string_view chain_pem, absl::string_view text,
                                              absl::string_view signature, absl::string_view what,
                                              ErrorCode code, Parse parse,
                                              const TrustAnchor& anchor,
                                              const SerialSet& root_revoked, SharedX509* signer,
                                              Document* document,
                                              std::vector<ValidityWindow>* windows) {
  absl::Status status;
  if (*signer == nullptr) {
    absl::StatusOr<SharedX509> verified =
        VerifySigningChain(chain_pem, what, anchor, root_revoked, windows);
    if (verified.ok()) {
      *signer = *std::move(verified);
    } else {
      status = verified.status();
    }
  }
  if (status.ok() && signature.size() != 64) {
    status = absl::InvalidArgumentError(
        absl::StrCat(what, " signature has ", signature.size(), " bytes, expected 64 (r||s)"));
  }
  if (status.ok() && !(*signer)->key().VerifySha256(text, signature)) {
    status = absl::InvalidArgumentError(absl::StrCat(
        what, " signature does not verify over its text with the key of ", Subject(**signer)));
  }
  if (status.ok()) {
    absl::StatusOr<Document> parsed = parse(text);
    if (parsed.ok()) {
      *document = *std::move(parsed);
      windows->push_back(
          ValidityWindow{std::string(what), document->issue_date, document->next_update});
      return std::nullopt;
    }
    status = parsed.status();
  }
  return Reject(code, std::string(status.message()));
}

TcbStatus CombineStatus(TcbStatus platform, TcbStatus qe) {
  if (platform == TcbStatus::kRevoked || qe == TcbStatus::kRevoked) {
    return TcbStatus::kRevoked;
  }
  if (qe == TcbStatus::kOutOfDate || qe == TcbStatus::kOutOfDateConfigurationNeeded) {
    switch (platform) {
      case TcbStatus::kConfigurationNeeded:
      case TcbStatus::kConfigurationAndSwHardeningNeeded:
      case TcbStatus::kOutOfDateConfigurationNeeded:
        return TcbStatus::kOutOfDateConfigurationNeeded;
      default:
        return TcbStatus::kOutOfDate;
    }
  }
  return platform;
}

std::string ComponentsText(const std::array<uint8_t, 16>& components) {
  return absl::StrJoin(components, ",", [](std::string* out, uint8_t value) {
    absl::StrAppend(out, static_cast<int>(value));
  });
}

}  // namespace

absl::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnsupportedQuoteFormat:
      return "unsupported_quote_format";
    case ErrorCode::kInvalidQuoteSignature:
      return "invalid_quote_signature";
    case ErrorCode::kInvalidQeReportSignature:
      return "invalid_qe_report_signature";
    case ErrorCode::kQeReportDataMismatch:
      return "qe_report_data_mismatch";
    case ErrorCode::kUntrustedPckChain:
      return "untrusted_pck_chain";
    case ErrorCode::kPckRevoked:
      return "pck_revoked";
    case ErrorCode::kInvalidCrl:
      return "invalid_crl";
    case ErrorCode::kInvalidTcbInfo:
      return "invalid_tcb_info";
    case ErrorCode::kInvalidQeIdentity:
      return "invalid_qe_identity";
    case ErrorCode::kQeIdentityMismatch:
      return "qe_identity_mismatch";
    case ErrorCode::kFmspcMismatch:
      return "fmspc_mismatch";
    case ErrorCode::kTcbLevelNotFound:
      return "tcb_level_not_found";
    case ErrorCode::kTcbRevoked:
      return "tcb_revoked";
    case ErrorCode::kCollateralExpired:
      return "collateral_expired";
    case ErrorCode::kTdxModuleMismatch:
      return "tdx_module_mismatch";
    case ErrorCode::kTdxModuleIdentityNotFound:
      return "tdx_module_identity_not_found";
  }
  return "unknown";
}

absl::string_view TeeName(Tee tee) { return tee == Tee::kTdx ? "tdx" : "sgx"; }

Verifier::Verifier(TrustAnchor anchor, VerifierCacheOptions cache_options)
    : anchor_(std::move(anchor)),
      attestation_keys_(cache_options.attestation_keys),
      chains_(cache_options.pck_chains),
      collaterals_(cache_options.collaterals),
      signatures_(cache_options.signatures) {}

Verifier::~Verifier() = default;

VerifierCacheStats Verifier::cache_stats() const {
  VerifierCacheStats stats;
  stats.chain_hits = chains_.hits();
  stats.chain_misses = chains_.misses();
  stats.collateral_hits = collaterals_.hits();
  stats.collateral_misses = collaterals_.misses();
  stats.signature_hits = signatures_.hits();
  stats.signature_misses = signatures_.misses();
  stats.attestation_key_hits = attestation_keys_.hits();
  stats.attestation_key_misses = attestation_keys_.misses();
  return stats;
}

void Verifier::ClearCaches() {
  attestation_keys_.Clear();
  chains_.Clear();
  collaterals_.Clear();
  signatures_.Clear();
}

template <typename Check>
bool Verifier::CachedSignatureFact(const std::string& key, Check check) const {
  if (std::shared_ptr<const bool> known = signatures_.Find(key)) {
    return *known;
  }
  const bool result = check();
  // Only successes are worth keeping: a failure ends the verification anyway.
  if (result) {
    signatures_.Insert(key, std::make_shared<const bool>(true));
  }
  return result;
}

std::shared_ptr<const Verifier::VerifiedChain> Verifier::GetChain(absl::string_view pem) const {
  const Sha256Digest digest = Sha256(pem);
  const std::string key(AsView(digest));
  if (std::shared_ptr<const VerifiedChain> cached = chains_.Find(key)) {
    return cached;
  }
  auto chain = std::make_shared<VerifiedChain>();
  absl::StatusOr<std::vector<CertificatePtr>> certs =
      DecodePemCertificates(pem, "PCK chain", anchor_.root(), anchor_.base64());
  // Only chains that verify are kept: the rest are the sender's choice, any size and any
  // number of them, and keeping them would let hostile quotes pin memory (a bounded count of
  // unbounded entries). Rebuilding a failing chain costs its own sender the parse.
  if (!certs.ok()) {
    chain->parse_error =
        Reject(ErrorCode::kUntrustedPckChain, std::string(certs.status().message()));
    return chain;
  }
  chain->certs = *std::move(certs);
  chain->leaf_key_der = chain->certs[0]->key_der();
  if (chain->leaf_key_der.empty()) {
    chain->parse_error = Reject(ErrorCode::kUntrustedPckChain,
                                "PCK chain: the leaf certificate's key is unreadable");
    return chain;
  }
  auto trust = [&]() -> absl::Status {
    const std::vector<CertificatePtr>& list = chain->certs;
    ASSIGN_OR_RETURN(size_t below_root,
                     VerifyChainToAnchor(list, anchor_, "PCK chain", &chain->windows));
    if (below_root != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PCK chain: expected the PCK certificate and one intermediate CA below the root, found ",
          below_root, " certificate(s)"));
    }
    const Certificate& leaf = *list[0];
    const Certificate& intermediate = *list[1];
    if (list[0]->MayBeCa()) {
      return absl::InvalidArgumentError(
          absl::StrCat("PCK chain: the leaf (", Subject(leaf), ") is a CA certificate"));
    }
    absl::StatusOr<PckExtension> extension = PckExtensionOf(leaf);
    if (!extension.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("PCK chain: the leaf (", Subject(leaf),
                                                     "): ", extension.status().message()));
    }
    chain->extension = *extension;
    chain->intermediate_serial = std::string(intermediate.serial());
    chain->leaf_serial = std::string(leaf.serial());
    chain->leaf_issuer_key_der = list[1]->key_der();
    return absl::OkStatus();
  };
  if (absl::Status status = trust(); !status.ok()) {
    chain->trust_error = Reject(ErrorCode::kUntrustedPckChain, std::string(status.message()));
    return chain;
  }
  return chains_.Insert(key, std::move(chain));
}

std::shared_ptr<const Verifier::VerifiedCollateral> Verifier::GetCollateral(
    const Collateral& collateral) const {
  const std::string key(AsView(collateral.digest()));
  if (std::shared_ptr<const VerifiedCollateral> cached = collaterals_.Find(key)) {
    return cached;
  }
  const CollateralParts& parts = collateral.parts();
  auto result = std::make_shared<VerifiedCollateral>();

  auto root_crl = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(CrlPtr crl, Crl::FromDer(parts.root_ca_crl, "root CA CRL"));
    const Certificate& root = *anchor_.root();
    if (!x509::NamesMatch(crl->issuer_der(), root.subject_der())) {
      return absl::InvalidArgumentError(absl::StrCat("root CA CRL is issued by ", crl->IssuerText(),
                                                     ", not by the trusted root ", Subject(root)));
    }
    if (!crl->SignatureVerifiesWith(anchor_.public_key())) {
      return absl::InvalidArgumentError(
          "root CA CRL signature does not verify with the trusted root's key");
    }
    RETURN_IF_ERROR(CheckCrlWindow(*crl, "root CA CRL", &result->root_crl_window));
    result->root_revoked = RevokedSerials(*crl);
    result->root_crl = std::move(crl);
    return absl::OkStatus();
  };
  if (absl::Status status = root_crl(); !status.ok()) {
    result->root_crl_error = Reject(ErrorCode::kInvalidCrl, std::string(status.message()));
  }

  auto pck_crl = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(result->pck_crl, Crl::FromDer(parts.pck_crl, "PCK CRL"));
    RETURN_IF_ERROR(CheckCrlWindow(*result->pck_crl, "PCK CRL", &result->pck_crl_window));
    result->pck_revoked = RevokedSerials(*result->pck_crl);
    return absl::OkStatus();
  };
  if (absl::Status status = pck_crl(); !status.ok()) {
    result->pck_crl_error = Reject(ErrorCode::kInvalidCrl, std::string(status.message()));
  }

  SharedX509 tcb_info_signer;
  result->tcb_info_error = VerifySignedDocument(
      parts.tcb_info_issuer_chain, parts.tcb_info, parts.tcb_info_signature, "TCB Info",
      ErrorCode::kInvalidTcbInfo, ParseTcbInfo, anchor_, result->root_revoked, &tcb_info_signer,
      &result->tcb_info, &result->tcb_info_windows);
  // Intel signs both documents with one TCB signing certificate and serves the same chain for
  // both: verified once, it is not verified again (its windows are already among TCB Info's).
  SharedX509 qe_identity_signer =
      parts.qe_identity_issuer_chain == parts.tcb_info_issuer_chain ? tcb_info_signer : nullptr;
  result->qe_identity_error = VerifySignedDocument(
      parts.qe_identity_issuer_chain, parts.qe_identity, parts.qe_identity_signature, "QE Identity",
      ErrorCode::kInvalidQeIdentity, ParseQeIdentity, anchor_, result->root_revoked,
      &qe_identity_signer, &result->qe_identity, &result->qe_identity_windows);
  return collaterals_.Insert(key, std::move(result));
}

namespace {

using Step = std::optional<Rejection>;

// Step 1: layout (done by ParseQuote before any step) and header.
// -> unsupported_quote_format
Step CheckHeader(const Quote& quote) {
  if (quote.header.attestation_key_type != kAttestationKeyTypeEcdsaP256) {
    return Reject(ErrorCode::kUnsupportedQuoteFormat,
                  absl::StrCat("quote header: attestation key type ",
                               quote.header.attestation_key_type, " is not ECDSA-P256 (2)"));
  }
  if (quote.header.qe_vendor_id != kIntelQeVendorId) {
    return Reject(ErrorCode::kUnsupportedQuoteFormat,
                  absl::StrCat("quote header: QE vendor ID ", HexEncode(quote.header.qe_vendor_id),
                               " is not Intel's (", HexEncode(kIntelQeVendorId), ")"));
  }
  return std::nullopt;
}

// Step 3: the QE vouches for the attestation key through its report data:
// SHA-256(attestation key || QE auth data) || 32 zero bytes.  -> qe_report_data_mismatch
Step CheckQeReportData(const Quote& quote, absl::string_view raw_attestation_key) {
  std::string bound(raw_attestation_key);
  bound.append(quote.qe_auth_data.data(), quote.qe_auth_data.size());
  const Sha256Digest expected = Sha256(bound);
  const auto& data = quote.qe_report.report_data;
  const bool hash_matches = std::equal(expected.begin(), expected.end(), data.begin());
  const bool rest_zero =
      std::all_of(data.begin() + 32, data.end(), [](uint8_t b) { return b == 0; });
  if (!hash_matches || !rest_zero) {
    return Reject(ErrorCode::kQeReportDataMismatch,
                  hash_matches ? "QE report data: bytes 32..63 are not zero"
                               : "QE report data does not hold SHA-256(attestation key || QE "
                                 "authentication data)");
  }
  return std::nullopt;
}

// Step 5: the PCK chain leads to the trust anchor (verified once per chain by GetChain).
// -> untrusted_pck_chain
Step CheckPckChainTrust(const Verifier::VerifiedChain& chain) { return chain.trust_error; }

// Step 7: TCB Info and QE Identity are signed by Intel's TCB signing key and parse.
// -> invalid_tcb_info, invalid_qe_identity
Step CheckSignedCollateral(const Verifier::VerifiedCollateral& signed_collateral) {
  if (signed_collateral.tcb_info_error) {
    return signed_collateral.tcb_info_error;
  }
  return signed_collateral.qe_identity_error;
}

// Step 8: the TCB Info describes this platform (FMSPC and PCE ID of the PCK certificate) and
// this TEE (Intel's QVL refuses SGX TCB Info for TDX quotes and the reverse).  -> fmspc_mismatch
Step CheckTcbInfoMatchesPlatform(const Quote& quote, const TcbInfo& tcb_info,
                                 const PckExtension& pck) {
  if (tcb_info.fmspc != pck.fmspc) {
    return Reject(ErrorCode::kFmspcMismatch,
                  absl::StrCat("PCK certificate FMSPC ", HexEncode(pck.fmspc),
                               " differs from TCB Info FMSPC ", HexEncode(tcb_info.fmspc)));
  }
  if (tcb_info.pce_id != pck.pce_id) {
    return Reject(ErrorCode::kFmspcMismatch,
                  absl::StrCat("PCK certificate PCE ID ", HexEncode(pck.pce_id),
                               " differs from TCB Info PCE ID ", HexEncode(tcb_info.pce_id)));
  }
  const bool tdx_quote = quote.td_report.has_value();
  if (tdx_quote != tcb_info.is_tdx()) {
    return Reject(
        ErrorCode::kFmspcMismatch,
        absl::StrCat("TCB Info is ",
                     tcb_info.is_tdx() ? "TDX TCB Info (id \"TDX\")"
                                       : absl::StrCat("SGX TCB Info (version ", tcb_info.version,
                                                      ", id \"", tcb_info.id, "\")"),
                     ", but the quote is ", tdx_quote ? "a TDX" : "an SGX", " quote"));
  }
  return std::nullopt;
}

// Step 9: the QE that signed is Intel's QE: identity id, MRSIGNER, ISVPRODID, MISCSELECT and
// ATTRIBUTES under their masks.  -> qe_identity_mismatch
Step CheckQeIdentity(const Quote& quote, const QeIdentity& identity) {
  const ReportBody& qe = quote.qe_report;
  const absl::string_view expected_id = quote.td_report ? "TD_QE" : "QE";
  if (identity.id != expected_id) {
    return Reject(
        ErrorCode::kQeIdentityMismatch,
        absl::StrCat("QE Identity is the identity of enclave \"", identity.id, "\", not of the ",
                     quote.td_report ? "TD " : "", "quoting enclave (\"", expected_id, "\")"));
  }
  if (identity.mrsigner != qe.mr_signer) {
    return Reject(
        ErrorCode::kQeIdentityMismatch,
        absl::StrCat("QE report MRSIGNER ", HexEncode(qe.mr_signer),
                     " differs from QE Identity MRSIGNER ", HexEncode(identity.mrsigner)));
  }
  if (identity.isvprodid != qe.isv_prod_id) {
    return Reject(ErrorCode::kQeIdentityMismatch,
                  absl::StrCat("QE report ISVPRODID ", qe.isv_prod_id,
                               " differs from QE Identity ISVPRODID ", identity.isvprodid));
  }
  if ((qe.misc_select & identity.miscselect_mask) !=
      (identity.miscselect & identity.miscselect_mask)) {
    return Reject(ErrorCode::kQeIdentityMismatch,
                  absl::StrCat("QE report MISCSELECT ", absl::Hex(qe.misc_select, absl::kZeroPad8),
                               " does not match QE Identity ",
                               absl::Hex(identity.miscselect, absl::kZeroPad8), " under mask ",
                               absl::Hex(identity.miscselect_mask, absl::kZeroPad8)));
  }
  for (size_t i = 0; i < 16; ++i) {
    if ((qe.attributes[i] & identity.attributes_mask[i]) !=
        (identity.attributes[i] & identity.attributes_mask[i])) {
      return Reject(ErrorCode::kQeIdentityMismatch,
                    absl::StrCat("QE report ATTRIBUTES ", HexEncode(qe.attributes),
                                 " do not match QE Identity ", HexEncode(identity.attributes),
                                 " under mask ", HexEncode(identity.attributes_mask)));
    }
  }
  return std::nullopt;
}

// "TDX_<major as two upper-case hex digits>": the module identity of a major version.
std::string TdxModuleIdentityId(uint8_t major) {
  return absl::AsciiStrToUpper(absl::StrCat("TDX_", absl::Hex(major, absl::kZeroPad2)));
}

// The module identity of a major version, found ignoring case as Intel's QVL does; nullptr when
// TCB Info holds none.
const TdxModuleIdentity* FindTdxModuleIdentity(const TcbInfo& tcb_info, uint8_t major) {
  const std::string wanted = TdxModuleIdentityId(major);
  for (const TdxModuleIdentity& candidate : tcb_info.tdx_module_identities) {
    if (absl::EqualsIgnoreCase(candidate.id, wanted)) {
      return &candidate;
    }
  }
  return nullptr;
}

// Step 10 (TDX): the TDX module is Intel's. A module of major version TEE_TCB_SVN[1] > 0 is
// described by the module identity "TDX_<major>" (found case-insensitively, as Intel's QVL does),
// a major version 0 module by tdxModule.  -> tdx_module_identity_not_found, tdx_module_mismatch
Step CheckTdxModule(const TdReportBody& td, const TcbInfo& tcb_info,
                    const TdxModuleIdentity** identity) {
  const uint8_t major = td.tee_tcb_svn[1];
  const TdxModule* module = &tcb_info.tdx_module;
  std::string described_by = "TCB Info tdxModule";
  if (major > 0) {
    *identity = FindTdxModuleIdentity(tcb_info, major);
    if (*identity == nullptr) {
      return Reject(ErrorCode::kTdxModuleIdentityNotFound,
                    absl::StrCat("TDX module major version ", major,
                                 " (TEE_TCB_SVN[1]) needs the module identity ",
                                 TdxModuleIdentityId(major), ", which TCB Info does not hold (",
                                 tcb_info.tdx_module_identities.size(), " identities)"));
    }
    module = &(*identity)->module;
    described_by = absl::StrCat("TDX module identity ", (*identity)->id);
  }
  if (td.mr_signer_seam != module->mrsigner) {
    return Reject(ErrorCode::kTdxModuleMismatch,
                  absl::StrCat("TD report MRSIGNERSEAM ", HexEncode(td.mr_signer_seam),
                               " differs from the mrsigner of ", described_by, " ",
                               HexEncode(module->mrsigner)));
  }
  for (size_t i = 0; i < td.seam_attributes.size(); ++i) {
    if ((td.seam_attributes[i] & module->attributes_mask[i]) !=
        (module->attributes[i] & module->attributes_mask[i])) {
      return Reject(ErrorCode::kTdxModuleMismatch,
                    absl::StrCat("TD report SEAMATTRIBUTES ", HexEncode(td.seam_attributes),
                                 " do not match the attributes of ", described_by, " ",
                                 HexEncode(module->attributes), " under mask ",
                                 HexEncode(module->attributes_mask)));
    }
  }
  // Intel's QVL requires SEAMATTRIBUTES to be zero whatever the mask says (no production module
  // sets any); where the mask would let a bit through, follow Intel and refuse.
  if (std::any_of(td.seam_attributes.begin(), td.seam_attributes.end(),
                  [](uint8_t b) { return b != 0; })) {
    return Reject(ErrorCode::kTdxModuleMismatch,
                  absl::StrCat("TD report SEAMATTRIBUTES ", HexEncode(td.seam_attributes),
                               " are not zero, which Intel's verification requires"));
  }
  return std::nullopt;
}

// Step 11a: the QE's TCB level, the first whose ISVSVN the QE reaches.  -> tcb_level_not_found
Step SelectQeTcbLevel(const ReportBody& qe, const QeIdentity& identity,
                      const QeTcbLevel** selected) {
  for (const QeTcbLevel& level : identity.levels) {
    if (qe.isv_svn >= level.isvsvn) {
      *selected = &level;
      return std::nullopt;
    }
  }
  return Reject(ErrorCode::kTcbLevelNotFound,
                absl::StrCat("QE ISVSVN ", qe.isv_svn, " is below every QE Identity TCB level"));
}

// Step 11b (SGX): the platform's TCB level, the first whose 16 SGX components and PCESVN the PCK
// certificate reaches.  -> tcb_level_not_found
Step SelectSgxTcbLevel(const TcbInfo& tcb_info, const PckExtension& pck,
                       const TcbLevel** selected) {
  for (const TcbLevel& level : tcb_info.levels) {
    bool fits = pck.pcesvn >= level.pcesvn;
    for (size_t i = 0; fits && i < 16; ++i) {
      fits = pck.tcb_components[i] >= level.components[i];
    }
    if (fits) {
      *selected = &level;
      return std::nullopt;
    }
  }
  return Reject(ErrorCode::kTcbLevelNotFound,
                absl::StrCat("platform TCB (components ", ComponentsText(pck.tcb_components),
                             ", PCESVN ", pck.pcesvn, ") is below every TCB Info level"));
}

// Step 11b (TDX): as Intel's QVL selects TDX levels: the SGX components and PCESVN must reach
// some level, and the level taken is the first that they reach *and* TEE_TCB_SVN reaches in its
// tdxtcbcomponents. Bytes 0 and 1 (the module's ISVSVN and major version) take no part when the
// major version is > 0: the module identity's levels judge the module then. `sgx_selected` is
// the level the SGX components and PCESVN alone reach (Intel's SGX TCB status, which the
// relaunch advice of step 12 reads).  -> tcb_level_not_found
Step SelectTdxTcbLevel(const TcbInfo& tcb_info, const PckExtension& pck, const TdReportBody& td,
                       const TcbLevel** sgx_selected, const TcbLevel** selected) {
  if (Step rejected = SelectSgxTcbLevel(tcb_info, pck, sgx_selected)) {
    return rejected;
  }
  const size_t first = td.tee_tcb_svn[1] > 0 ? 2 : 0;
  for (const TcbLevel* level = *sgx_selected;
       level != tcb_info.levels.data() + tcb_info.levels.size(); ++level) {
    bool fits = pck.pcesvn >= level->pcesvn;
    for (size_t i = 0; fits && i < 16; ++i) {
      fits = pck.tcb_components[i] >= level->components[i];
    }
    for (size_t i = first; fits && i < 16; ++i) {
      fits = td.tee_tcb_svn[i] >= level->tdx_components[i];
    }
    if (fits) {
      *selected = level;
      return std::nullopt;
    }
  }
  return Reject(ErrorCode::kTcbLevelNotFound,
                absl::StrCat("TDX TCB (TEE_TCB_SVN ", ComponentsText(td.tee_tcb_svn),
                             ") is below the TDX components of every TCB Info level the platform's "
                             "SGX TCB reaches"));
}

// Step 11c (TDX, major version > 0): the module's level in its identity, the first whose ISVSVN
// TEE_TCB_SVN[0] reaches.  -> tcb_level_not_found
Step SelectTdxModuleLevel(const TdReportBody& td, const TdxModuleIdentity& identity,
                          const QeTcbLevel** selected) {
  for (const QeTcbLevel& level : identity.levels) {
    if (td.tee_tcb_svn[0] >= level.isvsvn) {
      *selected = &level;
      return std::nullopt;
    }
  }
  return Reject(ErrorCode::kTcbLevelNotFound,
                absl::StrCat("TDX module ISVSVN ", td.tee_tcb_svn[0], " is below every level of ",
                             identity.id));
}

// Step 12, TD report 1.5 only: Intel's relaunch advice (QVL checkForRelaunch). `converged` is
// the TDX level's status with the module's converged into it. When the QE and the SGX TCB are
// current, TEE_TCB_SVN is OutOfDate because of an OutOfDate module, and TEE_TCB_SVN2 (the module
// running now, updated in place) reaches the latest level, the TD is advised to relaunch instead
// of being OutOfDate; otherwise `converged` stands. TEE_TCB_SVN2's module identity must then
// exist, as Intel requires (its STATUS_TDX_MODULE_MISMATCH).  -> tdx_module_identity_not_found
Step AdviseTdRelaunch(const TdReportBody& td, const TcbInfo& tcb_info, TcbStatus sgx,
                      TcbStatus converged, const QeTcbLevel* module, TcbStatus qe,
                      TcbStatus* advised) {
  *advised = converged;
  if (!td.tee_tcb_svn2.has_value()) {
    return std::nullopt;
  }
  const bool qe_current = qe != TcbStatus::kOutOfDate &&
                          qe != TcbStatus::kOutOfDateConfigurationNeeded &&
                          qe != TcbStatus::kRevoked;
  const bool sgx_current = sgx == TcbStatus::kUpToDate || sgx == TcbStatus::kSwHardeningNeeded ||
                           sgx == TcbStatus::kConfigurationNeeded ||
                           sgx == TcbStatus::kConfigurationAndSwHardeningNeeded;
  const bool tdx_out_of_date =
      converged == TcbStatus::kOutOfDate || converged == TcbStatus::kOutOfDateConfigurationNeeded;
  const bool module_out_of_date = module != nullptr && module->status == TcbStatus::kOutOfDate;
  if (!qe_current || !sgx_current || !tdx_out_of_date || !module_out_of_date) {
    return std::nullopt;
  }
  const std::array<uint8_t, 16>& svn2 = *td.tee_tcb_svn2;
  const TcbLevel& latest = tcb_info.levels.front();  // the parser refuses an empty list
  uint16_t latest_module_svn = latest.tdx_components[0];
  if (svn2[1] != 0) {
    const TdxModuleIdentity* identity = FindTdxModuleIdentity(tcb_info, svn2[1]);
    if (identity == nullptr) {
      return Reject(ErrorCode::kTdxModuleIdentityNotFound,
                    absl::StrCat("TDX module major version ", svn2[1],
                                 " (TEE_TCB_SVN2[1], the module running now) needs the module "
                                 "identity ",
                                 TdxModuleIdentityId(svn2[1]), ", which TCB Info does not hold (",
                                 tcb_info.tdx_module_identities.size(), " identities)"));
    }
    latest_module_svn = identity->levels.front().isvsvn;  // the parser refuses an empty list
  }
  if (svn2[0] >= latest_module_svn && svn2[2] >= latest.tdx_components[2]) {
    *advised = TcbStatusNeedsConfiguration(sgx) || TcbStatusNeedsConfiguration(converged)
                   ? TcbStatus::kTdRelaunchAdvisedConfigurationNeeded
                   : TcbStatus::kTdRelaunchAdvised;
  }
  return std::nullopt;
}

// Step 12: the combined status; Revoked is a rejection. Intel's QVL converges the TDX module's
// status into the platform's, then (TD report 1.5) advises a relaunch, then converges the QE's
// into that, by the same rule (CombineStatus).  -> tcb_revoked, tdx_module_identity_not_found
Step CheckCombinedStatus(const Verifier::Context& context, TcbStatus* combined) {
  const TcbStatus platform = context.platform_level->status;
  const QeTcbLevel* module = context.module_level;
  const TcbStatus qe = context.qe_level->status;
  TcbStatus with_module = module ? CombineStatus(platform, module->status) : platform;
  if (context.quote.td_report && with_module != TcbStatus::kRevoked) {
    if (Step rejected =
            AdviseTdRelaunch(*context.quote.td_report, context.verified->tcb_info,
                             context.sgx_level->status, with_module, module, qe, &with_module)) {
      return rejected;
    }
  }
  *combined = CombineStatus(with_module, qe);
  if (*combined == TcbStatus::kRevoked) {
    return Reject(
        ErrorCode::kTcbRevoked,
        absl::StrCat(
            "TCB is revoked (platform level ", TcbStatusName(platform),
            module ? absl::StrCat(", TDX module level ", TcbStatusName(module->status)) : "",
            ", QE level ", TcbStatusName(qe), ")"));
  }
  return std::nullopt;
}

// Step 13: every validity window holds at `options.at`; the first that does not is named. With
// allow_expired_collateral that is a note in the verdict instead.  -> collateral_expired
Step CheckValidityWindows(const Verifier::VerifiedChain& chain,
                          const Verifier::VerifiedCollateral& signed_collateral,
                          const VerifyOptions& options, bool* expired) {
  std::string expired_message;
  auto check_window = [&](const ValidityWindow& window) {
    if (*expired) {
      return;
    }
    if (options.at < window.from || options.at > window.until) {
      *expired = true;
      expired_message = absl::StrCat(window.what,
                                     window.certificate != nullptr
                                         ? absl::StrCat(" (", Subject(*window.certificate), ")")
                                         : "",
                                     " is not valid at ", TimeText(options.at), " (valid from ",
                                     TimeText(window.from), " until ", TimeText(window.until), ")");
    }
  };
  for (const ValidityWindow& window : chain.windows) check_window(window);
  check_window(signed_collateral.root_crl_window);
  check_window(signed_collateral.pck_crl_window);
  for (const ValidityWindow& window : signed_collateral.tcb_info_windows) check_window(window);
  for (const ValidityWindow& window : signed_collateral.qe_identity_windows) check_window(window);
  if (*expired && !options.allow_expired_collateral) {
    return Reject(ErrorCode::kCollateralExpired, expired_message);
  }
  return std::nullopt;
}

Verdict MakeVerdict(const Verifier::Context& context) {
  Verdict verdict;
  verdict.tcb_status = context.status;
  verdict.platform_tcb_status = context.platform_level->status;
  verdict.qe_tcb_status = context.qe_level->status;
  verdict.advisory_ids = context.platform_level->advisory_ids;
  for (const QeTcbLevel* level : {context.module_level, context.qe_level}) {
    if (level != nullptr) {
      verdict.advisory_ids.insert(verdict.advisory_ids.end(), level->advisory_ids.begin(),
                                  level->advisory_ids.end());
    }
  }
  std::sort(verdict.advisory_ids.begin(), verdict.advisory_ids.end());
  verdict.advisory_ids.erase(std::unique(verdict.advisory_ids.begin(), verdict.advisory_ids.end()),
                             verdict.advisory_ids.end());
  verdict.collateral_expired = context.expired;
  verdict.quote_version = context.quote.header.version;
  if (context.quote.sgx_report) {
    verdict.report = *context.quote.sgx_report;
  }
  verdict.pck = context.chain->extension;
  verdict.body_type = context.quote.body_type;
  if (context.quote.td_report) {
    verdict.tee = Tee::kTdx;
    verdict.td_report = context.quote.td_report;
    verdict.tdx_module_status =
        context.module_level ? context.module_level->status : TcbStatus::kUpToDate;
    if (context.module_identity != nullptr) {
      verdict.tdx_module_identity = context.module_identity->id;
    }
  }
  return verdict;
}

}  // namespace

// Step 2: the quote signature over header and report body, with the attestation key (parsed
// once per key).  -> invalid_quote_signature
std::optional<Rejection> Verifier::CheckQuoteSignature(Context& context) const {
  const Quote& quote = context.quote;
  context.raw_attestation_key = std::string(AsView(quote.attestation_key));
  const std::string& raw_key = context.raw_attestation_key;
  std::shared_ptr<const AttestationKey> attestation_key = attestation_keys_.Find(raw_key);
  if (attestation_key == nullptr) {
    absl::StatusOr<P256PublicKey> key = P256PublicKey::FromRaw(raw_key);
    if (!key.ok()) {
      return Reject(ErrorCode::kInvalidQuoteSignature,
                    absl::StrCat("attestation key: ", key.status().message()));
    }
    attestation_key = attestation_keys_.Insert(
        raw_key, std::make_shared<const AttestationKey>(AttestationKey{*std::move(key)}));
  }
  if (!attestation_key->key.VerifySha256(quote.signed_bytes, AsView(quote.signature))) {
    return Reject(ErrorCode::kInvalidQuoteSignature,
                  "quote signature does not verify over the header and report body with the "
                  "attestation key");
  }
  return std::nullopt;
}

// Step 4: the PCK chain (the quote's type-5 certification data, or options.pck_chain_pem)
// parses, and the QE report signature verifies with the PCK leaf's key.
// -> untrusted_pck_chain (no chain, or it does not parse), invalid_qe_report_signature
std::optional<Rejection> Verifier::CheckQeReportSignature(Context& context) const {
  const Quote& quote = context.quote;
  absl::string_view chain_pem = context.options.pck_chain_pem;
  if (chain_pem.empty()) {
    if (quote.certification_data_type != kCertificationDataPckChain) {
      return Reject(ErrorCode::kUntrustedPckChain,
                    absl::StrCat("quote certification data is type ", quote.certification_data_type,
                                 ", which holds no PCK certificate chain, and no chain was "
                                 "supplied (--pck-chain)"));
    }
    chain_pem = quote.certification_data;
  }
  context.chain = GetChain(chain_pem);
  const VerifiedChain& chain = *context.chain;
  if (chain.parse_error) {
    return chain.parse_error;
  }
  const std::string qe_fact = [&] {
    Sha256Hasher hasher;
    hasher.AddField("qe-report")
        .AddField(chain.leaf_key_der)
        .AddField(quote.qe_report_bytes)
        .AddField(AsView(quote.qe_report_signature));
    const Sha256Digest digest = hasher.Finish();
    return std::string(AsView(digest));
  }();
  if (!CachedSignatureFact(qe_fact, [&] {
        return chain.certs[0]->key().VerifySha256(quote.qe_report_bytes,
                                                  AsView(quote.qe_report_signature));
      })) {
    return Reject(ErrorCode::kInvalidQeReportSignature,
                  "QE report signature does not verify with the PCK certificate's key");
  }
  return std::nullopt;
}

// Step 6: both CRLs verify (root CA CRL by the anchor, PCK CRL by the PCK leaf's issuer) before
// either list is read; then neither revokes the chain.  -> invalid_crl, pck_revoked
std::optional<Rejection> Verifier::CheckCrls(Context& context) const {
  context.verified = GetCollateral(context.collateral);
  const VerifiedCollateral& verified = *context.verified;
  const VerifiedChain& chain = *context.chain;
  if (verified.root_crl_error) {
    return verified.root_crl_error;
  }
  if (verified.pck_crl_error) {
    return verified.pck_crl_error;
  }
  const Certificate& leaf = *chain.certs[0];
  const Crl& pck_crl = *verified.pck_crl;
  if (!x509::NamesMatch(pck_crl.issuer_der(), leaf.issuer_der())) {
    return Reject(ErrorCode::kInvalidCrl,
                  absl::StrCat("PCK CRL is issued by ", pck_crl.IssuerText(),
                               ", not by the PCK certificate's issuer ", leaf.IssuerText()));
  }
  const std::string crl_fact = [&] {
    Sha256Hasher hasher;
    hasher.AddField("pck-crl")
        .AddField(context.collateral.parts().pck_crl)
        .AddField(chain.leaf_issuer_key_der);
    const Sha256Digest digest = hasher.Finish();
    return std::string(AsView(digest));
  }();
  if (!chain.certs[1]->KeyUsageAllows(KU_CRL_SIGN)) {
    return Reject(ErrorCode::kInvalidCrl,
                  absl::StrCat("the PCK certificate's issuer (", chain.certs[1]->SubjectText(),
                               ") has a keyUsage without cRLSign, so it cannot sign the PCK CRL"));
  }
  if (!CachedSignatureFact(crl_fact,
                           [&] { return pck_crl.SignatureVerifiesWith(chain.certs[1]->key()); })) {
    return Reject(ErrorCode::kInvalidCrl,
                  "PCK CRL signature does not verify with the key of the PCK certificate's issuer");
  }
  if (verified.root_revoked.contains(chain.intermediate_serial)) {
    return Reject(ErrorCode::kPckRevoked,
                  absl::StrCat("the intermediate CA certificate (", chain.certs[1]->SubjectText(),
                               ") is revoked by the root CA CRL"));
  }
  if (verified.pck_revoked.contains(chain.leaf_serial)) {
    return Reject(ErrorCode::kPckRevoked,
                  absl::StrCat("the PCK certificate (serial ", leaf.SerialHex(),
                               ") is revoked by the PCK CRL"));
  }
  return std::nullopt;
}

VerificationResult Verifier::Verify(absl::string_view quote_bytes, const Collateral& collateral,
                                    const VerifyOptions& options) const {
  absl::StatusOr<Quote> parsed = ParseQuote(quote_bytes);
  if (!parsed.ok()) {
    return Reject(ErrorCode::kUnsupportedQuoteFormat, std::string(parsed.status().message()));
  }
  Context context(*parsed, collateral, options);
  const Quote& quote = context.quote;
  // The steps of verifier.h, in order; the first rejection ends the verification.
  if (Step rejected = CheckHeader(quote)) return *std::move(rejected);
  if (Step rejected = CheckQuoteSignature(context)) return *std::move(rejected);
  if (Step rejected = CheckQeReportData(quote, context.raw_attestation_key)) {
    return *std::move(rejected);
  }
  if (Step rejected = CheckQeReportSignature(context)) return *std::move(rejected);
  const VerifiedChain& chain = *context.chain;
  if (Step rejected = CheckPckChainTrust(chain)) return *std::move(rejected);
  if (Step rejected = CheckCrls(context)) return *std::move(rejected);
  const VerifiedCollateral& signed_collateral = *context.verified;
  if (Step rejected = CheckSignedCollateral(signed_collateral)) return *std::move(rejected);
  const TcbInfo& tcb_info = signed_collateral.tcb_info;
  const QeIdentity& identity = signed_collateral.qe_identity;
  if (Step rejected = CheckTcbInfoMatchesPlatform(quote, tcb_info, chain.extension)) {
    return *std::move(rejected);
  }
  if (Step rejected = CheckQeIdentity(quote, identity)) return *std::move(rejected);
  const TdReportBody* td = quote.td_report ? &*quote.td_report : nullptr;
  if (td != nullptr) {
    if (Step rejected = CheckTdxModule(*td, tcb_info, &context.module_identity)) {
      return *std::move(rejected);
    }
  }
  if (Step rejected = SelectQeTcbLevel(quote.qe_report, identity, &context.qe_level)) {
    return *std::move(rejected);
  }
  if (Step rejected = td != nullptr
                          ? SelectTdxTcbLevel(tcb_info, chain.extension, *td, &context.sgx_level,
                                              &context.platform_level)
                          : SelectSgxTcbLevel(tcb_info, chain.extension, &context.platform_level)) {
    return *std::move(rejected);
  }
  if (context.module_identity != nullptr) {
    if (Step rejected =
            SelectTdxModuleLevel(*td, *context.module_identity, &context.module_level)) {
      return *std::move(rejected);
    }
  }
  if (Step rejected = CheckCombinedStatus(context, &context.status)) {
    return *std::move(rejected);
  }
  if (Step rejected = CheckValidityWindows(chain, signed_collateral, options, &context.expired)) {
    return *std::move(rejected);
  }
  return MakeVerdict(context);
}

}  // namespace cn::dcap
