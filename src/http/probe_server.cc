#include "src/http/probe_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cn::http {
namespace {

constexpr size_t kMaxRequestBytes = 8192;
constexpr int kRequestTimeoutMs = 2000;

void SendAll(int connection, absl::string_view data) {
  while (!data.empty()) {
    ssize_t sent = ::send(connection, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) {
      continue;
    }
    if (sent <= 0) {
      return;  // The client went away; nothing to report to anyone.
    }
    data.remove_prefix(static_cast<size_t>(sent));
  }
}

void Respond(int connection, int status, absl::string_view reason, absl::string_view type,
             absl::string_view body, bool head) {
  SendAll(connection,
          absl::StrCat("HTTP/1.1 ", status, " ", reason, "\r\nContent-Type: ", type,
                       "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n"));
  if (!head) {
    SendAll(connection, body);
  }
}

// Reads the request head (up to the blank line). Empty when the client sent nothing usable in
// time or too much.
std::string ReadRequestHead(int connection) {
  std::string request;
  char buffer[1024];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
    pollfd descriptor{connection, POLLIN, 0};
    if (::poll(&descriptor, 1, kRequestTimeoutMs) != 1) {
      return "";
    }
    ssize_t received = ::recv(connection, buffer, sizeof(buffer), 0);
    if (received < 0 && errno == EINTR) {
      continue;
    }
    if (received <= 0) {
      return "";
    }
    request.append(buffer, static_cast<size_t>(received));
  }
  return request.find("\r\n\r\n") == std::string::npos ? "" : request;
}

}  // namespace

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

absl::StatusOr<std::unique_ptr<ProbeServer>> ProbeServer::Start(
    const ListenAddress& address, std::function<std::string()> metrics,
    std::function<absl::Status()> ready) {
  const std::string where =
      absl::StrCat("--metrics-addr: cannot listen on ", address.host, ":", address.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (int error = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); error != 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", ::gai_strerror(error)));
  }
  int listen_fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) {
    ::freeaddrinfo(found);
    return absl::UnavailableError(absl::StrCat(where, ": ", std::strerror(errno)));
  }
  int yes = 1;
  // SO_REUSEADDR allows a quick restart; no SO_REUSEPORT, so a second plugin on the node fails
  // loudly instead of sharing the port.
  ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  int bound = ::bind(listen_fd, found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  if (bound != 0 || ::listen(listen_fd, 16) != 0) {
    std::string reason = std::strerror(errno);
    ::close(listen_fd);
    return absl::UnavailableError(absl::StrCat(where, ": ", reason));
  }
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&local), &length);
  int actual_port = local.ss_family == AF_INET6
                        ? ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port)
                        : ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    ::close(listen_fd);
    return absl::UnavailableError(absl::StrCat(where, ": eventfd: ", std::strerror(errno)));
  }
  return std::unique_ptr<ProbeServer>(
      new ProbeServer(listen_fd, wake_fd, actual_port, std::move(metrics), std::move(ready)));
}

ProbeServer::ProbeServer(int listen_fd, int wake_fd, int port, std::function<std::string()> metrics,
                         std::function<absl::Status()> ready)
    : listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      port_(port),
      metrics_(std::move(metrics)),
      ready_(std::move(ready)) {
  thread_ = std::thread([this] { Serve(); });
}

ProbeServer::~ProbeServer() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t ignored = ::write(wake_fd_, &one, sizeof(one));
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void ProbeServer::Serve() {
  while (true) {
    pollfd descriptors[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(descriptors, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if ((descriptors[1].revents & POLLIN) != 0) {
      return;
    }
    if ((descriptors[0].revents & POLLIN) != 0) {
      int connection = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection >= 0) {
        Answer(connection);
        ::close(connection);
      }
    }
  }
}

void ProbeServer::Answer(int connection) {
  std::string head = ReadRequestHead(connection);
  if (head.empty()) {
    Respond(connection, 400, "Bad Request", "text/plain", "bad request\n", false);
    return;
  }
  // Request line: METHOD SP TARGET SP VERSION
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(head).substr(0, head.find("\r\n")), ' ');
  if (parts.size() != 3 || !absl::StartsWith(parts[2], "HTTP/1.")) {
    Respond(connection, 400, "Bad Request", "text/plain", "bad request line\n", false);
    return;
  }
  const bool is_head = parts[0] == "HEAD";
  if (parts[0] != "GET" && !is_head) {
    Respond(connection, 405, "Method Not Allowed", "text/plain", "only GET and HEAD\n", false);
    return;
  }
  absl::string_view path = parts[1].substr(0, parts[1].find('?'));
  if (path == "/metrics") {
    Respond(connection, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", metrics_(), is_head);
  } else if (path == "/healthz") {
    Respond(connection, 200, "OK", "text/plain", "ok\n", is_head);
  } else if (path == "/readyz") {
    absl::Status status = ready_();
    if (status.ok()) {
      Respond(connection, 200, "OK", "text/plain", "ready\n", is_head);
    } else {
      Respond(connection, 503, "Service Unavailable", "text/plain",
              absl::StrCat("not ready: ", status.message(), "\n"), is_head);
    }
  } else {
    Respond(connection, 404, "Not Found", "text/plain",
            "not found; try /metrics, /healthz or /readyz\n", is_head);
  }
}

}  // namespace cn::http
