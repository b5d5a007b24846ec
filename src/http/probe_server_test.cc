#include "src/http/probe_server.h"

#include <atomic>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace cn::http {
namespace {

using ::testing::HasSubstr;

TEST(ProbeServerTest, ServesMetricsHealthAndReadiness) {
  std::atomic<bool> ready{false};
  auto endpoints = ProbeServer::Start(
      ListenAddress{"127.0.0.1", 0}, [] { return std::string("cn_sgx_epc_bytes 42\n"); },
      [&ready] { return ready ? absl::OkStatus() : absl::UnavailableError("not registered yet"); });
  ASSERT_TRUE(endpoints.ok()) << endpoints.status();
  httplib::Client client("127.0.0.1", (*endpoints)->port());

  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("cn_sgx_epc_bytes 42"));

  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  auto not_ready = client.Get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_THAT(not_ready->body, HasSubstr("not registered yet"));

  ready = true;
  auto is_ready = client.Get("/readyz");
  ASSERT_TRUE(is_ready);
  EXPECT_EQ(is_ready->status, 200);
}

TEST(ProbeServerTest, AnswersUnknownPathsAndMethodsWithoutServingThem) {
  int metrics_calls = 0;
  auto endpoints = ProbeServer::Start(
      ListenAddress{"127.0.0.1", 0},
      [&metrics_calls] {
        ++metrics_calls;
        return std::string("x 1\n");
      },
      [] { return absl::OkStatus(); });
  ASSERT_TRUE(endpoints.ok());
  httplib::Client client("127.0.0.1", (*endpoints)->port());
  auto missing = client.Get("/secrets");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto post = client.Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  auto head = client.Head("/metrics?format=text");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  EXPECT_EQ(metrics_calls, 1);
}

TEST(ProbeServerTest, PortInUseIsReportedAtStart) {
  auto first = ProbeServer::Start(
      ListenAddress{"127.0.0.1", 0}, [] { return std::string(); }, [] { return absl::OkStatus(); });
  ASSERT_TRUE(first.ok());
  auto second = ProbeServer::Start(
      ListenAddress{"127.0.0.1", (*first)->port()}, [] { return std::string(); },
      [] { return absl::OkStatus(); });
  EXPECT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("--metrics-addr"));
}

}  // namespace
}  // namespace cn::http
