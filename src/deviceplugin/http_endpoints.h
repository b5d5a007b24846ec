#pragma once

// HttpEndpoints: the plugin's HTTP side, for Prometheus and the kubelet's probes.
//
//   GET /metrics  Prometheus text format (the `metrics` callback's output)
//   GET /healthz  200 "ok" while the process runs: the liveness probe. Deliberately independent
//                 of SGX, so that a node without SGX does not restart the pod in a loop.
//   GET /readyz   200 when `ready` returns OK (registered with the kubelet), else 503 with the
//                 reason: the readiness probe.
//
// Thread safety: the callbacks are invoked from the server's worker threads, possibly
// concurrently; they must be thread-safe.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace httplib {
class Server;
}

namespace cn::deviceplugin {

struct ListenAddress {
  std::string host;  // "0.0.0.0" for ":port"
  int port = 0;      // 0: any free port
};

// Parses --metrics-addr: "HOST:PORT", ":PORT" (all interfaces) or "[IPV6]:PORT". Errors are
// InvalidArgument naming the value.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

class HttpEndpoints {
 public:
  // Binds at once (so that a port in use is reported at start-up) and serves on a thread.
  static absl::StatusOr<std::unique_ptr<HttpEndpoints>> Start(const ListenAddress& address,
                                                              std::function<std::string()> metrics,
                                                              std::function<absl::Status()> ready);
  ~HttpEndpoints();  // stops serving and joins the thread
  HttpEndpoints(const HttpEndpoints&) = delete;
  HttpEndpoints& operator=(const HttpEndpoints&) = delete;

  int port() const { return port_; }

 private:
  HttpEndpoints(std::unique_ptr<httplib::Server> server, int port);

  std::unique_ptr<httplib::Server> server_;
  int port_;
  std::atomic<bool> listener_done_{false};
  std::thread thread_;
};

}  // namespace cn::deviceplugin
