#include "src/sgxquote/cli.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/dcap/collateral.h"
#include "src/dcap/crypto.h"
#include "src/dcap/quote.h"
#include "src/dcap/trust_anchor.h"
#include "src/dcap/verifier.h"
#include "src/sgxquote/collateral_command.h"
#include "src/sgxquote/output.h"

namespace cn::sgxquote {
namespace {

struct VerifyFlags {
  std::string quote;
  std::vector<std::string> quotes;  // bench
  std::string collateral;
  std::string at;
  std::string root_ca;
  std::vector<std::string> pck_chain;
  bool allow_expired = false;
  bool json = false;
  int repeat = 1;
  bool repeat_given = false;
  double seconds = 3;
  bool cold = false;
  OnlineCollateralFlags online;  // verify --pccs-url instead of --collateral
};

// What verify and bench need, read and checked once; any failure is an input error (exit 2).
struct Inputs {
  std::optional<dcap::Collateral> collateral;
  std::unique_ptr<dcap::Verifier> verifier;
  dcap::VerifyOptions options;
};

absl::StatusOr<std::string> ReadInput(const os::FileSystem& files, absl::string_view path,
                                      absl::string_view what) {
  absl::StatusOr<std::string> content = files.ReadFile(path);
  if (!content.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", what, " ", path, ": ", content.status().message()));
  }
  return content;
}

absl::StatusOr<Inputs> LoadInputs(const VerifyFlags& flags, const os::FileSystem& files,
                                  const os::Clock& clock, absl::string_view quote = {}) {
  Inputs inputs;
  if (flags.collateral.empty() && !flags.online.pccs_url.empty()) {
    // Collateral for the quote's platform; fetched once the PCK chain options are read below.
  } else {
    ASSIGN_OR_RETURN(std::string collateral_text,
                     ReadInput(files, flags.collateral, "collateral file"));
    absl::StatusOr<dcap::Collateral> collateral = dcap::Collateral::FromJson(collateral_text);
    if (!collateral.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("collateral file ", flags.collateral, ": ", collateral.status().message()));
    }
    inputs.collateral = *std::move(collateral);
  }

  std::optional<dcap::TrustAnchor> anchor;
  if (!flags.root_ca.empty()) {
    ASSIGN_OR_RETURN(std::string root_text, ReadInput(files, flags.root_ca, "root CA file"));
    absl::StatusOr<dcap::TrustAnchor> parsed = dcap::TrustAnchor::FromCertificate(root_text);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("root CA file ", flags.root_ca, ": ", parsed.status().message()));
    }
    anchor = *std::move(parsed);
  } else {
    anchor = dcap::TrustAnchor::IntelSgxRoot();
  }
  inputs.verifier = std::make_unique<dcap::Verifier>(*std::move(anchor));

  for (const std::string& path : flags.pck_chain) {
    ASSIGN_OR_RETURN(std::string pem, ReadInput(files, path, "PCK chain file"));
    absl::Status parsed =
        dcap::ParsePemCertificates(pem, absl::StrCat("PCK chain file ", path)).status();
    if (!parsed.ok()) {
      return parsed;
    }
    absl::StrAppend(&inputs.options.pck_chain_pem, pem, "\n");
  }
  if (flags.at.empty()) {
    inputs.options.at = clock.Now();
  } else {
    ASSIGN_OR_RETURN(inputs.options.at, ParseTimeArgument(flags.at));
  }
  inputs.options.allow_expired_collateral = flags.allow_expired;
  if (!inputs.collateral.has_value()) {
    if (!dcap::ParseQuote(quote).ok()) {
      // No platform to ask for; the verifier rejects the quote (unsupported_quote_format)
      // before it looks at any collateral.
      inputs.collateral = dcap::Collateral::FromParts({});
    } else {
      ASSIGN_OR_RETURN(
          inputs.collateral,
          FetchCollateralForQuote(quote, inputs.options.pck_chain_pem, flags.online, clock));
    }
  }
  return inputs;
}

double PerSecond(uint64_t count, absl::Duration elapsed) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? static_cast<double>(count) / seconds : 0.0;
}

