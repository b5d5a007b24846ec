#pragma once

// The SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1): the platform facts that
// TCB Info is matched against. Parsed from the extension's DER with DerReader, never trusted for
// anything until the certificate carrying it has been verified up to the root.

#include <openssl/x509.h>

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cn::dcap {

inline constexpr char kSgxExtensionOid[] = "1.2.840.113741.1.13.1";

struct PckExtension {
  std::array<uint8_t, 16> ppid{};
  std::array<uint8_t, 16> tcb_components{};  // SGX TCB components 1..16 (13.1.2.1..16)
  uint16_t pcesvn = 0;                       // 13.1.2.17
  std::array<uint8_t, 16> cpusvn{};          // 13.1.2.18
  std::array<uint8_t, 2> pce_id{};           // 13.1.3
  std::array<uint8_t, 6> fmspc{};            // 13.1.4
};

// Parses the contents of the extension's OCTET STRING (the DER SEQUENCE). Requires the TCB (all
// 18 entries), PCE-ID and FMSPC entries, each exactly once and of the right size; tolerates and
// skips entries it does not use (PPID is read when present; SGX type, platform instance ID and
// configuration are skipped). InvalidArgument names the entry and offset that is wrong.
absl::StatusOr<PckExtension> ParsePckExtension(absl::string_view der);

// Finds and parses the SGX extension of a certificate: NotFound when it has none,
// InvalidArgument when it has two or the extension does not parse.
absl::StatusOr<PckExtension> PckExtensionOf(X509* cert);
// The same for a certificate decoded by the verifier (certificate.h), with the same messages.
class Certificate;
absl::StatusOr<PckExtension> PckExtensionOf(const Certificate& cert);

}  // namespace cn::dcap
