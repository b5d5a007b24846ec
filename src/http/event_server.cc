#include "src/http/event_server.h"

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/text_serializer.h"
#include "src/common/metrics.h"

namespace cn::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

absl::Status CheckReadable(absl::string_view flag, const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": cannot be read"));
  }
  return absl::OkStatus();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding of a path or query component ('+' is a space in a query).
std::string Decode(absl::string_view text, bool query) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else if (c == '+' && query) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void ParseTarget(absl::string_view target, Request& request) {
  const size_t question = target.find('?');
  request.path = Decode(target.substr(0, question), false);
  if (question == absl::string_view::npos) {
    return;
  }
  absl::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    absl::string_view pair = query.substr(0, amp);
    query = amp == absl::string_view::npos ? absl::string_view() : query.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    const size_t equals = pair.find('=');
    request.params.emplace(
        Decode(pair.substr(0, equals), true),
        equals == absl::string_view::npos ? "" : Decode(pair.substr(equals + 1), true));
  }
}

// The connection's phases; a timer armed for a phase names it when it fires.
enum class Phase { kHandshake, kIdle, kRequest, kHandling, kWrite, kLinger };

}  // namespace

struct EventServer::Impl {
  class Connection;
  template <typename Stream>
  class Session;

  Impl(EventServerOptions options_in, std::shared_ptr<prometheus::Registry> registry_in)
      : options(std::move(options_in)),
        registry(std::move(registry_in)),
        threads(options.threads > 0
                    ? options.threads
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()))),
        io(threads),
        acceptor(asio::make_strand(io)) {
    requests = &prometheus::BuildCounter()
                    .Name("cn_http_requests_total")
                    .Help("HTTP requests answered, by route and status")
                    .Register(*registry);
    request_counts.emplace(*requests, std::vector<std::string>{"route", "status"});
    latency = &prometheus::BuildHistogram()
                   .Name("cn_http_request_duration_seconds")
                   .Help("Time spent in the handler, by route")
                   .Register(*registry);
  }

  std::string RouteLabel(const std::string& path) const {
    return routes.contains(path) ? path : "other";
  }

  void CountRequest(const std::string& route, int status) {
    request_counts->Get({route, std::to_string(status)}).Increment();
  }

  // Routes a request to its handler; 404/405 as JSON errors. Runs on an event thread.
  Response Dispatch(const Request& request) {
    auto route = routes.find(request.path);
    if (route == routes.end()) {
      Response error =
          ErrorResponse(404, "not_found", absl::StrCat("no such path: ", request.path));
      CountRequest("other", 404);
      return error;
    }
    auto handler = route->second.find(request.method);
    if (handler == route->second.end()) {
      std::vector<std::string> allowed;
      for (const auto& [method, unused] : route->second) {
        allowed.push_back(method);
      }
      Response error = ErrorResponse(405, "method_not_allowed",
                                     absl::StrCat(request.method, " ", request.path,
                                                  ": allowed are ", absl::StrJoin(allowed, ", ")));
      error.headers.emplace_back("Allow", absl::StrJoin(allowed, ", "));
      CountRequest(request.path, 405);
      return error;
    }
    ++in_flight;
    const absl::Time start = absl::Now();
    Response response;
    try {
      response = handler->second(request);
    } catch (const std::exception&) {
      response = ErrorResponse(500, "internal", "the handler failed");
    }
    latency_of.at(request.path)->Observe(absl::ToDoubleSeconds(absl::Now() - start));
    // Counted before the answer is written, so a client that reads /metrics after its answer
    // sees its own request.
    CountRequest(request.path, response.status);
    --in_flight;
    return response;
  }

  void Accept();
  void Opened(const std::shared_ptr<Connection>& connection);
  void Closed(Connection* connection);

  EventServerOptions options;
  std::shared_ptr<prometheus::Registry> registry;
  std::function<void()> before_scrape;
  // path -> method -> handler
  std::map<std::string, std::map<std::string, Handler>> routes;
  prometheus::Family<prometheus::Counter>* requests;
  std::optional<common::CounterCache> request_counts;  // of `requests`
  prometheus::Family<prometheus::Histogram>* latency;
  std::map<std::string, prometheus::Histogram*> latency_of;  // per route, made in Serve

  const int threads;
  asio::io_context io;
  std::optional<asio::ssl::context> ssl;
  tcp::acceptor acceptor;
  std::vector<std::thread> workers;
  std::atomic<bool> stopping{false};
  std::atomic<int> in_flight{0};
  int port = 0;
  bool bound = false;

  absl::Mutex mu;
  std::map<Connection*, std::weak_ptr<Connection>> open ABSL_GUARDED_BY(mu);
  bool accept_paused ABSL_GUARDED_BY(mu) = false;
};