int RunVerify(const VerifyFlags& flags, const os::FileSystem& files, const os::Clock& clock,
              std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::string> quote = ReadInput(files, flags.quote, "quote file");
  if (!quote.ok()) {
    err << "sgx-quote: " << quote.status().message() << "\n";
    return kExitUsage;
  }
  if (flags.collateral.empty() == flags.online.pccs_url.empty()) {
    err << "sgx-quote: verify: give either --collateral FILE or --pccs-url URL\n";
    return kExitUsage;
  }
  absl::StatusOr<Inputs> inputs = LoadInputs(flags, files, clock, *quote);
  if (!inputs.ok()) {
    err << "sgx-quote: " << inputs.status().message() << "\n";
    return kExitUsage;
  }
  const absl::Time start = clock.Now();
  std::optional<dcap::VerificationResult> result;
  for (int i = 0; i < flags.repeat; ++i) {
    result.emplace(inputs->verifier->Verify(*quote, *inputs->collateral, inputs->options));
  }
  const absl::Duration elapsed = clock.Now() - start;
  if (flags.json) {
    OrderedJson json = ResultJson(*result);
    if (flags.repeat_given) {
      json["verifications_per_second"] = PerSecond(static_cast<uint64_t>(flags.repeat), elapsed);
    }
    out << json.dump(-1, ' ', false, OrderedJson::error_handler_t::replace) << "\n";
  } else {
    out << ResultText(*result);
    if (flags.repeat_given) {
      out << "  " << flags.repeat << " verifications, "
          << PerSecond(static_cast<uint64_t>(flags.repeat), elapsed) << " per second\n";
    }
  }
  return result->verified() ? kExitVerified : kExitRejected;
}

int RunShow(const VerifyFlags& flags, const os::FileSystem& files, std::ostream& out,
            std::ostream& err) {
  absl::StatusOr<std::string> bytes = ReadInput(files, flags.quote, "quote file");
  if (!bytes.ok()) {
    err << "sgx-quote: " << bytes.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<dcap::Quote> quote = dcap::ParseQuote(*bytes);
  if (!quote.ok()) {
    if (flags.json) {
      out << OrderedJson{{"error", "unsupported_quote_format"},
                         {"message", std::string(quote.status().message())}}
                 .dump(-1, ' ', false, OrderedJson::error_handler_t::replace)
          << "\n";
    } else {
      out << "cannot parse the quote (unsupported_quote_format): " << quote.status().message()
          << "\n";
    }
    return kExitRejected;
  }
  if (flags.json) {
    out << QuoteJson(*quote).dump(2, ' ', false, OrderedJson::error_handler_t::replace) << "\n";
  } else {
    out << QuoteText(*quote);
  }
  return kExitVerified;
}

int RunBench(const VerifyFlags& flags, const os::FileSystem& files, const os::Clock& clock,
             const std::function<absl::Duration()>& cpu_time, std::ostream& out,
             std::ostream& err) {
  std::vector<std::string> quotes;
  for (const std::string& path : flags.quotes) {
    absl::StatusOr<std::string> quote = ReadInput(files, path, "quote file");
    if (!quote.ok()) {
      err << "sgx-quote: " << quote.status().message() << "\n";
      return kExitUsage;
    }
    quotes.push_back(*std::move(quote));
  }
  absl::StatusOr<Inputs> inputs = LoadInputs(flags, files, clock);
  if (!inputs.ok()) {
    err << "sgx-quote: " << inputs.status().message() << "\n";
    return kExitUsage;
  }
  dcap::Verifier& verifier = *inputs->verifier;
  // Every quote must verify: a benchmark of rejections would measure the wrong thing.
  for (size_t i = 0; i < quotes.size(); ++i) {
    dcap::VerificationResult result =
        verifier.Verify(quotes[i], *inputs->collateral, inputs->options);
    if (!result.verified()) {
      err << "sgx-quote: bench: " << flags.quotes[i] << " does not verify: " << ResultText(result);
      return kExitRejected;
    }
  }
  const absl::Duration budget = absl::Seconds(flags.seconds);
  const absl::Time start = clock.Now();
  const absl::Duration cpu_start = cpu_time ? cpu_time() : absl::ZeroDuration();
  absl::Duration elapsed;
  uint64_t count = 0;
  do {
    for (const std::string& quote : quotes) {
      if (flags.cold) {
        verifier.ClearCaches();
      }
      dcap::VerificationResult result =
          verifier.Verify(quote, *inputs->collateral, inputs->options);
      if (!result.verified()) {
        err << "sgx-quote: bench: a verification failed: " << ResultText(result);
        return kExitRejected;
      }
      ++count;
    }
    elapsed = clock.Now() - start;
  } while (elapsed < budget);
  const double rate = PerSecond(count, elapsed);
  const double cpu_rate = cpu_time ? PerSecond(count, cpu_time() - cpu_start) : 0.0;
  if (flags.json) {
    OrderedJson json = OrderedJson::object();
    json["quotes"] = quotes.size();
    json["cold"] = flags.cold;
    json["verifications"] = count;
    json["seconds"] = absl::ToDoubleSeconds(elapsed);
    json["verifications_per_second"] = rate;
    json["microseconds_per_verification"] = rate > 0 ? 1e6 / rate : 0.0;
    if (cpu_time) {
      json["verifications_per_cpu_second"] = cpu_rate;
    }
    out << json.dump() << "\n";
  } else {
    out << count << " verifications of " << quotes.size() << " distinct quote(s) in "
        << absl::ToDoubleSeconds(elapsed) << " s"
        << (flags.cold ? " (caches cleared each time)" : "") << ": " << rate << " verifications/s, "
        << (rate > 0 ? 1e6 / rate : 0.0) << " us each";
    if (cpu_time) {
      out << "; " << cpu_rate << " per CPU second";
    }
    out << "\n";
  }
  return kExitVerified;
}

CLI::Option* AddVerificationFlags(CLI::App* command, VerifyFlags* flags) {
  CLI::Option* collateral =
      command->add_option("--collateral", flags->collateral, "collateral JSON file")->required();
  command->add_option("--root-ca", flags->root_ca,
                      "trust this root CA certificate (PEM or DER) instead of Intel's");
  command
      ->add_option("--pck-chain", flags->pck_chain,
                   "PEM files whose certificates form the PCK chain (leaf first)")
      ->expected(1, -1);
  command->add_flag("--allow-expired-collateral", flags->allow_expired,
                    "do not reject for validity periods; report collateral_expired instead");
  command->add_flag("--json", flags->json, "print JSON");
  return collateral;
}

}  // namespace

