#include "src/deviceplugin/epc_cgroup.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/testing/fake_file_system.h"

namespace cn::deviceplugin {
namespace {

using ::testing::HasSubstr;

constexpr absl::string_view kUid = "6f1a2b3c-0000-4d5e-8f90-123456789abc";

TEST(PodCgroupCandidates, CoverBothDriversAndEveryQosClass) {
  std::vector<std::string> candidates = PodCgroupCandidates(kUid);
  EXPECT_THAT(candidates,
              ::testing::ElementsAre(
                  "/sys/fs/cgroup/kubepods/pod6f1a2b3c-0000-4d5e-8f90-123456789abc",
                  "/sys/fs/cgroup/kubepods/burstable/pod6f1a2b3c-0000-4d5e-8f90-123456789abc",
                  "/sys/fs/cgroup/kubepods/besteffort/pod6f1a2b3c-0000-4d5e-8f90-123456789abc",
                  "/sys/fs/cgroup/kubepods.slice/"
                  "kubepods-pod6f1a2b3c_0000_4d5e_8f90_123456789abc.slice",
                  "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/"
                  "kubepods-burstable-pod6f1a2b3c_0000_4d5e_8f90_123456789abc.slice",
                  "/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/"
                  "kubepods-besteffort-pod6f1a2b3c_0000_4d5e_8f90_123456789abc.slice"));
}

TEST(FindPodCgroup, FindsTheSystemdBurstableSlice) {
  testing::FakeFileSystem host;
  host.AddDirectory(
      "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/"
      "kubepods-burstable-pod6f1a2b3c_0000_4d5e_8f90_123456789abc.slice");
  absl::StatusOr<std::string> found = FindPodCgroup(host, kUid);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_THAT(*found, HasSubstr("kubepods-burstable-pod6f1a2b3c_0000"));
}

TEST(FindPodCgroup, FindsTheCgroupfsGuaranteedDirectory) {
  testing::FakeFileSystem host;
  host.AddDirectory("/sys/fs/cgroup/kubepods/pod6f1a2b3c-0000-4d5e-8f90-123456789abc");
  EXPECT_EQ(*FindPodCgroup(host, kUid),
            "/sys/fs/cgroup/kubepods/pod6f1a2b3c-0000-4d5e-8f90-123456789abc");
}

TEST(FindPodCgroup, MissingCgroupIsNotFoundAndSaysWhereItLooked) {
  testing::FakeFileSystem host;
  absl::StatusOr<std::string> found = FindPodCgroup(host, kUid);
  EXPECT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(found.status().message(), HasSubstr("kubepods.slice"));
}

TEST(FindPodCgroup, RefusesAUidThatCouldEscapeTheCgroupTree) {
  testing::FakeFileSystem host;
  host.AddDirectory("/sys/fs/cgroup/kubepods/pod../../etc");
  EXPECT_EQ(FindPodCgroup(host, "../../etc").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(IsPlausiblePodUid("a/b"));
  EXPECT_FALSE(IsPlausiblePodUid(""));
  EXPECT_TRUE(IsPlausiblePodUid(kUid));
}

constexpr absl::string_view kPod = "/sys/fs/cgroup/kubepods/podx";

TEST(ApplyEpcLimit, WritesOnlyWhenTheLimitDiffers) {
  testing::FakeFileSystem host;
  host.AddFile(absl::StrCat(kPod, "/misc.max"), "sev max\nsgx_epc max\n");
  absl::StatusOr<bool> wrote = ApplyEpcLimit(host, kPod, 10 * 1048576);
  ASSERT_TRUE(wrote.ok()) << wrote.status();
  EXPECT_TRUE(*wrote);
  EXPECT_EQ(*host.ReadFile(absl::StrCat(kPod, "/misc.max")), "sgx_epc 10485760");
  // The kernel would now list "sgx_epc 10485760": nothing more to write.
  EXPECT_FALSE(*ApplyEpcLimit(host, kPod, 10 * 1048576));
  EXPECT_EQ(host.WriteCount(absl::StrCat(kPod, "/misc.max")), 1);
}

TEST(ApplyEpcLimit, UnwritableMiscMaxIsAnErrorNamingTheFile) {
  testing::FakeFileSystem host;
  host.AddUnwritable(absl::StrCat(kPod, "/misc.max"), "sgx_epc max\n");
  absl::StatusOr<bool> wrote = ApplyEpcLimit(host, kPod, 1048576);
  EXPECT_EQ(wrote.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(wrote.status().message(), HasSubstr("/sys/fs/cgroup/kubepods/podx/misc.max"));
}

TEST(ApplyEpcLimit, MissingMiscMaxOrSgxEpcLineIsAnErrorAndNothingIsCreated) {
  testing::FakeFileSystem host;
  host.AddDirectory(kPod);
  EXPECT_EQ(ApplyEpcLimit(host, kPod, 1048576).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(host.Stat(absl::StrCat(kPod, "/misc.max")).status().code(),
            absl::StatusCode::kNotFound);
  host.AddFile(absl::StrCat(kPod, "/misc.max"), "sev max\n");
  EXPECT_EQ(ApplyEpcLimit(host, kPod, 1048576).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(host.WriteCount(absl::StrCat(kPod, "/misc.max")), 0);
}

TEST(ReadEpcUsage, ReadsCurrentAndLimitHits) {
  testing::FakeFileSystem host;
  host.AddFile(absl::StrCat(kPod, "/misc.current"), "sev 0\nsgx_epc 4096\n");
  host.AddFile(absl::StrCat(kPod, "/misc.events"), "sev.max 0\nsgx_epc.max 7\n");
  absl::StatusOr<EpcUsage> usage = ReadEpcUsage(host, kPod);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->current_bytes, 4096u);
  EXPECT_EQ(usage->limit_hits, 7u);
}

TEST(ReadEpcUsage, GarbageValueIsAnErrorNamingTheFile) {
  testing::FakeFileSystem host;
  host.AddFile(absl::StrCat(kPod, "/misc.current"), "sgx_epc lots\n");
  host.AddFile(absl::StrCat(kPod, "/misc.events"), "");
  absl::StatusOr<EpcUsage> usage = ReadEpcUsage(host, kPod);
  EXPECT_EQ(usage.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(usage.status().message(), HasSubstr("misc.current"));
}

}  // namespace
}  // namespace cn::deviceplugin