// What Stop needs of a connection, whatever its stream.
class EventServer::Impl::Connection {
 public:
  virtual ~Connection() = default;
  // Posted to the connection's strand: an idle connection closes now; one receiving or handling
  // a request finishes it and closes (`force`: closes now, whatever it is doing).
  virtual void Stop(bool force) = 0;
};

template <typename Stream>
class EventServer::Impl::Session : public Connection,
                                   public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr size_t kReadSize = 8192;

  template <typename... Args>
  Session(Impl& server, tcp::socket socket, Args&&... args)
      : server_(server),
        stream_(std::move(socket), std::forward<Args>(args)...),
        timer_(stream_.get_executor()) {}

  ~Session() override { server_.Closed(this); }

  // The connection's strand: every step of the connection runs on it.
  auto executor() { return stream_.get_executor(); }

  void Begin() {
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      WaitForRequest(/*first=*/true);
    } else {
      Arm(Phase::kHandshake, server_.options.request_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](const error_code& ec) {
                                self->Disarm();
                                if (ec) {
                                  self->Close();
                                  return;
                                }
                                self->WaitForRequest(/*first=*/true);
                              });
    }
  }

  void Stop(bool force) override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), force] {
      if (force || self->phase_ == Phase::kIdle || self->phase_ == Phase::kHandshake ||
          self->phase_ == Phase::kLinger) {
        self->stopped_ = true;
        error_code ignored;  // already closed: nothing to cancel
        self->Socket().cancel(ignored);
      }
    });
  }

 private:
  tcp::socket& Socket() {
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      return stream_;
    } else {
      return stream_.next_layer();
    }
  }

  // One timer serves every phase; a generation tells a stale expiry from the armed one.
  void Arm(Phase phase, absl::Duration timeout) {
    phase_ = phase;
    timed_out_ = false;
    const uint64_t generation = ++generation_;
    timer_.expires_after(std::chrono::microseconds(absl::ToInt64Microseconds(timeout)));
    timer_.async_wait([self = this->shared_from_this(), generation](const error_code& ec) {
      if (ec || generation != self->generation_) {
        return;
      }
      self->timed_out_ = true;
      error_code ignored;
      self->Socket().cancel(ignored);
    });
  }
  void Disarm() {
    ++generation_;
    timer_.cancel();
  }

  void WaitForRequest(bool first) {
    if (server_.stopping.load() || stopped_) {
      Close();
      return;
    }
    if (buffer_.size() > 0) {  // the next request arrived with the last one (pipelining)
      ReadRequest();
      return;
    }
    Arm(Phase::kIdle, first ? server_.options.request_timeout : server_.options.keep_alive_timeout);
    stream_.async_read_some(buffer_.prepare(kReadSize), [self = this->shared_from_this()](
                                                            const error_code& ec, size_t received) {
      self->Disarm();
      if (ec || self->stopped_) {
        self->Close();
        return;
      }
      self->buffer_.commit(received);
      self->ReadRequest();
    });
  }

  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options.max_header_bytes));
    parser_->body_limit(server_.options.max_request_bytes);
    // The request's one deadline, from its first byte (here) to its last.
    Arm(Phase::kRequest, server_.options.request_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](const error_code& ec, size_t) { self->OnHeader(ec); });
  }

  // Headers read (a body above the limit is refused here, from its Content-Length). A client
  // that sent "Expect: 100-continue" (curl does for bodies above 1 KiB) waits for "100
  // Continue" before the body, so it gets one; then the body, under the same deadline.
  void OnHeader(const error_code& ec) {
    if (ec || parser_->is_done()) {
      OnRequest(ec);
      return;
    }
    auto read_body = [self = this->shared_from_this()] {
      bhttp::async_read(self->stream_, self->buffer_, *self->parser_,
                        [self](const error_code& body_ec, size_t) { self->OnRequest(body_ec); });
    };
    if (!absl::EqualsIgnoreCase(absl::string_view(parser_->get()[bhttp::field::expect].data(),
                                                  parser_->get()[bhttp::field::expect].size()),
                                "100-continue")) {
      read_body();
      return;
    }
    static constexpr absl::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(
        stream_, asio::buffer(kContinue.data(), kContinue.size()),
        [self = this->shared_from_this(), read_body](const error_code& write_ec, size_t) {
          if (write_ec) {
            self->OnRequest(write_ec);
            return;
          }
          read_body();
        });
  }

  void OnRequest(const error_code& ec) {
    const bool timed_out = timed_out_;
    Disarm();
    if (stopped_) {
      Close();
      return;
    }
    if (timed_out) {
      Refuse(408, "request_timeout",
             absl::StrCat("the request did not arrive within ",
                          absl::FormatDuration(server_.options.request_timeout)));
      return;
    }
    if (ec == bhttp::error::body_limit) {
      Refuse(413, "request_too_large",
             absl::StrCat("the request body is larger than the limit of ",
                          server_.options.max_request_bytes, " bytes"));
      return;
    }
    if (ec == bhttp::error::header_limit) {
      Refuse(431, "request_too_large",
             absl::StrCat("the request headers are larger than the limit of ",
                          server_.options.max_header_bytes, " bytes"));
      return;
    }
    if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      Refuse(400, "invalid_request",
             absl::StrCat("the request is not well-formed HTTP/1.1: ", ec.message()));
      return;
    }
    if (ec) {  // the client went away
      Close();
      return;
    }
    phase_ = Phase::kHandling;
    const auto& message = parser_->get();
    Request request;
    request.method = std::string(message.method_string());
    ParseTarget(absl::string_view(message.target().data(), message.target().size()), request);
    for (const auto& field : message) {
      request.headers.emplace(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(parser_->get().body());
    const bool keep_alive = message.keep_alive();
    const auto handling_started = std::chrono::steady_clock::now();
    Response response = server_.Dispatch(request);
    const bool quick = std::chrono::steady_clock::now() - handling_started < kBatchAnswersOfUnder;
    ++served_;
    Write(
        std::move(response),
        keep_alive && served_ < server_.options.keep_alive_max_requests && !server_.stopping.load(),
        /*after_queued_handlers=*/quick);
  }

  // Answers a request that could not be read, counted under "other", and closes.
  void Refuse(int status, absl::string_view code, absl::string_view message) {
    server_.CountRequest("other", status);
    linger_ = true;
    Write(ErrorResponse(status, code, message), /*keep_alive=*/false,
          /*after_queued_handlers=*/false);
  }

  // After refusing a request that was not read to its end: the client may still be sending it
  // (a 10 MiB body). Closing now would reset the connection and the client could lose the
  // answer, so the sending side is shut and what still arrives is read and dropped until the
  // client closes or write_timeout passes.
  void Linger() {
    error_code ignored;
    Socket().shutdown(tcp::socket::shutdown_send, ignored);
    Arm(Phase::kLinger, server_.options.write_timeout);
    scratch_ = std::make_unique<std::array<char, 16384>>();
    DropIncoming();
  }
  void DropIncoming() {
    Socket().async_read_some(asio::buffer(*scratch_),
                             [self = this->shared_from_this()](const error_code& ec, size_t) {
                               if (ec || self->stopped_ || self->timed_out_) {
                                 self->Close();
                                 return;
                               }
                               self->DropIncoming();
                             });
  }

  // Answers of handlers quicker than this wait for the handlers already queued on the loop; see
  // Write. A slower handler's answer leaves at once: beside its own cost the client's wake-up is
  // small, and holding it behind other slow handlers would only add their time to its latency.
  static constexpr std::chrono::microseconds kBatchAnswersOfUnder{500};

  void Write(Response response, bool keep_alive, bool after_queued_handlers) {
    auto answer = std::make_shared<bhttp::response<bhttp::string_body>>();
    answer->result(static_cast<unsigned>(response.status));
    answer->version(11);
    answer->set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) {
      answer->set(name, value);
    }
    answer->body() = std::move(response.body);
    answer->keep_alive(keep_alive);
    answer->prepare_payload();
    Arm(Phase::kWrite, server_.options.write_timeout);
    if (!after_queued_handlers) {
      StartWrite(answer, keep_alive);
      return;
    }
    // Sent after the handlers already queued on this loop (other connections' requests that
    // arrived together): the answers then leave back to back, and the client's wake-up that the
    // first one causes is not paid again for each of the others.
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), answer, keep_alive] {
      self->StartWrite(answer, keep_alive);
    });
  }

  void StartWrite(const std::shared_ptr<bhttp::response<bhttp::string_body>>& answer,
                  bool keep_alive) {
    bhttp::async_write(
        stream_, *answer,
        [self = this->shared_from_this(), answer, keep_alive](const error_code& ec, size_t) {
          self->Disarm();
          if (!ec && self->linger_ && !self->stopped_) {
            self->Linger();
            return;
          }
          if (ec || !keep_alive || self->stopped_) {
            self->Close();
            return;
          }
          self->WaitForRequest(/*first=*/false);
        });
  }

  void Close() {
    Disarm();
    error_code ignored;
    Socket().shutdown(tcp::socket::shutdown_both, ignored);
    Socket().close(ignored);
  }

  Impl& server_;
  Stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Phase phase_ = Phase::kIdle;
  uint64_t generation_ = 0;
  bool timed_out_ = false;
  bool stopped_ = false;
  bool linger_ = false;
  int served_ = 0;
  std::unique_ptr<std::array<char, 16384>> scratch_;  // Linger's, made when needed
};

void EventServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(io), [this](const error_code& ec, tcp::socket socket) {
    if (ec) {
      return;  // closed by Stop
    }
    if (stopping.load()) {
      return;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::shared_ptr<Connection> connection;
    if (ssl.has_value()) {
      auto session =
          std::make_shared<Session<asio::ssl::stream<tcp::socket>>>(*this, std::move(socket), *ssl);
      connection = session;
      Opened(connection);
      asio::dispatch(session->executor(), [session] { session->Begin(); });
    } else {
      auto session = std::make_shared<Session<tcp::socket>>(*this, std::move(socket));
      connection = session;
      Opened(connection);
      asio::dispatch(session->executor(), [session] { session->Begin(); });
    }
    absl::MutexLock lock(&mu);
    if (static_cast<int>(open.size()) >= options.max_connections) {
      accept_paused = true;  // resumed by Closed
      return;
    }
    Accept();
  });
}

void EventServer::Impl::Opened(const std::shared_ptr<Connection>& connection) {
  absl::MutexLock lock(&mu);
  open.emplace(connection.get(), connection);
}

void EventServer::Impl::Closed(Connection* connection) {
  absl::MutexLock lock(&mu);
  open.erase(connection);
  if (accept_paused && !stopping.load() &&
      static_cast<int>(open.size()) < options.max_connections) {
    accept_paused = false;
    asio::post(acceptor.get_executor(), [this] { Accept(); });
  }
}

