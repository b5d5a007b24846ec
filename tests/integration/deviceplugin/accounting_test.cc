// Per-pod EPC accounting and enforcement in the real sgx-device-plugin binary, over real Unix
// sockets: the kubelet stand-in for registration, the PodResources stand-in for who holds what,
// a kubelet checkpoint file, and fake cgroup trees under --host-root. Every wait is bounded and
// ends as soon as the metrics say what the test waits for.

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "src/deviceplugin/device_set.h"
#include "src/os/host_file_system.h"
#include "src/sgx/simulated_host.h"
#include "src/testing/temp_dir.h"
#include "tests/integration/deviceplugin/plugin_process.h"
#include "tools/kubelet_standin.h"
#include "tools/podresources_standin.h"

namespace cn::deviceplugin {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kPatience = absl::Seconds(15);
constexpr char kEpc[] = "kubernetes.azure.com/sgx_epc_mem_in_MiB";
constexpr char kSmallUid[] = "0b1c2d3e-1111-2222-3333-444455556666";
constexpr char kLargeUid[] = "9a8b7c6d-aaaa-bbbb-cccc-ddddeeeeffff";

std::vector<std::string> Ids(int first, int count) {
  std::vector<std::string> ids;
  for (int i = first; i < first + count; ++i) {
    ids.push_back(absl::StrCat("epc-", i));
  }
  return ids;
}

std::string CheckpointEntry(const std::string& uid, const std::string& container,
                            const std::vector<std::string>& ids) {
  return absl::StrCat(R"({"PodUID":")", uid, R"(","ContainerName":")", container,
                      R"(","ResourceName":")", kEpc, R"(","DeviceIDs":{"-1":[")",
                      absl::StrJoin(ids, "\",\""), R"("]},"AllocResp":""})");
}

class AccountingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sgx::SimulatedHost host = sgx::TypicalSgx2Host(64 * kMiB);
    ASSERT_TRUE(sgx::WriteHostRoot(host, host_root_).ok());
    dir_.WriteFile("cpuid", sgx::EncodeCpuidFile(host));
    auto kubelet = tools::KubeletStandin::Start(kubelet_dir_);
    ASSERT_TRUE(kubelet.ok());
    kubelet_ = *std::move(kubelet);
  }

  void StartPodResources() {
    auto pod_resources = tools::PodResourcesStandin::Start(pod_resources_socket_);
    ASSERT_TRUE(pod_resources.ok());
    pod_resources_ = *std::move(pod_resources);
  }

  void StartPlugin(std::vector<std::string> extra = {}) {
    std::vector<std::string> flags = {"--kubelet-dir",
                                      kubelet_dir_,
                                      "--host-root",
                                      host_root_,
                                      "--cpuid-file",
                                      dir_.path() + "/cpuid",
                                      "--metrics-addr",
                                      "127.0.0.1:0",
                                      "--pod-resources-socket",
                                      pod_resources_socket_,
                                      "--pod-resources-interval",
                                      "1"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    plugin_ = std::make_unique<PluginProcess>(CN_DEVICE_PLUGIN_BINARY, flags,
                                              dir_.path() + "/plugin.log");
    ASSERT_TRUE(kubelet_->WaitForRegistrations(3, kPatience)) << plugin_->Log();
    std::optional<int> port = plugin_->MetricsPort();
    ASSERT_TRUE(port.has_value()) << plugin_->Log();
    http_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
  }

  // The metrics text once `accept` holds for it (or the last text seen at the deadline).
  std::string MetricsWhen(const std::function<bool(const std::string&)>& accept) {
    absl::Time deadline = absl::Now() + kPatience;
    std::string text;
    while (true) {
      httplib::Result result = http_->Get("/metrics");
      text = result ? result->body : "";
      if (accept(text) || absl::Now() >= deadline) {
        return text;
      }
      std::this_thread::yield();
    }
  }
  std::string MetricsWith(const std::string& needle) {
    return MetricsWhen([&](const std::string& text) { return absl::StrContains(text, needle); });
  }
  std::string MetricsWithout(const std::string& needle) {
    return MetricsWhen([&](const std::string& text) { return !absl::StrContains(text, needle); });
  }

  // A pod cgroup with the misc controller's files, as a kernel with the EPC cgroup has them.
  std::string AddPodCgroup(const std::string& relative) {
    const std::string directory = dir_.MakeDirectory("host/sys/fs/cgroup/" + relative);
    dir_.WriteFile("host/sys/fs/cgroup/" + relative + "/misc.max", "sgx_epc max\n");
    dir_.WriteFile("host/sys/fs/cgroup/" + relative + "/misc.current", "sgx_epc 8192\n");
    dir_.WriteFile("host/sys/fs/cgroup/" + relative + "/misc.events", "sgx_epc.max 3\n");
    return directory;
  }
  std::string ReadHostFile(const std::string& path) {
    return os::HostFileSystem("/").ReadFile(path).value_or("(unreadable)");
  }

  testing::TempDir dir_;
  std::string host_root_ = dir_.MakeDirectory("host");
  std::string kubelet_dir_ = dir_.MakeDirectory("kubelet");
  std::string pod_resources_socket_ = dir_.MakeDirectory("pod-resources") + "/kubelet.sock";
  std::unique_ptr<tools::KubeletStandin> kubelet_;
  std::unique_ptr<tools::PodResourcesStandin> pod_resources_;
  std::unique_ptr<PluginProcess> plugin_;
  std::unique_ptr<httplib::Client> http_;
};

