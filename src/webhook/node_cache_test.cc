#include "src/webhook/node_cache.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/os/host_file_system.h"
#include "src/testing/fake_kube_api.h"

namespace cn::webhook {
namespace {

using json = nlohmann::json;

json Node(const std::string& name, const std::string& allocatable_mib,
          const std::string& label_mib = "") {
  json node = {{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"name", name}}}};
  if (!allocatable_mib.empty()) {
    node["status"]["allocatable"]["kubernetes.azure.com/sgx_epc_mem_in_MiB"] = allocatable_mib;
  }
  if (!label_mib.empty()) {
    node["metadata"]["labels"]["sgx.confidential-nodes.io/epc-mib"] = label_mib;
  }
  return node;
}

class NodeCacheTest : public ::testing::Test {
 protected:
  NodeCacheTest() {
    config_.server = api_.url();
    config_.ca_pem = api_.ca_pem();
    config_.token = "test-token";
    config_.source = "test";
    client_ = std::make_unique<kube::ApiClient>(config_, http_, files_, kube::ApiClient::Options{});
  }
  ~NodeCacheTest() override {
    if (cache_ != nullptr) {
      cache_->Stop();
    }
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  void StartCache() {
    cache_ = std::make_unique<NodeCache>(
        *client_, NodeCache::Options{.watch_duration = absl::Seconds(30),
                                     .initial_backoff = absl::Milliseconds(10),
                                     .max_backoff = absl::Milliseconds(100)});
    thread_ = std::thread([this] { cache_->Run(); });
  }
  // Waits until the cache's largest node is `name` with `mib`, or 10 s.
  bool LargestBecomes(const std::string& name, int64_t mib) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      std::optional<EpcCapacity::Largest> largest = cache_->LargestNode();
      if (largest.has_value() && largest->node == name && largest->epc_mib == mib) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(5));  // polling the condition, bounded by the deadline
    }
    return false;
  }

  testing::FakeKubeApi api_;
  os::HostFileSystem files_{"/"};
  os::RealClock clock_;
  http::HttpClient http_{{}, &clock_};
  kube::ClusterConfig config_;
  std::unique_ptr<kube::ApiClient> client_;
  std::unique_ptr<NodeCache> cache_;
  std::thread thread_;
};

TEST_F(NodeCacheTest, ReadsAllocatableEpcOrTheAgentsLabel) {
  EXPECT_EQ(NodeCache::NodeEpcMiB(Node("a", "64")), 64);
  EXPECT_EQ(NodeCache::NodeEpcMiB(Node("b", "", "128")), 128);
  EXPECT_EQ(NodeCache::NodeEpcMiB(Node("c", "32", "128")), 32);  // what the scheduler books
  EXPECT_EQ(NodeCache::NodeEpcMiB(Node("d", "")), 0);
  EXPECT_EQ(NodeCache::NodeEpcMiB(json::parse(R"({"status":{"allocatable":7}})")), 0);
}

TEST_F(NodeCacheTest, ListsThenFollowsTheWatch) {
  api_.PutNodeObject(Node("small", "64"));
  api_.PutNodeObject(Node("plain", ""));
  StartCache();
  ASSERT_TRUE(cache_->WaitUntilSynced(absl::Seconds(10)));
  EXPECT_TRUE(LargestBecomes("small", 64));
  api_.PutNodeObject(Node("big", "512"));
  EXPECT_TRUE(LargestBecomes("big", 512));
  api_.DeleteNode("big");
  EXPECT_TRUE(LargestBecomes("small", 64));
  EXPECT_EQ(api_.CountRequests("GET"), 2);  // one list, one watch: no polling
}

TEST_F(NodeCacheTest, TurnsItselfOffWithoutPermission) {
  api_.FailWith(403);
  StartCache();
  thread_.join();  // Run returns by itself, without being stopped
  EXPECT_TRUE(cache_->disabled());
  EXPECT_FALSE(cache_->LargestNode().has_value());
  EXPECT_EQ(api_.CountRequests("GET"), 1);  // no retries against a refusal
  cache_.reset();
}

TEST_F(NodeCacheTest, IsUnknownUntilTheFirstList) {
  api_.FailWith(500);
  StartCache();
  ASSERT_TRUE(api_.WaitForRequests("GET", 3, absl::Seconds(10)));  // retried with backoff
  EXPECT_FALSE(cache_->LargestNode().has_value());
  api_.FailWith(0);
  ASSERT_TRUE(cache_->WaitUntilSynced(absl::Seconds(10)));
  EXPECT_TRUE(LargestBecomes("", 0));
}

}  // namespace
}  // namespace cn::webhook
