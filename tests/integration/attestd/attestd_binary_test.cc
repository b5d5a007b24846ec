// sgx-attestd as a whole binary: exit status 2 naming the flag or file, SIGTERM with idle
// keep-alive connections open and with an attestation in flight, two keys in JWKS (rotation), the
// request size flag, over quotes and collateral written by sgx-simulate-quote (valid around now).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "src/attestd/request.h"
#include "src/dcap/crypto.h"
#include "src/dcap/tcb_info.h"
#include "src/dcap/trust_anchor.h"
#include "src/dcap/verifier.h"
#include "src/pccs/collateral_source.h"
#include "src/pccs/collateral_validity.h"
#include "src/testing/jws.h"
#include "src/testing/pccs_standin.h"
#include "src/testing/quote_builder.h"
#include "src/testing/subprocess.h"
#include "src/testing/temp_dir.h"
#include "src/testing/test_pki.h"
#include "tests/integration/deviceplugin/plugin_process.h"

namespace cn::attestd {
namespace {

using ::testing::HasSubstr;
using Process = deviceplugin::PluginProcess;

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

// Makes `pki`'s collateral valid from an hour ago for 30 days, as sgx-simulate-quote's is (the
// binary verifies at the real time).
void ValidAroundNow(testing::TestPki& pki) {
  const absl::Time now = absl::Now();
  pki.tcb_info.issue_date = pki.qe_identity.issue_date = now - absl::Hours(1);
  pki.tcb_info.next_update = pki.qe_identity.next_update = now + absl::Hours(24 * 30);
  pki.root_crl.this_update = pki.pck_crl.this_update = now - absl::Hours(1);
  pki.root_crl.next_update = pki.pck_crl.next_update = now + absl::Hours(24 * 30);
}

class AttestdBinaryTest : public ::testing::Test {
 protected:
  AttestdBinaryTest() {
    dir_.WriteFile("rsa.pem", testing::RsaKeyPem(2048));
    dir_.WriteFile("ec.pem", testing::EcKeyPem("P-256"));
    dir_.WriteFile("small.pem", testing::RsaKeyPem(1024));
    testing::ProcessResult simulated =
        testing::RunProcess({CN_SIMULATE_QUOTE_BINARY, "--out", Path("q"), "--count", "3"});
    EXPECT_EQ(simulated.exit_code, 0) << simulated.err;
  }

  std::string Path(const std::string& relative) const { return dir_.path() + "/" + relative; }

  std::vector<std::string> BaseArgs() const {
    return {"--listen",         "127.0.0.1:0",       "--root-ca", Path("q/root_ca.pem"),
            "--collateral-dir", Path("q/collateral")};
  }

  testing::ProcessResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), CN_ATTESTD_BINARY);
    return testing::RunProcess(args, absl::Seconds(20));
  }

  // Starts the daemon with BaseArgs() and `extra` and returns its port.
  std::unique_ptr<Process> Start(std::vector<std::string> extra, int* port) {
    std::vector<std::string> args = BaseArgs();
    args.insert(args.end(), extra.begin(), extra.end());
    return Launch(args, "attestd.log", port);
  }

  // Starts the daemon with `args` (logging to `log` in the temp dir) and returns its port, read
  // from the log line that announces it.
  std::unique_ptr<Process> Launch(const std::vector<std::string>& args, const std::string& log,
                                  int* port) {
    auto process = std::make_unique<Process>(CN_ATTESTD_BINARY, args, Path(log));
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    *port = 0;
    while (absl::Now() < deadline && process->running()) {
      const std::string text = process->Log();
      const size_t at = text.find("on 127.0.0.1:");
      if (at != std::string::npos) {
        *port = std::atoi(text.c_str() + at + 13);
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_GT(*port, 0) << process->Log();
    return process;
  }

  // Starts the daemon on collateral from the PCCS at `url` (with the cache file `cache` in the
  // temp dir; "" passes --cache ""), trusting the root of `pki`, and returns its port.
  std::unique_ptr<Process> LaunchOnline(const testing::TestPki& pki, const std::string& url,
                                        const std::string& log, int* port,
                                        const std::vector<std::string>& extra = {},
                                        const std::string& cache = "cache.db") {
    dir_.WriteFile("pki_root.pem", pki.RootPem());
    std::vector<std::string> args = {
        "--listen",      "127.0.0.1:0", "--root-ca", Path("pki_root.pem"),
        "--pccs-url",    url,           "--cache",   cache.empty() ? "" : Path(cache),
        "--signing-key", Path("ec.pem")};
    args.insert(args.end(), extra.begin(), extra.end());
    return Launch(args, log, port);
  }

  static std::string Body(const std::string& quote) {
    return absl::StrCat(R"({"quote": ")", EncodeBase64Url(quote), "\"}");
  }

  testing::TempDir dir_;
};

