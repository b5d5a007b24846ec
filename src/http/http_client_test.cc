#include "src/http/http_client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/os/clock.h"
#include "src/testing/fake_kube_api.h"
#include "src/testing/temp_dir.h"
#include "src/testing/test_pki.h"

namespace cn::http {
namespace {

using ::testing::HasSubstr;

// An httplib server on a loopback port in its own thread, for the duration of a test.
class LoopbackServer {
 public:
  explicit LoopbackServer(std::unique_ptr<httplib::Server> server = nullptr)
      : server_(server ? std::move(server) : std::make_unique<httplib::Server>()) {}
  ~LoopbackServer() {
    release_.Notify();
    server_->stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  httplib::Server& server() { return *server_; }
  void Start() {
    port_ = server_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    // bind_to_any_port already listens: connections queue until the accept loop runs.
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // stop() is a no-op until the accept loop runs; wait for it so the destructor can stop it.
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (!server_->is_running() && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_TRUE(server_->is_running());
  }
  std::string Url(absl::string_view scheme, absl::string_view path) const {
    return absl::StrCat(scheme, "://", scheme == "https" ? "localhost" : "127.0.0.1", ":", port_,
                        path);
  }
  // Handlers that must stall wait on this; the destructor releases them.
  absl::Notification& release() { return release_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  absl::Notification release_;
  std::thread thread_;
  int port_ = 0;
};

class HttpClientTest : public ::testing::Test {
 protected:
  os::RealClock clock_;
  HttpClient client_{HttpClient::Options{}, &clock_};
};

TEST_F(HttpClientTest, ReturnsStatusBodyAndLowercasedHeaders) {
  LoopbackServer loopback;
  loopback.server().Get("/hello", [](const httplib::Request&, httplib::Response& response) {
    response.set_header("TCB-Info-Issuer-Chain", "a%2Bb");
    response.set_content("hello body", "text/plain");
  });
  loopback.Start();
  absl::StatusOr<HttpResponse> response = client_.Get(loopback.Url("http", "/hello"), {});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello body");
  ASSERT_NE(response->Header("tcb-info-issuer-chain"), nullptr);
  EXPECT_EQ(*response->Header("TCB-INFO-ISSUER-CHAIN"), "a%2Bb");
  EXPECT_EQ(response->Header("no-such-header"), nullptr);
}

TEST_F(HttpClientTest, ANotFoundIsAResponseNotAnError) {
  LoopbackServer loopback;
  loopback.Start();
  absl::StatusOr<HttpResponse> response = client_.Get(loopback.Url("http", "/missing"), {});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 404);
}

TEST_F(HttpClientTest, GivesUpOnASlowServerAtTheTimeout) {
  LoopbackServer loopback;
  loopback.server().Get("/slow", [&](const httplib::Request&, httplib::Response& response) {
    loopback.release().WaitForNotificationWithTimeout(absl::Seconds(10));
    response.set_content("late", "text/plain");
  });
  loopback.Start();
  const absl::Time start = absl::Now();
  absl::StatusOr<HttpResponse> response =
      client_.Get(loopback.Url("http", "/slow"), {.timeout = absl::Milliseconds(200)});
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_GE(took, absl::Milliseconds(190));
  EXPECT_LT(took, absl::Seconds(2));
}

TEST_F(HttpClientTest, TheDeadlineBoundsTheRequestWhenItIsSooner) {
  LoopbackServer loopback;
  loopback.server().Get("/slow", [&](const httplib::Request&, httplib::Response& response) {
    loopback.release().WaitForNotificationWithTimeout(absl::Seconds(10));
    response.set_content("late", "text/plain");
  });
  loopback.Start();
  const absl::Time start = absl::Now();
  absl::StatusOr<HttpResponse> response =
      client_.Get(loopback.Url("http", "/slow"),
                  {.timeout = absl::Seconds(30), .deadline = start + absl::Milliseconds(200)});
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));

