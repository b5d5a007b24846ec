#pragma once

// PluginProcess: a daemon binary run as a child process for tests and benchmarks, with its
// stdout and stderr captured in a file. Its exit is observed through a pidfd, so waiting for
// it is an event, not polling. The destructor kills a child that is still running.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace cn::deviceplugin {

class PluginProcess {
 public:
  PluginProcess(const std::string& binary, const std::vector<std::string>& arguments,
                std::string log_path);
  ~PluginProcess();
  PluginProcess(const PluginProcess&) = delete;
  PluginProcess& operator=(const PluginProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const;
  // The exit status (128+N for signal N), or nullopt while still running after `timeout`.
  std::optional<int> WaitForExit(absl::Duration timeout);
  std::string Log() const;
  // The port announced in "serving /metrics, /healthz and /readyz on HOST:PORT".
  std::optional<int> MetricsPort() const;
  // A field of /proc/<pid>/status in KiB (for example "VmHWM", the peak resident set).
  std::optional<long> StatusKib(const std::string& field) const;

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool exited_ = false;
};

}  // namespace cn::deviceplugin
