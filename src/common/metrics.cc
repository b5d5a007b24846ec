#include "src/common/metrics.h"

namespace cn::common {

prometheus::Counter& AddCounter(prometheus::Registry& registry, const std::string& name,
                                const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Gauge& AddGauge(prometheus::Registry& registry, const std::string& name,
                            const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Gauge& AddPlatformReadyGauge(prometheus::Registry& registry) {
  return AddGauge(registry, "cn_sgx_platform_ready",
                  "1 when the host can run enclaves (SGX1, EPC and an enclave device)");
}

}  // namespace cn::common
