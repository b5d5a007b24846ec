// sgx-node-agent: the only place where the real OS objects are built (STYLE rule 3).

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "spdlog/spdlog.h"
#include "src/common/logging.h"
#include "src/common/stop_signals.h"
#include "src/http/http_client.h"
#include "src/http/probe_server.h"
#include "src/kube/client.h"
#include "src/kube/config.h"
#include "src/nodeagent/agent.h"
#include "src/nodeagent/flags.h"
#include "src/nodeagent/metrics.h"
#include "src/nodeagent/publisher.h"
#include "src/os/clock.h"
#include "src/os/file_watcher.h"
#include "src/os/host_file_system.h"
#include "src/sgx/host_watch.h"

namespace {

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "sgx-node-agent: %s\n", message.c_str());
  return code;
}

std::optional<std::string> Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::nullopt : std::optional<std::string>(value);
}

}  // namespace

int main(int argc, char** argv) {
  const sigset_t signals = cn::common::BlockStopSignals();  // before any thread exists

  auto flags =
      cn::nodeagent::ParseFlags(std::vector<std::string>(argv, argv + argc), Env("NODE_NAME"));
  if (!flags.ok()) {
    return Fail(std::string(flags.status().message()), 2);
  }
  if (flags->help.has_value()) {
    std::fputs(flags->help->c_str(), stdout);
    return 0;
  }
  cn::common::ConfigureLogging(*cn::common::ParseLogFormat(flags->log_format), flags->verbose);

  cn::os::HostFileSystem host(flags->host_root);
  cn::os::HostFileSystem local("/");
  auto cpuid = cn::sgx::OpenCpuid(local, flags->cpuid_file);
  if (!cpuid.ok()) {
    return Fail(std::string(cpuid.status().message()), 2);
  }
  if (!flags->cpuid_file.empty()) {
    spdlog::warn("simulated SGX node: CPUID comes from {}, not from the processor",
                 flags->cpuid_file);
  }
  if (flags->host_root != "/") {
    spdlog::warn("host files are read under {} (--host-root)", flags->host_root);
  }

  cn::os::RealClock clock;
  cn::http::HttpClient::Options http_options;
  http_options.user_agent = "sgx-node-agent";
  cn::http::HttpClient http(http_options, &clock);
  std::unique_ptr<cn::kube::ApiClient> api;
  std::unique_ptr<cn::nodeagent::Publisher> publisher;
  if (!flags->nfd_features_dir.empty()) {
    publisher = std::make_unique<cn::nodeagent::NfdFilePublisher>(flags->nfd_features_dir);
  } else {
    auto config = cn::kube::KubeconfigOrInClusterConfig(local, flags->kubeconfig);
    if (!config.ok()) {
      return Fail(std::string(config.status().message()), 2);
    }
    spdlog::info("API server {} ({})", config->server, config->source);
    api = std::make_unique<cn::kube::ApiClient>(*std::move(config), http, local,
                                                cn::kube::ApiClient::Options{});
    publisher = std::make_unique<cn::nodeagent::NodeLabelPublisher>(*api, flags->node_name);
  }

  auto watcher = cn::os::NewInotifyFileWatcher();
  if (!watcher.ok()) {
    return Fail(std::string(watcher.status().message()), 1);
  }
  cn::nodeagent::Metrics metrics;
  cn::nodeagent::Agent agent({.resync_interval = flags->resync_interval}, host, **cpuid, **watcher,
                             clock, *publisher, metrics);

  if (flags->once) {
    absl::Status published = agent.PublishOnce();
    if (!published.ok()) {
      return Fail(
          absl::StrCat("publishing to ", publisher->Describe(), " failed: ", published.ToString()),
          1);
    }
    spdlog::info("published to {}", publisher->Describe());
    return 0;
  }

  std::unique_ptr<cn::http::ProbeServer> probes;
  if (!flags->metrics_addr.empty()) {
    auto address = cn::http::ParseListenAddress(flags->metrics_addr);
    auto started = cn::http::ProbeServer::Start(
        *address, [&metrics] { return metrics.Serialize(); }, [&agent] { return agent.Ready(); });
    if (!started.ok()) {
      return Fail(std::string(started.status().message()), 1);
    }
    probes = *std::move(started);
    spdlog::info("serving /metrics, /healthz and /readyz on {}:{}", address->host, probes->port());
  }

  absl::Notification finished;
  absl::Status status;
  {
    cn::common::StopSignalThread stop_signals(signals, [&agent, &finished](int received) {
      spdlog::info("received {}, exiting", cn::common::StopSignalName(received));
      agent.Stop();
      // The loop stops at once unless a request to the API server is in flight (bounded by its
      // timeout). Nothing needs finishing: a patch is atomic on the server and the NFD file is
      // replaced by rename, so exit now rather than make the kubelet wait.
      if (!finished.WaitForNotificationWithTimeout(absl::Milliseconds(200))) {
        spdlog::default_logger()->flush();
        std::_Exit(0);
      }
    });
    status = agent.Run();
    finished.Notify();
  }
  probes.reset();
  return status.ok() ? 0 : 1;
}
