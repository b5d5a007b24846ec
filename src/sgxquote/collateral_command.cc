#include "src/sgxquote/collateral_command.h"

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/dcap/crypto.h"
#include "src/dcap/quote.h"
#include "src/pccs/collateral_source.h"
#include "src/pccs/online_source.h"
#include "src/sgxquote/cli.h"

namespace cn::sgxquote {

CLI::Option* AddOnlineCollateralFlags(CLI::App* command, OnlineCollateralFlags* flags) {
  CLI::Option* url = command->add_option(
      "--pccs-url", flags->pccs_url,
      "fetch collateral from this Intel PCS/PCCS v4 service (e.g. https://pccs.example:8081)");
  command
      ->add_option("--cache", flags->cache,
                   "keep fetched collateral in this SQLite file and use it while it is valid")
      ->needs(url);
  command
      ->add_option("--pccs-ca", flags->pccs_ca,
                   "PEM CA certificates to trust for an HTTPS PCCS (default: the system store)")
      ->needs(url);
  command
      ->add_option("--upstream-timeout", flags->upstream_timeout_seconds,
                   "seconds to wait for the PCCS (default 5)")
      ->check(CLI::Range(0.001, 3600.0))
      ->needs(url);
  return url;
}

absl::StatusOr<dcap::Collateral> FetchCollateralForQuote(absl::string_view quote,
                                                         absl::string_view pck_chain_pem,
                                                         const OnlineCollateralFlags& flags,
                                                         const os::Clock& clock) {
  absl::StatusOr<pccs::PlatformId> platform = pccs::PlatformIdOfQuote(quote, pck_chain_pem);
  if (!platform.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot tell which collateral the quote needs: ",
                                                   platform.status().message()));
  }
  const absl::Duration timeout = absl::Seconds(flags.upstream_timeout_seconds);
  absl::StatusOr<std::unique_ptr<pccs::OnlineCollateralSource>> source =
      pccs::OnlineCollateralSource::Create({.pccs_url = flags.pccs_url,
                                            .cache_path = flags.cache,
                                            .upstream_timeout = timeout,
                                            .ca_file = flags.pccs_ca,
                                            .cache = {}},
                                           &clock);
  if (!source.ok()) {
    return absl::InvalidArgumentError(source.status().message());
  }
  // Four requests share the bound; a slow service gets the timeout once, not four times.
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> collateral =
      (*source)->Get(*platform, clock.Now() + timeout);
  if (!collateral.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no collateral for FMSPC ", dcap::HexEncode(platform->fmspc), " (",
                     pccs::PckCaName(platform->ca), " CA, ", pccs::TeeName(platform->tee),
                     ") from ", flags.pccs_url, ": ", collateral.status().message()));
  }
  return **collateral;
}

CLI::App* AddCollateralCommand(CLI::App* app, CollateralCommandFlags* flags) {
  CLI::App* command = app->add_subcommand(
      "collateral", "print the collateral JSON for a quote's platform, fetched from a PCCS");
  command->add_option("QUOTE", flags->quote, "quote file")->required();
  AddOnlineCollateralFlags(command, &flags->online)->required();
  command
      ->add_option("--pck-chain", flags->pck_chain,
                   "PEM files whose certificates form the PCK chain (leaf first)")
      ->expected(1, -1);
  return command;
}

int RunCollateralCommand(const CollateralCommandFlags& flags, const os::FileSystem& files,
                         const os::Clock& clock, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::string> quote = files.ReadFile(flags.quote);
  if (!quote.ok()) {
    err << "sgx-quote: cannot read quote file " << flags.quote << ": " << quote.status().message()
        << "\n";
    return kExitUsage;
  }
  if (absl::Status parsed = dcap::ParseQuote(*quote).status(); !parsed.ok()) {
    err << "sgx-quote: cannot parse the quote (unsupported_quote_format): " << parsed.message()
        << "\n";
    return kExitRejected;
  }
  std::string chain;
  for (const std::string& path : flags.pck_chain) {
    absl::StatusOr<std::string> pem = files.ReadFile(path);
    if (!pem.ok()) {
      err << "sgx-quote: cannot read PCK chain file " << path << ": " << pem.status().message()
          << "\n";
      return kExitUsage;
    }
    absl::StrAppend(&chain, *pem, "\n");
  }
  absl::StatusOr<dcap::Collateral> collateral =
      FetchCollateralForQuote(*quote, chain, flags.online, clock);
  if (!collateral.ok()) {
    err << "sgx-quote: " << collateral.status().message() << "\n";
    return kExitUsage;
  }
  out << collateral->ToJson() << "\n";
  return kExitVerified;
}

}  // namespace cn::sgxquote