TEST_F(AttestdBinaryTest, UnusableInputsExit2NamingTheFlagOrFile) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  dir_.WriteFile("bad/broken.json", "{\"tcb_info\": 1}");
  dir_.WriteFile("policy.txt", "version=1.0; authorizationrules { => nonsense(); };");
  const std::vector<Case> cases = {
      {{"--collateral-dir", Path("q/collateral")}, "--signing-key: required"},
      {{"--signing-key", Path("missing.pem"), "--collateral-dir", Path("q/collateral")},
       "--signing-key " + Path("missing.pem")},
      {{"--signing-key", Path("small.pem"), "--collateral-dir", Path("q/collateral")},
       "an RSA key of 1024 bits"},
      {{"--signing-key", Path("q/root_ca.pem"), "--collateral-dir", Path("q/collateral")},
       "not a PEM private key"},
      {{"--signing-key", Path("rsa.pem"), "--signing-cert", Path("q/root_ca.pem"),
        "--collateral-dir", Path("q/collateral")},
       "--signing-cert " + Path("q/root_ca.pem") + ": its public key is not the key"},
      {{"--signing-key", Path("rsa.pem"), "--collateral-dir", Path("bad")},
       Path("bad/broken.json")},
      {{"--signing-key", Path("rsa.pem"), "--collateral-dir", Path("q/collateral"), "--root-ca",
        Path("rsa.pem")},
       "--root-ca " + Path("rsa.pem")},
      {{"--signing-key", Path("rsa.pem"), "--collateral-dir", Path("q/collateral"), "--policy",
        Path("policy.txt")},
       Path("policy.txt") + ": line 1, column 38: expected an action"},
      {{"--signing-key", Path("rsa.pem"), "--collateral-dir", Path("q/collateral"),
        "--token-lifetime", "soon"},
       "--token-lifetime"},
      {{"--signing-key", Path("rsa.pem"), "--collateral-dir", Path("q/collateral"), "--tls-cert",
        Path("missing.pem"), "--tls-key", Path("rsa.pem"), "--listen", "127.0.0.1:0"},
       "--tls-cert " + Path("missing.pem")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    testing::ProcessResult result = Run(c.args);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_THAT(result.err, HasSubstr(c.message));
  }
}

TEST_F(AttestdBinaryTest, TwoKeysArePublishedAndTheFirstSigns) {
  int port = 0;
  auto process = Start({"--signing-key", Path("ec.pem"), "--signing-key", Path("rsa.pem")}, &port);
  httplib::Client client("127.0.0.1", port);
  const nlohmann::json jwks = nlohmann::json::parse(client.Get("/certs")->body);
  ASSERT_EQ(jwks["keys"].size(), 2u);
  for (int i = 0; i < 3; ++i) {
    auto result =
        client.Post("/attest/SgxEnclave?api-version=2022-08-01",
                    Body(ReadFile(Path(absl::StrCat("q/quote-", i, ".bin")))), "application/json");
    ASSERT_TRUE(result);
    ASSERT_EQ(result->status, 200) << result->body;
    auto verified =
        testing::VerifyJws(nlohmann::json::parse(result->body)["token"].get<std::string>(), jwks);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_EQ(verified->header["alg"], "ES256");
    EXPECT_EQ(verified->header["kid"], jwks["keys"][0]["kid"]);
    EXPECT_EQ(verified->payload["iss"], absl::StrCat("http://127.0.0.1:", port));
  }
  auto openid = client.Get("/.well-known/openid-configuration");
  EXPECT_EQ(nlohmann::json::parse(openid->body)["jwks_uri"],
            absl::StrCat("http://127.0.0.1:", port, "/certs"));
}