EventServer::EventServer(EventServerOptions options, std::shared_ptr<prometheus::Registry> registry)
    : options_(options), impl_(std::make_unique<Impl>(std::move(options), std::move(registry))) {}

EventServer::~EventServer() { Stop().IgnoreError(); }

void EventServer::Handle(const std::string& method, const std::string& path, Handler handler) {
  impl_->routes[path][method] = std::move(handler);
}

void EventServer::OnMetricsScrape(std::function<void()> before_scrape) {
  impl_->before_scrape = std::move(before_scrape);
}

void EventServer::AddProbes(std::function<absl::Status()> ready) {
  Impl& impl = *impl_;
  Handle("GET", "/healthz", [](const Request&) {
    return Response{.status = 200, .content_type = "text/plain", .body = "ok\n", .headers = {}};
  });
  Handle("GET", "/readyz", [&impl, ready = std::move(ready)](const Request&) {
    absl::Status status = impl.stopping.load() ? absl::UnavailableError("stopping") : ready();
    return Response{.status = status.ok() ? 200 : 503,
                    .content_type = "text/plain",
                    .body = status.ok() ? "ok\n" : absl::StrCat(status.message(), "\n"),
                    .headers = {}};
  });
  Handle("GET", "/metrics", [&impl](const Request&) {
    if (impl.before_scrape) {
      impl.before_scrape();
    }
    return Response{.status = 200,
                    .content_type = "text/plain; version=0.0.4",
                    .body = prometheus::TextSerializer().Serialize(impl.registry->Collect()),
                    .headers = {}};
  });
}

