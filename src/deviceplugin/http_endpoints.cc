#include "src/deviceplugin/http_endpoints.h"

#include <sys/socket.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace cn::deviceplugin {

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-addr: '", text, "' is not HOST:PORT or :PORT"));
  }
  ListenAddress address;
  absl::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  address.host = host.empty() ? "0.0.0.0" : std::string(host);
  absl::string_view port = text.substr(colon + 1);
  if (port.empty() || !absl::SimpleAtoi(port, &address.port) || address.port < 0 ||
      address.port > 65535 || port.front() == '+' || port.front() == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-addr: port '", port, "' in '", text, "' is not 0..65535"));
  }
  return address;
}

HttpEndpoints::HttpEndpoints(std::unique_ptr<httplib::Server> server, int port)
    : server_(std::move(server)), port_(port) {
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listener_done_ = true;
  });
}

HttpEndpoints::~HttpEndpoints() {
  // stop() only takes effect once the listener runs: wait for the (immediate) start first, or
  // for the listener to have given up on its own.
  while (!server_->is_running() && !listener_done_) {
    std::this_thread::yield();
  }
  server_->stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

absl::StatusOr<std::unique_ptr<HttpEndpoints>> HttpEndpoints::Start(
    const ListenAddress& address, std::function<std::string()> metrics,
    std::function<absl::Status()> ready) {
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(2); };
  // cpp-httplib's default adds SO_REUSEPORT, which would let a second plugin on the same node
  // share the port silently; SO_REUSEADDR alone still allows a quick restart.
  server->set_socket_options([](int socket) {
    int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server->Get("/metrics", [metrics](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain");
  });
  server->Get("/readyz", [ready](const httplib::Request&, httplib::Response& response) {
    absl::Status status = ready();
    if (status.ok()) {
      response.set_content("ready\n", "text/plain");
    } else {
      response.status = 503;
      response.set_content(absl::StrCat("not ready: ", status.message(), "\n"), "text/plain");
    }
  });
  int port = address.port;
  if (port == 0) {
    port = server->bind_to_any_port(address.host);
  } else if (!server->bind_to_port(address.host, port)) {
    port = -1;
  }
  if (port < 0) {
    return absl::UnavailableError(absl::StrCat("--metrics-addr: cannot listen on ", address.host,
                                               ":", address.port,
                                               " (address in use or not local?)"));
  }
  return std::unique_ptr<HttpEndpoints>(new HttpEndpoints(std::move(server), port));
}

}  // namespace cn::deviceplugin
