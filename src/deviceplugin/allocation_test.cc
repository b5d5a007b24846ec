#include "src/deviceplugin/allocation.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cn::deviceplugin {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

sgx::Platform InKernelHost(bool aesm) {
  sgx::Platform platform;
  platform.driver.kind = sgx::DriverKind::kInKernel;
  platform.driver.enclave_device = sgx::DeviceNode{"/dev/sgx_enclave", true};
  platform.driver.provision_device = sgx::DeviceNode{"/dev/sgx_provision", true};
  if (aesm) {
    platform.aesm_socket = "/var/run/aesmd/aesm.socket";
  }
  return platform;
}

sgx::Platform DcapHost() {
  sgx::Platform platform;
  platform.driver.kind = sgx::DriverKind::kDcap;
  platform.driver.enclave_device = sgx::DeviceNode{"/dev/sgx/enclave", true};
  platform.driver.provision_device = sgx::DeviceNode{"/dev/sgx/provision", true};
  return platform;
}

sgx::Platform OutOfTreeHost() {
  sgx::Platform platform;
  platform.driver.kind = sgx::DriverKind::kOutOfTree;
  platform.driver.enclave_device = sgx::DeviceNode{"/dev/isgx", true};
  return platform;
}

// container path -> "host path:permissions"
std::map<std::string, std::string> Devices(const v1beta1::ContainerAllocateResponse& response) {
  std::map<std::string, std::string> devices;
  for (const auto& device : response.devices()) {
    devices[device.container_path()] = device.host_path() + ":" + device.permissions();
  }
  return devices;
}

TEST(ContainerAllocationTest, EpcOnInKernelHostWithAesmGetsBothDevicesMountAndEnv) {
  auto response = ContainerAllocation(ResourceKind::kEpc, InKernelHost(true), true);
  EXPECT_THAT(Devices(response),
              UnorderedElementsAre(Pair("/dev/sgx_enclave", "/dev/sgx_enclave:rw"),
                                   Pair("/dev/sgx/enclave", "/dev/sgx_enclave:rw"),
                                   Pair("/dev/sgx_provision", "/dev/sgx_provision:rw"),
                                   Pair("/dev/sgx/provision", "/dev/sgx_provision:rw")));
  ASSERT_EQ(response.mounts_size(), 1);
  EXPECT_EQ(response.mounts(0).container_path(), "/var/run/aesmd");
  EXPECT_EQ(response.mounts(0).host_path(), "/var/run/aesmd");
  EXPECT_TRUE(response.mounts(0).read_only());
  EXPECT_THAT(response.envs(), UnorderedElementsAre(Pair("SGX_AESM_ADDR", "1")));
}

TEST(ContainerAllocationTest, EpcWithoutAesmHasNoMountOrEnv) {
  auto response = ContainerAllocation(ResourceKind::kEpc, InKernelHost(false), true);
  EXPECT_EQ(response.mounts_size(), 0);
  EXPECT_THAT(response.envs(), IsEmpty());
  EXPECT_EQ(response.devices_size(), 4);
}

TEST(ContainerAllocationTest, EpcWithoutProvisionFlagGetsOnlyTheEnclaveDevice) {
  auto response = ContainerAllocation(ResourceKind::kEpc, InKernelHost(false), false);
  EXPECT_THAT(Devices(response),
              UnorderedElementsAre(Pair("/dev/sgx_enclave", "/dev/sgx_enclave:rw"),
                                   Pair("/dev/sgx/enclave", "/dev/sgx_enclave:rw")));
}

TEST(ContainerAllocationTest, DcapHostMapsItsNodesToBothContainerNames) {
  auto response = ContainerAllocation(ResourceKind::kEpc, DcapHost(), true);
  EXPECT_THAT(Devices(response),
              UnorderedElementsAre(Pair("/dev/sgx_enclave", "/dev/sgx/enclave:rw"),
                                   Pair("/dev/sgx/enclave", "/dev/sgx/enclave:rw"),
                                   Pair("/dev/sgx_provision", "/dev/sgx/provision:rw"),
                                   Pair("/dev/sgx/provision", "/dev/sgx/provision:rw")));
}

TEST(ContainerAllocationTest, OutOfTreeHostGivesIsgxOnly) {
  auto response = ContainerAllocation(ResourceKind::kEpc, OutOfTreeHost(), true);
  EXPECT_THAT(Devices(response), UnorderedElementsAre(Pair("/dev/isgx", "/dev/isgx:rw")));
}

TEST(ContainerAllocationTest, EnclaveResourceNeverGetsProvisionAndProvisionOnlyProvision) {
  EXPECT_THAT(Devices(ContainerAllocation(ResourceKind::kEnclave, InKernelHost(true), true)),
              UnorderedElementsAre(Pair("/dev/sgx_enclave", "/dev/sgx_enclave:rw"),
                                   Pair("/dev/sgx/enclave", "/dev/sgx_enclave:rw")));
  auto provision = ContainerAllocation(ResourceKind::kProvision, InKernelHost(true), true);
  EXPECT_THAT(Devices(provision),
              UnorderedElementsAre(Pair("/dev/sgx_provision", "/dev/sgx_provision:rw"),
                                   Pair("/dev/sgx/provision", "/dev/sgx_provision:rw")));
  EXPECT_EQ(provision.mounts_size(), 0);
}

v1beta1::AllocateRequest Request(std::vector<std::vector<std::string>> containers) {
  v1beta1::AllocateRequest request;
  for (const auto& ids : containers) {
    auto* container = request.add_container_requests();
    for (const auto& id : ids) {
      container->add_devices_ids(id);
    }
  }
  return request;
}

TEST(AllocateTest, AnswersEachContainerRequest) {
  DeviceSet devices = DeviceSet::Slots(ResourceKind::kEnclave, 4);
  auto response = Allocate(devices, {true, ""}, InKernelHost(false), true,
                           Request({{"enclave-0"}, {"enclave-1", "enclave-2"}}));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->container_responses_size(), 2);
}

TEST(AllocateTest, UnknownIdIsInvalidArgumentNamingItAndTheResource) {
  DeviceSet devices = DeviceSet::Slots(ResourceKind::kEnclave, 4);
  auto response =
      Allocate(devices, {true, ""}, InKernelHost(false), true, Request({{"enclave-0", "x"}}));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(response.status().message(), HasSubstr("unknown device ID 'x'"));
  EXPECT_THAT(response.status().message(), HasSubstr("sgx.intel.com/enclave"));
}

TEST(AllocateTest, UnhealthyResourceRefusesWithTheReason) {
  DeviceSet devices = DeviceSet::Slots(ResourceKind::kEnclave, 4);
  auto response = Allocate(devices, {false, "enclave device gone"}, InKernelHost(false), true,
                           Request({{"enclave-0"}}));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(response.status().message(), HasSubstr("'enclave-0'"));
  EXPECT_THAT(response.status().message(), HasSubstr("enclave device gone"));
}

TEST(AllocateTest, RejectsRepeatedIdsAndEmptyRequests) {
  DeviceSet devices = DeviceSet::Slots(ResourceKind::kEnclave, 4);
  EXPECT_THAT(Allocate(devices, {true, ""}, InKernelHost(false), true,
                       Request({{"enclave-1", "enclave-1"}}))
                  .status()
                  .message(),
              HasSubstr("twice"));
  EXPECT_FALSE(Allocate(devices, {true, ""}, InKernelHost(false), true, Request({{}})).ok());
  EXPECT_FALSE(Allocate(devices, {true, ""}, InKernelHost(false), true, Request({})).ok());
}

}  // namespace
}  // namespace cn::deviceplugin
