#pragma once

// `sgx-quote`: verify SGX DCAP quotes, show their fields, measure verification throughput.
//
//   sgx-quote verify QUOTE --collateral FILE [--at TIME] [--root-ca FILE] [--pck-chain FILE...]
//                    [--allow-expired-collateral] [--json] [--repeat N]
//   sgx-quote verify QUOTE --pccs-url URL [--cache FILE] ...   (collateral_command.h)
//   sgx-quote collateral QUOTE --pccs-url URL [--cache FILE]
//   sgx-quote show QUOTE [--json]
//   sgx-quote bench --collateral FILE --at TIME [--root-ca FILE] [--pck-chain FILE...]
//                   [--seconds S] [--cold] [--json] QUOTE...
//
// Exit status: 0 verified (any TCB status; Revoked is a rejection), 1 rejected (including a quote
// that does not parse), 2 usage or input error (unreadable file, bad flag, collateral that is not
// the documented JSON, a root CA or PCK chain file without a certificate). docs/sgx-quote.md has
// the whole contract.

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/os/clock.h"
#include "src/os/file_system.h"

namespace cn::sgxquote {

inline constexpr int kExitVerified = 0;
inline constexpr int kExitRejected = 1;
inline constexpr int kExitUsage = 2;

// Runs the command line `args` (args[0] is the program name). Files are read through `files`
// (host paths); `clock` gives the default verification time and measures --repeat and bench.
// `cpu_time`, when given, reads this process's CPU time: bench then also reports verifications
// per CPU second, the measure `openssl speed` uses, which stays fair on a loaded machine.
int RunCli(const std::vector<std::string>& args, const os::FileSystem& files,
           const os::Clock& clock, std::ostream& out, std::ostream& err,
           std::function<absl::Duration()> cpu_time = nullptr);

// "2025-07-01T00:00:00Z" (RFC 3339, any offset) or Unix seconds ("1751328000").
absl::StatusOr<absl::Time> ParseTimeArgument(absl::string_view text);

}  // namespace cn::sgxquote
