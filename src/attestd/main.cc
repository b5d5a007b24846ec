// sgx-attestd: the only place where the real OS objects and the collateral source are built.

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/attestd/collateral_metrics.h"
#include "src/attestd/flags.h"
#include "src/attestd/keys.h"
#include "src/attestd/policy_reloader.h"
#include "src/attestd/service.h"
#include "src/common/logging.h"
#include "src/common/stop_signals.h"
#include "src/dcap/trust_anchor.h"
#include "src/dcap/verifier.h"
#include "src/http/event_server.h"
#include "src/os/clock.h"
#include "src/os/file_watcher.h"
#include "src/os/host_file_system.h"
#include "src/pccs/directory_source.h"
#include "src/pccs/online_source.h"

namespace {

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "sgx-attestd: %s\n", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // Taken synchronously by the main thread (sigwait, below), blocked before any thread exists.
  const sigset_t signals = cn::common::BlockStopSignals();

  auto flags = cn::attestd::ParseFlags(std::vector<std::string>(argv, argv + argc));
  if (!flags.ok()) {
    return Fail(std::string(flags.status().message()), 2);
  }
  if (flags->help.has_value()) {
    std::fputs(flags->help->c_str(), stdout);
    return 0;
  }
  const cn::attestd::Options& options = flags->options;
  cn::common::ConfigureLogging(*cn::common::ParseLogFormat(options.log_format));
  cn::os::HostFileSystem files("/");
  cn::os::RealClock clock;

