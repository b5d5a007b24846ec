#include "src/deviceplugin/device_set.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cn::deviceplugin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1beta1::ListAndWatchResponse Decode(const std::string& bytes) {
  v1beta1::ListAndWatchResponse response;
  EXPECT_TRUE(response.ParseFromString(bytes));
  return response;
}

sgx::Platform PlatformWithNodes(std::vector<sgx::NumaEpc> nodes) {
  sgx::Platform platform;
  platform.numa_nodes = std::move(nodes);
  for (const sgx::NumaEpc& node : platform.numa_nodes) {
    platform.epc_total_bytes += node.bytes;
  }
  return platform;
}

TEST(DeviceSetTest, EncodesEveryDeviceWithItsHealthAndNoTopologyForSlots) {
  DeviceSet slots = DeviceSet::Slots(ResourceKind::kEnclave, 3);
  v1beta1::ListAndWatchResponse healthy = Decode(slots.EncodeListAndWatch(true));
  ASSERT_EQ(healthy.devices_size(), 3);
  EXPECT_EQ(healthy.devices(0).id(), "enclave-0");
  EXPECT_EQ(healthy.devices(2).id(), "enclave-2");
  for (const auto& device : healthy.devices()) {
    EXPECT_EQ(device.health(), "Healthy");
    EXPECT_FALSE(device.has_topology());
  }
  v1beta1::ListAndWatchResponse unhealthy = Decode(slots.EncodeListAndWatch(false));
  EXPECT_EQ(unhealthy.devices(1).health(), "Unhealthy");
}

TEST(DeviceSetTest, EncodesTopologyOfEachRange) {
  DeviceSet set(ResourceKind::kEpc, {DeviceRange{0, 2, 0}, DeviceRange{10, 1, 3}});
  v1beta1::ListAndWatchResponse decoded = Decode(set.EncodeListAndWatch(true));
  ASSERT_EQ(decoded.devices_size(), 3);
  EXPECT_EQ(decoded.devices(1).id(), "epc-1");
  EXPECT_EQ(decoded.devices(1).topology().nodes(0).id(), 0);
  EXPECT_EQ(decoded.devices(2).id(), "epc-10");
  ASSERT_EQ(decoded.devices(2).topology().nodes_size(), 1);
  EXPECT_EQ(decoded.devices(2).topology().nodes(0).id(), 3);
}

TEST(DeviceSetTest, EncodedSizeIsExactAcrossDigitBoundariesAndTopology) {
  for (bool healthy : {true, false}) {
    for (std::optional<int> node : {std::optional<int>(), std::optional<int>(0),
                                    std::optional<int>(1), std::optional<int>(200)}) {
      DeviceSet set(ResourceKind::kEpc, {DeviceRange{0, 1001, node}, DeviceRange{99990, 20, node},
                                         DeviceRange{999999, 3, node}});
      std::string bytes = set.EncodeListAndWatch(healthy);
      EXPECT_EQ(set.EncodedSize(healthy), bytes.size());
      // And the generated code agrees with the encoding.
      EXPECT_EQ(Decode(bytes).ByteSizeLong(), bytes.size());
    }
  }
}

TEST(DeviceSetTest, FindsOnlyCanonicalAdvertisedIds) {
  DeviceSet set(ResourceKind::kEpc, {DeviceRange{0, 10, std::nullopt}, DeviceRange{100, 5, 1}});
  ASSERT_NE(set.Find("epc-0"), nullptr);
  EXPECT_EQ(set.Find("epc-104")->numa_node, 1);
  EXPECT_EQ(set.Find("epc-10"), nullptr);   // between the ranges
  EXPECT_EQ(set.Find("epc-105"), nullptr);  // past the end
  EXPECT_EQ(set.Find("epc-01"), nullptr);   // would alias epc-1
  EXPECT_EQ(set.Find("epc-+1"), nullptr);
  EXPECT_EQ(set.Find("epc--1"), nullptr);
  EXPECT_EQ(set.Find("epc-"), nullptr);
  EXPECT_EQ(set.Find("enclave-1"), nullptr);
  EXPECT_EQ(set.Find("epc-99999999999999999999999"), nullptr);
  EXPECT_EQ(set.Find(std::string("epc-1\0", 6)), nullptr);
}

TEST(EpcPlanTest, OneDevicePerMiBWithoutTopologyByDefault) {
  EpcPlan plan =
      PlanEpcDevices(PlatformWithNodes({{0, 64 * kMiB}, {1, 32 * kMiB}}), false, 3670016);
  EXPECT_FALSE(plan.capped);
  EXPECT_EQ(plan.wanted_devices, 96u);
  EXPECT_EQ(plan.devices.size(), 96u);
  EXPECT_FALSE(plan.devices.has_topology());
  EXPECT_NE(plan.devices.Find("epc-95"), nullptr);
  EXPECT_EQ(plan.devices.Find("epc-96"), nullptr);
}

TEST(EpcPlanTest, NumaTopologyLaysNodesOutOneAfterAnother) {
  EpcPlan plan =
      PlanEpcDevices(PlatformWithNodes({{0, 64 * kMiB}, {1, 32 * kMiB + 5}}), true, 3670016);
  EXPECT_THAT(plan.devices.ranges(), ElementsAre(DeviceRange{0, 64, 0}, DeviceRange{64, 32, 1}));
  EXPECT_FALSE(plan.topology_note.has_value());
}

