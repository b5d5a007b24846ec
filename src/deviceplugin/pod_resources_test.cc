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

TEST(ParseListAnswer, KeepsOurResourcesWithCountAndSmallestId) {
  v1::ListPodResourcesResponse response;
  AddContainer(response, "default", "web", "app", std::string(kEpcResourceName),
               {"epc-9", "epc-10", "epc-11"});
  AddContainer(response, "default", "gpu", "app", "nvidia.com/gpu", {"GPU-1"});
  AddContainer(response, "kube-system", "enc", "main", std::string(kEnclaveResourceName),
               {"enclave-4"});
  response.add_pod_resources()->set_name("no-devices");
  absl::StatusOr<Holdings> parsed = ParseListAnswer(response.SerializeAsString());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const Holdings& holdings = *parsed;
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

TEST(ParseListAnswer, IdsThatAreNotOursAndNamelessPodsAreLeftOutAndCounted) {
  v1::ListPodResourcesResponse response;
  AddContainer(response, "default", "web", "app", std::string(kEpcResourceName),
               {"epc-1", "enclave-1", "epc-", "epc-x", "", "epc-2"});
  AddContainer(response, "", "web", "app", std::string(kEpcResourceName), {"epc-3"});
  absl::StatusOr<Holdings> holdings = ParseListAnswer(response.SerializeAsString());
  ASSERT_TRUE(holdings.ok()) << holdings.status();
  ASSERT_EQ(holdings->containers.size(), 1u);
  EXPECT_EQ(holdings->containers[0].devices, 2u);
  EXPECT_EQ(holdings->foreign_devices, 5u);
}

TEST(ParseListAnswer, ReadsFieldsInAnyOrderAndSkipsUnknownOnes) {
  // Hand-built: the pod's namespace and name after its containers, the device IDs before the
  // resource name, the container's cpu_ids and topology, and an unknown field 9.
  v1::ContainerDevices devices;
  devices.add_device_ids("epc-5");
  devices.add_device_ids("epc-4");
  devices.mutable_topology()->add_nodes()->set_id(1);
  std::string devices_bytes = devices.SerializeAsString();
  devices.Clear();
  devices.set_resource_name(std::string(kEpcResourceName));
  devices_bytes += devices.SerializeAsString();
  v1::ContainerResources container;
  container.add_cpu_ids(3);
  container.set_name("app");
  std::string container_bytes = container.SerializeAsString();
  container_bytes += "\x12" + std::string(1, static_cast<char>(devices_bytes.size())) +
                     devices_bytes;  // field 2 (devices), length-delimited
  std::string pod_bytes = "\x1a" + std::string(1, static_cast<char>(container_bytes.size())) +
                          container_bytes;  // field 3 (containers)
  v1::PodResources names;
  names.set_name("web");
  names.set_namespace_("default");
  pod_bytes += names.SerializeAsString();
  pod_bytes += std::string("\x48\x07");  // field 9, varint: unknown
  std::string answer = "\x0a" + std::string(1, static_cast<char>(pod_bytes.size())) + pod_bytes;
  absl::StatusOr<Holdings> holdings = ParseListAnswer(answer);
  ASSERT_TRUE(holdings.ok()) << holdings.status();
  ASSERT_EQ(holdings->containers.size(), 1u);
  EXPECT_EQ(holdings->containers[0].pod, "web");
  EXPECT_EQ(holdings->containers[0].namespace_name, "default");
  EXPECT_EQ(holdings->containers[0].container, "app");
  EXPECT_EQ(holdings->containers[0].devices, 2u);
  EXPECT_EQ(holdings->containers[0].first_device, "epc-4");
}

TEST(ParseListAnswer, MalformedBytesAreRefused) {
  v1::ListPodResourcesResponse response;
  AddContainer(response, "default", "web", "app", std::string(kEpcResourceName), {"epc-1"});
  const std::string good = response.SerializeAsString();
  for (size_t cut = 1; cut < good.size(); ++cut) {
    EXPECT_FALSE(ParseListAnswer(absl::string_view(good).substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(ParseListAnswer(std::string("\x0a\xc8\x01garbage", 10)).ok());
  EXPECT_FALSE(ParseListAnswer(std::string("\xff\xff\xff\xff\xff\xff", 6)).ok());
  // Field 1 with a varint wire type where a message belongs is an unknown field to protobuf.
  EXPECT_TRUE(ParseListAnswer(std::string("\x08\x01", 2)).ok());
  EXPECT_TRUE(ParseListAnswer("").ok());  // no pods
}

}  // namespace
}  // namespace cn::deviceplugin
