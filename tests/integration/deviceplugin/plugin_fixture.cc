#include "tests/integration/deviceplugin/plugin_fixture.h"

#include "gtest/gtest.h"
#include "src/common/check.h"

namespace cn::deviceplugin {

SimulatedNode::SimulatedNode()
    : host_root_(dir_.MakeDirectory("host")), kubelet_dir_(dir_.MakeDirectory("kubelet")) {
  host_ = std::make_unique<os::HostFileSystem>(host_root_);
  auto watcher = os::NewInotifyFileWatcher();
  CN_CHECK(watcher.ok());
  watcher_ = *std::move(watcher);
}

SimulatedNode::~SimulatedNode() {
  StopDaemon();
  kubelet_.reset();
}

void SimulatedNode::WriteHost(const sgx::SimulatedHost& host) {
  absl::Status written = sgx::WriteHostRoot(host, host_root_);
  CN_CHECK(written.ok());
  cpuid_ = sgx::EncodeCpuid(host);
}

void SimulatedNode::StartDaemon(Options options) {
  options.host_root = host_root_;
  options.kubelet_dir = kubelet_dir_;
  if (options.reprobe_interval == Options().reprobe_interval) {
    options.reprobe_interval = absl::Hours(1);
  }
  daemon_ = std::make_unique<Daemon>(options, *host_, local_, cpuid_, *watcher_, clock_, metrics_);
  thread_ = std::thread([this] { run_status_ = daemon_->Run(); });
}

void SimulatedNode::StopDaemon() {
  if (daemon_ == nullptr) {
    return;
  }
  daemon_->Stop();
  thread_.join();
  EXPECT_TRUE(run_status_.ok()) << run_status_;
  daemon_.reset();
}

absl::Status SimulatedNode::StartKubelet() {
  auto kubelet = tools::KubeletStandin::Start(kubelet_dir_);
  if (!kubelet.ok()) {
    return kubelet.status();
  }
  kubelet_ = *std::move(kubelet);
  return absl::OkStatus();
}

std::string SimulatedNode::SocketPath(ResourceKind kind) const {
  return os::JoinPath(kubelet_dir_, Info(kind).socket_name);
}

bool SimulatedNode::WaitUntilRegistered() {
  return daemon_->WaitUntil(
      [](const DaemonStatus& status) {
        for (const auto& [kind, registered] : status.registered) {
          if (!registered) {
            return false;
          }
        }
        return true;
      },
      kPatience);
}

}  // namespace cn::deviceplugin
