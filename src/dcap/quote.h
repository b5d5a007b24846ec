#pragma once

// The SGX/TDX DCAP ECDSA quote (versions 3 and 4) as parsed, field by field, from untrusted
// bytes. Parsing checks only the layout (every length consistent, nothing past the end, nothing
// but zero padding after the signature data); whether the quote is *acceptable* (version, key
// type, TEE, vendor) and *authentic* is the verifier's job (verifier.h).
//
// Layout (all integers little-endian):
//   header (48) | report body (384 for SGX, 584 for a TDX TD report) | u32 signature data size |
//   signature data: ECDSA signature (64, r||s) | attestation key (64, X||Y) |
//     v3: QE report (384) | QE report signature (64) | u16 + QE auth data |
//         u16 certification data type | u32 size | certification data
//     v4: u16 type (6) | u32 size | { QE report | signature | auth data | inner certification data
//     }

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cn::dcap {

inline constexpr size_t kQuoteHeaderSize = 48;
inline constexpr size_t kSgxReportBodySize = 384;
inline constexpr size_t kTdReportBodySize = 584;
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

// The parts of a TDX TD report the `show` command prints; TDX is not verified yet.
struct TdReportBody {
  std::array<uint8_t, 16> tee_tcb_svn{};
  std::array<uint8_t, 48> mr_td{};
  std::array<uint8_t, 64> report_data{};
};

struct Quote {
  QuoteHeader header;
  std::optional<ReportBody> sgx_report;   // set when tee_type is SGX
  std::optional<TdReportBody> td_report;  // set when tee_type is TDX
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
// unknown version (only 3 and 4), unknown TEE type, short or inconsistent lengths, a v4 quote
// whose outer certification data is not type 6, non-zero bytes after the signature data.
absl::StatusOr<Quote> ParseQuote(absl::string_view bytes);

// Parses a 384-byte report body.
absl::StatusOr<ReportBody> ParseReportBody(absl::string_view bytes);

}  // namespace cn::dcap
