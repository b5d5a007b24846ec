#pragma once

// TestPki: a complete, throw-away SGX attestation PKI for tests, so that every branch of the
// verifier can be reached with real signatures: a root CA, a PCK intermediate CA, a PCK leaf
// carrying the SGX extension, a TCB signing certificate, CRLs from root and intermediate, and
// signed TCB Info and QE Identity JSON assembled into dcap::Collateral.
//
// Defaults describe one consistent, healthy platform that verifies as UpToDate at kDefaultAt;
// tests change one field of a spec and rebuild to reach one failure. Every key is a fresh P-256
// key; any OpenSSL failure while building is a broken test and aborts (CN_CHECK).
//
// Not thread-safe; test-only (never linked into production targets).

#include <openssl/ui.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/dcap/collateral.h"
#include "src/dcap/crypto.h"
#include "src/dcap/pck_extension.h"
#include "src/dcap/trust_anchor.h"

namespace cn::testing {

// 2025-07-01T00:00:00Z: inside every default validity window.
absl::Time TestPkiDefaultAt();
absl::Time TestTime(absl::string_view rfc3339);

dcap::EvpPkeyPtr GenerateP256Key();
// Raw r||s ECDSA-SHA256 signature (the quote and collateral encoding).
std::string SignRaw(EVP_PKEY* key, absl::string_view message);
// Raw X||Y of a P-256 public key (the quote's attestation key encoding).
std::string RawPublicKey(EVP_PKEY* key);
std::string CertificatePem(X509* cert);
// The same PEM with the headers of an encrypted block ("Proc-Type: 4,ENCRYPTED", "DEK-Info")
// after each BEGIN line: what OpenSSL, left to its defaults, answers by asking the terminal for
// a passphrase.
std::string WithEncryptedPemHeaders(absl::string_view pem);

// While alive, replaces OpenSSL's default user interface (the terminal) with one that counts
// passphrase requests and answers none, so a test can assert that nothing asks for one.
class PassphrasePromptCounter {
 public:
  PassphrasePromptCounter();
  ~PassphrasePromptCounter();
  PassphrasePromptCounter(const PassphrasePromptCounter&) = delete;
  PassphrasePromptCounter& operator=(const PassphrasePromptCounter&) = delete;
  int count() const;

 private:
  const UI_METHOD* previous_;
  UI_METHOD* method_;
};

struct RawExtension {
  std::string oid;  // dotted form
  bool critical = false;
  std::string der;  // the extension's value
};
// A UUID-derived OID (ITU-T X.667 arc 2.25) that no software knows.
inline constexpr char kUnknownExtensionOid[] = "2.25.329800735698586629295641978511506172918";

struct CertificateSpec {
  std::string common_name = "";
  EVP_PKEY* subject_key = nullptr;
  X509* issuer = nullptr;  // nullptr: self-signed with subject_key
  EVP_PKEY* issuer_key = nullptr;
  int64_t serial = 1;
  absl::Time not_before{};
  absl::Time not_after{};
  bool is_ca = false;
  // false: no basicConstraints at all, so only keyUsage (keyCertSign for a CA) says what it is.
  bool basic_constraints = true;
  // basicConstraints' pathLenConstraint of a CA; none when unset.
  std::optional<int> path_length = std::nullopt;
  std::optional<std::string> sgx_extension_der = std::nullopt;
  // keyUsage in OpenSSL's config syntax ("critical,keyCertSign"); empty means the default for
  // is_ca (keyCertSign and cRLSign, or digitalSignature and nonRepudiation).
  std::string key_usage = "";
  // Extensions added as given, after the others (an unknown critical one, a malformed one).
  std::vector<RawExtension> extra_extensions = {};
};
dcap::X509Ptr IssueCertificate(const CertificateSpec& spec);

struct CrlSpec {
  X509* issuer = nullptr;
  EVP_PKEY* signing_key = nullptr;  // normally the issuer's key
  std::vector<int64_t> revoked_serials;
  absl::Time this_update;
  absl::Time next_update;
};
std::string IssueCrlDer(const CrlSpec& spec);

// DER of the SGX extension's SEQUENCE (PPID, TCB with 16 components + PCESVN + CPUSVN, PCE-ID,
// FMSPC, SGX type).
std::string EncodeSgxExtension(const dcap::PckExtension& extension);

struct TcbLevelSpec {
  std::array<uint8_t, 16> components{};
  uint16_t pcesvn = 0;
  std::string status = "UpToDate";
  std::vector<std::string> advisory_ids;
  // TDX TCB Info: the 16 tdxtcbcomponents (compared with TEE_TCB_SVN).
  std::optional<std::array<uint8_t, 16>> tdx_components = std::nullopt;
};

struct QeLevelSpec {
  uint16_t isvsvn = 0;
  std::string status = "UpToDate";
  std::vector<std::string> advisory_ids;
};

// TDX TCB Info's `tdxModule` (and the common part of each `tdxModuleIdentities` entry).
struct TdxModuleSpec {
  std::array<uint8_t, 48> mrsigner{};
  std::string attributes = "0000000000000000";
  std::string attributes_mask = "FFFFFFFFFFFFFFFF";
};

struct TdxModuleIdentitySpec {
  std::string id;  // "TDX_01": chosen by TEE_TCB_SVN[1], the module's major version
  TdxModuleSpec module;
  std::vector<QeLevelSpec> levels;  // by the module's ISVSVN (TEE_TCB_SVN[0])
};

struct TcbInfoSpec {
  int version = 3;
  std::string id = "SGX";  // v3 only
  absl::Time issue_date;
  absl::Time next_update;
  std::array<uint8_t, 6> fmspc{};
  std::array<uint8_t, 2> pce_id{};
  std::vector<TcbLevelSpec> levels;
  std::optional<TdxModuleSpec> tdx_module = std::nullopt;
  std::vector<TdxModuleIdentitySpec> tdx_module_identities = {};  // omitted when empty
};

struct QeIdentitySpec {
  std::string id = "QE";
  absl::Time issue_date;
  absl::Time next_update;
  std::string miscselect = "00000000";
  std::string miscselect_mask = "FFFFFFFF";
  std::string attributes = "11000000000000000000000000000000";
  std::string attributes_mask = "FBFFFFFFFFFFFFFF0000000000000000";
  std::array<uint8_t, 32> mrsigner{};
  uint16_t isvprodid = 1;
  std::vector<QeLevelSpec> levels;
};

std::string TcbInfoJson(const TcbInfoSpec& spec);
std::string QeIdentityJson(const QeIdentitySpec& spec);

class TestPki {
 public:
  TestPki();

