#pragma once

// What a container receives when the kubelet allocates our devices (DESIGN.md section 2).
//
// Device paths inside the container are the ones the SGX SDKs open. The in-kernel and DCAP
// drivers' enclave node is offered under both /dev/sgx_enclave and its legacy alias
// /dev/sgx/enclave (one host node, two container paths); the old out-of-tree driver's under
// /dev/isgx. Host paths are the host's own names, never prefixed with --host-root.
//
// Thread safety: pure functions of their arguments.

#include <string>

#include "absl/status/statusor.h"
#include "proto/deviceplugin/v1beta1/api.pb.h"
#include "src/deviceplugin/device_set.h"
#include "src/deviceplugin/resources.h"
#include "src/sgx/platform.h"

namespace cn::deviceplugin {

inline constexpr absl::string_view kAesmEnvironmentVariable = "SGX_AESM_ADDR";

// The container's share of one allocation of `kind` on `platform`: the enclave device (EPC and
// enclave resources), the provision device (provision resource; EPC resource when
// `epc_with_provision`), and for the EPC resource the AESM directory (read-only: connecting to
// a Unix socket needs no write access to the mount) with SGX_AESM_ADDR=1 when the host runs
// AESM. Devices are opened "rw" (no "m": containers must not create device nodes).
v1beta1::ContainerAllocateResponse ContainerAllocation(ResourceKind kind,
                                                       const sgx::Platform& platform,
                                                       bool epc_with_provision);

// The health of a resource at the moment of a request.
struct ResourceHealth {
  bool healthy = false;
  std::string reason;  // why not healthy; empty when healthy
};

// Answers an AllocateRequest. Every requested ID must be one of `devices`, listed once per
// container, and the resource must be healthy; otherwise InvalidArgument naming the ID and the
// resource (and, for an unhealthy resource, the reason). A container request without IDs is
// InvalidArgument too. Never crashes on any request.
absl::StatusOr<v1beta1::AllocateResponse> Allocate(const DeviceSet& devices,
                                                   const ResourceHealth& health,
                                                   const sgx::Platform& platform,
                                                   bool epc_with_provision,
                                                   const v1beta1::AllocateRequest& request);

}  // namespace cn::deviceplugin
