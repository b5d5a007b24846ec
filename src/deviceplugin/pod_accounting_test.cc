// PodAccounting with a fake PodResources source and fake host trees: the figures, vanishing
// series, and enforcement under both cgroup drivers, with and without sgx_epc, with unwritable
// files. The gRPC side is covered over a real socket in tests/integration/deviceplugin.

#include "src/deviceplugin/pod_accounting.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/deviceplugin/device_set.h"
#include "src/testing/fake_file_system.h"

namespace cn::deviceplugin {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class FakeSource : public PodResourcesSource {
 public:
  absl::StatusOr<Holdings> List() override {
    absl::MutexLock lock(&mutex_);
    if (!next_.empty()) {
      current_ = next_.front();
      next_.pop_front();
    }
    return current_;
  }
  // The answer of every List from now on (until the next Answer).
  void Answer(absl::StatusOr<Holdings> answer) {
    absl::MutexLock lock(&mutex_);
    next_.push_back(std::move(answer));
  }

 private:
  absl::Mutex mutex_;
  std::deque<absl::StatusOr<Holdings>> next_ ABSL_GUARDED_BY(mutex_);
  absl::StatusOr<Holdings> current_ ABSL_GUARDED_BY(mutex_) = Holdings();
};

ContainerHolding Epc(const std::string& ns, const std::string& pod, const std::string& container,
                     uint64_t first, uint64_t mib) {
  return ContainerHolding{ns, pod, container, ResourceKind::kEpc, mib, absl::StrCat("epc-", first)};
}

ContainerHolding Slots(const std::string& ns, const std::string& pod, uint64_t count) {
  return ContainerHolding{ns, pod, "app", ResourceKind::kEnclave, count, "enclave-0"};
}

Holdings TwoPods() {
  Holdings holdings;
  holdings.containers = {Epc("default", "small", "app", 0, 10),
                         Epc("team-b", "large", "main", 10, 20), Slots("team-b", "large", 1)};
  return holdings;
}

constexpr absl::string_view kSmallUid = "11111111-2222-3333-4444-555555555555";
constexpr absl::string_view kLargeUid = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
constexpr absl::string_view kCheckpointPath = "/kubelet/kubelet_internal_checkpoint";

std::string Checkpoint() {
  return absl::StrCat(
      R"({"Data":{"PodDeviceEntries":[)", R"({"PodUID":")", kSmallUid,
      R"(","ContainerName":"app","ResourceName":"kubernetes.azure.com/sgx_epc_mem_in_MiB","DeviceIDs":{"-1":["epc-0","epc-1","epc-2","epc-3","epc-4","epc-5","epc-6","epc-7","epc-8","epc-9"]}},)",
      R"({"PodUID":")", kLargeUid,
      R"(","ContainerName":"main","ResourceName":"kubernetes.azure.com/sgx_epc_mem_in_MiB","DeviceIDs":{"-1":["epc-10",)",
      R"("epc-11","epc-12","epc-13","epc-14","epc-15","epc-16","epc-17","epc-18","epc-19","epc-20","epc-21","epc-22","epc-23","epc-24","epc-25","epc-26","epc-27","epc-28","epc-29"]}}]},"Checksum":1})");
}

class PodAccountingTest : public ::testing::Test {
 protected:
  PodAccounting& Accounting(bool enforce) {
    AccountingOptions options;
    options.enforce_epc = enforce;
    options.checkpoint_path = std::string(kCheckpointPath);
    accounting_ = std::make_unique<PodAccounting>(options, source_, host_, local_, metrics_);
    return *accounting_;
  }
  std::string Text() const { return metrics_.Serialize(); }

  // A pod cgroup with the misc controller's files, as a kernel with the EPC cgroup has them.
  void AddPodCgroup(const std::string& directory, bool writable = true) {
    if (writable) {
      host_.AddFile(directory + "/misc.max", "sgx_epc max\n");
    } else {
      host_.AddUnwritable(directory + "/misc.max", "sgx_epc max\n");
    }
    host_.AddFile(directory + "/misc.current", "sgx_epc 4096\n");
    host_.AddFile(directory + "/misc.events", "sgx_epc.max 2\n");
  }

  FakeSource source_;
  testing::FakeFileSystem host_;
  testing::FakeFileSystem local_;
  Metrics metrics_;
  std::unique_ptr<PodAccounting> accounting_;
};

TEST_F(PodAccountingTest, PublishesPerContainerEpcPerPodSlotsAndFreeBytes) {
  PodAccounting& accounting = Accounting(false);
  accounting.SetAllocatableBytes(64 * kMiB);
  source_.Answer(TwoPods());
  accounting.Refresh();
  const std::string text = Text();
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
  EXPECT_THAT(text, HasSubstr("cn_sgx_epc_free_bytes 35651584"));  // 64 - 30 MiB
  EXPECT_THAT(text, HasSubstr("cn_sgx_pod_resources_up 1"));
  // Allocatable changing (the enclave device vanished) moves free at once.
  accounting.SetAllocatableBytes(0);
  EXPECT_THAT(Text(), HasSubstr("cn_sgx_epc_free_bytes -31457280"));
}

