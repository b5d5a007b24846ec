#include "src/http/server.h"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/text_serializer.h"
#include "spdlog/spdlog.h"
#include "src/common/status_macros.h"

namespace cn::http {

struct Server::TlsIdentity {
  struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
  };
  struct KeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  std::vector<std::unique_ptr<X509, X509Free>> chain;  // leaf first
  std::unique_ptr<EVP_PKEY, KeyFree> key;
  absl::Time not_after = absl::InfinitePast();
};

struct Server::Metrics {
  prometheus::Family<prometheus::Counter>* requests;
  prometheus::Family<prometheus::Histogram>* latency;
};

namespace {

absl::string_view CodeOfStatus(int status) {
  switch (status) {
    case 400:
      return "invalid_request";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 408:
      return "request_timeout";
    case 413:
      return "request_too_large";
    case 414:
      return "uri_too_long";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "invalid_request";
  }
}

std::string MessageOfStatus(int status, const httplib::Request& req, size_t max_bytes) {
  switch (status) {
    case 404:
      return absl::StrCat("no such path: ", req.path);
    case 413:
      return absl::StrCat("the request body is larger than the limit of ", max_bytes, " bytes");
    case 400:
      return "the request is not well-formed HTTP/1.1";
    default:
      return absl::StrCat("HTTP status ", status);
  }
}

absl::Status CheckReadable(absl::string_view flag_or_what, const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(absl::StrCat(flag_or_what, " ", path, ": cannot be read"));
  }
  return absl::OkStatus();
}

std::unique_ptr<BIO, decltype(&BIO_free)> MemoryBio(absl::string_view text) {
  return {BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free};
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot be read"));
  }
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

const std::string* Request::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? nullptr : &it->second;
}

Response ErrorResponse(int status, absl::string_view code, absl::string_view message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  Response response;
  response.status = status;
  response.body = body.dump();
  return response;
}

Server::Server(ServerOptions options, std::shared_ptr<prometheus::Registry> registry)
    : options_(std::move(options)),
      registry_(std::move(registry)),
      metrics_(std::make_unique<Metrics>()) {
  metrics_->requests = &prometheus::BuildCounter()
                            .Name("cn_http_requests_total")
                            .Help("HTTP requests answered, by route and status")
                            .Register(*registry_);
  metrics_->latency = &prometheus::BuildHistogram()
                           .Name("cn_http_request_duration_seconds")
                           .Help("Time spent in the handler, by route")
                           .Register(*registry_);
}

Server::~Server() { Stop().IgnoreError(); }

namespace {

absl::Time Asn1ToTime(const ASN1_TIME* time) {
  struct tm parsed = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parsed) != 1) {
    return absl::InfinitePast();
  }
  return absl::FromTM(parsed, absl::UTCTimeZone());
}

}  // namespace