TEST(EpcPlanTest, NumaTopologyWithoutPerNodeSizesSendsNoTopologyAndSaysWhy) {
  sgx::Platform platform;
  platform.epc_total_bytes = 128 * kMiB;
  EpcPlan plan = PlanEpcDevices(platform, true, 3670016);
  EXPECT_EQ(plan.devices.size(), 128u);
  EXPECT_FALSE(plan.devices.has_topology());
  ASSERT_TRUE(plan.topology_note.has_value());
  EXPECT_THAT(*plan.topology_note, HasSubstr("sgx_total_bytes"));
}

TEST(EpcPlanTest, CapsA512GiBNodeToTheLargestListThatFitsEvenWhenUnhealthy) {
  constexpr uint64_t kLimit = 3670016;
  const uint64_t half = 256ull * 1024 * kMiB;
  EpcPlan plan = PlanEpcDevices(PlatformWithNodes({{0, half}, {1, half}}), true, kLimit);
  EXPECT_TRUE(plan.capped);
  EXPECT_EQ(plan.wanted_devices, 524288u);
  EXPECT_GT(plan.uncapped_encoded_bytes, kLimit);
  EXPECT_LE(plan.devices.EncodedSize(false), kLimit);
  EXPECT_LE(plan.devices.EncodedSize(true), kLimit);
  EXPECT_EQ(plan.encoded_bytes, plan.devices.EncodedSize(false));
  // As large as fits: one more device on each node would not (each takes < 40 bytes).
  EXPECT_GT(plan.encoded_bytes + 2 * 40, kLimit);
  // Both nodes keep the same share, and the IDs of node 1 start where its full range starts.
  ASSERT_EQ(plan.devices.ranges().size(), 2u);
  EXPECT_EQ(plan.devices.ranges()[0].count, plan.devices.ranges()[1].count);
  EXPECT_EQ(plan.devices.ranges()[1].first, 262144u);
}

v1beta1::ContainerPreferredAllocationRequest Request(std::vector<std::string> available,
                                                     std::vector<std::string> must, int size) {
  v1beta1::ContainerPreferredAllocationRequest request;
  for (auto& id : available) {
    request.add_available_deviceids(id);
  }
  for (auto& id : must) {
    request.add_must_include_deviceids(id);
  }
  request.set_allocation_size(size);
  return request;
}

TEST(PreferDevicesTest, StaysOnTheNodeOfTheMustIncludeDevices) {
  DeviceSet set(ResourceKind::kEpc, {DeviceRange{0, 4, 0}, DeviceRange{4, 4, 1}});
  auto chosen = PreferDevices(
      set, Request({"epc-0", "epc-1", "epc-2", "epc-5", "epc-6", "epc-7"}, {"epc-4"}, 3));
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_THAT(*chosen, ElementsAre("epc-4", "epc-5", "epc-6"));
}

TEST(PreferDevicesTest, PicksTheTightestNodeThatHoldsTheWholeRequest) {
  DeviceSet set(ResourceKind::kEpc, {DeviceRange{0, 4, 0}, DeviceRange{4, 4, 1}});
  auto chosen =
      PreferDevices(set, Request({"epc-0", "epc-1", "epc-2", "epc-3", "epc-6", "epc-7"}, {}, 2));
  ASSERT_TRUE(chosen.ok());
  EXPECT_THAT(*chosen, ElementsAre("epc-6", "epc-7"));
}

TEST(PreferDevicesTest, SpansTheFewestNodesWhenNoneHoldsTheRequest) {
  DeviceSet set(ResourceKind::kEpc,
                {DeviceRange{0, 4, 0}, DeviceRange{4, 4, 1}, DeviceRange{8, 4, 2}});
  auto chosen =
      PreferDevices(set, Request({"epc-0", "epc-5", "epc-6", "epc-7", "epc-8", "epc-9"}, {}, 5));
  ASSERT_TRUE(chosen.ok());
  EXPECT_THAT(*chosen, ElementsAre("epc-5", "epc-6", "epc-7", "epc-8", "epc-9"));
}

TEST(PreferDevicesTest, WithoutTopologyChoosesLowestIndicesAndIgnoresForeignIds) {
  DeviceSet set = DeviceSet::Slots(ResourceKind::kEnclave, 10);
  auto chosen =
      PreferDevices(set, Request({"enclave-9", "bogus", "enclave-3", "enclave-5"}, {}, 2));
  ASSERT_TRUE(chosen.ok());
  EXPECT_THAT(*chosen, ElementsAre("enclave-3", "enclave-5"));
}

TEST(PreferDevicesTest, RejectsBadRequestsNamingTheProblem) {
  DeviceSet set = DeviceSet::Slots(ResourceKind::kEnclave, 10);
  EXPECT_THAT(PreferDevices(set, Request({"enclave-1"}, {}, 0)).status().message(),
              HasSubstr("allocation_size 0"));
  EXPECT_THAT(PreferDevices(set, Request({}, {"enclave-1", "enclave-2"}, 1)).status().message(),
              HasSubstr("exceed"));
  EXPECT_THAT(PreferDevices(set, Request({}, {"nope"}, 1)).status().message(), HasSubstr("'nope'"));
}

}  // namespace
}  // namespace cn::deviceplugin
