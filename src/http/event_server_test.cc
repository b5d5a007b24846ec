// EventServer over real loopback sockets: cpp-httplib's client for well-behaved clients, raw
// sockets for the misbehaving ones.

#include "src/http/event_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "nlohmann/json.hpp"
#include "src/testing/temp_dir.h"
#include "src/testing/test_pki.h"

namespace cn::http {
namespace {

using ::testing::HasSubstr;

EventServerOptions TestOptions() {
  EventServerOptions options;
  options.host = "127.0.0.1";
  options.threads = 2;
  options.max_request_bytes = 1000;
  options.request_timeout = absl::Seconds(2);
  return options;
}

Response Text(std::string body) {
  return Response{
      .status = 200, .content_type = "text/plain", .body = std::move(body), .headers = {}};
}

std::unique_ptr<EventServer> StartServer(EventServerOptions options,
                                         std::function<void(EventServer&)> routes = nullptr) {
  auto server = std::make_unique<EventServer>(options, std::make_shared<prometheus::Registry>());
  server->Handle("GET", "/hello", [](const Request& r) {
    const std::string* name = r.Param("name");
    return Text(name ? *name : "world");
  });
  server->Handle("POST", "/echo", [](const Request& r) { return Text(r.body); });
  server->AddProbes([] { return absl::OkStatus(); });
  if (routes) {
    routes(*server);
  }
  absl::Status started = server->Start();
  EXPECT_TRUE(started.ok()) << started;
  return server;
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  return fd;
}

void SendAll(int fd, const std::string& bytes) {
  ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

// Reads until the peer closes or `deadline`; returns what came and whether the peer closed.
std::pair<std::string, bool> ReadUntilClosed(int fd, absl::Time deadline) {
  std::string received;
  while (absl::Now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) {
      continue;
    }
    char buffer[4096];
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      return {received, true};
    }
    received.append(buffer, static_cast<size_t>(n));
  }
  return {received, false};
}

TEST(EventServerTest, ThreadsDefaultToOnePerCore) {
  EventServerOptions options = TestOptions();
  options.threads = 0;  // what sgx-attestd passes when --threads is not given
  auto server = StartServer(options);
  EXPECT_EQ(server->threads(), std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  options.threads = 3;
  EXPECT_EQ(StartServer(options)->threads(), 3);
}

TEST(EventServerTest, ServesRoutesWithQueryParametersAndJsonErrors) {
  auto server = StartServer(TestOptions());
  httplib::Client client("127.0.0.1", server->port());
  auto hello = client.Get("/hello?name=a%20b&x=1");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(hello->body, "a b");
  auto echo = client.Post("/echo", "payload", "text/plain");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->body, "payload");
  auto missing = client.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing->body)["error"]["code"], "not_found");
  EXPECT_EQ(missing->get_header_value("Content-Type"), "application/json");
  auto wrong = client.Post("/hello", "", "text/plain");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->get_header_value("Allow"), "GET");
  EXPECT_EQ(nlohmann::json::parse(wrong->body)["error"]["code"], "method_not_allowed");
}

