// sgx-simulate-quote: quotes for tests and demos, from a throw-away test PKI (src/testing's
// TestPki and QuoteBuilder). A test and demo tool, not a production binary: its root is made up
// on each run, so only a verifier told to trust DIR/root_ca.pem (--root-ca) accepts its quotes.
//
//   sgx-simulate-quote --out DIR [--report-data HEX | --runtime-data FILE] [--mrenclave HEX]
//     [--mrsigner HEX] [--product-id N] [--svn N] [--debug] [--tcb-status STATUS] [--count N]
//
// Writes DIR/root_ca.pem, DIR/collateral/<fmspc>.json (sgx-quote's collateral layout, valid
// from an hour ago for 30 days) and DIR/quote.bin, or DIR/quote-0.bin .. quote-<N-1>.bin for
// --count N (distinct quotes of one platform: each is signed anew). Exit 2 naming the flag on
// bad input.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/dcap/crypto.h"
#include "src/dcap/tcb_info.h"
#include "src/testing/quote_builder.h"
#include "src/testing/test_pki.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "sgx-simulate-quote: %s\n", message.c_str());
  return 2;
}

// Hex of at most `size` bytes into `out` (zero-padded on the right).
template <size_t N>
bool FillHex(const std::string& hex, std::array<uint8_t, N>& out, std::string& error,
             const char* flag) {
  absl::StatusOr<std::string> bytes = cn::dcap::HexDecode(hex);
  if (!bytes.ok() || bytes->size() > N) {
    error = absl::StrCat(flag, ": \"", hex, "\" is not hex of at most ", N, " bytes");
    return false;
  }
  out.fill(0);
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return true;
}

