#pragma once

// ProbeServer: a daemon's HTTP side, for Prometheus and the kubelet's probes (the device plugin
// and the node agent both serve these three paths through it).
//
//   GET /metrics  Prometheus text format (the `metrics` callback's output)
//   GET /healthz  200 "ok" while the process runs: the liveness probe. Deliberately independent
//                 of SGX, so that a node without SGX does not restart the pod in a loop.
//   GET /readyz   200 when `ready` returns OK (what "ready" means is the daemon's: registered
//                 with the kubelet, labels published), else 503 with the reason.
//
// A deliberately small HTTP/1.1 server (GET and HEAD, one request per connection, answered in
// order on one thread, 2 s to send a request) rather than a library: the kubelet's probes and a
// Prometheus scrape are all it serves, and cpp-httplib's Debian build would load OpenSSL,
// brotli and zlib into each daemon, several MiB of its resident set (docs/PERFORMANCE.md).
//
// Thread safety: the callbacks are invoked from the server's thread while other threads run;
// they must be thread-safe.

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cn::http {

struct ListenAddress {
  std::string host;  // "0.0.0.0" for ":port"
  int port = 0;      // 0: any free port
};

// Parses --metrics-addr: "HOST:PORT", ":PORT" (all interfaces) or "[IPV6]:PORT". Errors are
// InvalidArgument naming the value.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

class ProbeServer {
 public:
  // Binds at once (so that a port in use is reported at start-up) and serves on a thread.
  // Unavailable, naming the address, when it cannot listen.
  static absl::StatusOr<std::unique_ptr<ProbeServer>> Start(const ListenAddress& address,
                                                            std::function<std::string()> metrics,
                                                            std::function<absl::Status()> ready);
  ~ProbeServer();  // stops serving (within the current request's time limit) and joins
  ProbeServer(const ProbeServer&) = delete;
  ProbeServer& operator=(const ProbeServer&) = delete;

  int port() const { return port_; }

 private:
  ProbeServer(int listen_fd, int wake_fd, int port, std::function<std::string()> metrics,
              std::function<absl::Status()> ready);
  void Serve();
  void Answer(int connection);

  const int listen_fd_;
  const int wake_fd_;
  const int port_;
  const std::function<std::string()> metrics_;
  const std::function<absl::Status()> ready_;
  std::thread thread_;
};

}  // namespace cn::http
