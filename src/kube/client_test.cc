#include "src/kube/client.h"

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
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

namespace cn::kube {
namespace {

class ApiClientCollectionsTest : public ::testing::Test {
 protected:
  ApiClientCollectionsTest() {
    config_.server = api_.url();
    config_.ca_pem = api_.ca_pem();
    config_.token = "test-token";
    config_.source = "test";
  }
  ApiClient Client() { return ApiClient(config_, http_, files_, {.timeout = absl::Seconds(5)}); }

  testing::FakeKubeApi api_;
  os::HostFileSystem files_{"/"};
  os::RealClock clock_;
  http::HttpClient http_{{}, &clock_};
  ClusterConfig config_;
};

TEST_F(ApiClientCollectionsTest, WatchDeliversEventsAfterTheListAsTheyHappen) {
  api_.PutNode("n1");
  absl::StatusOr<nlohmann::json> list = Client().Get("/api/v1/nodes");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ((*list)["items"].size(), 1u);
  const std::string version = (*list)["metadata"]["resourceVersion"];

  std::vector<std::string> seen;
  absl::Mutex mu;
  std::thread watcher([&] {
    absl::Status watched = Client().Watch(
        "/api/v1/nodes", version, absl::Seconds(20),
        [&](const ApiClient::WatchEvent& event) {
          absl::MutexLock lock(&mu);
          seen.push_back(
              absl::StrCat(event.type, " ", event.object["metadata"]["name"].get<std::string>()));
          return seen.size() < 3;  // stop after three events
        },
        [] { return true; });
    EXPECT_TRUE(watched.ok()) << watched;
  });
  // Changes made before or after the stream opens arrive alike: the watch starts at the list's
  // resourceVersion, and all three come on the one watch request.
  api_.PutNode("n2");
  api_.SetLabel("n1", "a", "b");
  api_.DeleteNode("n2");
  watcher.join();
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED n2", "MODIFIED n1", "DELETED n2"}));
  EXPECT_EQ(api_.CountRequests("GET"), 2);
}

TEST_F(ApiClientCollectionsTest, WatchStopsWhenAskedWhileIdle) {
  const absl::Time start = absl::Now();
  absl::Status watched = Client().Watch(
      "/api/v1/nodes", "", absl::Seconds(30), [](const ApiClient::WatchEvent&) { return true; },
      [&] { return absl::Now() - start < absl::Milliseconds(200); });
  EXPECT_TRUE(watched.ok()) << watched;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(ApiClientCollectionsTest, CreateUpdateAndJsonPatchAGenericObject) {
  const std::string collection = "/api/v1/namespaces/ns/secrets";
  nlohmann::json secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "s"}}}};
  absl::StatusOr<nlohmann::json> created = Client().Create(collection, secret);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(Client().Create(collection, secret).status().code(), absl::StatusCode::kAborted);
  nlohmann::json stale = *created;
  nlohmann::json changed = *created;
  changed["data"] = {{"k", "dg=="}};
  ASSERT_TRUE(Client().Update(collection + "/s", changed).ok());
  EXPECT_EQ(Client().Update(collection + "/s", stale).status().code(), absl::StatusCode::kAborted);
  absl::StatusOr<nlohmann::json> patched = Client().JsonPatch(
      collection + "/s",
      nlohmann::json::parse(R"([{"op":"add","path":"/data/j","value":"eA=="}])"));
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ((*patched)["data"]["j"], "eA==");
  EXPECT_EQ(api_.Requests().back().content_type, "application/json-patch+json");
  absl::Status failed_test =
      Client()
          .JsonPatch(collection + "/s",
                     nlohmann::json::parse(R"([{"op":"test","path":"/data/j","value":"no"}])"))
          .status();
  EXPECT_EQ(failed_test.code(), absl::StatusCode::kInvalidArgument) << failed_test;
}

TEST(StatusFromResponse, GoneMeansListAgain) {
  absl::Status gone = StatusFromResponse("WATCH /api/v1/nodes", 410, R"({"message":"too old"})");
  EXPECT_EQ(gone.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(gone.message(), HasSubstr("list again"));
}

}  // namespace
}  // namespace cn::kube