  // The platform facts in the PCK leaf. Change, then call ReissuePckLeaf().
  dcap::PckExtension pck_extension;
  int64_t pck_serial = 0x1001;
  absl::Time pck_not_before;
  absl::Time pck_not_after;
  void ReissuePckLeaf();

  // What BuildCollateral() signs and assembles. Defaults match pck_extension (one UpToDate
  // level) and the default QE of QuoteBuilder (ISVSVN 8 UpToDate, 6 OutOfDate).
  TcbInfoSpec tcb_info;
  QeIdentitySpec qe_identity;
  CrlSpec root_crl;  // issuer/key filled with the root by default
  CrlSpec pck_crl;   // issuer/key filled with the intermediate by default
  // When set, signed and used instead of the JSON built from the spec (to feed the verifier
  // validly signed but malformed content). To break a signature, edit Collateral::parts().
  std::optional<std::string> tcb_info_text_override;
  std::optional<std::string> qe_identity_text_override;
  // Chains put in the collateral; empty means "signer + root" of the TCB signing certificate.
  std::string tcb_info_chain_override;
  std::string qe_identity_chain_override;

  dcap::Collateral BuildCollateral() const;

  // Makes tcb_info and qe_identity TDX collateral for this platform that a default TDX quote of
  // QuoteBuilder (after QuoteBuilder::UseTdx) verifies as UpToDate: TCB Info id "TDX" with one
  // level (the PCK's SGX TCB and TDX components 5,1,2), tdxModule with a zero MRSIGNER, module
  // identities TDX_01 (ISVSVN 5 UpToDate, 3 OutOfDate) and TDX_03 (ISVSVN 2 UpToDate); QE
  // Identity id "TD_QE" with ISVPRODID 2.
  void UseTdx();

  X509* root() const { return root_.get(); }
  EVP_PKEY* root_key() const { return root_key_.get(); }
  X509* intermediate() const { return intermediate_.get(); }
  EVP_PKEY* intermediate_key() const { return intermediate_key_.get(); }
  X509* pck_leaf() const { return pck_leaf_.get(); }
  EVP_PKEY* pck_key() const { return pck_key_.get(); }
  X509* tcb_signer() const { return tcb_signer_.get(); }
  EVP_PKEY* tcb_signing_key() const { return tcb_signing_key_.get(); }

  std::string RootPem() const { return CertificatePem(root()); }
  // PCK leaf, intermediate, root.
  std::string PckChainPem() const;
  // TCB signing certificate, root.
  std::string TcbChainPem() const;
  dcap::TrustAnchor Anchor() const;

 private:
  dcap::EvpPkeyPtr root_key_, intermediate_key_, pck_key_, tcb_signing_key_;
  dcap::X509Ptr root_, intermediate_, pck_leaf_, tcb_signer_;
};

}  // namespace cn::testing
