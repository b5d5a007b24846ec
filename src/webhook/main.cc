// sgx-webhook: the only place where the real OS objects are built (STYLE rule 3).

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "prometheus/text_serializer.h"
#include "spdlog/spdlog.h"
#include "src/common/logging.h"
#include "src/common/stop_signals.h"
#include "src/http/http_client.h"
#include "src/http/probe_server.h"
#include "src/http/server.h"
#include "src/kube/client.h"
#include "src/kube/config.h"
#include "src/os/clock.h"
#include "src/os/host_file_system.h"
#include "src/webhook/certificates.h"
#include "src/webhook/flags.h"
#include "src/webhook/mutator.h"
#include "src/webhook/node_cache.h"
#include "src/webhook/self_managed_tls.h"
#include "src/webhook/service.h"
#include "src/webhook/validator.h"

namespace {

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "sgx-webhook: %s\n", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const sigset_t signals = cn::common::BlockStopSignals();  // before any thread exists

  auto flags = cn::webhook::ParseFlags(std::vector<std::string>(argv, argv + argc));
  if (!flags.ok()) {
    return Fail(std::string(flags.status().message()), 2);
  }
  if (flags->help.has_value()) {
    std::fputs(flags->help->c_str(), stdout);
    return 0;
  }
  cn::common::ConfigureLogging(*cn::common::ParseLogFormat(flags->log_format), flags->verbose);
  cn::os::HostFileSystem local("/");
  cn::os::RealClock clock;

  // The API server: for the node cache and self-managed TLS. Without it the webhook still
  // translates and validates; only the warning about node sizes is off.
  cn::http::HttpClient::Options http_options;
  http_options.user_agent = "sgx-webhook";
  cn::http::HttpClient http(http_options, &clock);
  std::unique_ptr<cn::kube::ApiClient> api;
  {
    auto config = cn::kube::KubeconfigOrInClusterConfig(local, flags->kubeconfig);
    if (config.ok()) {
      spdlog::info("API server {} ({})", config->server, config->source);
      api = std::make_unique<cn::kube::ApiClient>(*std::move(config), http, local,
                                                  cn::kube::ApiClient::Options{});
    } else if (!flags->kubeconfig.empty() || flags->self_managed_tls) {
      return Fail(std::string(config.status().message()), 2);
    } else {
      spdlog::warn(
          "no API access ({}): the node cache is off, so pods larger than every node "
          "get no warning",
          std::string(config.status().message()));
    }
  }

  auto registry = std::make_shared<prometheus::Registry>();
  cn::webhook::Mutator mutator(
      {.quote_helper = flags->quote_helper, .tolerations = flags->tolerations});
  std::unique_ptr<cn::webhook::NodeCache> node_cache;
  std::thread node_cache_thread;
  if (api != nullptr && !flags->no_node_cache) {
    node_cache = std::make_unique<cn::webhook::NodeCache>(*api, cn::webhook::NodeCache::Options{});
    node_cache_thread = std::thread([&node_cache] { node_cache->Run(); });
  } else if (flags->no_node_cache) {
    spdlog::info("node cache off (--no-node-cache): pods larger than every node get no warning");
  }
  cn::webhook::Validator validator(node_cache.get());
  cn::webhook::WebhookService service(
      mutator, validator, cn::webhook::ReviewLimits{},
      {"kube-system",
       flags->namespace_name.empty() ? std::string("confidential-nodes") : flags->namespace_name},
      *registry);

