#pragma once

// Daemon: the device plugin's control loop.
//
// One thread (the caller of Run) owns every decision; gRPC and HTTP threads only read
// published state. Each turn of the loop:
//   1. (Re)watches the directories whose changes matter: the host's /dev, /dev/sgx and the AESM
//      directory (under --host-root), and the kubelet's plugin directory.
//   2. Probes the platform when a relevant file event arrived or the periodic re-probe is due.
//      Not ready: logs why once per change, keeps the HTTP endpoints up, serves nothing yet; if
//      it was serving, every device of every resource turns Unhealthy. Ready: publishes the
//      device lists (EPC capped to fit the kubelet's message limit) as Healthy.
//   3. Reconciles the sockets with the kubelet: a server per resource whose socket file exists,
//      and a registration after each (re)creation or each new kubelet.sock. Registrations run
//      on their own threads (RegistrationCall) and wake the loop when they end, so a kubelet
//      that does not answer never delays the steps above or a shutdown. A failed registration
//      is retried with a short, growing backoff.
//   4. Waits for file events, a wake-up, or the next timer.
//
// Timing (the promises): file events are handled as they arrive, so a vanished enclave
// device turns the streams Unhealthy, and a recreated kubelet.sock or a deleted socket of ours
// leads to new sockets and registrations, well within one second. Stop() makes Run stop the
// servers and remove the sockets; the servers' grace period is 500 ms.
//
// Thread safety: Run is called once, from one thread. Stop, Ready and WaitUntil are safe from
// any thread.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/deviceplugin/metrics.h"
#include "src/deviceplugin/plugin_server.h"
#include "src/deviceplugin/pod_accounting.h"
#include "src/deviceplugin/registration.h"
#include "src/deviceplugin/resource_state.h"
#include "src/deviceplugin/resources.h"
#include "src/os/clock.h"
#include "src/os/cpuid.h"
#include "src/os/file_system.h"
#include "src/os/file_watcher.h"
#include "src/sgx/platform.h"

namespace cn::deviceplugin {

// What the daemon is doing, for /readyz and for tests that wait for a state.
struct DaemonStatus {
  bool platform_ready = false;
  std::string not_ready_reason;             // empty when ready
  std::map<ResourceKind, bool> serving;     // a server is listening on the resource's socket
  std::map<ResourceKind, bool> registered;  // registered with the current kubelet
  std::map<ResourceKind, bool> healthy;     // devices currently advertised as Healthy
  uint64_t kubelet_restarts = 0;
  uint64_t registration_failures = 0;  // failed Register calls, retried with backoff
  bool stopped = false;                // Run has returned
};

class Daemon {
 public:
  using ProbeFunction =
      std::function<absl::StatusOr<sgx::Platform>(const os::FileSystem&, const os::Cpuid&)>;

  // `host` reads host paths under --host-root; `local` reads this process's own paths (the
  // kubelet directory). All references must outlive the daemon.
  Daemon(Options options, const os::FileSystem& host, const os::FileSystem& local,
         const os::Cpuid& cpuid, os::FileWatcher& watcher, const os::Clock& clock, Metrics& metrics,
         ProbeFunction probe = sgx::ProbePlatform);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs the loop until Stop(), then stops the servers and removes the sockets. Returns an
  // error only when the file watcher breaks (the caller should exit non-zero).
  absl::Status Run();
  void Stop();

  // OK when every configured resource is registered with the kubelet; otherwise Unavailable
  // saying what is missing (the platform's problem, or the resources not yet registered).
  absl::Status Ready() const;

  DaemonStatus Status() const;
  // Blocks until `condition` holds for the status or `timeout` passes; returns whether it held.
  bool WaitUntil(const std::function<bool(const DaemonStatus&)>& condition,
                 absl::Duration timeout) const;

  // Per-pod accounting to keep informed (before Run; may stay unset): the EPC advertised as
  // healthy on every change, and a poke whenever the kubelet rewrites its device checkpoint,
  // which it does after each allocation.
  void AttachAccounting(PodAccounting* accounting) { accounting_ = accounting; }

  // The state of one configured resource (for tests); nullptr when not configured.
  const ResourceState* State(ResourceKind kind) const;

 private:
  struct Resource {
    std::unique_ptr<ResourceState> state;
    std::unique_ptr<PluginServer> server;
    bool needs_registration = false;
    // The Register call in flight, or finished and not yet looked at by Reconcile.
    std::unique_ptr<RegistrationCall> registration;
    std::string last_error;  // last server or registration error, logged once
  };

  void WatchDirectories();
  void HandleEvents(const std::vector<os::FileEvent>& events);
  void Probe();
  void PublishReady(const std::shared_ptr<const sgx::Platform>& platform);
  void PublishUnhealthy(const std::string& reason);
  void Reconcile();
  void StopServers();
  void UpdateStatus(const std::function<void(DaemonStatus&)>& change);
  void SetEpcAllocatable(uint64_t bytes);
  std::string KubeletPath(absl::string_view name) const;

  const Options options_;
  const os::FileSystem& host_;
  const os::FileSystem& local_;
  const os::Cpuid& cpuid_;
  os::FileWatcher& watcher_;
  const os::Clock& clock_;
  Metrics& metrics_;
  const ProbeFunction probe_;

  PodAccounting* accounting_ = nullptr;
  std::atomic<bool> stop_requested_{false};
  std::map<ResourceKind, Resource> resources_;

  // Loop-thread state.
  bool probe_due_ = true;
  bool kubelet_socket_created_ = false;
  bool serving_ = false;  // the platform was ready once: servers exist from then on
  bool ever_registered_ = false;
  std::optional<bool> last_ready_;
  std::string last_reason_;
  std::vector<std::string> last_problems_;
  std::shared_ptr<const sgx::Platform> platform_;  // last ready platform
  std::optional<EpcPlan> epc_plan_;
  std::vector<sgx::NumaEpc> epc_plan_nodes_;
  uint64_t epc_plan_total_ = 0;
  int registration_failures_ = 0;
  absl::Time next_registration_attempt_ = absl::InfinitePast();
  // When the loop must wake for a retry (a failed registration or server start); infinite
  // future when nothing waits for the retry timer.
  absl::Time retry_wake_ = absl::InfiniteFuture();

  mutable absl::Mutex status_mutex_;
  DaemonStatus status_ ABSL_GUARDED_BY(status_mutex_);
};

}  // namespace cn::deviceplugin
