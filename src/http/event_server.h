#pragma once

// EventServer: an event-driven HTTP(S) server (Boost.Asio and Boost.Beast) with the routes,
// handlers, probes and metrics of Server (server.h), for daemons whose clients hold many
// keep-alive connections and whose handlers are CPU work (sgx-attestd).
//
// Why a second server: Server (cpp-httplib 0.11) holds one thread per open connection and bounds
// each read, not a whole request. Here:
//   - `threads` threads run one event loop (epoll); a connection costs memory, not a thread.
//     Handlers run on those threads, so at most `threads` handlers run at once (what --threads
//     means) and a handler that blocks (an upstream fetch) holds one of them.
//   - Each request has one deadline, request_timeout, from its first byte to its last (headers
//     and body): a client that trickles bytes is answered 408 and disconnected when it passes,
//     however often it sends. The wait for the first byte of the next request on a keep-alive
//     connection is keep_alive_timeout; answers must be written within write_timeout.
//   - At most max_connections are open; further clients wait in the listen backlog until one
//     closes.
//   - A body above max_request_bytes is answered 413 from its Content-Length without being read;
//     a header block above max_header_bytes 431; malformed HTTP 400; Expect: 100-continue is
//     answered before the body is read; every error body is the JSON
//     {"error": {"code", "message"}} of ErrorResponse, as Server's.
//   - Routes, 404/405 (with Allow), /healthz /readyz /metrics (AddProbes) and the metrics
//     cn_http_requests_total{route,status} and cn_http_request_duration_seconds{route} are
//     Server's.
//   - Stop(deadline): stops accepting, closes idle keep-alive connections at once, lets requests
//     being received or handled finish (their answers carry Connection: close) and returns once
//     every connection is closed; at the deadline it closes the rest and says how many.
//
// Thread safety: handlers run on the event threads, several at once; they must be thread-safe.
// Handle, AddProbes, OnMetricsScrape, Bind, Serve, Start and Stop are called from the owner's
// thread (routes before Serve).

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "prometheus/registry.h"
#include "src/http/server.h"

namespace cn::http {

struct EventServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;  // 0: any free port (tests); see port()
  // Both or neither: PEM files of the certificate (chain) and its private key.
  std::string tls_cert_file;
  std::string tls_key_file;
  size_t max_request_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  int threads = 0;  // event threads = handlers running at once; 0: one per core
  int max_connections = 1024;
  absl::Duration request_timeout = absl::Seconds(10);  // first byte to last, headers and body
  absl::Duration keep_alive_timeout = absl::Seconds(30);
  absl::Duration write_timeout = absl::Seconds(5);
  int keep_alive_max_requests = 10000;
};

class EventServer {
 public:
  // `registry` receives the metrics listed above; it may be shared with the owner's metrics.
  EventServer(EventServerOptions options, std::shared_ptr<prometheus::Registry> registry);
  ~EventServer();  // Stop() without a deadline
  EventServer(const EventServer&) = delete;
  EventServer& operator=(const EventServer&) = delete;

  // Routes: exact paths, one handler per method; call before Serve.
  void Handle(const std::string& method, const std::string& path, Handler handler);
  // /healthz, /readyz (`ready`: OK, or the reason it is not; 503 once stopping) and /metrics.
  void AddProbes(std::function<absl::Status()> ready);
  // Called on the handler thread before every /metrics answer is serialised. Set before Serve.
  void OnMetricsScrape(std::function<void()> before_scrape);

  // Binds (InvalidArgument naming --tls-cert/--tls-key for unusable TLS files, Unavailable
  // naming the address when it cannot listen) and serves: Bind() then Serve().
  absl::Status Start();
  // Bind alone, so the owner can learn port() (for --listen HOST:0) before it adds its routes.
  absl::Status Bind();
  // Serves the routes added so far on the event threads (binds first when Bind was not called).
  absl::Status Serve();
  // As described above; DeadlineExceeded, naming how many connections were still open, when
  // they do not all close by `deadline`.
  absl::Status Stop(absl::Time deadline = absl::InfiniteFuture());

  int port() const;
  // Event threads the server runs: options.threads, or one per core when that is 0.
  int threads() const;
  bool tls() const { return !options_.tls_cert_file.empty(); }
  // Requests whose handler is running now.
  int in_flight() const;
  // Connections open now.
  int connections() const;

  struct Impl;  // public so the connection code in event_server.cc can name it

 private:
  EventServerOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cn::http