absl::Status Server::SetTlsCertificate(absl::string_view certificate_chain_pem,
                                       absl::string_view key_pem) {
  if (!tls()) {
    return absl::FailedPreconditionError("SetTlsCertificate on a plain-HTTP server");
  }
  auto identity = std::make_shared<TlsIdentity>();
  auto certificates = MemoryBio(certificate_chain_pem);
  while (true) {
    X509* certificate = PEM_read_bio_X509(certificates.get(), nullptr, nullptr, nullptr);
    if (certificate == nullptr) {
      break;
    }
    identity->chain.emplace_back(certificate);
  }
  ERR_clear_error();
  if (identity->chain.empty()) {
    return absl::InvalidArgumentError("the certificate is not a PEM certificate (chain)");
  }
  auto key_bio = MemoryBio(key_pem);
  // No passphrase callback: an encrypted key is refused instead of prompting on a terminal.
  identity->key.reset(PEM_read_bio_PrivateKey(
      key_bio.get(), nullptr, [](char*, int, int, void*) { return -1; }, nullptr));
  ERR_clear_error();
  if (identity->key == nullptr) {
    return absl::InvalidArgumentError("the key is not an unencrypted PEM private key");
  }
  if (X509_check_private_key(identity->chain.front().get(), identity->key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the private key does not belong to the certificate");
  }
  identity->not_after = Asn1ToTime(X509_get0_notAfter(identity->chain.front().get()));
  absl::MutexLock lock(&tls_mu_);
  tls_identity_ = std::move(identity);
  return absl::OkStatus();
}

absl::Time Server::TlsNotAfter() const {
  absl::MutexLock lock(&tls_mu_);
  return tls_identity_ == nullptr ? absl::InfinitePast() : tls_identity_->not_after;
}

int Server::SelectCertificate(SSL* ssl, void* arg) {
  Server* server = static_cast<Server*>(arg);
  std::shared_ptr<const TlsIdentity> identity;
  {
    absl::MutexLock lock(&server->tls_mu_);
    identity = server->tls_identity_;
  }
  if (identity == nullptr) {
    return 0;  // the handshake fails: nothing to serve
  }
  if (SSL_use_certificate(ssl, identity->chain.front().get()) != 1 ||
      SSL_use_PrivateKey(ssl, identity->key.get()) != 1) {
    return 0;
  }
  SSL_clear_chain_certs(ssl);
  for (size_t i = 1; i < identity->chain.size(); ++i) {
    SSL_add1_chain_cert(ssl, identity->chain[i].get());
  }
  return 1;
}

void Server::ReloadTlsFiles() {
  absl::StatusOr<std::string> cert = ReadWholeFile(options_.tls_cert_file);
  absl::StatusOr<std::string> key = ReadWholeFile(options_.tls_key_file);
  if (!cert.ok() || !key.ok()) {
    return;  // mid-swap, or gone for now: keep serving what we have, try again next interval
  }
  std::string text = absl::StrCat(*cert, "\n--key--\n", *key);
  if (text == tls_files_text_ || text == tls_refused_text_) {
    return;
  }
  absl::Status installed = SetTlsCertificate(*cert, *key);
  if (!installed.ok()) {
    tls_refused_text_ = std::move(text);
    spdlog::error(
        "TLS files {} / {} changed but cannot be used ({}); still serving the "
        "previous certificate",
        options_.tls_cert_file, options_.tls_key_file, std::string(installed.message()));
    return;
  }
  tls_files_text_ = std::move(text);
  spdlog::info("TLS certificate reloaded from {} (valid until {})", options_.tls_cert_file,
               absl::FormatTime(absl::RFC3339_sec, TlsNotAfter(), absl::UTCTimeZone()));
}

void Server::Handle(const std::string& method, const std::string& path, Handler handler) {
  routes_[path][method] = std::move(handler);
}

void Server::AddProbes(std::function<absl::Status()> ready) {
  Handle("GET", "/healthz", [](const Request&) {
    return Response{.status = 200, .content_type = "text/plain", .body = "ok\n", .headers = {}};
  });
  Handle("GET", "/readyz", [this, ready = std::move(ready)](const Request&) {
    absl::Status status = stopping_.load() ? absl::UnavailableError("stopping") : ready();
    if (status.ok()) {
      return Response{.status = 200, .content_type = "text/plain", .body = "ok\n", .headers = {}};
    }
    return Response{.status = 503,
                    .content_type = "text/plain",
                    .body = absl::StrCat(status.message(), "\n"),
                    .headers = {}};
  });
  Handle("GET", "/metrics", [this](const Request&) {
    if (before_scrape_) {
      before_scrape_();
    }
    return Response{.status = 200,
                    .content_type = "text/plain; version=0.0.4",
                    .body = prometheus::TextSerializer().Serialize(registry_->Collect()),
                    .headers = {}};
  });
}

void Server::CountRequest(const std::string& route, int status) {
  metrics_->requests->Add({{"route", route}, {"status", std::to_string(status)}}).Increment();
}

std::string Server::RouteLabel(const std::string& path) const {
  return routes_.contains(path) ? path : "other";
}

absl::Status Server::Bind() {
  if (server_ != nullptr) {
    return absl::FailedPreconditionError("Bind called twice");
  }
  if (tls()) {
    const bool from_files = !options_.tls_cert_file.empty();
    std::string cert_pem = options_.tls_cert_pem;
    std::string key_pem = options_.tls_key_pem;
    if (from_files) {
      if (options_.tls_key_file.empty()) {
        return absl::InvalidArgumentError("--tls-key: required with --tls-cert");
      }
      RETURN_IF_ERROR(CheckReadable("--tls-cert", options_.tls_cert_file));
      RETURN_IF_ERROR(CheckReadable("--tls-key", options_.tls_key_file));
      ASSIGN_OR_RETURN(cert_pem, ReadWholeFile(options_.tls_cert_file));
      ASSIGN_OR_RETURN(key_pem, ReadWholeFile(options_.tls_key_file));
      tls_files_text_ = absl::StrCat(cert_pem, "\n--key--\n", key_pem);
    }
    if (absl::Status loaded = SetTlsCertificate(cert_pem, key_pem); !loaded.ok()) {
      return absl::InvalidArgumentError(
          from_files ? absl::StrCat("--tls-cert ", options_.tls_cert_file, " / --tls-key ",
                                    options_.tls_key_file, ": ", loaded.message())
                     : absl::StrCat("TLS certificate: ", loaded.message()));
    }
    // The certificate is chosen per handshake (SelectCertificate), so that a reload needs no
    // new SSL_CTX and open connections are not disturbed.
    auto ssl = std::make_unique<httplib::SSLServer>([this](SSL_CTX& context) {
      SSL_CTX_set_options(&context,
                          SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
      SSL_CTX_set_min_proto_version(&context, TLS1_2_VERSION);
      SSL_CTX_set_cert_cb(&context, &Server::SelectCertificate, this);
      return true;
    });
    if (!ssl->is_valid()) {
      return absl::InternalError("cannot create the TLS context");
    }
    server_ = std::move(ssl);
    if (from_files && options_.tls_reload_interval > absl::ZeroDuration()) {
      tls_reloader_ = std::thread([this] {
        while (!tls_reloader_stop_.WaitForNotificationWithTimeout(options_.tls_reload_interval)) {
          ReloadTlsFiles();
        }
      });
    }
  } else if (!options_.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert: required with --tls-key");
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& server = *server_;
  const int threads = options_.threads > 0
                          ? options_.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  {
    absl::MutexLock lock(&mu_);
    handler_slots_ = threads;
  }
  const int connections = std::max(threads, options_.connection_threads);
  server.new_task_queue = [connections] { return new httplib::ThreadPool(connections); };
  server.set_payload_max_length(options_.max_request_bytes);
  server.set_read_timeout(
      std::chrono::microseconds(absl::ToInt64Microseconds(options_.read_timeout)));
  server.set_write_timeout(
      std::chrono::microseconds(absl::ToInt64Microseconds(options_.write_timeout)));
  server.set_keep_alive_timeout(
      std::max<time_t>(1, absl::ToInt64Seconds(options_.keep_alive_timeout)));
  server.set_keep_alive_max_count(options_.keep_alive_max_requests);
  server.set_tcp_nodelay(true);
  // httplib's default also sets SO_REUSEPORT, which lets a second process bind the same port and
  // share its traffic; a daemon started twice must fail instead.
  server.set_socket_options([](int fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

  if (options_.port == 0) {
    port_ = server.bind_to_any_port(options_.host);
    if (port_ <= 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.host, ":0"));
    }
  } else {
    if (!server.bind_to_port(options_.host, options_.port)) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.host, ":",
                                                 options_.port,
                                                 " (in use, or not an address of this host)"));
    }
    port_ = options_.port;
  }
  return absl::OkStatus();
}