TEST(EventServerTest, BodyAboveTheLimitIs413FromTheHeaderBigHeadersAre431AndBadHttpIs400) {
  auto server = StartServer(TestOptions());
  {
    httplib::Client client("127.0.0.1", server->port());
    auto small = client.Post("/echo", std::string(1000, 'a'), "text/plain");
    ASSERT_TRUE(small);
    EXPECT_EQ(small->status, 200);
    auto big = client.Post("/echo", std::string(1001, 'a'), "text/plain");
    ASSERT_TRUE(big);
    EXPECT_EQ(big->status, 413);
    EXPECT_EQ(nlohmann::json::parse(big->body)["error"]["code"], "request_too_large");
  }
  // 10 MiB announced, none sent: refused at once from the header.
  int fd = Connect(server->port());
  SendAll(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n");
  auto [answer, closed] = ReadUntilClosed(fd, absl::Now() + absl::Seconds(1));
  EXPECT_THAT(answer, HasSubstr("413"));
  EXPECT_TRUE(closed);
  close(fd);
  fd = Connect(server->port());
  SendAll(fd, absl::StrCat("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ", std::string(20000, 'b'),
                           "\r\n\r\n"));
  auto [big_headers, big_closed] = ReadUntilClosed(fd, absl::Now() + absl::Seconds(1));
  EXPECT_THAT(big_headers, HasSubstr("HTTP/1.1 431"));
  close(fd);
  fd = Connect(server->port());
  SendAll(fd, "NOT HTTP AT ALL\r\n\r\n");
  auto [garbage, garbage_closed] = ReadUntilClosed(fd, absl::Now() + absl::Seconds(1));
  EXPECT_THAT(garbage, HasSubstr("400"));
  EXPECT_THAT(garbage, HasSubstr("invalid_request"));
  close(fd);
  httplib::Client after("127.0.0.1", server->port());
  auto ok = after.Get("/healthz");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

// curl sends "Expect: 100-continue" for bodies above 1 KiB and waits for it (a second, by
// default) before the body.
TEST(EventServerTest, ExpectContinueGetsA100BeforeTheBody) {
  auto server = StartServer(TestOptions());
  int fd = Connect(server->port());
  SendAll(fd,
          "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 500), 1);
  char buffer[256];
  const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buffer, static_cast<size_t>(n)), "HTTP/1.1 100 Continue\r\n\r\n");
  SendAll(fd, "hello");
  ASSERT_EQ(poll(&p, 1, 1000), 1);
  const ssize_t m = recv(fd, buffer, sizeof(buffer), 0);
  ASSERT_GT(m, 0);
  const std::string answer(buffer, static_cast<size_t>(m));
  EXPECT_THAT(answer, HasSubstr("200 OK"));
  EXPECT_THAT(answer, HasSubstr("\r\n\r\nhello"));
  close(fd);
}

// A slowloris client sends one header byte a second: every read succeeds, so only a bound on the
// whole request cuts it off. It gets 408 when request_timeout (2 s) has passed since its first
// byte, and another client is served in the meantime.
TEST(EventServerTest, SlowlorisIsAnswered408AtTheRequestDeadlineWhileOthersAreServed) {
  auto server = StartServer(TestOptions());
  int fd = Connect(server->port());
  const std::string request = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaa\r\n\r\n";
  const absl::Time start = absl::Now();
  std::string answer;
  bool closed = false;
  bool others_served = false;
  for (size_t i = 0; i < request.size() && !closed && absl::Now() - start < absl::Seconds(6); ++i) {
    if (send(fd, &request[i], 1, MSG_NOSIGNAL) != 1) {
      break;  // the server closed first
    }
    if (i == 1) {
      httplib::Client client("127.0.0.1", server->port());
      auto result = client.Get("/hello");
      others_served = result && result->status == 200;
    }
    auto [chunk, peer_closed] = ReadUntilClosed(fd, absl::Now() + absl::Seconds(1));
    answer += chunk;
    closed = peer_closed;
  }
  if (!closed) {
    auto [chunk, peer_closed] = ReadUntilClosed(fd, absl::Now() + absl::Seconds(1));
    answer += chunk;
    closed = peer_closed;
  }
  const absl::Duration elapsed = absl::Now() - start;
  close(fd);
  EXPECT_TRUE(others_served);
  EXPECT_TRUE(closed);
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 408"));
  EXPECT_THAT(answer, HasSubstr("request_timeout"));
  EXPECT_GE(elapsed, absl::Milliseconds(1900));
  EXPECT_LT(elapsed, absl::Milliseconds(3500));
}

TEST(EventServerTest, IdleKeepAliveConnectionsCloseAfterTheKeepAliveTimeout) {
  EventServerOptions options = TestOptions();
  options.keep_alive_timeout = absl::Milliseconds(500);
  auto server = StartServer(options);
  int fd = Connect(server->port());
  SendAll(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  const absl::Time start = absl::Now();
  auto [answer, closed] = ReadUntilClosed(fd, start + absl::Seconds(3));
  close(fd);
  EXPECT_THAT(answer, HasSubstr("200 OK"));
  EXPECT_TRUE(closed);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(450));
}

TEST(EventServerTest, ConnectionsAboveTheBoundWaitUntilOneCloses) {
  EventServerOptions options = TestOptions();
  options.max_connections = 2;
  auto server = StartServer(options);
  int first = Connect(server->port());
  int second = Connect(server->port());
  SendAll(first, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  SendAll(second, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int fd : {first, second}) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 2000), 1);
    char buffer[1024];
    ASSERT_GT(recv(fd, buffer, sizeof(buffer), 0), 0);
  }
  // The third connects (the kernel's backlog) but is not served while two are open.
  int third = Connect(server->port());
  SendAll(third, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  pollfd p{third, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 300), 0);
  EXPECT_EQ(server->connections(), 2);
  close(first);
  auto [answer, closed] = ReadUntilClosed(third, absl::Now() + absl::Milliseconds(1500));
  EXPECT_THAT(answer, HasSubstr("200 OK"));
  close(second);
  close(third);
}

TEST(EventServerTest, ProbesAndMetrics) {
  auto server = StartServer(TestOptions());
  httplib::Client client("127.0.0.1", server->port());
  ASSERT_EQ(client.Get("/healthz")->status, 200);
  ASSERT_EQ(client.Get("/readyz")->status, 200);
  ASSERT_EQ(client.Get("/hello")->status, 200);
  ASSERT_EQ(client.Get("/nope")->status, 404);
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              HasSubstr("cn_http_requests_total{route=\"/hello\",status=\"200\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("cn_http_requests_total{route=\"other\",status=\"404\"} 1"));
  EXPECT_THAT(metrics->body,
              HasSubstr("cn_http_request_duration_seconds_count{route=\"/hello\"} 1"));
}