TEST_F(AttestdBinaryTest, SigtermExits0Within2sWithIdleKeepAliveConnectionsOpen) {
  int port = 0;
  auto process = Start({"--signing-key", Path("rsa.pem")}, &port);
  std::vector<std::unique_ptr<httplib::Client>> idle;
  for (int i = 0; i < 3; ++i) {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
    client->set_keep_alive(true);
    auto result = client->Post("/attest/SgxEnclave?api-version=2022-08-01",
                               Body(ReadFile(Path("q/quote-0.bin"))), "application/json");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200);
    idle.push_back(std::move(client));  // the connection stays open, idle
  }
  const absl::Time start = absl::Now();
  ASSERT_EQ(kill(process->pid(), SIGTERM), 0);
  std::optional<int> status = process->WaitForExit(absl::Seconds(5));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0) << process->Log();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

// An attestation in flight (its collateral comes from a PCCS that answers after 800 ms) when
// SIGTERM arrives, beside an idle keep-alive connection: the attestation is answered 200 and
// the process exits 0 within 2 s.
TEST_F(AttestdBinaryTest, SigtermDrainsTheAttestationInFlight) {
  testing::TestPki pki;
  ValidAroundNow(pki);
  const std::string quote = testing::QuoteBuilder(pki).Build();
  testing::PccsStandin standin;
  standin.Serve(*pccs::PlatformIdOfQuote(quote), pki.BuildCollateral());
  standin.set_delay(absl::Milliseconds(800));
  int port = 0;
  auto process = LaunchOnline(pki, standin.url(), "attestd-pccs.log", &port);
  ASSERT_GT(port, 0);
  httplib::Client idle("127.0.0.1", port);
  idle.set_keep_alive(true);
  ASSERT_EQ(idle.Get("/healthz")->status, 200);

  int status = 0;
  std::thread attest([&] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(10, 0);
    auto result =
        client.Post("/attest/SgxEnclave?api-version=2022-08-01", Body(quote), "application/json");
    status = result ? result->status : -1;
  });
  // SIGTERM once the service has asked the PCCS (the attestation is then in its handler).
  const absl::Time asked_deadline = absl::Now() + absl::Seconds(5);
  while (standin.request_count() == 0 && absl::Now() < asked_deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_GT(standin.request_count(), 0);
  const absl::Time start = absl::Now();
  ASSERT_EQ(kill(process->pid(), SIGTERM), 0);
  std::optional<int> exit_status = process->WaitForExit(absl::Seconds(5));
  attest.join();
  ASSERT_TRUE(exit_status.has_value());
  EXPECT_EQ(*exit_status, 0) << process->Log();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(status, 200) << process->Log();
}

// An FMSPC the PCCS does not know (404) is remembered for a minute (docs/collateral.md): a
// stream of quotes from that platform costs one upstream request, not one each; with a cache
// file and with --cache "" (in memory only) alike.
TEST_F(AttestdBinaryTest, AnUnknownPlatformCostsOneUpstreamRequestNotOnePerAttestation) {
  testing::TestPki pki;
  const std::string quote = testing::QuoteBuilder(pki).Build();
  for (const std::string cache : {"cache.db", ""}) {
    SCOPED_TRACE("--cache " + cache);
    testing::PccsStandin standin;  // serves nothing: every FMSPC is unknown
    int port = 0;
    auto process = LaunchOnline(
        pki, standin.url(), absl::StrCat("attestd-unknown", cache.empty() ? "-memory" : "", ".log"),
        &port, {}, cache);
    ASSERT_GT(port, 0);
    httplib::Client client("127.0.0.1", port);
    for (int i = 0; i < 5; ++i) {
      auto result =
          client.Post("/attest/SgxEnclave?api-version=2022-08-01", Body(quote), "application/json");
      ASSERT_TRUE(result);
      EXPECT_EQ(result->status, 400) << result->body;
      const nlohmann::json body = nlohmann::json::parse(result->body, nullptr, false);
      ASSERT_TRUE(body.is_object()) << result->body;
      EXPECT_EQ(body["error"]["code"], "collateral_unavailable");
      EXPECT_THAT(body["error"]["message"].get<std::string>(), HasSubstr("404"));
    }
    EXPECT_EQ(standin.request_count(), 1);
    auto metrics = client.Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_THAT(metrics->body,
                HasSubstr("cn_attestd_collateral_cache_total{result=\"not_found_served\"} 4"));
  }
}