TEST_F(PodAccountingTest, SeriesOfPodsThatAreGoneDisappear) {
  PodAccounting& accounting = Accounting(false);
  accounting.SetAllocatableBytes(64 * kMiB);
  source_.Answer(TwoPods());
  accounting.Refresh();
  Holdings one;
  one.containers = {Epc("default", "small", "app", 0, 10)};
  source_.Answer(one);
  accounting.Refresh();
  std::string text = Text();
  EXPECT_THAT(text, HasSubstr(R"(pod="small"} 10485760)"));
  EXPECT_THAT(text, Not(HasSubstr(R"(pod="large")")));
  EXPECT_THAT(text, HasSubstr("cn_sgx_epc_free_bytes 56623104"));
  source_.Answer(Holdings());
  accounting.Refresh();
  text = Text();
  EXPECT_THAT(text, Not(HasSubstr("pod=")));
  EXPECT_THAT(text, HasSubstr("cn_sgx_epc_free_bytes 67108864"));
}

TEST_F(PodAccountingTest, AKubeletWithoutTheApiLeavesAccountingOffAndCountsIt) {
  PodAccounting& accounting = Accounting(false);
  source_.Answer(absl::UnimplementedError("unknown service v1.PodResourcesLister"));
  accounting.Refresh();
  accounting.Refresh();
  const std::string text = Text();
  EXPECT_THAT(text, HasSubstr("cn_sgx_pod_resources_up 0"));
  EXPECT_THAT(text, HasSubstr("cn_sgx_pod_resources_errors_total 2"));
  EXPECT_THAT(text, Not(HasSubstr("pod=")));
}

TEST_F(PodAccountingTest, FailuresKeepTheLastFiguresForAWhileThenDropThem) {
  PodAccounting& accounting = Accounting(false);
  source_.Answer(TwoPods());
  accounting.Refresh();
  source_.Answer(absl::UnavailableError("kubelet restarting"));
  accounting.Refresh();
  accounting.Refresh();
  EXPECT_THAT(Text(), HasSubstr(R"(pod="small")"));  // a kubelet restart is not a drop to zero
  accounting.Refresh();
  EXPECT_THAT(Text(), Not(HasSubstr("pod=")));  // nobody can tell any more who holds what
  source_.Answer(TwoPods());
  accounting.Refresh();
  EXPECT_THAT(Text(), HasSubstr(R"(pod="small")"));
}

TEST_F(PodAccountingTest, EnforcesUnderCgroupfsAndSystemdLayouts) {
  host_.AddFile("/sys/fs/cgroup/misc.capacity", "sgx_epc 67108864\n");
  const std::string small = absl::StrCat("/sys/fs/cgroup/kubepods/burstable/pod", kSmallUid);
  const std::string large = absl::StrCat(
      "/sys/fs/cgroup/kubepods.slice/kubepods-podaaaaaaaa_bbbb_cccc_dddd_eeeeeeeeeeee.slice");
  AddPodCgroup(small);
  AddPodCgroup(large);
  local_.AddFile(kCheckpointPath, Checkpoint());
  PodAccounting& accounting = Accounting(true);
  source_.Answer(TwoPods());
  accounting.Refresh();
  EXPECT_EQ(*host_.ReadFile(small + "/misc.max"), "sgx_epc 10485760");
  EXPECT_EQ(*host_.ReadFile(large + "/misc.max"), "sgx_epc 20971520");
  const std::string text = Text();
  EXPECT_THAT(text, HasSubstr("cn_sgx_epc_enforcement_active 1"));
  EXPECT_THAT(text, HasSubstr(R"(cn_sgx_epc_used_bytes{namespace="default",pod="small"} 4096)"));
  EXPECT_THAT(text, HasSubstr(R"(cn_sgx_epc_limit_hits_total{namespace="team-b",pod="large"} 2)"));
  EXPECT_THAT(text,
              HasSubstr(R"(cn_sgx_epc_limit_bytes{namespace="team-b",pod="large"} 20971520)"));
  EXPECT_THAT(text, HasSubstr("cn_sgx_epc_enforcement_errors_total 0"));
  // A steady state writes nothing, and the checkpoint is not read again.
  local_.AddFile(kCheckpointPath, "garbage");
  host_.AddFile(small + "/misc.events", "sgx_epc.max 5\n");
  accounting.Refresh();
  EXPECT_EQ(host_.WriteCount(small + "/misc.max"), 1);
  EXPECT_THAT(Text(),
              HasSubstr(R"(cn_sgx_epc_limit_hits_total{namespace="default",pod="small"} 5)"));
  EXPECT_THAT(Text(), HasSubstr("cn_sgx_epc_enforcement_errors_total 0"));
  // The pod goes: its series go.
  Holdings one;
  one.containers = {Epc("team-b", "large", "main", 10, 20)};
  source_.Answer(one);
  accounting.Refresh();
  EXPECT_THAT(Text(), Not(HasSubstr(R"(pod="small")")));
  EXPECT_THAT(Text(), HasSubstr(R"(cn_sgx_epc_used_bytes{namespace="team-b",pod="large"})"));
}

