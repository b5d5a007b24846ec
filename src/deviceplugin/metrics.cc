#include "src/deviceplugin/metrics.h"

#include "prometheus/text_serializer.h"

namespace cn::deviceplugin {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  epc_bytes_ = &prometheus::BuildGauge()
                    .Name("cn_sgx_epc_bytes")
                    .Help("EPC bytes the host reports (sysfs per-node sum, else CPUID)")
                    .Register(*registry_)
                    .Add({});
  epc_capped_ = &prometheus::BuildGauge()
                     .Name("cn_sgx_epc_capped")
                     .Help(
                         "1 when fewer EPC MiB are advertised than the host has, because the "
                         "full list would exceed the kubelet's message limit")
                     .Register(*registry_)
                     .Add({});
  platform_ready_ = &prometheus::BuildGauge()
                         .Name("cn_sgx_platform_ready")
                         .Help("1 when the host can run enclaves (SGX1, EPC and an enclave device)")
                         .Register(*registry_)
                         .Add({});
  kubelet_restarts_ = &prometheus::BuildCounter()
                           .Name("cn_sgx_kubelet_restarts_total")
                           .Help("Kubelet restarts seen (kubelet.sock recreated)")
                           .Register(*registry_)
                           .Add({});
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
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace cn::deviceplugin