  cn::http::ServerOptions server_options;
  server_options.host = flags->listen.host;
  server_options.port = flags->listen.port;
  server_options.tls_cert_file = flags->tls_cert;
  server_options.tls_key_file = flags->tls_key;
  server_options.tls_reload_interval = absl::Seconds(2);
  server_options.max_request_bytes = cn::webhook::ReviewLimits{}.max_bytes;
  server_options.threads = flags->threads;
  // The API server's webhook calls time out after a few seconds; a client that stalls must not
  // hold a worker longer than that.
  server_options.read_timeout = absl::Seconds(3);
  server_options.write_timeout = absl::Seconds(3);
  server_options.keep_alive_timeout = absl::Seconds(30);
  std::unique_ptr<cn::webhook::SelfManagedTls> self_tls;
  if (flags->self_managed_tls) {
    // The server needs a certificate to bind; until the Secret's is installed it serves a
    // throw-away one that nobody trusts, and /readyz says so, so no traffic comes.
    auto placeholder =
        cn::webhook::MakeAuthority("sgx-webhook (not ready)", clock.Now(), absl::Hours(1));
    if (!placeholder.ok()) {
      return Fail(std::string(placeholder.status().message()), 1);
    }
    server_options.tls_cert_pem = placeholder->certificate_pem;
    server_options.tls_key_pem = placeholder->key_pem;
  }
  cn::http::Server server(server_options, registry);
  if (absl::Status bound = server.Bind(); !bound.ok()) {
    const bool input_error = bound.code() == absl::StatusCode::kInvalidArgument;
    return Fail(
        input_error ? std::string(bound.message()) : absl::StrCat("--listen: ", bound.message()),
        input_error ? 2 : 1);
  }
  service.Register(server);
  if (absl::Status serving = server.Serve(); !serving.ok()) {
    return Fail(std::string(serving.message()), 1);
  }
  spdlog::info(
      "serving /mutate and /validate over HTTPS on {}:{} (quote helper {}, {} "
      "toleration(s))",
      flags->listen.host, server.port(),
      flags->quote_helper == cn::webhook::QuoteHelper::kAesm ? "aesm" : "provision",
      flags->tolerations.size());

  if (flags->self_managed_tls) {
    self_tls = std::make_unique<cn::webhook::SelfManagedTls>(
        cn::webhook::SelfManagedTlsOptions{
            .namespace_name = flags->namespace_name,
            .service = flags->service,
            .secret = flags->tls_secret,
            .mutating_configuration = flags->mutating_configuration,
            .validating_configuration = flags->validating_configuration},
        *api, clock, [&server](const std::string& certificate, const std::string& key) {
          return server.SetTlsCertificate(certificate, key);
        });
    if (absl::Status synced = self_tls->SyncOnce(); !synced.ok()) {
      spdlog::warn("self-managed TLS: {} (retrying; not ready until it works)",
                   std::string(synced.message()));
    }
    self_tls->Start();
  }

  auto ready = [&server, &clock, &self_tls]() -> absl::Status {
    if (self_tls != nullptr && !self_tls->Synced()) {
      return absl::UnavailableError(
          "self-managed TLS: the certificate from the Secret is not installed yet");
    }
    if (server.TlsNotAfter() <= clock.Now()) {
      return absl::UnavailableError("the serving certificate has expired");
    }
    return absl::OkStatus();
  };
  std::unique_ptr<cn::http::ProbeServer> probes;
  if (!flags->metrics_addr.empty()) {
    auto address = cn::http::ParseListenAddress(flags->metrics_addr);
    auto started = cn::http::ProbeServer::Start(
        *address,
        [&registry] { return prometheus::TextSerializer().Serialize(registry->Collect()); }, ready);
    if (!started.ok()) {
      return Fail(std::string(started.status().message()), 1);
    }
    probes = *std::move(started);
    spdlog::info("serving /metrics, /healthz and /readyz on {}:{}", address->host, probes->port());
  }

  absl::Notification stop;
  {
    cn::common::StopSignalThread stop_signals(signals, [&stop](int received) {
      spdlog::info("received {}, stopping", cn::common::StopSignalName(received));
      stop.Notify();
    });
    stop.WaitForNotification();
  }
  // Requests in flight finish (they take microseconds); idle keep-alive connections close.
  absl::Status stopped = server.Stop(absl::Now() + absl::Seconds(5));
  if (!stopped.ok()) {
    spdlog::warn("{}", std::string(stopped.message()));
  }
  if (self_tls != nullptr) {
    self_tls->Stop();
  }
  if (node_cache != nullptr) {
    node_cache->Stop();  // a watch in progress notices within a second
    node_cache_thread.join();
  }
  probes.reset();
  return 0;
}
