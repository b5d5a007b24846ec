#include "src/deviceplugin/pod_resources.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/podresources/v1/api.pb.h"

namespace cn::deviceplugin {
namespace {

void AddContainer(v1::ListPodResourcesResponse& response, const std::string& ns,
                  const std::string& pod, const std::string& container, const std::string& resource,
                  const std::vector<std::string>& ids) {
  v1::PodResources* entry = response.add_pod_resources();
  entry->set_namespace_(ns);
  entry->set_name(pod);
  v1::ContainerDevices* devices = entry->add_containers()->add_devices();
  entry->mutable_containers(0)->set_name(container);
  devices->set_resource_name(resource);
  for (const std::string& id : ids) {
    devices->add_device_ids(id);
  }
}

TEST(HoldingsFromList, KeepsOurResourcesWithCountAndSmallestId) {
  v1::ListPodResourcesResponse response;
  AddContainer(response, "default", "web", "app", std::string(kEpcResourceName),
               {"epc-9", "epc-10", "epc-11"});
  AddContainer(response, "default", "gpu", "app", "nvidia.com/gpu", {"GPU-1"});
  AddContainer(response, "kube-system", "enc", "main", std::string(kEnclaveResourceName),
               {"enclave-4"});
  response.add_pod_resources()->set_name("no-devices");
  Holdings holdings = HoldingsFromList(response);
  ASSERT_EQ(holdings.containers.size(), 2u);
  EXPECT_EQ(holdings.containers[0].namespace_name, "default");
  EXPECT_EQ(holdings.containers[0].pod, "web");
  EXPECT_EQ(holdings.containers[0].container, "app");
  EXPECT_EQ(holdings.containers[0].kind, ResourceKind::kEpc);
  EXPECT_EQ(holdings.containers[0].devices, 3u);
  EXPECT_EQ(holdings.containers[0].first_device, "epc-10");
  EXPECT_EQ(holdings.containers[1].kind, ResourceKind::kEnclave);
  EXPECT_EQ(holdings.foreign_devices, 0u);
}

TEST(HoldingsFromList, IdsThatAreNotOursAndNamelessPodsAreLeftOutAndCounted) {
  v1::ListPodResourcesResponse response;
  AddContainer(response, "default", "web", "app", std::string(kEpcResourceName),
               {"epc-1", "enclave-1", "epc-", "epc-x", "", "epc-2"});
  AddContainer(response, "", "web", "app", std::string(kEpcResourceName), {"epc-3"});
  Holdings holdings = HoldingsFromList(response);
  ASSERT_EQ(holdings.containers.size(), 1u);
  EXPECT_EQ(holdings.containers[0].devices, 2u);
  EXPECT_EQ(holdings.foreign_devices, 5u);
}

}  // namespace
}  // namespace cn::deviceplugin