absl::Status Server::Serve() {
  if (server_ == nullptr) {
    RETURN_IF_ERROR(Bind());
  }
  httplib::Server& server = *server_;
  for (const auto& [path, methods] : routes_) {
    for (const auto& [method, handler] : methods) {
      httplib::Server::Handler adapter = [this, &handler = handler, route = path](
                                             const httplib::Request& req, httplib::Response& res) {
        ++in_flight_;
        const absl::Time start = absl::Now();
        Request request{.method = req.method,
                        .path = req.path,
                        .body = req.body,
                        .params = {req.params.begin(), req.params.end()},
                        .headers = {req.headers.begin(), req.headers.end()}};
        {
          // Wait for a handler slot: --threads bounds the CPU work, not the connections.
          absl::MutexLock lock(&mu_);
          mu_.Await(absl::Condition(
              +[](int* slots) { return *slots > 0; }, &handler_slots_));
          --handler_slots_;
        }
        Response response = handler(request);
        {
          absl::MutexLock lock(&mu_);
          ++handler_slots_;
        }
        metrics_->latency
            ->Add({{"route", route}},
                  prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                          0.05, 0.1, 0.5, 1, 5})
            .Observe(absl::ToDoubleSeconds(absl::Now() - start));
        res.status = response.status;
        for (const auto& [name, value] : response.headers) {
          res.set_header(name, value);
        }
        res.set_content(std::move(response.body), response.content_type);
        // Counted before the answer is written, so a client that reads /metrics after its answer
        // sees its own request.
        CountRequest(route, res.status);
        --in_flight_;
      };
      // httplib matches patterns as regular expressions; our paths hold no special characters
      // except '.', which is escaped.
      std::string pattern;
      for (char c : path) {
        if (c == '.') {
          pattern += '\\';
        }
        pattern += c;
      }
      if (method == "GET") {
        server.Get(pattern, adapter);
      } else if (method == "POST") {
        server.Post(pattern, adapter);
      } else if (method == "PUT") {
        server.Put(pattern, adapter);
      } else if (method == "DELETE") {
        server.Delete(pattern, adapter);
      }
    }
  }

  // Every error answer is JSON: ours carry a body already; httplib's own (routing, 400, 413)
  // get one here, and a known path with another method becomes 405.
  server.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                       httplib::Response& res) {
    if (!res.body.empty()) {
      return httplib::Server::HandlerResponse::Unhandled;  // a handler's own, counted there
    }
    struct Count {
      Server* server;
      const httplib::Request& req;
      const httplib::Response& res;
      ~Count() { server->CountRequest(server->RouteLabel(req.path), res.status); }
    } count{this, req, res};
    auto route = routes_.find(req.path);
    if (res.status == 404 && route != routes_.end()) {
      std::vector<std::string> allowed;
      for (const auto& [method, unused] : route->second) {
        allowed.push_back(method);
      }
      res.status = 405;
      res.set_header("Allow", absl::StrJoin(allowed, ", "));
      Response error = ErrorResponse(
          405, "method_not_allowed",
          absl::StrCat(req.method, " ", req.path, ": allowed are ", absl::StrJoin(allowed, ", ")));
      res.set_content(error.body, error.content_type);
      return httplib::Server::HandlerResponse::Handled;
    }
    Response error = ErrorResponse(res.status, CodeOfStatus(res.status),
                                   MessageOfStatus(res.status, req, options_.max_request_bytes));
    res.set_content(error.body, error.content_type);
    return httplib::Server::HandlerResponse::Handled;
  }));
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        Response error = ErrorResponse(500, "internal", "the handler failed");
        res.status = 500;
        res.set_content(error.body, error.content_type);
      });

  listener_ = std::thread([this] {
    server_->listen_after_bind();
    absl::MutexLock lock(&mu_);
    listener_done_ = true;
  });
  // stop() is a no-op until the listener runs (httplib 0.11 has no "wait until ready"): poll
  // the flag it sets, with a deadline, so that Stop() right after Start() works.
  const absl::Time ready_deadline = absl::Now() + absl::Seconds(5);
  while (!server_->is_running() && absl::Now() < ready_deadline) {
    {
      absl::MutexLock lock(&mu_);
      if (listener_done_) {
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return absl::OkStatus();
}

absl::Status Server::Start() { return Serve(); }

absl::Status Server::Stop(absl::Time deadline) {
  if (tls_reloader_.joinable()) {
    tls_reloader_stop_.Notify();
    tls_reloader_.join();
  }
  if (!listener_.joinable()) {
    return absl::OkStatus();
  }
  stopping_ = true;
  server_->stop();
  {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithDeadline(absl::Condition(&listener_done_), deadline)) {
      return absl::DeadlineExceededError(
          "connections were still open at the stop deadline (slow clients)");
    }
  }
  listener_.join();
  return absl::OkStatus();
}

}  // namespace cn::http
