#pragma once

// Server: the HTTP(S) server of the daemons that serve an API (sgx-attestd), on cpp-httplib.
//
//   - HTTPS when a certificate and key are given (OpenSSL, the certificate file may hold a chain),
//     plain HTTP otherwise; HTTP/1.1 keep-alive.
//   - Bounded requests: a body above max_request_bytes is answered 413 without being read; a
//     client that sends nothing for read_timeout while the server waits for headers or body is
//     disconnected (each read is bounded; see "Limits" below).
//   - Two bounds on threads. cpp-httplib serves a connection on one thread for as long as it is
//     open (keep-alive included), so the connection pool (connection_threads) must be as large
//     as the number of clients served at once, or idle keep-alive connections starve the
//     others. The CPU work is bounded separately: at most `threads` handlers run at once (the
//     others wait for a slot), which is what --threads means.
//   - Routes are exact paths with a method each. Unknown paths are 404, known paths with another
//     method 405 (with Allow); both, and every error httplib answers itself (400, 413), carry the
//     JSON error body {"error": {"code", "message"}} that API clients parse.
//   - /healthz (200 while the process serves), /readyz (the `ready` callback; 503 once stopping)
//     and /metrics (Prometheus text: the owner's registry plus this server's request counters and
//     latency histogram) when AddProbes is called.
//   - TLS certificates are replaced without a restart: with `tls_reload_interval` set, the
//     files are re-read every interval (through their paths, so a Secret volume's `..data`
//     symlink swap, a rename over the file and an edit in place are all seen) and a pair that
//     parses and matches replaces the served one for new handshakes; a broken pair is logged
//     once and the served one stays. SetTlsCertificate does the same from memory (certificates
//     the owner makes itself). Connections already open keep the certificate they started with.
//   - Stop(): stops accepting, lets requests in flight finish, closes idle keep-alive connections
//     (they wait at most keep_alive_timeout for their next request, then close) and returns
//     once every connection is closed or the deadline passes.
//
// Limits (cpp-httplib 0.11.4, Debian 12): the read timeout bounds each read, not a whole request,
// so a client that trickles one header byte per read_timeout keeps its worker busy until the
// header size limit (8 KiB per line) or its patience ends. The worker pool bounds what such
// clients can hold; the integration tests show that the others are still served.
//
// Thread safety: handlers run on the worker threads, several at once; they must be thread-safe.
// Start, Stop and the destructor are called from the owner's thread.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "prometheus/registry.h"

namespace httplib {
class Server;
}
typedef struct ssl_st SSL;

namespace cn::http {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;  // 0: any free port (tests); see Server::port()
  // Both or neither: PEM files of the certificate (chain) and its private key.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Or, instead of files, PEM text (a certificate the owner made; replace it later with
  // SetTlsCertificate).
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // Non-zero: re-read the TLS files this often (see above). Zero: read once at Bind.
  absl::Duration tls_reload_interval = absl::ZeroDuration();
  size_t max_request_bytes = 1 << 20;
  int threads = 0;               // handlers running at once; 0: one per core
  int connection_threads = 128;  // connections served at once (the rest wait to be accepted)
  absl::Duration read_timeout = absl::Seconds(5);
  absl::Duration write_timeout = absl::Seconds(5);
  absl::Duration keep_alive_timeout = absl::Seconds(1);
  int keep_alive_max_requests = 10000;
};

struct Request {
  std::string method;
  std::string path;
  std::string body;
  std::multimap<std::string, std::string> params;  // query parameters
  std::multimap<std::string, std::string> headers;

  // The first value of a query parameter, or nullptr.
  const std::string* Param(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using Handler = std::function<Response(const Request&)>;

// {"error": {"code": code, "message": message}} with the given status.
Response ErrorResponse(int status, absl::string_view code, absl::string_view message);

class Server {
 public:
  // `registry` receives this server's metrics (cn_http_requests_total{route,status},
  // cn_http_request_duration_seconds{route}); it may be shared with the owner's metrics.
  Server(ServerOptions options, std::shared_ptr<prometheus::Registry> registry);
  ~Server();  // Stop() without a deadline
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes; call before Start.
  void Handle(const std::string& method, const std::string& path, Handler handler);
  // /healthz, /readyz (`ready`: OK, or the reason it is not) and /metrics.
  void AddProbes(std::function<absl::Status()> ready);
  // Called on the handler thread before every /metrics answer is serialised, so that figures
  // kept elsewhere (a cache's counters) can be copied into the registry first. Set before Serve.
  void OnMetricsScrape(std::function<void()> before_scrape) {
    before_scrape_ = std::move(before_scrape);
  }

  // Binds (a port in use or unreadable TLS files are reported here, naming the address or file)
  // and serves on background threads: Bind() then Serve().
  absl::Status Start();
  // Bind alone, so the owner can learn port() (for --listen HOST:0) before it adds its routes.
  absl::Status Bind();
  // Serves the routes added so far (binds first when Bind was not called).
  absl::Status Serve();
  // Stops as described above; DeadlineExceeded, with the number of connections still open, when
  // they do not all close by `deadline` (they are then closed as their reads time out).
  absl::Status Stop(absl::Time deadline = absl::InfiniteFuture());

  // Serves `certificate_chain_pem` (leaf first) with `key_pem` from the next handshake on.
  // InvalidArgument (nothing changes) when either does not parse or the key is not the
  // certificate's; FailedPrecondition on a plain-HTTP server.
  absl::Status SetTlsCertificate(absl::string_view certificate_chain_pem,
                                 absl::string_view key_pem);
  // The served certificate's notAfter (InfinitePast without TLS or before Bind).
  absl::Time TlsNotAfter() const;

  int port() const { return port_; }
  bool tls() const { return !options_.tls_cert_file.empty() || !options_.tls_cert_pem.empty(); }
  // Requests whose handler is running now.
  int in_flight() const { return in_flight_.load(); }

 private:
  struct Metrics;
  struct TlsIdentity;
  static int SelectCertificate(SSL* ssl, void* server);
  void ReloadTlsFiles();
  std::string RouteLabel(const std::string& path) const;
  void CountRequest(const std::string& route, int status);

  ServerOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::function<void()> before_scrape_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<httplib::Server> server_;
  // path -> method -> handler
  std::map<std::string, std::map<std::string, Handler>> routes_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> in_flight_{0};
  int port_ = 0;
  std::thread listener_;

  mutable absl::Mutex tls_mu_;
  std::shared_ptr<const TlsIdentity> tls_identity_ ABSL_GUARDED_BY(tls_mu_);
  std::string tls_files_text_;    // the reloader's: what the files held when last installed
  std::string tls_refused_text_;  // ... and what it last refused (logged once)
  std::thread tls_reloader_;
  absl::Notification tls_reloader_stop_;

  absl::Mutex mu_;
  bool listener_done_ ABSL_GUARDED_BY(mu_) = false;
  int handler_slots_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cn::http
