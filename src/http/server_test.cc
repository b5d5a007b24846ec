// The server over real loopback sockets, with cpp-httplib's client and raw sockets for the
// misbehaving clients.

#include "src/http/server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/synchronization/notification.h"
#include "nlohmann/json.hpp"
#include "src/testing/temp_dir.h"
#include "src/testing/test_pki.h"

namespace cn::http {
namespace {

using ::testing::HasSubstr;

ServerOptions TestOptions() {
  ServerOptions options;
  options.host = "127.0.0.1";
  options.threads = 4;
  options.max_request_bytes = 1000;
  options.read_timeout = absl::Seconds(1);
  return options;
}

Response Text(std::string body) {
  return Response{
      .status = 200, .content_type = "text/plain", .body = std::move(body), .headers = {}};
}

std::unique_ptr<Server> StartServer(ServerOptions options,
                                    std::function<void(Server&)> routes = nullptr) {
  auto server = std::make_unique<Server>(options, std::make_shared<prometheus::Registry>());
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

// A connected raw TCP socket to 127.0.0.1:port.
int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  return fd;
}

// Reads until the peer closes or `deadline`; returns what came and whether the peer closed.
std::pair<std::string, bool> ReadUntilClosed(int fd, absl::Time deadline) {
  std::string received;
  while (absl::Now() < deadline) {
    timeval tv{0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buffer[4096];
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) {
      return {received, true};
    }
    if (n > 0) {
      received.append(buffer, static_cast<size_t>(n));
    }
  }
  return {received, false};
}

TEST(ServerTest, ServesRoutesWithQueryParameters) {
  auto server = StartServer(TestOptions());
  httplib::Client client("127.0.0.1", server->port());
  auto result = client.Get("/hello?name=sgx");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "sgx");
}

TEST(ServerTest, UnknownPathIs404AndWrongMethodIs405WithJsonErrors) {
  auto server = StartServer(TestOptions());
  httplib::Client client("127.0.0.1", server->port());
  auto missing = client.Get("/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(missing->body)["error"]["code"], "not_found");

  auto wrong = client.Post("/hello", "x", "text/plain");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->get_header_value("Allow"), "GET");
  EXPECT_EQ(nlohmann::json::parse(wrong->body)["error"]["code"], "method_not_allowed");
}

TEST(ServerTest, BodyAboveTheLimitIs413AndTheServerKeepsServing) {
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
  const std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n";
  ASSERT_EQ(send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  auto [answer, closed] = ReadUntilClosed(fd, absl::Now() + absl::Seconds(5));
  EXPECT_THAT(answer, HasSubstr("413"));
  close(fd);
  httplib::Client after("127.0.0.1", server->port());
  auto ok = after.Get("/healthz");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST(ServerTest, ClientThatStopsSendingHeadersIsDisconnectedWhileOthersAreServed) {
  auto server = StartServer(TestOptions());
  int fd = Connect(server->port());
  const std::string partial = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  ASSERT_EQ(send(fd, partial.data(), partial.size(), 0), static_cast<ssize_t>(partial.size()));
  httplib::Client client("127.0.0.1", server->port());
  auto result = client.Get("/hello");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  const absl::Time start = absl::Now();
  auto [answer, closed] = ReadUntilClosed(fd, start + absl::Seconds(5));
  EXPECT_TRUE(closed);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));  // read_timeout is 1 s
  close(fd);
}

TEST(ServerTest, ProbesAndMetrics) {
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

TEST(ServerTest, ReadyzReportsTheReason) {
  auto server = std::make_unique<Server>(TestOptions(), std::make_shared<prometheus::Registry>());
  server->AddProbes([] { return absl::UnavailableError("no signing key"); });
  ASSERT_TRUE(server->Start().ok());
  httplib::Client client("127.0.0.1", server->port());
  auto result = client.Get("/readyz");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 503);
  EXPECT_THAT(result->body, HasSubstr("no signing key"));
}

TEST(ServerTest, StopDrainsTheRequestInFlightAndClosesIdleKeepAliveConnections) {
  absl::Notification entered, release;
  auto server = StartServer(TestOptions(), [&](Server& s) {
    s.Handle("GET", "/slow", [&](const Request&) {
      entered.Notify();
      release.WaitForNotification();
      return Text("done");
    });
  });
  // An idle keep-alive connection.
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
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(slow_status, 200);
  EXPECT_EQ(slow_body, "done");
}

TEST(ServerTest, ServesHttps) {
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
  ServerOptions options = TestOptions();
  options.tls_cert_file = cert_file;
  options.tls_key_file = key_file;
  auto server = StartServer(options);
  EXPECT_TRUE(server->tls());
  httplib::SSLClient client("127.0.0.1", server->port());
  client.enable_server_certificate_verification(false);
  auto result = client.Get("/hello");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->body, "world");
  // Plain HTTP to the HTTPS port gets no answer.
  httplib::Client plain("127.0.0.1", server->port());
  plain.set_read_timeout(2, 0);
  auto refused = plain.Get("/hello");
  EXPECT_FALSE(refused && refused->status == 200);
}

TEST(ServerTest, UnreadableTlsFilesAndBusyPortsAreReported) {
  ServerOptions options = TestOptions();
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  Server tls(options, std::make_shared<prometheus::Registry>());
  absl::Status status = tls.Start();
  EXPECT_THAT(std::string(status.message()), HasSubstr("--tls-cert /nonexistent/cert.pem"));

  auto first = StartServer(TestOptions());
  ServerOptions same = TestOptions();
  same.port = first->port();
  Server second(same, std::make_shared<prometheus::Registry>());
  status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()), HasSubstr(absl::StrCat("127.0.0.1:", first->port())));
}

}  // namespace
}  // namespace cn::http