// With --cache "" the collateral is still cached, in memory: three attestations, four requests.
TEST_F(AttestdBinaryTest, WithoutACacheFileCollateralIsCachedInMemory) {
  testing::TestPki pki;
  ValidAroundNow(pki);
  const std::string quote = testing::QuoteBuilder(pki).Build();
  testing::PccsStandin standin;
  standin.Serve(*pccs::PlatformIdOfQuote(quote), pki.BuildCollateral());
  int port = 0;
  auto process = LaunchOnline(pki, standin.url(), "attestd-memory.log", &port, {}, "");
  ASSERT_GT(port, 0);
  EXPECT_THAT(process->Log(), HasSubstr("cache in memory only"));
  httplib::Client client("127.0.0.1", port);
  for (int i = 0; i < 3; ++i) {
    auto result =
        client.Post("/attest/SgxEnclave?api-version=2022-08-01", Body(quote), "application/json");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200) << result->body;
  }
  EXPECT_EQ(standin.request_count(), 4);
}

TEST_F(AttestdBinaryTest, MaxRequestBytesIsEnforced) {
  int port = 0;
  auto process = Start({"--signing-key", Path("rsa.pem"), "--max-request-bytes", "2048"}, &port);
  httplib::Client client("127.0.0.1", port);
  auto result = client.Post("/attest/SgxEnclave?api-version=2022-08-01",
                            Body(ReadFile(Path("q/quote-0.bin"))), "application/json");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 413);
  EXPECT_EQ(client.Get("/healthz")->status, 200);
}