absl::Status EventServer::Bind() {
  Impl& impl = *impl_;
  if (impl.bound) {
    return absl::FailedPreconditionError("Bind called twice");
  }
  if (tls()) {
    if (options_.tls_key_file.empty()) {
      return absl::InvalidArgumentError("--tls-key: required with --tls-cert");
    }
    if (absl::Status readable = CheckReadable("--tls-cert", options_.tls_cert_file);
        !readable.ok()) {
      return readable;
    }
    if (absl::Status readable = CheckReadable("--tls-key", options_.tls_key_file); !readable.ok()) {
      return readable;
    }
    impl.ssl.emplace(asio::ssl::context::tls_server);
    error_code ec;
    impl.ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                              asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                              asio::ssl::context::no_tlsv1_1,
                          ec);
    impl.ssl->use_certificate_chain_file(options_.tls_cert_file, ec);
    if (!ec) {
      impl.ssl->use_private_key_file(options_.tls_key_file, asio::ssl::context::pem, ec);
    }
    if (ec || SSL_CTX_check_private_key(impl.ssl->native_handle()) != 1) {
      impl.ssl.reset();
      return absl::InvalidArgumentError(absl::StrCat(
          "--tls-cert ", options_.tls_cert_file, " / --tls-key ", options_.tls_key_file,
          ": not a PEM certificate and its matching private key"));
    }
  } else if (!options_.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert: required with --tls-key");
  }
  error_code ec;
  const std::string where = absl::StrCat(options_.host, ":", options_.port);
  tcp::resolver resolver(impl.io);
  const auto resolved =
      resolver.resolve(options_.host, std::to_string(options_.port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || resolved.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", where, " (not an address of this host)"));
  }
  const tcp::endpoint endpoint = resolved.begin()->endpoint();
  impl.acceptor.open(endpoint.protocol(), ec);
  // SO_REUSEADDR only (no SO_REUSEPORT): a daemon started twice must fail to bind.
  if (!ec) {
    impl.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) {
    impl.acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    error_code ignored;
    impl.acceptor.close(ignored);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", where, " (in use, or not an address of this host)"));
  }
  impl.port = impl.acceptor.local_endpoint(ec).port();
  impl.bound = true;
  return absl::OkStatus();
}

absl::Status EventServer::Serve() {
  Impl& impl = *impl_;
  if (!impl.bound) {
    if (absl::Status bound = Bind(); !bound.ok()) {
      return bound;
    }
  }
  if (!impl.workers.empty()) {
    return absl::FailedPreconditionError("Serve called twice");
  }
  for (const auto& [path, methods] : impl.routes) {
    impl.latency_of[path] = &impl.latency->Add(
        {{"route", path}}, prometheus::Histogram::BucketBoundaries{
                               0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5});
  }
  impl.Accept();
  for (int i = 0; i < impl.threads; ++i) {
    impl.workers.emplace_back([&impl] { impl.io.run(); });
  }
  return absl::OkStatus();
}

absl::Status EventServer::Start() { return Serve(); }

absl::Status EventServer::Stop(absl::Time deadline) {
  Impl& impl = *impl_;
  if (impl.workers.empty()) {
    if (impl.bound) {
      error_code ignored;
      impl.acceptor.close(ignored);
      impl.bound = false;
    }
    return absl::OkStatus();
  }
  impl.stopping = true;
  asio::post(impl.acceptor.get_executor(), [&impl] {
    error_code ignored;
    impl.acceptor.close(ignored);
  });
  auto stop_all = [&impl](bool force) {
    std::vector<std::shared_ptr<Impl::Connection>> connections;
    {
      absl::MutexLock lock(&impl.mu);
      for (const auto& [unused, weak] : impl.open) {
        if (auto connection = weak.lock()) {
          connections.push_back(std::move(connection));
        }
      }
    }
    for (const auto& connection : connections) {
      connection->Stop(force);
    }
  };
  stop_all(/*force=*/false);
  size_t still_open = 0;
  {
    absl::MutexLock lock(&impl.mu);
    auto all_closed = [&impl]()
                          ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.mu) { return impl.open.empty(); };
    if (!impl.mu.AwaitWithDeadline(absl::Condition(&all_closed), deadline)) {
      still_open = impl.open.size();
    }
  }
  if (still_open > 0) {
    stop_all(/*force=*/true);
    return absl::DeadlineExceededError(absl::StrCat(
        still_open, " connection(s) were still open at the stop deadline (slow clients)"));
  }
  for (std::thread& worker : impl.workers) {
    worker.join();
  }
  impl.workers.clear();
  return absl::OkStatus();
}

int EventServer::port() const { return impl_->port; }
int EventServer::threads() const { return impl_->threads; }

int EventServer::in_flight() const { return impl_->in_flight.load(); }

int EventServer::connections() const {
  absl::MutexLock lock(&impl_->mu);
  return static_cast<int>(impl_->open.size());
}

}  // namespace cn::http
