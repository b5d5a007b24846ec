#include "src/deviceplugin/allocation.h"

#include <set>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace cn::deviceplugin {
namespace {

constexpr absl::string_view kDevicePermissions = "rw";
// SGX_AESM_ADDR=1 tells the SGX SDK to reach AESM through /var/run/aesmd/aesm.socket.
const std::string kAesmEnabled = "1";

void AddDevice(v1beta1::ContainerAllocateResponse& response, absl::string_view container_path,
               absl::string_view host_path) {
  v1beta1::DeviceSpec* spec = response.add_devices();
  spec->set_container_path(std::string(container_path));
  spec->set_host_path(std::string(host_path));
  spec->set_permissions(std::string(kDevicePermissions));
}

void AddEnclaveDevice(v1beta1::ContainerAllocateResponse& response, const sgx::Platform& platform) {
  const std::optional<sgx::DeviceNode>& enclave = platform.driver.enclave_device;
  if (!enclave.has_value()) {
    return;
  }
  if (platform.driver.kind == sgx::DriverKind::kOutOfTree) {
    AddDevice(response, sgx::kOutOfTreeDevice, enclave->host_path);
    return;
  }
  AddDevice(response, sgx::kInKernelEnclaveDevice, enclave->host_path);
  AddDevice(response, sgx::kDcapEnclaveDevice, enclave->host_path);
}

void AddProvisionDevice(v1beta1::ContainerAllocateResponse& response,
                        const sgx::Platform& platform) {
  const std::optional<sgx::DeviceNode>& provision = platform.driver.provision_device;
  if (!provision.has_value()) {
    return;
  }
  AddDevice(response, sgx::kInKernelProvisionDevice, provision->host_path);
  AddDevice(response, sgx::kDcapProvisionDevice, provision->host_path);
}

}  // namespace

v1beta1::ContainerAllocateResponse ContainerAllocation(ResourceKind kind,
                                                       const sgx::Platform& platform,
                                                       bool epc_with_provision) {
  v1beta1::ContainerAllocateResponse response;
  switch (kind) {
    case ResourceKind::kEpc:
      AddEnclaveDevice(response, platform);
      if (epc_with_provision) {
        AddProvisionDevice(response, platform);
      }
      if (platform.aesm_socket.has_value()) {
        v1beta1::Mount* mount = response.add_mounts();
        mount->set_container_path(std::string(sgx::kAesmDirectory));
        mount->set_host_path(std::string(sgx::kAesmDirectory));
        mount->set_read_only(true);
        // insert() rather than operator[]= sidesteps a GCC 12 -Wrestrict false positive.
        response.mutable_envs()->insert(google::protobuf::MapPair<std::string, std::string>(
            std::string(kAesmEnvironmentVariable), kAesmEnabled));
      }
      break;
    case ResourceKind::kEnclave:
      AddEnclaveDevice(response, platform);
      break;
    case ResourceKind::kProvision:
      AddProvisionDevice(response, platform);
      break;
  }
  return response;
}

absl::StatusOr<v1beta1::AllocateResponse> Allocate(const DeviceSet& devices,
                                                   const ResourceHealth& health,
                                                   const sgx::Platform& platform,
                                                   bool epc_with_provision,
                                                   const v1beta1::AllocateRequest& request) {
  const absl::string_view resource = Info(devices.kind()).name;
  if (request.container_requests_size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("allocate request for resource ", resource, " has no container requests"));
  }
  v1beta1::AllocateResponse response;
  for (int container = 0; container < request.container_requests_size(); ++container) {
    const v1beta1::ContainerAllocateRequest& wanted = request.container_requests(container);
    if (wanted.devices_ids_size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "container request ", container, " for resource ", resource, " lists no device IDs"));
    }
    std::set<absl::string_view> seen;
    for (const std::string& id : wanted.devices_ids()) {
      if (devices.Find(id) == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("unknown device ID '",
                                                       absl::CHexEscape(id).substr(0, 80),
                                                       "' for resource ", resource));
      }
      if (!seen.insert(id).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("device ID '", id, "' for resource ", resource, " is requested twice"));
      }
      if (!health.healthy) {
        return absl::InvalidArgumentError(absl::StrCat("device ID '", id, "' for resource ",
                                                       resource, " is unhealthy: ", health.reason));
      }
    }
    *response.add_container_responses() =
        ContainerAllocation(devices.kind(), platform, epc_with_provision);
  }
  return response;
}

}  // namespace cn::deviceplugin
