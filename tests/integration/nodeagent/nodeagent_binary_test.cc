// The real sgx-node-agent binary against a Kubernetes API server stand-in over real HTTPS (a
// test CA): labels and patch shapes, idempotence, conflicts, refusals (401/403/500), a wrong CA,
// a deleted and re-created Node, a flapping host, token rotation, --once exit codes, SIGTERM.
// Waits are bounded and event-driven (the stand-in's state under its mutex, the child's pidfd).

#include <signal.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "src/sgx/simulated_host.h"
#include "src/testing/fake_kube_api.h"
#include "src/testing/subprocess.h"
#include "src/testing/temp_dir.h"
#include "tests/integration/deviceplugin/plugin_process.h"

namespace cn::nodeagent {
namespace {

using ::testing::HasSubstr;
using Labels = std::map<std::string, std::string>;

constexpr absl::Duration kPatience = absl::Seconds(15);
constexpr uint64_t kMiB = 1024 * 1024;
constexpr char kEnabled[] = "sgx.confidential-nodes.io/enabled";

class NodeAgentBinaryTest : public ::testing::Test {
 protected:
  NodeAgentBinaryTest() {
    dir_.MakeDirectory("host/dev");
    api_.PutNode("n1", {{"kubernetes.io/hostname", "n1"}, {"team", "blue"}});
    token_file_ = dir_.WriteFile("token", "test-token\n");
    WriteKubeconfig(api_.ca_file());
  }

  void WriteKubeconfig(const std::string& ca_file) {
    kubeconfig_ = dir_.WriteFile(
        "kubeconfig",
        absl::StrCat("apiVersion: v1\nkind: Config\ncurrent-context: test\n"
                     "contexts:\n- name: test\n  context: {cluster: c, user: u}\n"
                     "clusters:\n- name: c\n  cluster:\n    server: ",
                     api_.url(), "\n    certificate-authority: ", ca_file,
                     "\nusers:\n- name: u\n  user:\n    tokenFile: ", token_file_, "\n"));
  }
  void WriteHost(const sgx::SimulatedHost& host) {
    ASSERT_TRUE(sgx::WriteHostRoot(host, dir_.path() + "/host").ok());
    dir_.WriteFile("cpuid", sgx::EncodeCpuidFile(host));
  }
  std::vector<std::string> Args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {CN_NODE_AGENT_BINARY,  "--node-name",  "n1",
                                     "--kubeconfig",        kubeconfig_,    "--host-root",
                                     dir_.path() + "/host", "--cpuid-file", dir_.path() + "/cpuid"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  testing::ProcessResult Once(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = Args(std::move(extra));
    args.push_back("--once");
    return testing::RunProcess(args, kPatience);
  }
  std::unique_ptr<deviceplugin::PluginProcess> Daemon(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = Args(std::move(extra));
    args.push_back("--metrics-addr=127.0.0.1:0");
    return std::make_unique<deviceplugin::PluginProcess>(
        args[0], std::vector<std::string>(args.begin() + 1, args.end()),
        dir_.path() + "/agent.log");
  }
  bool WaitForLabel(const std::string& key, const std::string& value,
                    absl::Duration timeout = kPatience) {
    return api_.WaitForLabels(
        "n1",
        [&](const Labels& labels) {
          auto found = labels.find(key);
          return found != labels.end() && found->second == value;
        },
        timeout);
  }

  testing::TempDir dir_;
  testing::FakeKubeApi api_;
  std::string token_file_;
  std::string kubeconfig_;
};

sgx::SimulatedHost SgxHost() {
  sgx::SimulatedHost host = sgx::TypicalSgx2Host(128 * kMiB);
  host.aesm = true;
  return host;
}

TEST_F(NodeAgentBinaryTest, OnceLabelsAnSgxNodeAndASecondRunSendsNoPatch) {
  WriteHost(SgxHost());
  testing::ProcessResult first = Once();
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(api_.Labels("n1"), (Labels{{"kubernetes.io/hostname", "n1"},
                                       {"team", "blue"},
                                       {"sgx.confidential-nodes.io/enabled", "true"},
                                       {"sgx.confidential-nodes.io/flc", "true"},
                                       {"sgx.confidential-nodes.io/sgx2", "true"},
                                       {"sgx.confidential-nodes.io/aesm", "true"},
                                       {"sgx.confidential-nodes.io/driver", "in-kernel"},
                                       {"sgx.confidential-nodes.io/epc-mib", "128"},
                                       {"intel.feature.node.kubernetes.io/sgx", "true"},
                                       {"feature.node.kubernetes.io/cpu-sgx.enabled", "true"}}));
  EXPECT_EQ(api_.Annotations("n1").at("sgx.confidential-nodes.io/owned-labels"),
            "feature.node.kubernetes.io/cpu-sgx.enabled,intel.feature.node.kubernetes.io/sgx");
  const std::vector<testing::RecordedRequest> requests = api_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].method, "PATCH");
  EXPECT_EQ(requests[1].content_type, "application/merge-patch+json");
  EXPECT_EQ(requests[1].authorization, "Bearer test-token");
  nlohmann::json patch = nlohmann::json::parse(requests[1].body);
  EXPECT_TRUE(patch["metadata"].contains("resourceVersion"));
  EXPECT_FALSE(patch["metadata"]["labels"].contains("team"));

