#include "tests/integration/deviceplugin/plugin_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"

namespace cn::deviceplugin {

PluginProcess::PluginProcess(const std::string& binary, const std::vector<std::string>& arguments,
                             std::string log_path)
    : log_path_(std::move(log_path)) {
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(log, STDERR_FILENO);
    ::dup2(log, STDOUT_FILENO);
    std::vector<char*> pointers;
    for (std::string& argument : argv) {
      pointers.push_back(argument.data());
    }
    pointers.push_back(nullptr);
    ::execv(pointers[0], pointers.data());
    ::_exit(127);
  }
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
}

PluginProcess::~PluginProcess() {
  if (!exited_) {
    ::kill(pid_, SIGKILL);
    WaitForExit(absl::Seconds(10));
  }
  if (pidfd_ >= 0) {
    ::close(pidfd_);
  }
}

bool PluginProcess::running() const {
  pollfd descriptor{pidfd_, POLLIN, 0};
  return !exited_ && ::poll(&descriptor, 1, 0) == 0;
}

std::optional<int> PluginProcess::WaitForExit(absl::Duration timeout) {
  pollfd descriptor{pidfd_, POLLIN, 0};
  if (::poll(&descriptor, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) != 1) {
    return std::nullopt;
  }
  int status = 0;
  ::waitpid(pid_, &status, 0);
  exited_ = true;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string PluginProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<int> PluginProcess::MetricsPort() const {
  // std::regex would do, but GCC 12 reports false maybe-uninitialized warnings inside it
  // under the sanitizers.
  const std::string log = Log();
  const std::string marker = "/readyz on ";
  size_t start = log.find(marker);
  if (start == std::string::npos) {
    return std::nullopt;
  }
  size_t end = log.find_first_of(" \n\"", start + marker.size());
  std::string address = log.substr(start + marker.size(), end - start - marker.size());
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return std::nullopt;
  }
  return port;
}

std::optional<long> PluginProcess::StatusKib(const std::string& field) const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::stol(line.substr(field.size() + 1));
    }
  }
  return std::nullopt;
}

}  // namespace cn::deviceplugin