bool WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << content;
  return static_cast<bool>(file);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Writes a test root, collateral valid around now, and SGX quotes signed by it.",
               "sgx-simulate-quote");
  std::string out, report_data, runtime_data, mrenclave, mrsigner;
  std::string tcb_status = "UpToDate";
  int product_id = 1, svn = 1, count = 0;
  bool debug = false;
  app.add_option("--out", out, "directory to write into (created)")->required();
  auto* report_option =
      app.add_option("--report-data", report_data, "report data, hex of up to 64 bytes");
  app.add_option("--runtime-data", runtime_data,
                 "a file whose SHA-256 becomes report_data[0:32] (MAA's runtime data binding)")
      ->excludes(report_option);
  app.add_option("--mrenclave", mrenclave, "MRENCLAVE, hex of 32 bytes");
  app.add_option("--mrsigner", mrsigner, "MRSIGNER, hex of 32 bytes");
  app.add_option("--product-id", product_id, "ISVPRODID (0..65535)")->capture_default_str();
  app.add_option("--svn", svn, "ISVSVN (0..65535)")->capture_default_str();
  app.add_flag("--debug", debug, "set the DEBUG attribute (a debuggable enclave)");
  app.add_option("--tcb-status", tcb_status,
                 "the platform's TCB status in the TCB Info (UpToDate, SWHardeningNeeded, "
                 "ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, "
                 "OutOfDateConfigurationNeeded, Revoked; not TDRelaunchAdvised or "
                 "TDRelaunchAdvisedConfigurationNeeded, which only a TD report 1.5 earns)")
      ->capture_default_str();
  app.add_option("--count", count, "write N distinct quotes quote-0.bin .. (1..100000)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& error) {
    return Fail(absl::StrCat(error.what(), " (see --help)"));
  }
  if (product_id < 0 || product_id > 65535) {
    return Fail(absl::StrCat("--product-id: ", product_id, " is not 0..65535"));
  }
  if (svn < 0 || svn > 65535) {
    return Fail(absl::StrCat("--svn: ", svn, " is not 0..65535"));
  }
  if (app.count("--count") > 0 && (count < 1 || count > 100000)) {
    return Fail(absl::StrCat("--count: ", count, " is not 1..100000"));
  }
  if (absl::StartsWith(tcb_status, "TDRelaunchAdvised")) {
    return Fail(absl::StrCat("--tcb-status: ", tcb_status,
                             " is a verdict the verifier derives for TD report 1.5 quotes, never "
                             "a TCB Info level's status; this tool writes SGX quotes"));
  }
  if (!cn::dcap::ParseTcbStatus(tcb_status).ok()) {
    return Fail(absl::StrCat("--tcb-status: \"", tcb_status, "\" is not one of Intel's statuses"));
  }

  cn::testing::TestPki pki;
  cn::testing::QuoteBuilder builder(pki);
  std::string error;
  builder.enclave.mr_enclave.fill(0xe5);
  builder.enclave.mr_signer.fill(0x5e);
  if ((!mrenclave.empty() &&
       !FillHex(mrenclave, builder.enclave.mr_enclave, error, "--mrenclave")) ||
      (!mrsigner.empty() && !FillHex(mrsigner, builder.enclave.mr_signer, error, "--mrsigner")) ||
      (!report_data.empty() &&
       !FillHex(report_data, builder.enclave.report_data, error, "--report-data"))) {
    return Fail(error);
  }
  if (!runtime_data.empty()) {
    std::ifstream file(runtime_data, std::ios::binary);
    if (!file) {
      return Fail(absl::StrCat("--runtime-data ", runtime_data, ": cannot be read"));
    }
    std::stringstream content;
    content << file.rdbuf();
    const cn::dcap::Sha256Digest digest = cn::dcap::Sha256(content.str());
    builder.enclave.report_data.fill(0);
    std::copy(digest.begin(), digest.end(), builder.enclave.report_data.begin());
  }
  builder.enclave.isv_prod_id = static_cast<uint16_t>(product_id);
  builder.enclave.isv_svn = static_cast<uint16_t>(svn);
  // SGX attributes: INIT and MODE64BIT, as a real enclave has; DEBUG on request.
  builder.enclave.attributes.fill(0);
  builder.enclave.attributes[0] = debug ? 0x07 : 0x05;

  // Collateral valid from an hour ago for 30 days.
  const absl::Time now = absl::Now();
  const absl::Time from = now - absl::Hours(1);
  const absl::Time until = now + absl::Hours(24 * 30);
  pki.tcb_info.issue_date = from;
  pki.tcb_info.next_update = until;
  pki.tcb_info.levels[0].status = tcb_status;
  if (tcb_status != "UpToDate") {
    pki.tcb_info.levels[0].advisory_ids = {"INTEL-SA-00615"};
  }
  pki.qe_identity.issue_date = from;
  pki.qe_identity.next_update = until;
  pki.root_crl.this_update = from;
  pki.root_crl.next_update = until;
  pki.pck_crl.this_update = from;
  pki.pck_crl.next_update = until;

  const std::filesystem::path dir(out);
  std::error_code ec;
  std::filesystem::create_directories(dir / "collateral", ec);
  if (ec) {
    return Fail(absl::StrCat("--out ", out, ": ", ec.message()));
  }
  const std::string fmspc = cn::dcap::HexEncode(pki.pck_extension.fmspc);
  bool ok = WriteFile(dir / "root_ca.pem", pki.RootPem()) &&
            WriteFile(dir / "collateral" / (fmspc + ".json"), pki.BuildCollateral().ToJson());
  if (count == 0) {
    ok = ok && WriteFile(dir / "quote.bin", builder.Build());
  } else {
    for (int i = 0; ok && i < count; ++i) {
      ok = WriteFile(dir / absl::StrCat("quote-", i, ".bin"), builder.Build());
    }
  }
  if (!ok) {
    return Fail(absl::StrCat("--out ", out, ": cannot write there"));
  }
  std::printf("wrote %s/root_ca.pem, %s/collateral/%s.json and %s (FMSPC %s, TCB %s)\n",
              out.c_str(), out.c_str(), fmspc.c_str(),
              count == 0 ? "quote.bin" : absl::StrCat(count, " quotes quote-N.bin").c_str(),
              fmspc.c_str(), tcb_status.c_str());
  return 0;
}
