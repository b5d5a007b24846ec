#pragma once

// Collateral from a PCS/PCCS v4 service for sgx-quote, so nobody assembles collateral by hand:
//
//   sgx-quote verify QUOTE --pccs-url URL [--cache FILE] [--pccs-ca FILE]
//                    [--upstream-timeout S] ...          (instead of --collateral FILE)
//   sgx-quote collateral QUOTE --pccs-url URL [--cache FILE] [--pccs-ca FILE]
//                    [--upstream-timeout S] [--pck-chain FILE...]
//
// `collateral` prints, for the quote's platform (FMSPC, PCK CA and TEE of its PCK certificate),
// the collateral JSON that `verify --collateral` reads, so the two verify alike. Exit status:
// 0 printed; 1 the quote does not parse (unsupported_quote_format); 2 usage or input errors,
// including collateral that cannot be had (the message says what the service answered).

#include <ostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/dcap/collateral.h"
#include "src/os/clock.h"
#include "src/os/file_system.h"

namespace cn::sgxquote {

struct OnlineCollateralFlags {
  std::string pccs_url;
  std::string cache;
  std::string pccs_ca;
  double upstream_timeout_seconds = 5;
};

// Adds --pccs-url, --cache, --pccs-ca and --upstream-timeout to `command`; returns --pccs-url.
CLI::Option* AddOnlineCollateralFlags(CLI::App* command, OnlineCollateralFlags* flags);

// The collateral for `quote`'s platform from flags.pccs_url (through flags.cache when given).
// `pck_chain_pem` stands in for the quote's chain when not empty. InvalidArgument with a message
// for the user when the platform cannot be read from the quote, the cache cannot be opened, or
// the service has no collateral in time.
absl::StatusOr<dcap::Collateral> FetchCollateralForQuote(absl::string_view quote,
                                                         absl::string_view pck_chain_pem,
                                                         const OnlineCollateralFlags& flags,
                                                         const os::Clock& clock);

struct CollateralCommandFlags {
  std::string quote;
  std::vector<std::string> pck_chain;
  OnlineCollateralFlags online;
};

// Registers the `collateral` subcommand on `app`, filling `flags` when parsed.
CLI::App* AddCollateralCommand(CLI::App* app, CollateralCommandFlags* flags);
int RunCollateralCommand(const CollateralCommandFlags& flags, const os::FileSystem& files,
                         const os::Clock& clock, std::ostream& out, std::ostream& err);

}  // namespace cn::sgxquote