// The binary's own reloader (1 s poll and inotify): each of the three ways a policy file changes
// is in force within 5 s, and a policy that does not parse is logged with its line and column
// while the previous one stays.
TEST_F(AttestdBinaryTest, PolicyFileChangesAreInstalledWithin5s) {
  const std::string permit = "version=1.0; authorizationrules { => permit(); }; issuancerules { };";
  const std::string deny = "version=1.0; authorizationrules { => deny(); }; issuancerules { };";
  // A ConfigMap volume: policy.txt -> ..data/policy.txt, ..data -> ..<timestamp>.
  dir_.WriteFile("cm/..2026_01_01_a/policy.txt", permit);
  ASSERT_EQ(symlink("..2026_01_01_a", Path("cm/..data").c_str()), 0);
  ASSERT_EQ(symlink("..data/policy.txt", Path("cm/policy.txt").c_str()), 0);
  dir_.WriteFile("policy.txt", permit);
  const std::string body = Body(ReadFile(Path("q/quote-0.bin")));

  // Attests until the answer is `want` or 5 s have passed; the last status.
  auto status_within_5s = [&](httplib::Client& client, int want) {
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    int status = 0;
    while (absl::Now() < deadline) {
      auto result =
          client.Post("/attest/SgxEnclave?api-version=2022-08-01", body, "application/json");
      status = result ? result->status : -1;
      if (status == want) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return status;
  };

  int port = 0;
  auto process = Start({"--signing-key", Path("rsa.pem"), "--policy", Path("policy.txt")}, &port);
  ASSERT_GT(port, 0);
  httplib::Client client("127.0.0.1", port);
  EXPECT_EQ(status_within_5s(client, 200), 200);
  // Edited in place: deny.
  std::ofstream(Path("policy.txt"), std::ios::trunc) << deny;
  EXPECT_EQ(status_within_5s(client, 403), 403);
  // Renamed over: permit again.
  dir_.WriteFile("policy.new", permit);
  ASSERT_EQ(std::rename(Path("policy.new").c_str(), Path("policy.txt").c_str()), 0);
  EXPECT_EQ(status_within_5s(client, 200), 200);
  // A broken edit is refused with its line and column, and the permit policy stays.
  std::ofstream(Path("policy.txt"), std::ios::trunc) << "version=1.0;\nauthorizationrules {";
  const absl::Time logged_deadline = absl::Now() + absl::Seconds(5);
  while (process->Log().find("line 2, column") == std::string::npos &&
         absl::Now() < logged_deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  const std::string log = process->Log();
  EXPECT_THAT(log, HasSubstr("policy refused, the previous one stays"));
  EXPECT_THAT(log, HasSubstr("line 2, column"));
  EXPECT_EQ(
      client.Post("/attest/SgxEnclave?api-version=2022-08-01", body, "application/json")->status,
      200);

  // The ConfigMap swap, on a second instance reading through the symlinks.
  int cm_port = 0;
  auto configmap = Launch(
      {"--listen", "127.0.0.1:0", "--root-ca", Path("q/root_ca.pem"), "--collateral-dir",
       Path("q/collateral"), "--signing-key", Path("rsa.pem"), "--policy", Path("cm/policy.txt")},
      "attestd-cm.log", &cm_port);
  ASSERT_GT(cm_port, 0);
  httplib::Client cm_client("127.0.0.1", cm_port);
  EXPECT_EQ(status_within_5s(cm_client, 200), 200);
  dir_.WriteFile("cm/..2026_01_01_b/policy.txt", deny);
  ASSERT_EQ(symlink("..2026_01_01_b", Path("cm/..data_tmp").c_str()), 0);
  ASSERT_EQ(std::rename(Path("cm/..data_tmp").c_str(), Path("cm/..data").c_str()), 0);
  EXPECT_EQ(status_within_5s(cm_client, 403), 403);
}

// sgx-simulate-quote (issue 9, item 6) writes what its flags say: a root, collateral valid from
// an hour ago for 30 days, and a quote that verifies against them with the given identity,
// report data and TCB status; bad flags exit 2 naming the flag.
TEST_F(AttestdBinaryTest, SimulateQuoteWritesWhatItsFlagsSay) {
  dir_.WriteFile("runtime.json", R"({"key": "demo"})");
  const std::string mrenclave(64, 'a');
  const std::string mrsigner = "cd" + std::string(62, '0');
  const absl::Time before = absl::Now();
  testing::ProcessResult simulated = testing::RunProcess(
      {CN_SIMULATE_QUOTE_BINARY, "--out", Path("s"), "--runtime-data", Path("runtime.json"),
       "--mrenclave", mrenclave, "--mrsigner", mrsigner, "--product-id", "7", "--svn", "3",
       "--debug", "--tcb-status", "OutOfDate"});
  ASSERT_EQ(simulated.exit_code, 0) << simulated.err;
  const absl::Time after = absl::Now();
  absl::StatusOr<dcap::TrustAnchor> root =
      dcap::TrustAnchor::FromCertificate(ReadFile(Path("s/root_ca.pem")));
  ASSERT_TRUE(root.ok()) << root.status();
  const std::string quote = ReadFile(Path("s/quote.bin"));
  absl::StatusOr<pccs::PlatformId> platform = pccs::PlatformIdOfQuote(quote);
  ASSERT_TRUE(platform.ok()) << platform.status();
  absl::StatusOr<dcap::Collateral> collateral = dcap::Collateral::FromJson(
      ReadFile(Path(absl::StrCat("s/collateral/", dcap::HexEncode(platform->fmspc), ".json"))));
  ASSERT_TRUE(collateral.ok()) << collateral.status();
  absl::StatusOr<pccs::CollateralValidity> validity = pccs::ValidityOf(*collateral);
  ASSERT_TRUE(validity.ok()) << validity.status();
  // Whole seconds in the collateral's dates.
  EXPECT_GE(validity->not_before, before - absl::Hours(1) - absl::Seconds(1));
  EXPECT_LE(validity->not_before, after - absl::Hours(1));
  EXPECT_GE(validity->next_update, before + absl::Hours(24 * 30) - absl::Seconds(1));
  EXPECT_LE(validity->next_update, after + absl::Hours(24 * 30));

  dcap::Verifier verifier(*std::move(root));
  dcap::VerifyOptions options;
  options.at = absl::Now();
  const dcap::VerificationResult result = verifier.Verify(quote, *collateral, options);
  ASSERT_TRUE(result.verified()) << result.rejection().message;
  const dcap::Verdict& verdict = result.verdict();
  EXPECT_EQ(dcap::TcbStatusName(verdict.tcb_status), "OutOfDate");
  EXPECT_THAT(verdict.advisory_ids, ::testing::Contains("INTEL-SA-00615"));
  EXPECT_EQ(dcap::HexEncode(verdict.report.mr_enclave), mrenclave);
  EXPECT_EQ(dcap::HexEncode(verdict.report.mr_signer), mrsigner);
  EXPECT_EQ(verdict.report.isv_prod_id, 7);
  EXPECT_EQ(verdict.report.isv_svn, 3);
  EXPECT_EQ(verdict.report.attributes[0] & 0x02, 0x02);  // DEBUG
  const dcap::Sha256Digest digest = dcap::Sha256(ReadFile(Path("runtime.json")));
  EXPECT_TRUE(std::equal(digest.begin(), digest.end(), verdict.report.report_data.begin()));
  EXPECT_TRUE(std::all_of(verdict.report.report_data.begin() + 32, verdict.report.report_data.end(),
                          [](uint8_t b) { return b == 0; }));
  // Outside the window the collateral is expired.
  for (absl::Duration offset : {absl::Hours(-2), absl::Hours(24 * 31)}) {
    options.at = absl::Now() + offset;
    const dcap::VerificationResult outside = verifier.Verify(quote, *collateral, options);
    ASSERT_FALSE(outside.verified());
    EXPECT_EQ(outside.rejection().code, dcap::ErrorCode::kCollateralExpired);
  }

  // --report-data as given (zero-padded), a production enclave by default, UpToDate.
  simulated = testing::RunProcess(
      {CN_SIMULATE_QUOTE_BINARY, "--out", Path("r"), "--report-data", "0102ff"});
  ASSERT_EQ(simulated.exit_code, 0) << simulated.err;
  const std::string plain = ReadFile(Path("r/quote.bin"));
  absl::StatusOr<dcap::TrustAnchor> plain_root =
      dcap::TrustAnchor::FromCertificate(ReadFile(Path("r/root_ca.pem")));
  ASSERT_TRUE(plain_root.ok());
  dcap::Verifier plain_verifier(*std::move(plain_root));
  options.at = absl::Now();
  const dcap::VerificationResult plain_result = plain_verifier.Verify(
      plain,
      *dcap::Collateral::FromJson(ReadFile(Path(absl::StrCat(
          "r/collateral/", dcap::HexEncode(pccs::PlatformIdOfQuote(plain)->fmspc), ".json")))),
      options);
  ASSERT_TRUE(plain_result.verified()) << plain_result.rejection().message;
  EXPECT_EQ(dcap::TcbStatusName(plain_result.verdict().tcb_status), "UpToDate");
  EXPECT_EQ(plain_result.verdict().report.attributes[0] & 0x02, 0);
  EXPECT_EQ(dcap::HexEncode(plain_result.verdict().report.report_data),
            "0102ff" + std::string(122, '0'));

  // --count: distinct quotes (the fixture wrote three).
  EXPECT_NE(ReadFile(Path("q/quote-0.bin")), ReadFile(Path("q/quote-1.bin")));
  EXPECT_NE(ReadFile(Path("q/quote-1.bin")), ReadFile(Path("q/quote-2.bin")));

  for (const auto& [args, flag] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--tcb-status", "Fine"}, "--tcb-status"},
           {{"--mrenclave", "zz"}, "--mrenclave"},
           {{"--svn", "70000"}, "--svn"},
           {{"--runtime-data", Path("missing.json")}, "--runtime-data"},
       }) {
    std::vector<std::string> argv = {CN_SIMULATE_QUOTE_BINARY, "--out", Path("bad")};
    argv.insert(argv.end(), args.begin(), args.end());
    const testing::ProcessResult bad = testing::RunProcess(argv);
    EXPECT_EQ(bad.exit_code, 2) << flag;
    EXPECT_THAT(bad.err, HasSubstr(flag));
  }
}

// Collateral from a PCCS stand-in through the whole binary: the cache file survives a restart
// and serves while the PCCS is gone; a PCCS slower than --upstream-timeout gets a 503 at that
// timeout, not later.
TEST_F(AttestdBinaryTest, TheCacheSurvivesARestartAndOutagesAndASlowPccsIsCutOffAtTheTimeout) {
  testing::TestPki pki;
  ValidAroundNow(pki);
  const std::string body = Body(testing::QuoteBuilder(pki).Build());
  auto attest = [&](int port) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(10, 0);
    auto result =
        client.Post("/attest/SgxEnclave?api-version=2022-08-01", body, "application/json");
    return result ? result->status : -1;
  };
  auto stop = [](Process& process) {
    ASSERT_EQ(kill(process.pid(), SIGTERM), 0);
    EXPECT_EQ(process.WaitForExit(absl::Seconds(5)), std::optional<int>(0)) << process.Log();
  };

  auto standin = std::make_unique<testing::PccsStandin>();
  standin->Serve(*pccs::PlatformIdOfQuote(testing::QuoteBuilder(pki).Build()),
                 pki.BuildCollateral());
  const std::string url = standin->url();
  int port = 0;
  auto first = LaunchOnline(pki, url, "attestd-first.log", &port);
  ASSERT_GT(port, 0);
  EXPECT_EQ(attest(port), 200) << first->Log();
  EXPECT_EQ(standin->request_count(), 4);
  stop(*first);

  standin.reset();  // the PCCS is gone; the restarted service has only its cache file
  auto second = LaunchOnline(pki, url, "attestd-second.log", &port);
  ASSERT_GT(port, 0);
  EXPECT_EQ(attest(port), 200) << second->Log();
  httplib::Client metrics("127.0.0.1", port);
  auto scraped = metrics.Get("/metrics");
  ASSERT_TRUE(scraped);
  EXPECT_THAT(scraped->body, HasSubstr("cn_attestd_collateral_cache_total{result=\"hit\"} 1"));
  EXPECT_THAT(scraped->body, HasSubstr("cn_attestd_collateral_cache_total{result=\"miss\"} 0"));
  stop(*second);

  testing::PccsStandin slow;
  slow.Serve(*pccs::PlatformIdOfQuote(testing::QuoteBuilder(pki).Build()), pki.BuildCollateral());
  slow.set_delay(absl::Seconds(30));
  auto third = LaunchOnline(pki, slow.url(), "attestd-slow.log", &port,
                            {"--upstream-timeout", "1s"}, "cache-empty.db");
  ASSERT_GT(port, 0);
  const absl::Time start = absl::Now();
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  auto result = client.Post("/attest/SgxEnclave?api-version=2022-08-01", body, "application/json");
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 503) << result->body;
  EXPECT_THAT(result->body, HasSubstr("collateral_unavailable"));
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Milliseconds(1900));
  // The fetch the request stopped waiting for ends at its own bound and is counted as failed,
  // with its latency in the upstream histogram.
  std::string slow_metrics;
  for (const absl::Time until = absl::Now() + absl::Seconds(5); absl::Now() < until;) {
    auto answer = client.Get("/metrics");
    slow_metrics = answer ? answer->body : "";
    if (slow_metrics.find("cn_attestd_collateral_upstream_fetches_total{outcome=\"failed\"} 1") !=
        std::string::npos) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_THAT(slow_metrics,
              HasSubstr("cn_attestd_collateral_upstream_fetches_total{outcome=\"failed\"} 1"));
  EXPECT_THAT(slow_metrics, HasSubstr("cn_attestd_collateral_upstream_seconds_count 1"));
  slow.ReleaseStalled();
  stop(*third);
}

