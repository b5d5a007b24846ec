#include "src/nodeagent/metrics.h"

#include "prometheus/text_serializer.h"

namespace cn::nodeagent {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  publishes_ = &prometheus::BuildCounter()
                    .Name("cn_node_agent_publishes_total")
                    .Help(
                        "Successful publications: the Node (or NFD file) was checked and, if "
                        "needed, changed")
                    .Register(*registry_)
                    .Add({});
  changes_ = &prometheus::BuildCounter()
                  .Name("cn_node_agent_changes_total")
                  .Help("Publications that changed something (a patch sent or the file written)")
                  .Register(*registry_)
                  .Add({});
  errors_ = &prometheus::BuildCounter()
                 .Name("cn_node_agent_errors_total")
                 .Help("Failed publication attempts (retried with backoff)")
                 .Register(*registry_)
                 .Add({});
  last_success_ = &prometheus::BuildGauge()
                       .Name("cn_node_agent_last_success_timestamp_seconds")
                       .Help("Unix time of the last successful publication (0: none yet)")
                       .Register(*registry_)
                       .Add({});
  platform_ready_ = &prometheus::BuildGauge()
                         .Name("cn_sgx_platform_ready")
                         .Help("1 when the host can run enclaves (SGX1, EPC and an enclave device)")
                         .Register(*registry_)
                         .Add({});
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace cn::nodeagent