  api_.ClearRequests();
  testing::ProcessResult second = Once();
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(api_.CountRequests("PATCH"), 0);
  EXPECT_EQ(api_.CountRequests("GET"), 1);
}

TEST_F(NodeAgentBinaryTest, OnceOnANodeWithoutSgxSetsOnlyEnabledFalse) {
  WriteHost(sgx::SimulatedHost{});
  testing::ProcessResult result = Once();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(api_.Labels("n1"),
            (Labels{{"kubernetes.io/hostname", "n1"}, {"team", "blue"}, {kEnabled, "false"}}));
  EXPECT_TRUE(api_.Annotations("n1").empty());
}

TEST_F(NodeAgentBinaryTest, AConflictIsReadAgainAndTheOtherWritersChangeKept) {
  WriteHost(SgxHost());
  api_.ChangeBeforeNextPatches(1);
  testing::ProcessResult result = Once();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(api_.CountRequests("PATCH"), 2);  // the first was refused with 409
  const Labels labels = api_.Labels("n1");
  EXPECT_EQ(labels.at(kEnabled), "true");
  EXPECT_EQ(labels.at("other-writer/touched"), "yes");
}

TEST_F(NodeAgentBinaryTest, OnceExitsOneWhenTheApiServerRefusesOrCannotBeVerified) {
  WriteHost(SgxHost());
  api_.DeleteNode("n1");
  testing::ProcessResult missing = Once();
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("not found"));
  EXPECT_FALSE(api_.HasNode("n1"));  // never created
  api_.PutNode("n1");

  api_.FailWith(403);
  testing::ProcessResult forbidden = Once();
  EXPECT_EQ(forbidden.exit_code, 1);
  EXPECT_THAT(forbidden.err, HasSubstr("RBAC"));
  api_.FailWith(500);
  EXPECT_EQ(Once().exit_code, 1);
  api_.FailWith(0);

  api_.SetToken("another-token");
  testing::ProcessResult unauthorized = Once();
  EXPECT_EQ(unauthorized.exit_code, 1);
  EXPECT_THAT(unauthorized.err, HasSubstr("401"));
  api_.SetToken("test-token");

  testing::TestTlsFiles other = testing::MakeTestTls(dir_, "other-", "localhost", "other-ca");
  WriteKubeconfig(other.ca_file);
  api_.ClearRequests();
  testing::ProcessResult wrong_ca = Once();
  EXPECT_EQ(wrong_ca.exit_code, 1);
  EXPECT_THAT(wrong_ca.err, HasSubstr("certificate"));
  EXPECT_TRUE(api_.Requests().empty());
  EXPECT_EQ(api_.Labels("n1").count(kEnabled), 0u);
}

TEST_F(NodeAgentBinaryTest, OnceExitsTwoForBadFlagsOrNoNodeName) {
  WriteHost(SgxHost());
  EXPECT_EQ(Once({"--resync-interval", "0"}).exit_code, 2);
  EXPECT_EQ(Once({"--bogus"}).exit_code, 2);
  testing::ProcessResult no_name =
      testing::RunProcess({CN_NODE_AGENT_BINARY, "--once", "--kubeconfig", kubeconfig_}, kPatience);
  EXPECT_EQ(no_name.exit_code, 2);
  EXPECT_THAT(no_name.err, HasSubstr("NODE_NAME"));
  dir_.WriteFile("kubeconfig", "current-context: x\n");
  testing::ProcessResult bad_kubeconfig = Once();
  EXPECT_EQ(bad_kubeconfig.exit_code, 2);
  EXPECT_THAT(bad_kubeconfig.err, HasSubstr("contexts"));
  EXPECT_TRUE(api_.Requests().empty());
}

TEST_F(NodeAgentBinaryTest, DaemonFollowsAFlappingHostWithinFiveSeconds) {
  sgx::SimulatedHost host = SgxHost();
  host.driver = sgx::DriverKind::kNone;
  WriteHost(host);
  auto agent = Daemon();
  ASSERT_TRUE(WaitForLabel(kEnabled, "false")) << agent->Log();

  host.driver = sgx::DriverKind::kInKernel;  // the driver is loaded
  const absl::Time loaded = absl::Now();
  WriteHost(host);
  ASSERT_TRUE(WaitForLabel("sgx.confidential-nodes.io/driver", "in-kernel", absl::Seconds(5)))
      << agent->Log();
  EXPECT_LT(absl::Now() - loaded, absl::Seconds(5));
  EXPECT_EQ(api_.Labels("n1").at(kEnabled), "true");

  dir_.Remove("host/dev/sgx_enclave");  // and lost again
  ASSERT_TRUE(WaitForLabel(kEnabled, "false", absl::Seconds(5))) << agent->Log();
  const Labels labels = api_.Labels("n1");
  EXPECT_EQ(labels.count("sgx.confidential-nodes.io/driver"), 0u);
  EXPECT_EQ(labels.count("intel.feature.node.kubernetes.io/sgx"), 0u);
  EXPECT_EQ(labels.at("team"), "blue");
}

