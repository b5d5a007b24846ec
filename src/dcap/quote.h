#pragma once

// The SGX/TDX DCAP ECDSA quote (versions 3, 4 and 5) as parsed, field by field, from untrusted
// bytes. Parsing checks only the layout (every length consistent, nothing past the end, nothing
// but zero padding after the signature data); whether the quote is *acceptable* (version, key
// type, TEE, vendor) and *authentic* is the verifier's job (verifier.h).
//
// Layout (all integers little-endian; Intel's "ECDSA Quote Library API" and the QVL):
//   header (48)
//   v3, v4: report body: 384 for SGX (TEE type 0), 584 (TD report 1.0) for TDX (0x81)
//   v5:     u16 body type | u32 body size | body: 1 SGX (384), 2 TD 1.0 (584), 3 TD 1.5 (648)
//   u32 signature data size | signature data: ECDSA signature (64, r||s) | attestation key (64)
//     v3:     QE report (384) | QE report signature (64) | u16 + QE auth data |
//             u16 certification data type | u32 size | certification data
//     v4, v5: u16 type (6) | u32 size | { QE report | signature | auth data | inner cert. data }
// The quote signature covers everything before the signature data size (for v5, the body type
// and size too).
//
// TD report 1.0 (584): TEE_TCB_SVN 16 | MRSEAM 48 | MRSIGNERSEAM 48 | SEAMATTRIBUTES 8 |
//   TDATTRIBUTES 8 | XFAM 8 | MRTD 48 | MRCONFIGID 48 | MROWNER 48 | MROWNERCONFIG 48 |
//   RTMR0..3 4x48 | REPORTDATA 64; TD report 1.5 (648) adds TEE_TCB_SVN2 16 | MRSERVICETD 48.

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cn::dcap {

inline constexpr size_t kQuoteHeaderSize = 48;
inline constexpr size_t kSgxReportBodySize = 384;
inline constexpr size_t kTdReportBodySize = 584;    // TD report 1.0
inline constexpr size_t kTdReport15BodySize = 648;  // TD report 1.5
inline constexpr size_t kBodyDescriptorSize = 6;    // v5: u16 type, u32 size
inline constexpr uint16_t kBodyTypeSgx = 1;
inline constexpr uint16_t kBodyTypeTdReport10 = 2;
inline constexpr uint16_t kBodyTypeTdReport15 = 3;
inline constexpr uint16_t kAttestationKeyTypeEcdsaP256 = 2;
inline constexpr uint32_t kTeeTypeSgx = 0x00000000;
inline constexpr uint32_t kTeeTypeTdx = 0x00000081;
inline constexpr uint16_t kCertificationDataPckChain = 5;  // PEM: leaf, intermediate, root
inline constexpr uint16_t kCertificationDataQeReport = 6;  // v4 wrapper of the QE report
inline constexpr std::array<uint8_t, 16> kIntelQeVendorId = {
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

struct QuoteHeader {
  uint16_t version = 0;
  uint16_t attestation_key_type = 0;
  uint32_t tee_type = 0;  // reserved (zero) in v3 SGX quotes
  uint16_t qe_svn = 0;    // "reserved" in DESIGN.md's wording; QE and PCE SVN in Intel's
  uint16_t pce_svn = 0;
  std::array<uint8_t, 16> qe_vendor_id{};
  std::array<uint8_t, 20> user_data{};
};

// An SGX enclave report body (also the layout of the QE report).
struct ReportBody {
  std::array<uint8_t, 16> cpu_svn{};
  uint32_t misc_select = 0;
  std::array<uint8_t, 16> attributes{};
  std::array<uint8_t, 32> mr_enclave{};
  std::array<uint8_t, 32> mr_signer{};
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  std::array<uint8_t, 64> report_data{};
};

// A TDX TD report body (1.0, or 1.5 when the two last fields are set).
struct TdReportBody {
  std::array<uint8_t, 16> tee_tcb_svn{};  // [0] module ISVSVN (minor), [1] module major version
  std::array<uint8_t, 48> mr_seam{};
  std::array<uint8_t, 48> mr_signer_seam{};  // zero for Intel's TDX module
  std::array<uint8_t, 8> seam_attributes{};
  std::array<uint8_t, 8> td_attributes{};  // bit 0: DEBUG
  std::array<uint8_t, 8> xfam{};
  std::array<uint8_t, 48> mr_td{};
  std::array<uint8_t, 48> mr_config_id{};
  std::array<uint8_t, 48> mr_owner{};
  std::array<uint8_t, 48> mr_owner_config{};
  std::array<std::array<uint8_t, 48>, 4> rtmr{};
  std::array<uint8_t, 64> report_data{};
  // TD report 1.5 (v5 body type 3) only.
  std::optional<std::array<uint8_t, 16>> tee_tcb_svn2;
  std::optional<std::array<uint8_t, 48>> mr_service_td;

  bool debug() const { return (td_attributes[0] & 0x01) != 0; }
};

struct Quote {
  QuoteHeader header;
  std::optional<ReportBody> sgx_report;   // set when tee_type is SGX
  std::optional<TdReportBody> td_report;  // set when tee_type is TDX
  // The body type: v5's descriptor, or for v3/v4 the type the TEE implies (1 SGX, 2 TD 1.0).
  uint16_t body_type = 0;
  // Header and report body: the bytes the quote signature covers (a view into the input).
  absl::string_view signed_bytes;
  std::array<uint8_t, 64> signature{};
  std::array<uint8_t, 64> attestation_key{};
  ReportBody qe_report;
  absl::string_view qe_report_bytes;  // the 384 raw bytes the QE report signature covers
  std::array<uint8_t, 64> qe_report_signature{};
  absl::string_view qe_auth_data;
  uint16_t certification_data_type = 0;
  absl::string_view certification_data;
  size_t trailing_padding = 0;  // zero bytes after the signature data
};

// Parses a quote. The returned Quote holds views into `bytes`, which must outlive it.
// InvalidArgument, naming the field and offset, for anything that does not fit the layout:
// unknown version (only 3, 4 and 5), unknown TEE type, a TDX v3 quote, a v5 body type that is
// unknown or not of the header's TEE or whose size is not its type's, short or inconsistent
// lengths, a v4/v5 quote whose outer certification data is not type 6, non-zero bytes after the
// signature data.
absl::StatusOr<Quote> ParseQuote(absl::string_view bytes);

// Parses a 384-byte report body.
absl::StatusOr<ReportBody> ParseReportBody(absl::string_view bytes);

}  // namespace cn::dcap
