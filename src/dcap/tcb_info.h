#pragma once

// The signed TCB collateral: TCB Info (versions 2 and 3; v3 for SGX or TDX) and QE Identity
// (version 2, the SGX QE's or the TD QE's), parsed from
// the exact JSON text that Intel signed. Parsing does not check the signature (verifier.h does,
// over these same bytes, before trusting anything parsed here); it checks that every field the
// verdict depends on is present, of the right type and range, and names the one that is not.
//
// Both parsers read the text with simdjson first and answer from it only when every rule accepts
// the document so read; otherwise (text simdjson refuses, such as integers beyond 64 bits or
// nesting beyond 1024 levels; a double where an integer is due; a key the rules read given twice;
// any rule's error) nlohmann's DOM reads the text again and decides, so what is accepted and every
// error message are nlohmann's. The rules are written once, over both DOMs. The parsed structs
// compare by value, which those checks (tcb_info_test.cc, fuzz_collateral_parser) rely on.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cn::dcap {

enum class TcbStatus {
  kUpToDate,
  kSwHardeningNeeded,
  kConfigurationNeeded,
  kConfigurationAndSwHardeningNeeded,
  kOutOfDate,
  kOutOfDateConfigurationNeeded,
  kRevoked,
  // Verdict only, never a TCB Info level's status: a TD report 1.5 whose TDX module was updated
  // in place (TEE_TCB_SVN2 reaches the latest level) while the TD still runs with what the old
  // module set up (TEE_TCB_SVN is OutOfDate). Intel's QVL names them so; the TD should be
  // relaunched. Non-terminal, like OutOfDate (verifier.h, step 12).
  kTdRelaunchAdvised,
  kTdRelaunchAdvisedConfigurationNeeded,
};

// Intel's spelling ("UpToDate", "SWHardeningNeeded", "TDRelaunchAdvised", ...), as
// `sgx-quote --json` prints it.
absl::string_view TcbStatusName(TcbStatus status);
// The status of a TCB Info or identity level: one of the seven TCB Info statuses (UpToDate ..
// Revoked). The TDRelaunchAdvised statuses are refused, as Intel's QVL refuses them in TCB
// Info: the verifier derives them, collateral cannot assert them.
absl::StatusOr<TcbStatus> ParseTcbStatus(absl::string_view name);
// Whether a status asks for configuration (ConfigurationNeeded, ConfigurationAndSWHardeningNeeded,
// OutOfDateConfigurationNeeded, TDRelaunchAdvisedConfigurationNeeded): Intel's
// isConfigurationNeeded.
bool TcbStatusNeedsConfiguration(TcbStatus status);

struct TcbLevel {
  std::array<uint8_t, 16> components{};
  uint16_t pcesvn = 0;
  TcbStatus status = TcbStatus::kUpToDate;
  std::vector<std::string> advisory_ids;
  std::array<uint8_t, 16> tdx_components{};  // TDX TCB Info only (tdxtcbcomponents)
  bool operator==(const TcbLevel&) const = default;
};

// A level chosen by one ISVSVN: the QE's in QE Identity, the TDX module's in a module identity.
struct QeTcbLevel {
  uint16_t isvsvn = 0;
  TcbStatus status = TcbStatus::kUpToDate;  // UpToDate, OutOfDate or Revoked
  std::vector<std::string> advisory_ids;
  bool operator==(const QeTcbLevel&) const = default;
};

// TDX TCB Info's `tdxModule`: what MRSIGNERSEAM and SEAMATTRIBUTES of the TD report must be.
struct TdxModule {
  std::array<uint8_t, 48> mrsigner{};
  std::array<uint8_t, 8> attributes{};
  std::array<uint8_t, 8> attributes_mask{};
  bool operator==(const TdxModule&) const = default;
};

// One entry of `tdxModuleIdentities`: the module of one major version ("TDX_01"), with TCB
// levels by the module's ISVSVN.
struct TdxModuleIdentity {
  std::string id;
  TdxModule module;
  std::vector<QeTcbLevel> levels;  // best first
  bool operator==(const TdxModuleIdentity&) const = default;
};

struct TcbInfo {
  int version = 0;  // 2 or 3
  std::string id;   // "SGX" or "TDX" (v3); empty for v2, which is SGX
  absl::Time issue_date;
  absl::Time next_update;
  std::array<uint8_t, 6> fmspc{};
  std::array<uint8_t, 2> pce_id{};
  int tcb_evaluation_data_number = 0;
  std::vector<TcbLevel> levels;  // in Intel's order: best first
  // TDX only: tdxModule (required) and tdxModuleIdentities (may be absent: TDX 1.0 modules).
  TdxModule tdx_module;
  std::vector<TdxModuleIdentity> tdx_module_identities;

  bool is_tdx() const { return id == "TDX"; }
  bool operator==(const TcbInfo&) const = default;
};

// Parses the inner `tcbInfo` object. Accepts id "SGX" or "TDX" (v3) or no id (v2, SGX); for TDX
// requires tdxModule and 16 tdxtcbcomponents in every level; rejects unknown versions and ids
// and TCB types other than 0.
absl::StatusOr<TcbInfo> ParseTcbInfo(absl::string_view json_text);

struct QeIdentity {
  std::string id;  // "QE" (SGX), "TD_QE" (TDX), or another enclave's ("QVE"): refused
  int version = 0;
  absl::Time issue_date;
  absl::Time next_update;
  uint32_t miscselect = 0;
  uint32_t miscselect_mask = 0;
  std::array<uint8_t, 16> attributes{};
  std::array<uint8_t, 16> attributes_mask{};
  std::array<uint8_t, 32> mrsigner{};
  uint16_t isvprodid = 0;
  std::vector<QeTcbLevel> levels;  // best first
  bool operator==(const QeIdentity&) const = default;
};

// Parses the inner `enclaveIdentity` object (version 2).
absl::StatusOr<QeIdentity> ParseQeIdentity(absl::string_view json_text);

namespace internal {

// The nlohmann reading alone, without the simdjson fast path: the reference the fast path must
// agree with, for the differential tests (parsers_test.cc) and fuzz_collateral_parser. Production
// code calls ParseTcbInfo and ParseQeIdentity, which answer the same, faster.
absl::StatusOr<TcbInfo> ParseTcbInfoWithNlohmann(absl::string_view json_text);
absl::StatusOr<QeIdentity> ParseQeIdentityWithNlohmann(absl::string_view json_text);

// How many documents ParseTcbInfo and ParseQeIdentity answered from simdjson on this thread, so a
// test can tell that valid documents take the fast path.
uint64_t FastPathAnswers();

}  // namespace internal

}  // namespace cn::dcap