absl::StatusOr<absl::Time> ParseTimeArgument(absl::string_view text) {
  int64_t seconds = 0;
  if (!text.empty() && std::all_of(text.begin(), text.end(),
                                   [](char c) { return (c >= '0' && c <= '9') || c == '-'; })) {
    if (absl::SimpleAtoi(text, &seconds)) {
      return absl::FromUnixSeconds(seconds);
    }
  }
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, std::string(text), &time, &error)) {
    return time;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--at \"", text, "\" is neither an RFC 3339 time (2025-07-01T00:00:00Z) nor Unix seconds"));
}

int RunCli(const std::vector<std::string>& args, const os::FileSystem& files,
           const os::Clock& clock, std::ostream& out, std::ostream& err,
           std::function<absl::Duration()> cpu_time) {
  CLI::App app("Verify Intel SGX DCAP quotes against Intel collateral", "sgx-quote");
  app.require_subcommand(1);
  VerifyFlags flags;

  CLI::App* verify = app.add_subcommand("verify", "verify a quote; exit 0 verified, 1 rejected");
  verify->add_option("QUOTE", flags.quote, "quote file")->required();
  // verify takes --collateral FILE or --pccs-url URL (collateral_command.h).
  AddVerificationFlags(verify, &flags)
      ->required(false)
      ->excludes(AddOnlineCollateralFlags(verify, &flags.online));
  verify->add_option("--at", flags.at, "time to verify at: RFC 3339 or Unix seconds (default now)");
  CLI::Option* repeat =
      verify->add_option("--repeat", flags.repeat, "verify N times in this process")
          ->check(CLI::Range(1, 1000000000));

  CLI::App* show = app.add_subcommand("show", "print the fields of a quote");
  show->add_option("QUOTE", flags.quote, "quote file")->required();
  show->add_flag("--json", flags.json, "print JSON");

  CLI::App* bench = app.add_subcommand("bench", "measure verifications per second");
  bench->add_option("QUOTE", flags.quotes, "quote files, verified round-robin")->required();
  AddVerificationFlags(bench, &flags);
  bench->add_option("--at", flags.at, "time to verify at")->required();
  bench->add_option("--seconds", flags.seconds, "how long to run")->check(CLI::Range(0.0, 3600.0));
  bench->add_flag("--cold", flags.cold, "clear every cache before each verification");

  CollateralCommandFlags collateral_flags;
  CLI::App* collateral = AddCollateralCommand(&app, &collateral_flags);

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  if (!reversed.empty()) {
    reversed.pop_back();  // the program name
  }
  // CLI11 reports parse errors by exception; this is the one place they are caught.
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error, out, err);
    return code == 0 ? 0 : kExitUsage;
  }
  if (verify->parsed()) {
    flags.repeat_given = repeat->count() > 0;
    return RunVerify(flags, files, clock, out, err);
  }
  if (show->parsed()) {
    return RunShow(flags, files, out, err);
  }
  if (collateral->parsed()) {
    return RunCollateralCommand(collateral_flags, files, clock, out, err);
  }
  return RunBench(flags, files, clock, cpu_time, out, err);
}

}  // namespace cn::sgxquote