TEST_F(NodeAgentBinaryTest, DaemonRelabelsARecreatedNodeAndRepairsHandEditsWithinOneResync) {
  WriteHost(SgxHost());
  auto agent = Daemon({"--resync-interval", "2"});
  ASSERT_TRUE(WaitForLabel(kEnabled, "true")) << agent->Log();

  api_.SetLabel("n1", "sgx.confidential-nodes.io/epc-mib", "1");
  ASSERT_TRUE(WaitForLabel("sgx.confidential-nodes.io/epc-mib", "128", absl::Seconds(3)))
      << agent->Log();

  api_.DeleteNode("n1");
  // The agent keeps retrying (never creating the Node); let it fail once first.
  ASSERT_TRUE(api_.WaitForRequests("GET", api_.CountRequests("GET") + 1, kPatience));
  EXPECT_FALSE(api_.HasNode("n1"));
  const absl::Time recreated = absl::Now();
  api_.PutNode("n1", {{"kubernetes.io/hostname", "n1"}});
  ASSERT_TRUE(WaitForLabel(kEnabled, "true", absl::Seconds(3))) << agent->Log();
  EXPECT_LT(absl::Now() - recreated, absl::Seconds(3));
  EXPECT_TRUE(agent->running());
}

TEST_F(NodeAgentBinaryTest, DaemonUsesARotatedTokenAndRecoversFromServerErrors) {
  WriteHost(SgxHost());
  api_.FailWith(500);
  auto agent = Daemon({"--resync-interval", "2"});
  ASSERT_TRUE(api_.WaitForRequests("GET", 2, kPatience)) << agent->Log();
  api_.FailWith(0);
  ASSERT_TRUE(WaitForLabel(kEnabled, "true")) << agent->Log();

  dir_.WriteFile("token", "rotated-token");
  api_.SetToken("rotated-token");
  api_.SetLabel("n1", kEnabled, "tampered");
  ASSERT_TRUE(WaitForLabel(kEnabled, "true", absl::Seconds(3))) << agent->Log();
  EXPECT_EQ(api_.Requests().back().authorization, "Bearer rotated-token");
}

TEST_F(NodeAgentBinaryTest, DaemonServesProbesAndMetricsAndExitsZeroOnSigterm) {
  WriteHost(SgxHost());
  auto agent = Daemon();
  ASSERT_TRUE(WaitForLabel(kEnabled, "true")) << agent->Log();
  std::optional<int> port;
  const absl::Time deadline = absl::Now() + kPatience;
  while (!(port = agent->MetricsPort()).has_value() && absl::Now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_TRUE(port.has_value()) << agent->Log();
  httplib::Client http("127.0.0.1", *port);
  // The label lands on the server a moment before the agent has read the answer: wait for
  // /readyz to say so (bounded).
  httplib::Result ready = http.Get("/readyz");
  while (!(ready && ready->status == 200) && absl::Now() < deadline) {
    std::this_thread::yield();
    ready = http.Get("/readyz");
  }
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("cn_node_agent_publishes_total 1"));
  EXPECT_THAT(metrics->body, HasSubstr("cn_node_agent_changes_total 1"));
  EXPECT_THAT(metrics->body, HasSubstr("cn_node_agent_errors_total 0"));
  EXPECT_THAT(metrics->body, HasSubstr("cn_node_agent_last_success_timestamp_seconds 1"));

  const absl::Time start = absl::Now();
  ASSERT_EQ(::kill(agent->pid(), SIGTERM), 0);
  EXPECT_EQ(agent->WaitForExit(absl::Seconds(2)), 0) << agent->Log();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST_F(NodeAgentBinaryTest, NfdModeWritesTheFeatureFileWithoutTheApiServer) {
  WriteHost(SgxHost());
  const std::string features = dir_.MakeDirectory("features.d");
  testing::ProcessResult result = testing::RunProcess(
      {CN_NODE_AGENT_BINARY, "--once", "--nfd-features-dir", features, "--host-root",
       dir_.path() + "/host", "--cpuid-file", dir_.path() + "/cpuid"},
      kPatience);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  testing::ProcessResult cat =
      testing::RunProcess({"/bin/cat", features + "/confidential-nodes-sgx"});
  EXPECT_THAT(cat.out, HasSubstr("\nsgx.confidential-nodes.io/enabled=true\n"));
  EXPECT_THAT(cat.out, HasSubstr("\nsgx.confidential-nodes.io/epc-mib=128\n"));
  EXPECT_TRUE(api_.Requests().empty());
}

}  // namespace
}  // namespace cn::nodeagent