TEST_F(PodAccountingTest, WithoutSgxEpcInTheKernelNothingIsWritten) {
  host_.AddFile("/sys/fs/cgroup/misc.capacity", "sev 15\n");
  const std::string small = absl::StrCat("/sys/fs/cgroup/kubepods/pod", kSmallUid);
  AddPodCgroup(small);
  local_.AddFile(kCheckpointPath, Checkpoint());
  PodAccounting& accounting = Accounting(true);
  source_.Answer(TwoPods());
  accounting.Refresh();
  EXPECT_EQ(host_.WriteCount(small + "/misc.max"), 0);
  EXPECT_THAT(Text(), HasSubstr("cn_sgx_epc_enforcement_active 0"));
  EXPECT_THAT(Text(), Not(HasSubstr("cn_sgx_epc_used_bytes{")));
  // Accounting goes on regardless.
  EXPECT_THAT(Text(), HasSubstr(R"(pod="small"} 10485760)"));
}

TEST_F(PodAccountingTest, WithoutTheFlagNothingIsWrittenEvenWithTheController) {
  host_.AddFile("/sys/fs/cgroup/misc.capacity", "sgx_epc 67108864\n");
  const std::string small = absl::StrCat("/sys/fs/cgroup/kubepods/pod", kSmallUid);
  AddPodCgroup(small);
  local_.AddFile(kCheckpointPath, Checkpoint());
  PodAccounting& accounting = Accounting(false);
  source_.Answer(TwoPods());
  accounting.Refresh();
  EXPECT_EQ(host_.WriteCount(small + "/misc.max"), 0);
}

TEST_F(PodAccountingTest, UnwritableFilesAndMissingCgroupsAreCountedNotFatal) {
  host_.AddFile("/sys/fs/cgroup/misc.capacity", "sgx_epc 67108864\n");
  const std::string small = absl::StrCat("/sys/fs/cgroup/kubepods/pod", kSmallUid);
  AddPodCgroup(small, /*writable=*/false);
  // No cgroup at all for the large pod.
  local_.AddFile(kCheckpointPath, Checkpoint());
  PodAccounting& accounting = Accounting(true);
  source_.Answer(TwoPods());
  accounting.Refresh();
  EXPECT_EQ(*host_.ReadFile(small + "/misc.max"), "sgx_epc max\n");
  EXPECT_THAT(Text(), HasSubstr("cn_sgx_epc_enforcement_errors_total 2"));
  EXPECT_THAT(Text(), HasSubstr(R"(pod="large"} 20971520)"));  // accounting is unaffected
}

TEST_F(PodAccountingTest, PodMissingFromTheCheckpointIsNotGuessed) {
  host_.AddFile("/sys/fs/cgroup/misc.capacity", "sgx_epc 67108864\n");
  const std::string small = absl::StrCat("/sys/fs/cgroup/kubepods/pod", kSmallUid);
  AddPodCgroup(small);
  // The checkpoint has the small pod's UID but with other devices: not a match.
  local_.AddFile(
      kCheckpointPath,
      absl::StrCat(
          R"({"Data":{"PodDeviceEntries":[{"PodUID":")", kSmallUid,
          R"(","ContainerName":"app","ResourceName":"kubernetes.azure.com/sgx_epc_mem_in_MiB","DeviceIDs":{"-1":["epc-40"]}}]}})"));
  PodAccounting& accounting = Accounting(true);
  source_.Answer(TwoPods());
  accounting.Refresh();
  EXPECT_EQ(host_.WriteCount(small + "/misc.max"), 0);
  EXPECT_THAT(Text(), HasSubstr("cn_sgx_epc_enforcement_errors_total 2"));
  // Once the kubelet has written it, the next round enforces.
  local_.AddFile(kCheckpointPath, Checkpoint());
  accounting.Refresh();
  EXPECT_EQ(*host_.ReadFile(small + "/misc.max"), "sgx_epc 10485760");
}

TEST_F(PodAccountingTest, RunnerRefreshesAtOnceWhenPoked) {
  AccountingOptions options;
  options.interval = absl::Hours(1);
  PodAccounting accounting(options, source_, host_, local_, metrics_);
  accounting.Start();
  ASSERT_TRUE(accounting.WaitForRounds(1, absl::Seconds(10)));
  source_.Answer(TwoPods());
  accounting.Poke();
  ASSERT_TRUE(accounting.WaitForRounds(2, absl::Seconds(10)));
  accounting.Stop();
  EXPECT_THAT(Text(), HasSubstr(R"(pod="small"} 10485760)"));
}

}  // namespace
}  // namespace cn::deviceplugin