TEST_F(AccountingTest, PodsAppearInTheMetricsAndVanishWhenTheyGo) {
  StartPodResources();
  StartPlugin();
  // The plugin may list between two AddPod calls: wait for the fact added last, so that every
  // earlier one (the GPU pod included) was in the list the metrics come from.
  pod_resources_->AddPod("other", "gpu", "main", "nvidia.com/gpu", {"GPU-0"});
  pod_resources_->AddPod("default", "small", "app", kEpc, Ids(0, 10));
  pod_resources_->AddPod("team-b", "large", "main", kEpc, Ids(10, 20));
  pod_resources_->AddPod("team-b", "large", "main", "sgx.intel.com/enclave", {"enclave-3"});
  std::string text =
      MetricsWith(R"(cn_sgx_enclave_slots_allocated{namespace="team-b",pod="large"} 1)");
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(cn_sgx_epc_allocated_bytes{container="app",namespace="default",pod="small"} 10485760)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(cn_sgx_epc_allocated_bytes{container="main",namespace="team-b",pod="large"} 20971520)"));
  EXPECT_THAT(text,
              HasSubstr(R"(cn_sgx_enclave_slots_allocated{namespace="team-b",pod="large"} 1)"));
  EXPECT_THAT(text, HasSubstr("cn_sgx_epc_allocatable_bytes 67108864"));
  EXPECT_THAT(text, HasSubstr("cn_sgx_epc_free_bytes 35651584"));
  EXPECT_THAT(text, Not(HasSubstr("gpu")));
  pod_resources_->RemovePod("team-b", "large");
  text = MetricsWithout("pod=\"large\"");
  EXPECT_THAT(text, Not(HasSubstr("pod=\"large\"")));
  EXPECT_THAT(text, HasSubstr("cn_sgx_epc_free_bytes 56623104"));
  pod_resources_->RemovePod("default", "small");
  text = MetricsWithout("pod=\"small\"");
  EXPECT_THAT(text, Not(HasSubstr("cn_sgx_epc_allocated_bytes{")));
  EXPECT_THAT(text, HasSubstr("cn_sgx_epc_free_bytes 67108864"));
}

TEST_F(AccountingTest, ACheckpointWriteTriggersAListAtOnce) {
  StartPodResources();
  // An interval far longer than the wait: only the checkpoint event can bring the pod in.
  StartPlugin({"--pod-resources-interval", "3600"});
  MetricsWith("cn_sgx_pod_resources_up 1");
  pod_resources_->AddPod("default", "small", "app", kEpc, Ids(0, 10));
  dir_.WriteFile("kubelet/checkpoint.tmp", "{}");
  std::filesystem::rename(kubelet_dir_ + "/checkpoint.tmp",
                          kubelet_dir_ + "/kubelet_internal_checkpoint");
  EXPECT_THAT(MetricsWith("pod=\"small\"} 10485760"), HasSubstr("pod=\"small\"} 10485760"));
}

TEST_F(AccountingTest, KubeletWithoutTheApiIsLoggedOnceAndNothingElseBreaks) {
  StartPodResources();
  pod_resources_->SetMode(tools::PodResourcesStandin::Mode::kUnimplemented);
  StartPlugin();
  std::string text = MetricsWith("cn_sgx_pod_resources_errors_total 3");
  EXPECT_THAT(text, HasSubstr("cn_sgx_pod_resources_up 0"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(cn_sgx_devices_healthy{resource="kubernetes.azure.com/sgx_epc_mem_in_MiB"} 64)"));
  const std::string log = plugin_->Log();
  size_t first = log.find("does not offer the PodResources v1 API");
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("does not offer the PodResources v1 API", first + 1), std::string::npos)
      << log;
  // The plugin still serves its resources.
  auto list = tools::PluginClient(kubelet_dir_ + "/sgx-epc.sock").ListOnce(kPatience);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->devices_size(), 64);
}

TEST_F(AccountingTest, NoSocketAtAllMeansAccountingOffAndLaterOn) {
  StartPlugin();
  MetricsWith("cn_sgx_pod_resources_errors_total 2");
  EXPECT_THAT(plugin_->Log(), HasSubstr("per-pod EPC accounting off"));
  StartPodResources();
  pod_resources_->AddPod("default", "late", "app", kEpc, Ids(0, 4));
  EXPECT_THAT(MetricsWith("pod=\"late\"} 4194304"), HasSubstr("cn_sgx_pod_resources_up 1"));
}

