#include "src/kube/client.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/os/host_file_system.h"
#include "src/testing/fake_kube_api.h"
#include "src/testing/temp_dir.h"

namespace cn::kube {
namespace {

using ::testing::HasSubstr;

class ApiClientTest : public ::testing::Test {
 protected:
  ApiClientTest() {
    api_.PutNode("n1", {{"kubernetes.io/hostname", "n1"}});
    config_.server = api_.url();
    config_.ca_pem = api_.ca_pem();
    config_.token = "test-token";
    config_.source = "test";
  }
  ApiClient Client(ClusterConfig config) {
    return ApiClient(std::move(config), http_, files_, {.timeout = absl::Seconds(5)});
  }

  testing::FakeKubeApi api_;
  testing::TempDir dir_;
  os::HostFileSystem files_{"/"};
  os::RealClock clock_;
  http::HttpClient http_{{}, &clock_};
  ClusterConfig config_;
};

TEST_F(ApiClientTest, GetsANodeWithTheBearerToken) {
  absl::StatusOr<nlohmann::json> node = Client(config_).Get("/api/v1/nodes/n1");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ((*node)["metadata"]["labels"]["kubernetes.io/hostname"], "n1");
  ASSERT_EQ(api_.Requests().size(), 1u);
  EXPECT_EQ(api_.Requests()[0].authorization, "Bearer test-token");
}

TEST_F(ApiClientTest, MergePatchSetsAndDeletesLabels) {
  api_.SetLabel("n1", "old", "x");
  absl::StatusOr<nlohmann::json> patched = Client(config_).MergePatch(
      "/api/v1/nodes/n1", {{"metadata", {{"labels", {{"new", "y"}, {"old", nullptr}}}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ(api_.Labels("n1"),
            (std::map<std::string, std::string>{{"kubernetes.io/hostname", "n1"}, {"new", "y"}}));
  EXPECT_EQ(api_.Requests().back().content_type, "application/merge-patch+json");
}

TEST_F(ApiClientTest, MapsRefusalsToStatuses) {
  ApiClient client = Client(config_);
  EXPECT_EQ(client.Get("/api/v1/nodes/gone").status().code(), absl::StatusCode::kNotFound);

  api_.FailWith(403);
  absl::Status forbidden = client.Get("/api/v1/nodes/n1").status();
  EXPECT_EQ(forbidden.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(forbidden.message(), HasSubstr("RBAC"));
  EXPECT_THAT(forbidden.message(), HasSubstr("forbidden"));  // the server's own words
  api_.FailWith(500);
  EXPECT_EQ(client.Get("/api/v1/nodes/n1").status().code(), absl::StatusCode::kUnavailable);
  api_.FailWith(422);
  EXPECT_EQ(client.Get("/api/v1/nodes/n1").status().code(), absl::StatusCode::kInvalidArgument);
  api_.FailWith(0);

  ClusterConfig wrong_token = config_;
  wrong_token.token = "stolen";
  absl::Status unauthorized = Client(wrong_token).Get("/api/v1/nodes/n1").status();
  EXPECT_EQ(unauthorized.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(unauthorized.message(), HasSubstr("401"));
}

TEST_F(ApiClientTest, AStaleResourceVersionIsAConflict) {
  ApiClient client = Client(config_);
  absl::StatusOr<nlohmann::json> node = client.Get("/api/v1/nodes/n1");
  ASSERT_TRUE(node.ok());
  api_.SetLabel("n1", "someone", "else");
  absl::Status conflict =
      client
          .MergePatch("/api/v1/nodes/n1",
                      {{"metadata",
                        {{"resourceVersion", (*node)["metadata"]["resourceVersion"]},
                         {"labels", {{"a", "b"}}}}}})
          .status();
  EXPECT_EQ(conflict.code(), absl::StatusCode::kAborted) << conflict;
  EXPECT_EQ(api_.Labels("n1").count("a"), 0u);
}

TEST_F(ApiClientTest, RefusesAServerSignedByAnotherCa) {
  testing::TestTlsFiles other = testing::MakeTestTls(dir_, "other-", "localhost", "other-ca");
  ClusterConfig wrong_ca = config_;
  wrong_ca.ca_pem = other.ca_pem;
  absl::Status refused = Client(wrong_ca).Get("/api/v1/nodes/n1").status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("certificate"));
  EXPECT_TRUE(api_.Requests().empty());  // nothing, not even the token, reached the server

  ClusterConfig ca_file = config_;
  ca_file.ca_pem.clear();
  ca_file.ca_file = api_.ca_file();
  EXPECT_TRUE(Client(ca_file).Get("/api/v1/nodes/n1").ok());
}

TEST_F(ApiClientTest, ReadsARotatedTokenFileBeforeEachRequest) {
  ClusterConfig rotating = config_;
  rotating.token.clear();
  rotating.token_file = dir_.WriteFile("token", "first\n");
  api_.SetToken("first");
  ApiClient client = Client(rotating);
  ASSERT_TRUE(client.Get("/api/v1/nodes/n1").ok());
  dir_.WriteFile("token", "second");
  api_.SetToken("second");
  absl::StatusOr<nlohmann::json> after = client.Get("/api/v1/nodes/n1");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(api_.Requests().back().authorization, "Bearer second");
  dir_.WriteFile("token", "");
  EXPECT_THAT(client.Get("/api/v1/nodes/n1").status().message(), HasSubstr("is empty"));
}

TEST(NodePathTest, AcceptsDnsSubdomainsOnly) {
  EXPECT_EQ(*NodePath("node-1.example"), "/api/v1/nodes/node-1.example");
  for (const char* bad : {"", "Node", "a/b", "../x", "a?b", "-a", "a b", "a%2F"}) {
    EXPECT_EQ(NodePath(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace cn::kube