// --log-format json: every line the service writes is one JSON object (time, level, msg), from
// start to the SIGTERM drain.
TEST_F(AttestdBinaryTest, JsonLogsAreOneObjectPerLine) {
  dir_.WriteFile("policy.txt", "version=1.0; authorizationrules { => permit(); };");
  int port = 0;
  auto process = Start(
      {"--signing-key", Path("rsa.pem"), "--log-format", "json", "--policy", Path("policy.txt")},
      &port);
  ASSERT_GT(port, 0);
  // A refused reload logs a message with quotes and a newline-free position in it.
  std::ofstream(Path("policy.txt"), std::ios::trunc) << "version=1.0; \"broken";
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (process->Log().find("policy refused") == std::string::npos && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(kill(process->pid(), SIGTERM), 0);
  ASSERT_EQ(process->WaitForExit(absl::Seconds(5)), std::optional<int>(0));
  std::vector<std::string> messages;
  for (absl::string_view line : absl::StrSplit(process->Log(), '\n', absl::SkipEmpty())) {
    const nlohmann::json entry = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(entry.is_object()) << line;
    EXPECT_TRUE(entry.contains("time") && entry.contains("level")) << line;
    ASSERT_TRUE(entry["msg"].is_string()) << line;
    messages.push_back(entry["msg"]);
  }
  auto logged = [&](const std::string& text) {
    return std::any_of(messages.begin(), messages.end(),
                       [&](const std::string& m) { return m.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(logged("serving HTTP on 127.0.0.1:"));
  EXPECT_TRUE(logged("policy refused, the previous one stays"));
  EXPECT_TRUE(logged("received SIGTERM"));
}

// --signing-cert belongs to the --signing-key before it: that key's JWK carries the given
// certificate as x5c[0]; a key without one gets a self-signed certificate of its own.
TEST_F(AttestdBinaryTest, AGivenSigningCertIsPublishedForTheKeyBeforeIt) {
  const testing::ProcessResult made = testing::RunProcess(
      {"/usr/bin/openssl", "req", "-x509", "-key", Path("rsa.pem"), "-out", Path("rsa.crt"),
       "-days", "2", "-subj", "/CN=given signing certificate"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  // x5c is the standard base64 of the DER: the PEM body without its lines' breaks.
  std::string given;
  for (absl::string_view line : absl::StrSplit(ReadFile(Path("rsa.crt")), '\n')) {
    if (!line.empty() && !absl::StartsWith(line, "-----")) {
      absl::StrAppend(&given, line);
    }
  }
  int port = 0;
  auto process = Start({"--signing-key", Path("ec.pem"), "--signing-key", Path("rsa.pem"),
                        "--signing-cert", Path("rsa.crt")},
                       &port);
  ASSERT_GT(port, 0);
  httplib::Client client("127.0.0.1", port);
  const nlohmann::json jwks = nlohmann::json::parse(client.Get("/certs")->body);
  ASSERT_EQ(jwks["keys"].size(), 2u);
  EXPECT_EQ(jwks["keys"][0]["kty"], "EC");
  EXPECT_EQ(jwks["keys"][1]["kty"], "RSA");
  EXPECT_EQ(jwks["keys"][1]["x5c"], nlohmann::json::array({given}));
  ASSERT_EQ(jwks["keys"][0]["x5c"].size(), 1u);
  EXPECT_NE(jwks["keys"][0]["x5c"][0], given);
}

// --root-ca takes the root as PEM or DER, as sgx-quote's does.
TEST_F(AttestdBinaryTest, RootCaMayBeDer) {
  const testing::ProcessResult converted =
      testing::RunProcess({"/usr/bin/openssl", "x509", "-in", Path("q/root_ca.pem"), "-outform",
                           "DER", "-out", Path("root_ca.der")});
  ASSERT_EQ(converted.exit_code, 0) << converted.err;
  int port = 0;
  auto process =
      Launch({"--listen", "127.0.0.1:0", "--root-ca", Path("root_ca.der"), "--collateral-dir",
              Path("q/collateral"), "--signing-key", Path("rsa.pem")},
             "attestd-der.log", &port);
  ASSERT_GT(port, 0);
  httplib::Client client("127.0.0.1", port);
  auto result = client.Post("/attest/SgxEnclave?api-version=2022-08-01",
                            Body(ReadFile(Path("q/quote-0.bin"))), "application/json");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200) << result->body;
}

}  // namespace
}  // namespace cn::attestd