TEST_F(AccountingTest, GarbageAnswersAreCountedAndTheLastGoodFiguresKeptThenDropped) {
  StartPodResources();
  pod_resources_->AddPod("default", "small", "app", kEpc, Ids(0, 10));
  StartPlugin();
  MetricsWith("pod=\"small\"} 10485760");
  pod_resources_->SetMode(tools::PodResourcesStandin::Mode::kGarbage);
  std::string text = MetricsWith("cn_sgx_pod_resources_up 0");
  EXPECT_THAT(text, HasSubstr("cn_sgx_pod_resources_up 0"));
  text = MetricsWithout("pod=\"small\"");
  EXPECT_THAT(text, Not(HasSubstr("pod=\"small\"")));
  EXPECT_EQ(plugin_->running(), true);
  pod_resources_->SetMode(tools::PodResourcesStandin::Mode::kServe);
  EXPECT_THAT(MetricsWith("pod=\"small\"} 10485760"), HasSubstr("cn_sgx_pod_resources_up 1"));
}

TEST_F(AccountingTest, EnforcesUnderBothCgroupDriversAndCountsUnwritableFiles) {
  dir_.WriteFile("host/sys/fs/cgroup/misc.capacity", "sgx_epc 67108864\n");
  const std::string small = AddPodCgroup(absl::StrCat("kubepods/burstable/pod", kSmallUid));
  const std::string large = AddPodCgroup(
      "kubepods.slice/kubepods-besteffort.slice/"
      "kubepods-besteffort-pod9a8b7c6d_aaaa_bbbb_cccc_ddddeeeeffff.slice");
  // A third pod whose misc.max cannot be written (a directory stands where the file should be).
  const std::string stuck_uid = "12345678-0000-0000-0000-000000000000";
  const std::string stuck =
      dir_.MakeDirectory(absl::StrCat("host/sys/fs/cgroup/kubepods/pod", stuck_uid));
  dir_.MakeDirectory(absl::StrCat("host/sys/fs/cgroup/kubepods/pod", stuck_uid, "/misc.max"));
  dir_.WriteFile("kubelet/kubelet_internal_checkpoint",
                 absl::StrCat(R"({"Data":{"PodDeviceEntries":[)",
                              CheckpointEntry(kSmallUid, "app", Ids(0, 10)), ",",
                              CheckpointEntry(kLargeUid, "main", Ids(10, 20)), ",",
                              CheckpointEntry(stuck_uid, "app", Ids(30, 2)),
                              R"(],"RegisteredDevices":{}},"Checksum":1})"));
  StartPodResources();
  pod_resources_->AddPod("default", "small", "app", kEpc, Ids(0, 10));
  pod_resources_->AddPod("team-b", "large", "main", kEpc, Ids(10, 20));
  pod_resources_->AddPod("default", "stuck", "app", kEpc, Ids(30, 2));
  StartPlugin({"--enforce-epc"});
  std::string text = MetricsWith(R"(cn_sgx_epc_used_bytes{namespace="team-b",pod="large"} 8192)");
  EXPECT_EQ(ReadHostFile(small + "/misc.max"), "sgx_epc 10485760");
  EXPECT_EQ(ReadHostFile(large + "/misc.max"), "sgx_epc 20971520");
  EXPECT_THAT(text, HasSubstr("cn_sgx_epc_enforcement_active 1"));
  EXPECT_THAT(text, HasSubstr(R"(cn_sgx_epc_limit_hits_total{namespace="default",pod="small"} 3)"));
  text = MetricsWhen([](const std::string& t) {
    return !absl::StrContains(t, "cn_sgx_epc_enforcement_errors_total 0");
  });
  EXPECT_THAT(text, Not(HasSubstr("cn_sgx_epc_enforcement_errors_total 0")));
  EXPECT_THAT(plugin_->Log(), HasSubstr("EPC limit of pod default/stuck not enforced"));
  EXPECT_TRUE(plugin_->running());
  // Nothing was created anywhere in the cgroup tree.
  EXPECT_FALSE(std::filesystem::exists(host_root_ + "/sys/fs/cgroup/kubepods/misc.max"));
}

TEST_F(AccountingTest, WithoutSgxEpcEnforcementSaysUnavailableOnceAndWritesNothing) {
  const std::string small = AddPodCgroup(absl::StrCat("kubepods/pod", kSmallUid));
  dir_.WriteFile("kubelet/kubelet_internal_checkpoint",
                 absl::StrCat(R"({"Data":{"PodDeviceEntries":[)",
                              CheckpointEntry(kSmallUid, "app", Ids(0, 10)), "]}}"));
  StartPodResources();
  pod_resources_->AddPod("default", "small", "app", kEpc, Ids(0, 10));
  StartPlugin({"--enforce-epc"});
  std::string text = MetricsWith("pod=\"small\"} 10485760");
  MetricsWith("cn_sgx_pod_resources_errors_total 0");
  EXPECT_THAT(text, HasSubstr("cn_sgx_epc_enforcement_active 0"));
  EXPECT_EQ(ReadHostFile(small + "/misc.max"), "sgx_epc max\n");
  const std::string log = plugin_->Log();
  size_t first = log.find("EPC enforcement unavailable");
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_THAT(log.substr(first), HasSubstr("misc.capacity does not exist"));
  EXPECT_EQ(log.find("EPC enforcement unavailable", first + 1), std::string::npos) << log;
}

}  // namespace
}  // namespace cn::deviceplugin
