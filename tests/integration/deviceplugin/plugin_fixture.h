#pragma once

// A simulated SGX node for device plugin integration tests: a host root and a CPUID table in a
// temp dir, a kubelet plugin directory beside it, the daemon running in-process on a thread
// against the real inotify watcher, and the kubelet stand-in serving kubelet.sock there.

#include <memory>
#include <string>
#include <thread>

#include "src/deviceplugin/daemon.h"
#include "src/deviceplugin/metrics.h"
#include "src/os/clock.h"
#include "src/os/cpuid.h"
#include "src/os/file_watcher.h"
#include "src/os/host_file_system.h"
#include "src/sgx/simulated_host.h"
#include "src/testing/temp_dir.h"
#include "tools/kubelet_standin.h"

namespace cn::deviceplugin {

// Every wait in these tests returns as soon as its condition holds; this is only the bound.
inline constexpr absl::Duration kPatience = absl::Seconds(10);

class SimulatedNode {
 public:
  SimulatedNode();
  ~SimulatedNode();

  // Writes the host's files under host_root() and keeps its CPUID table for the daemon.
  void WriteHost(const sgx::SimulatedHost& host);
  // Starts the daemon (host root and kubelet dir are filled in). The re-probe timer is an hour
  // unless the options say otherwise, so that what the tests see comes from file events.
  void StartDaemon(Options options = {});
  void StopDaemon();
  absl::Status StartKubelet();
  void StopKubelet() { kubelet_.reset(); }

  Daemon& daemon() { return *daemon_; }
  Metrics& metrics() { return metrics_; }
  tools::KubeletStandin& kubelet() { return *kubelet_; }
  const std::string& host_root() const { return host_root_; }
  const std::string& kubelet_dir() const { return kubelet_dir_; }
  std::string SocketPath(ResourceKind kind) const;
  tools::PluginClient Client(ResourceKind kind) const {
    return tools::PluginClient(SocketPath(kind));
  }
  // Waits until every configured resource is registered with the current kubelet.
  bool WaitUntilRegistered();

  testing::TempDir& dir() { return dir_; }

 private:
  testing::TempDir dir_;
  std::string host_root_;
  std::string kubelet_dir_;
  std::unique_ptr<os::HostFileSystem> host_;
  os::HostFileSystem local_{"/"};
  os::TableCpuid cpuid_;
  std::unique_ptr<os::FileWatcher> watcher_;
  os::RealClock clock_;
  Metrics metrics_;
  std::unique_ptr<Daemon> daemon_;
  std::thread thread_;
  absl::Status run_status_;
  std::unique_ptr<tools::KubeletStandin> kubelet_;
};

}  // namespace cn::deviceplugin
