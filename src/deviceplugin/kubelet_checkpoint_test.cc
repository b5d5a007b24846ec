#include "src/deviceplugin/kubelet_checkpoint.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/testing/fake_file_system.h"

namespace cn::deviceplugin {
namespace {

using ::testing::HasSubstr;

// The shape kubelet 1.20 writes (DeviceIDs per NUMA node; AllocResp base64).
constexpr absl::string_view kCheckpoint120 = R"({"Data":{"PodDeviceEntries":[
 {"PodUID":"uid-a","ContainerName":"app","ResourceName":"kubernetes.azure.com/sgx_epc_mem_in_MiB",
  "DeviceIDs":{"-1":["epc-7","epc-10","epc-12"]},"AllocResp":"CgQKAggBEgA="},
 {"PodUID":"uid-a","ContainerName":"app","ResourceName":"sgx.intel.com/enclave",
  "DeviceIDs":{"0":["enclave-3"]},"AllocResp":""}],
 "RegisteredDevices":{"kubernetes.azure.com/sgx_epc_mem_in_MiB":["epc-0","epc-1","epc-2"]}},
 "Checksum":1234567})";

TEST(ParseKubeletCheckpoint, ReadsEntriesOfKubelet120) {
  absl::StatusOr<std::vector<CheckpointEntry>> entries =
      ParseKubeletCheckpoint(kCheckpoint120, "checkpoint");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].pod_uid, "uid-a");
  EXPECT_EQ((*entries)[0].container, "app");
  EXPECT_EQ((*entries)[0].resource, "kubernetes.azure.com/sgx_epc_mem_in_MiB");
  EXPECT_EQ((*entries)[0].devices, 3u);
  EXPECT_EQ((*entries)[0].first_device, "epc-10");  // string order, as PodResources is read
  EXPECT_EQ((*entries)[1].resource, "sgx.intel.com/enclave");
  EXPECT_EQ((*entries)[1].devices, 1u);
}

TEST(ParseKubeletCheckpoint, ReadsThePlainListOfOlderKubelets) {
  absl::StatusOr<std::vector<CheckpointEntry>> entries = ParseKubeletCheckpoint(
      R"({"Data":{"PodDeviceEntries":[{"PodUID":"u","ContainerName":"c","ResourceName":"r",
          "DeviceIDs":["epc-2","epc-1"],"AllocResp":null}],"RegisteredDevices":{}},"Checksum":1})",
      "checkpoint");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].devices, 2u);
  EXPECT_EQ((*entries)[0].first_device, "epc-1");
}

TEST(ParseKubeletCheckpoint, RegisteredDevicesAndUnknownKeysAreIgnored) {
  absl::StatusOr<std::vector<CheckpointEntry>> entries = ParseKubeletCheckpoint(
      R"({"Future":[1,2,{"x":[]}],"Data":{"RegisteredDevices":{"r":["a"]},
          "PodDeviceEntries":[]}})",
      "checkpoint");
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_TRUE(entries->empty());
}

TEST(ReadKubeletCheckpoint, ReadsAFileLargerThanOnePieceAndStopsAfterTheEntries) {
  // 100,000 registered IDs after the entries, and garbage after them: never read.
  std::string registered;
  for (int i = 0; i < 100000; ++i) {
    absl::StrAppend(&registered, i == 0 ? "" : ",", "\"epc-", i, "\"");
  }
  std::string ids;
  for (int i = 0; i < 20000; ++i) {
    absl::StrAppend(&ids, i == 0 ? "" : ",", "\"epc-", 50000 + i, "\"");
  }
  const std::string text = absl::StrCat(
      R"({"Data":{"PodDeviceEntries":[{"PodUID":"u","ContainerName":"c","ResourceName":"r",)",
      R"("DeviceIDs":{"-1":[)", ids, R"(]}}],"RegisteredDevices":{"r":[)", registered,
      R"(]}},"Checksum":1} trailing garbage)");
  testing::FakeFileSystem file_system;
  file_system.AddFile("/kubelet/checkpoint", text);
  absl::StatusOr<std::vector<CheckpointEntry>> entries =
      ReadKubeletCheckpoint(file_system, "/kubelet/checkpoint");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].devices, 20000u);
  EXPECT_EQ((*entries)[0].first_device, "epc-50000");
  EXPECT_EQ(ReadKubeletCheckpoint(file_system, "/kubelet/none").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ParseKubeletCheckpoint, TextThatIsNotJsonIsRefusedNamingTheSource) {
  absl::StatusOr<std::vector<CheckpointEntry>> entries =
      ParseKubeletCheckpoint("{\"Data\": {\"PodDeviceEntries\": [", "/kubelet/checkpoint");
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(entries.status().message(), HasSubstr("/kubelet/checkpoint"));
  EXPECT_FALSE(ParseKubeletCheckpoint("\x01\x02garbage", "c").ok());
  EXPECT_FALSE(ParseKubeletCheckpoint("", "c").ok());
}

TEST(ParseKubeletCheckpoint, DeviceIdsOfTheWrongTypeAreRefused) {
  EXPECT_FALSE(ParseKubeletCheckpoint(
                   R"({"Data":{"PodDeviceEntries":[{"PodUID":"u","DeviceIDs":{"0":[7]}}]}})", "c")
                   .ok());
  EXPECT_FALSE(
      ParseKubeletCheckpoint(R"({"Data":{"PodDeviceEntries":[{"DeviceIDs":"epc-1"}]}})", "c").ok());
}

}  // namespace
}  // namespace cn::deviceplugin
