#include "src/deviceplugin/kubelet_checkpoint.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

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
