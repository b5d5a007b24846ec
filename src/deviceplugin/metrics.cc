#include "src/deviceplugin/metrics.h"

#include "prometheus/text_serializer.h"
#include "src/common/metrics.h"

namespace cn::deviceplugin {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  epc_bytes_ = &common::AddGauge(*registry_, "cn_sgx_epc_bytes",
                                 "EPC bytes the host reports (sysfs per-node sum, else CPUID)");
  epc_capped_ = &common::AddGauge(*registry_, "cn_sgx_epc_capped",
                                  "1 when fewer EPC MiB are advertised than the host has, because "
                                  "the full list would exceed the kubelet's message limit");
  platform_ready_ = &common::AddPlatformReadyGauge(*registry_);
  kubelet_restarts_ = &common::AddCounter(*registry_, "cn_sgx_kubelet_restarts_total",
                                          "Kubelet restarts seen (kubelet.sock recreated)");
  auto& advertised = prometheus::BuildGauge()
                         .Name("cn_sgx_devices_advertised")
                         .Help("Devices in the last ListAndWatch list, per resource")
                         .Register(*registry_);
  auto& healthy = prometheus::BuildGauge()
                      .Name("cn_sgx_devices_healthy")
                      .Help("Healthy devices in the last ListAndWatch list, per resource")
                      .Register(*registry_);
  auto& registrations = prometheus::BuildCounter()
                            .Name("cn_sgx_registrations_total")
                            .Help("Successful registrations with the kubelet, per resource")
                            .Register(*registry_);
  auto& allocations = prometheus::BuildCounter()
                          .Name("cn_sgx_allocations_total")
                          .Help("Container allocations answered, per resource")
                          .Register(*registry_);
  auto& allocation_errors = prometheus::BuildCounter()
                                .Name("cn_sgx_allocation_errors_total")
                                .Help(
                                    "Allocate calls refused (unknown or unhealthy device IDs), "
                                    "per resource")
                                .Register(*registry_);
  for (ResourceKind kind : {ResourceKind::kEpc, ResourceKind::kEnclave, ResourceKind::kProvision}) {
    const std::map<std::string, std::string> labels = {{"resource", std::string(Info(kind).name)}};
    resources_[kind] =
        Resource{&advertised.Add(labels), &healthy.Add(labels), &registrations.Add(labels),
                 &allocations.Add(labels), &allocation_errors.Add(labels)};
  }
  epc_allocatable_bytes_ = &common::AddGauge(
      *registry_, "cn_sgx_epc_allocatable_bytes",
      "EPC bytes the plugin advertises as healthy (what the kubelet can allocate)");
  epc_free_bytes_ =
      &common::AddGauge(*registry_, "cn_sgx_epc_free_bytes",
                        "cn_sgx_epc_allocatable_bytes minus the EPC bytes allocated to pods");
  epc_allocated_bytes_ = &prometheus::BuildGauge()
                              .Name("cn_sgx_epc_allocated_bytes")
                              .Help("EPC bytes allocated to a container (PodResources API)")
                              .Register(*registry_);
  enclave_slots_allocated_ =
      &prometheus::BuildGauge()
           .Name("cn_sgx_enclave_slots_allocated")
           .Help("sgx.intel.com/enclave slots allocated to a pod (PodResources API)")
           .Register(*registry_);
  epc_limit_bytes_ = &prometheus::BuildGauge()
                          .Name("cn_sgx_epc_limit_bytes")
                          .Help("sgx_epc limit in the pod cgroup's misc.max (--enforce-epc)")
                          .Register(*registry_);
  epc_used_bytes_ = &prometheus::BuildGauge()
                         .Name("cn_sgx_epc_used_bytes")
                         .Help("EPC bytes the pod's enclaves use (misc.current, --enforce-epc)")
                         .Register(*registry_);
  epc_limit_hits_ =
      &prometheus::BuildCounter()
           .Name("cn_sgx_epc_limit_hits_total")
           .Help("EPC charges refused at the pod's limit (misc.events sgx_epc.max, --enforce-epc)")
           .Register(*registry_);
  pod_resources_up_ = &common::AddGauge(
      *registry_, "cn_sgx_pod_resources_up",
      "1 when the last PodResources List succeeded, so the per-pod figures are current");
  pod_resources_errors_ = &common::AddCounter(*registry_, "cn_sgx_pod_resources_errors_total",
                                              "PodResources List calls that failed");
  epc_enforcement_active_ =
      &common::AddGauge(*registry_, "cn_sgx_epc_enforcement_active",
                        "1 when --enforce-epc is set and the kernel has the EPC cgroup");
  epc_enforcement_errors_ =
      &common::AddCounter(*registry_, "cn_sgx_epc_enforcement_errors_total",
                          "Failures to find a pod's cgroup, write its limit or read its usage");
}

std::string Metrics::Serialize() const {
  absl::MutexLock lock(&snapshot_mutex_);
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace cn::deviceplugin