  auto read = [&](const std::string& flag, const std::string& path) -> absl::StatusOr<std::string> {
    absl::StatusOr<std::string> text = files.ReadFile(path);
    if (!text.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " ", path, ": ", text.status().message()));
    }
    return text;
  };

  std::vector<cn::attestd::SigningKey> keys;
  for (const cn::attestd::KeyFiles& key_files : options.signing_keys) {
    auto key_pem = read("--signing-key", key_files.key);
    if (!key_pem.ok()) {
      return Fail(std::string(key_pem.status().message()), 2);
    }
    std::string cert_pem;
    if (!key_files.cert.empty()) {
      auto cert = read("--signing-cert", key_files.cert);
      if (!cert.ok()) {
        return Fail(std::string(cert.status().message()), 2);
      }
      cert_pem = *cert;
    }
    auto key = cn::attestd::SigningKey::Load(*key_pem, key_files.key, cert_pem, key_files.cert,
                                             clock.Now());
    if (!key.ok()) {
      return Fail(std::string(key.status().message()), 2);
    }
    keys.push_back(*std::move(key));
  }

  cn::dcap::TrustAnchor anchor = cn::dcap::TrustAnchor::IntelSgxRoot();
  if (!options.root_ca.empty()) {
    auto pem = read("--root-ca", options.root_ca);
    if (!pem.ok()) {
      return Fail(std::string(pem.status().message()), 2);
    }
    auto root = cn::dcap::TrustAnchor::FromCertificate(*pem);
    if (!root.ok()) {
      return Fail(absl::StrCat("--root-ca ", options.root_ca, ": ", root.status().message()), 2);
    }
    anchor = *std::move(root);
  }

  std::shared_ptr<const cn::attestd::Policy> policy(std::shared_ptr<const cn::attestd::Policy>(),
                                                    &cn::attestd::Policy::Default());
  std::string policy_text = policy->text();
  if (!options.policy_file.empty()) {
    auto text = read("--policy", options.policy_file);
    if (!text.ok()) {
      return Fail(std::string(text.status().message()), 2);
    }
    auto parsed = cn::attestd::ParsePolicyFile(options.policy_file)(*text);
    if (!parsed.ok()) {
      return Fail(std::string(parsed.status().message()), 2);
    }
    policy = *std::move(parsed);
    policy_text = *text;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  cn::attestd::CollateralMetrics collateral_metrics(*registry);
  std::unique_ptr<cn::pccs::CollateralSource> collateral;
  const cn::pccs::OnlineCollateralSource* online_source = nullptr;
  if (!options.collateral_dir.empty()) {
    auto directory = cn::pccs::DirectoryCollateralSource::Load(files, options.collateral_dir);
    if (!directory.ok()) {
      return Fail(std::string(directory.status().message()), 2);
    }
    spdlog::info("offline collateral: {} platform(s) from {}", (*directory)->size(),
                 options.collateral_dir);
    collateral = *std::move(directory);
  } else {
    // The cache file's directory is the service's own (the default /var/cache/sgx-attestd).
    if (!options.cache.empty()) {
      std::error_code ignored;  // an uncreatable directory is reported when the file is opened
      std::filesystem::create_directories(std::filesystem::path(options.cache).parent_path(),
                                          ignored);
    }
    // A service without a cache file still caches, in memory (SQLite's ":memory:"): without
    // any cache every attestation would cost the PCCS four requests, an unknown FMSPC included.
    const std::string cache_path = options.cache.empty() ? ":memory:" : options.cache;
    cn::pccs::OnlineSourceOptions online{.pccs_url = options.pccs_url,
                                         .cache_path = cache_path,
                                         .upstream_timeout = options.upstream_timeout,
                                         .ca_file = "",
                                         .cache = {}};
    online.cache.on_fetch = collateral_metrics.FetchObserver();
    auto source = cn::pccs::OnlineCollateralSource::Create(online, &clock);
    if (!source.ok()) {
      return Fail(absl::StrCat("--pccs-url/--cache: ", source.status().message()), 2);
    }
    spdlog::info("collateral from {} (cache {})", options.pccs_url,
                 options.cache.empty() ? std::string("in memory only") : options.cache);
    online_source = source->get();
    collateral = *std::move(source);
  }

  cn::http::EventServerOptions server_options;
  server_options.host = options.listen_host.empty() ? "0.0.0.0" : options.listen_host;
  server_options.port = options.listen_port;
  server_options.tls_cert_file = options.tls_cert;
  server_options.tls_key_file = options.tls_key;
  server_options.max_request_bytes = options.max_request_bytes;
  server_options.threads = options.threads;
  cn::http::EventServer server(server_options, registry);
  if (absl::Status bound = server.Bind(); !bound.ok()) {
    const bool input_error = bound.code() == absl::StatusCode::kInvalidArgument;
    return Fail(
        input_error ? std::string(bound.message()) : absl::StrCat("--listen: ", bound.message()),
        input_error ? 2 : 1);
  }
  // The default issuer names the port actually bound (--listen HOST:0 asks for any free one).
  std::string issuer = options.issuer;
  if (issuer.empty()) {
    cn::attestd::Options bound_options = options;
    bound_options.listen_port = server.port();
    issuer = cn::attestd::DefaultIssuer(bound_options);
  }

  cn::dcap::Verifier verifier(std::move(anchor));
  cn::attestd::ServiceOptions service_options{.issuer = issuer,
                                              .token_lifetime = options.token_lifetime,
                                              .upstream_timeout = options.upstream_timeout};
  cn::attestd::AttestationService service(service_options, std::move(keys), verifier, *collateral,
                                          clock, policy, *registry);
  service.Register(server);
  if (online_source != nullptr && online_source->cache() != nullptr) {
    server.OnMetricsScrape([&collateral_metrics, online_source] {
      collateral_metrics.Update(online_source->cache()->stats());
    });
  }
  if (absl::Status serving = server.Serve(); !serving.ok()) {
    return Fail(std::string(serving.message()), 1);
  }

  std::unique_ptr<cn::attestd::PolicyReloader> reloader;
  if (!options.policy_file.empty()) {
    auto watcher = cn::os::NewInotifyFileWatcher();
    reloader = std::make_unique<cn::attestd::PolicyReloader>(
        files, watcher.ok() ? *std::move(watcher) : nullptr, options.policy_file, policy_text,
        cn::attestd::ParsePolicyFile(options.policy_file),
        [&service, &options](std::shared_ptr<const cn::attestd::Policy> updated) {
          service.SetPolicy(std::move(updated));
          spdlog::info("policy reloaded from {}", options.policy_file);
        },
        [](const absl::Status& status) {
          spdlog::error("policy refused, the previous one stays: {}",
                        std::string(status.message()));
        });
    reloader->Start();
  }
  spdlog::info("sgx-attestd serving {} on {}:{} as issuer {}", server.tls() ? "HTTPS" : "HTTP",
               server_options.host, server.port(), issuer);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("received {}: draining", cn::common::StopSignalName(signal_number));
  // In-flight requests finish (bounded by the upstream timeout); idle keep-alive connections
  // close at once. A client still trickling a request at the deadline is not waited for.
  const absl::Time start = clock.Now();
  if (reloader != nullptr) {
    reloader->Stop();
  }
  absl::Status stopped = server.Stop(start + absl::Milliseconds(1800));
  if (!stopped.ok()) {
    // Requests still in their handler get up to the upstream timeout (their only wait); a
    // client still sending its request is not waited for.
    const absl::Time drain_deadline = start + options.upstream_timeout + absl::Seconds(1);
    while (server.in_flight() > 0 && clock.Now() < drain_deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    spdlog::warn("exiting with {} request(s) in flight: {}", server.in_flight(),
                 std::string(stopped.message()));
    spdlog::default_logger()->flush();
    _exit(server.in_flight() == 0 ? 0 : 1);
  }
  spdlog::info("stopped");
  return 0;
}