TEST(EventServerTest, StopDrainsTheRequestInFlightAndClosesIdleKeepAliveConnections) {
  absl::Notification entered, release;
  auto server = StartServer(TestOptions(), [&](EventServer& s) {
    s.Handle("GET", "/slow", [&](const Request&) {
      entered.Notify();
      release.WaitForNotification();
      return Text("done");
    });
  });
  httplib::Client idle("127.0.0.1", server->port());
  idle.set_keep_alive(true);
  ASSERT_EQ(idle.Get("/healthz")->status, 200);

  int slow_status = 0;
  std::string slow_body;
  std::thread slow([&] {
    httplib::Client client("127.0.0.1", server->port());
    auto result = client.Get("/slow");
    if (result) {
      slow_status = result->status;
      slow_body = result->body;
    }
  });
  entered.WaitForNotification();
  EXPECT_EQ(server->in_flight(), 1);
  absl::Status stopped;
  const absl::Time start = absl::Now();
  std::thread stopper([&] { stopped = server->Stop(start + absl::Seconds(5)); });
  release.Notify();
  stopper.join();
  slow.join();
  EXPECT_TRUE(stopped.ok()) << stopped;
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(slow_status, 200);
  EXPECT_EQ(slow_body, "done");
  EXPECT_EQ(server->connections(), 0);
}

TEST(EventServerTest, StopAtTheDeadlineClosesAClientStillSendingAndSaysSo) {
  EventServerOptions options = TestOptions();
  options.threads = 1;  // events in order: the partial request is read before the probe below
  auto server = StartServer(options);
  int fd = Connect(server->port());
  SendAll(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n");  // headers not finished
  httplib::Client client("127.0.0.1", server->port());
  ASSERT_EQ(client.Get("/healthz")->status, 200);
  client.stop();
  const absl::Status stopped = server->Stop(absl::Now() + absl::Milliseconds(200));
  EXPECT_EQ(stopped.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(stopped.message()), HasSubstr("1 connection(s)"));
  auto [answer, closed] = ReadUntilClosed(fd, absl::Now() + absl::Seconds(2));
  EXPECT_TRUE(closed);
  close(fd);
}

TEST(EventServerTest, ServesHttps) {
  testing::TempDir dir;
  dcap::EvpPkeyPtr key = testing::GenerateP256Key();
  dcap::X509Ptr cert = testing::IssueCertificate({.common_name = "localhost",
                                                  .subject_key = key.get(),
                                                  .not_before = absl::Now() - absl::Hours(1),
                                                  .not_after = absl::Now() + absl::Hours(1)});
  const std::string cert_file = dir.path() + "/cert.pem";
  const std::string key_file = dir.path() + "/key.pem";
  std::ofstream(cert_file) << testing::CertificatePem(cert.get());
  {
    BIO* bio = BIO_new_file(key_file.c_str(), "w");
    ASSERT_EQ(PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr), 1);
    BIO_free(bio);
  }
  EventServerOptions options = TestOptions();
  options.tls_cert_file = cert_file;
  options.tls_key_file = key_file;
  auto server = StartServer(options);
  EXPECT_TRUE(server->tls());
  httplib::SSLClient client("127.0.0.1", server->port());
  client.enable_server_certificate_verification(false);
  client.set_keep_alive(true);
  for (int i = 0; i < 3; ++i) {  // keep-alive over TLS
    auto result = client.Get("/hello");
    ASSERT_TRUE(result) << httplib::to_string(result.error());
    EXPECT_EQ(result->body, "world");
  }
  httplib::Client plain("127.0.0.1", server->port());
  plain.set_read_timeout(2, 0);
  auto refused = plain.Get("/hello");
  EXPECT_FALSE(refused && refused->status == 200);

  EventServerOptions mismatched = options;
  mismatched.tls_key_file = cert_file;
  EventServer bad(mismatched, std::make_shared<prometheus::Registry>());
  EXPECT_THAT(std::string(bad.Start().message()), HasSubstr("--tls-cert"));
}

TEST(EventServerTest, UnreadableTlsFilesAndBusyPortsAreReported) {
  EventServerOptions options = TestOptions();
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  EventServer tls(options, std::make_shared<prometheus::Registry>());
  absl::Status status = tls.Start();
  EXPECT_THAT(std::string(status.message()), HasSubstr("--tls-cert /nonexistent/cert.pem"));

  auto first = StartServer(TestOptions());
  EventServerOptions same = TestOptions();
  same.port = first->port();
  EventServer second(same, std::make_shared<prometheus::Registry>());
  status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()), HasSubstr(absl::StrCat("127.0.0.1:", first->port())));
}

}  // namespace
}  // namespace cn::http
