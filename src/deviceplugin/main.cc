// sgx-device-plugin: the only place where the real OS objects are built (STYLE rule 3).

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpc/support/log.h"
#include "spdlog/spdlog.h"
#include "src/common/logging.h"
#include "src/common/stop_signals.h"
#include "src/deviceplugin/daemon.h"
#include "src/deviceplugin/flags.h"
#include "src/deviceplugin/kubelet_checkpoint.h"
#include "src/deviceplugin/metrics.h"
#include "src/deviceplugin/pod_accounting.h"
#include "src/deviceplugin/pod_resources.h"
#include "src/http/probe_server.h"
#include "src/os/clock.h"
#include "src/os/cpuid.h"
#include "src/os/file_watcher.h"
#include "src/os/host_file_system.h"

namespace {

using cn::deviceplugin::Daemon;

// gRPC's own diagnostics go through our logger, so that --log-format json stays one JSON
// object per line. gRPC's errors are mostly retried conditions we report ourselves: debug.
void LogFromGrpc(gpr_log_func_args* args) {
  spdlog::debug("grpc {}:{}: {}", args->file, args->line, args->message);
}

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "sgx-device-plugin: %s\n", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const sigset_t signals = cn::common::BlockStopSignals();  // before any thread exists

  auto flags = cn::deviceplugin::ParseFlags(std::vector<std::string>(argv, argv + argc));
  if (!flags.ok()) {
    return Fail(std::string(flags.status().message()), 2);
  }
  if (flags->help.has_value()) {
    std::fputs(flags->help->c_str(), stdout);
    return 0;
  }
  const cn::deviceplugin::Options& options = flags->options;
  cn::common::ConfigureLogging(*cn::common::ParseLogFormat(options.log_format), flags->verbose);
  gpr_set_log_function(LogFromGrpc);

  cn::os::HostFileSystem host(options.host_root);
  cn::os::HostFileSystem local("/");
  std::unique_ptr<cn::os::Cpuid> cpuid;
  if (options.cpuid_file.empty()) {
    cpuid = std::make_unique<cn::os::X86Cpuid>();
  } else {
    auto text = local.ReadFile(options.cpuid_file);
    if (!text.ok()) {
      return Fail(absl::StrCat("--cpuid-file: ", text.status().message()), 2);
    }
    auto table = cn::os::ParseCpuidTable(*text, options.cpuid_file);
    if (!table.ok()) {
      return Fail(std::string(table.status().message()), 2);
    }
    cpuid = *std::move(table);
    spdlog::warn("simulated SGX node: CPUID comes from {}, not from the processor",
                 options.cpuid_file);
  }
  if (options.host_root != "/") {
    spdlog::warn("host files are read under {} (--host-root)", options.host_root);
  }
  auto watcher = cn::os::NewInotifyFileWatcher();
  if (!watcher.ok()) {
    return Fail(std::string(watcher.status().message()), 1);
  }
  cn::os::RealClock clock;
  cn::deviceplugin::Metrics metrics;
  Daemon daemon(options, host, local, *cpuid, **watcher, clock, metrics);

  std::unique_ptr<cn::deviceplugin::PodResourcesSource> pod_resources;
  std::unique_ptr<cn::deviceplugin::PodAccounting> accounting;
  if (!options.pod_resources_socket.empty()) {
    pod_resources =
        cn::deviceplugin::NewGrpcPodResources(options.pod_resources_socket, absl::Seconds(5));
    cn::deviceplugin::AccountingOptions accounting_options;
    accounting_options.enforce_epc = options.enforce_epc;
    accounting_options.checkpoint_path =
        cn::os::JoinPath(options.kubelet_dir, cn::deviceplugin::kKubeletCheckpointName);
    accounting_options.interval = options.pod_resources_interval;
    accounting = std::make_unique<cn::deviceplugin::PodAccounting>(
        accounting_options, *pod_resources, host, local, metrics);
    daemon.AttachAccounting(accounting.get());
  } else {
    spdlog::info("per-pod EPC accounting off (--pod-resources-socket is empty)");
  }

  std::unique_ptr<cn::http::ProbeServer> http;
  if (!options.metrics_addr.empty()) {
    auto address = cn::http::ParseListenAddress(options.metrics_addr);
    auto started = cn::http::ProbeServer::Start(
        *address, [&metrics] { return metrics.Serialize(); }, [&daemon] { return daemon.Ready(); });
    if (!started.ok()) {
      return Fail(std::string(started.status().message()), 1);
    }
    http = *std::move(started);
    spdlog::info("serving /metrics, /healthz and /readyz on {}:{}", address->host, http->port());
  }

  absl::Status status;
  {
    cn::common::StopSignalThread stop_signals(signals, [&daemon](int received) {
      spdlog::info("received {}, shutting down", cn::common::StopSignalName(received));
      daemon.Stop();
    });
    if (accounting != nullptr) {
      accounting->Start();
    }
    status = daemon.Run();
    accounting.reset();
  }
  http.reset();
  return status.ok() ? 0 : 1;
}