  absl::StatusOr<HttpResponse> past =
      client_.Get(loopback.Url("http", "/slow"), {.deadline = absl::Now() - absl::Seconds(1)});
  EXPECT_EQ(past.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(past.status().message(), HasSubstr("deadline passed"));
}

TEST_F(HttpClientTest, RefusesABodyLargerThanTheCap) {
  LoopbackServer loopback;
  loopback.server().Get("/big", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(std::string(100000, 'x'), "text/plain");
  });
  loopback.Start();
  absl::StatusOr<HttpResponse> response =
      client_.Get(loopback.Url("http", "/big"), {.max_body_bytes = 1000});
  EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(response.status().message(), HasSubstr("1000 bytes"));
  absl::StatusOr<HttpResponse> fits =
      client_.Get(loopback.Url("http", "/big"), {.max_body_bytes = 100000});
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->body.size(), 100000u);
}

TEST_F(HttpClientTest, ADeadPortIsUnavailable) {
  // A port the kernel just gave us and that is closed again: nothing listens there.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int port = ntohs(address.sin_port);
  close(fd);
  absl::StatusOr<HttpResponse> response =
      client_.Get(absl::StrCat("http://127.0.0.1:", port, "/"), {});
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
}

TEST_F(HttpClientTest, RefusesOtherSchemes) {
  EXPECT_EQ(client_.Get("file:///etc/passwd", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_.Get("ftp://example.com/", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(HttpClientTest, VerifiesTlsAgainstTheGivenCaFile) {
  testing::TempDir dir;
  dcap::EvpPkeyPtr key = testing::GenerateP256Key();
  dcap::X509Ptr cert = testing::IssueCertificate({.common_name = "localhost",
                                                  .subject_key = key.get(),
                                                  .not_before = absl::Now() - absl::Hours(1),
                                                  .not_after = absl::Now() + absl::Hours(1)});
  const std::string cert_path = dir.WriteFile("cert.pem", testing::CertificatePem(cert.get()));
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  const std::string key_path =
      dir.WriteFile("key.pem", std::string(data, static_cast<size_t>(length)));
  BIO_free(bio);

  LoopbackServer loopback(
      std::make_unique<httplib::SSLServer>(cert_path.c_str(), key_path.c_str()));
  loopback.server().Get("/tls", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("secret", "text/plain");
  });
  loopback.Start();

  // The system store does not know this certificate: refused.
  absl::StatusOr<HttpResponse> untrusted = client_.Get(loopback.Url("https", "/tls"), {});
  EXPECT_EQ(untrusted.status().code(), absl::StatusCode::kUnavailable) << untrusted.status();

  HttpClient trusting({.ca_file = cert_path}, &clock_);
  absl::StatusOr<HttpResponse> trusted = trusting.Get(loopback.Url("https", "/tls"), {});
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  EXPECT_EQ(trusted->body, "secret");
}

TEST(PercentDecode, DecodesEscapesAndKeepsPlus) {
  absl::StatusOr<std::string> decoded = PercentDecode("-----BEGIN%20CERT-----%0Aab+c%2Bd%2f");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, "-----BEGIN CERT-----\nab+c+d/");
}

TEST(PercentDecode, RejectsABrokenEscapeNamingItsOffset) {
  EXPECT_THAT(PercentDecode("abc%4").status().message(), HasSubstr("offset 3"));
  EXPECT_EQ(PercentDecode("%zz").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PercentDecode("%").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PercentEncode, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) {
    all.push_back(static_cast<char>(i));
  }
  const std::string encoded = PercentEncode(all);
  EXPECT_EQ(encoded.find(' '), std::string::npos);
  EXPECT_EQ(encoded.find('+'), std::string::npos);
  absl::StatusOr<std::string> decoded = PercentDecode(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, all);
}

}  // namespace
}  // namespace cn::http

namespace cn::http {
namespace {

TEST(HttpClientSendTest, SendsMethodBodyContentTypeAndHeaders) {
  LoopbackServer loopback;
  std::string seen;
  loopback.server().Patch(
      "/obj", [&seen](const httplib::Request& request, httplib::Response& response) {
        seen = absl::StrCat(request.method, "|", request.get_header_value("Content-Type"), "|",
                            request.get_header_value("Authorization"), "|", request.body, "|",
                            request.has_header("Expect") ? "expect" : "no-expect");
        response.status = 201;
        response.set_content("{}", "application/json");
      });
  loopback.Start();
  os::RealClock clock;
  HttpClient client({}, &clock);
  absl::StatusOr<HttpResponse> response =
      client.Send({.method = "PATCH",
                   .url = loopback.Url("http", "/obj"),
                   .body = std::string(2000, 'b'),
                   .content_type = "application/merge-patch+json",
                   .headers = {{"Authorization", "Bearer t"}}},
                  {});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(seen, absl::StrCat("PATCH|application/merge-patch+json|Bearer t|",
                               std::string(2000, 'b'), "|no-expect"));
}

TEST(HttpClientSendTest, RefusesHeaderInjectionAndUnknownMethods) {
  os::RealClock clock;
  HttpClient client({}, &clock);
  absl::StatusOr<HttpResponse> injected = client.Send(
      {.url = "http://127.0.0.1:1/", .headers = {{"Authorization", "Bearer t\r\nX-Evil: 1"}}}, {});
  EXPECT_EQ(injected.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.Send({.method = "TRACE", .url = "http://127.0.0.1:1/"}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.Send({.url = "file:///etc/passwd"}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HttpClientSendTest, PresentsAClientCertificateAndTrustsAnInMemoryCa) {
  testing::TempDir dir;
  testing::TestTlsFiles server_tls = testing::MakeTestTls(dir, "server-", "localhost", "server-ca");
  testing::TestTlsFiles client_tls = testing::MakeTestTls(dir, "client-", "agent", "client-ca");
  LoopbackServer loopback(std::make_unique<httplib::SSLServer>(server_tls.certificate_file.c_str(),
                                                               server_tls.key_file.c_str(),
                                                               client_tls.ca_file.c_str()));
  loopback.server().Get("/who", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("authenticated", "text/plain");
  });
  loopback.Start();
  os::RealClock clock;
  HttpClient client({}, &clock);
  HttpRequest request{.url = loopback.Url("https", "/who")};
  request.tls.ca_pem = server_tls.ca_pem;
  // Without a client certificate the server ends the handshake.
  EXPECT_EQ(client.Send(request, {}).status().code(), absl::StatusCode::kUnavailable);
  request.tls.client_certificate_pem = client_tls.certificate_pem;
  request.tls.client_key_pem = client_tls.key_pem;
  absl::StatusOr<HttpResponse> response = client.Send(request, {});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "authenticated");
}

}  // namespace
}  // namespace cn::http
