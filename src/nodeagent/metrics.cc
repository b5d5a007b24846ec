#include "src/nodeagent/metrics.h"

#include "prometheus/text_serializer.h"
#include "src/common/metrics.h"

namespace cn::nodeagent {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  publishes_ = &common::AddCounter(
      *registry_, "cn_node_agent_publishes_total",
      "Successful publications: the Node (or NFD file) was checked and, if needed, changed");
  changes_ =
      &common::AddCounter(*registry_, "cn_node_agent_changes_total",
                          "Publications that changed something (a patch sent or the file written)");
  errors_ = &common::AddCounter(*registry_, "cn_node_agent_errors_total",
                                "Failed publication attempts (retried with backoff)");
  last_success_ = &common::AddGauge(*registry_, "cn_node_agent_last_success_timestamp_seconds",
                                    "Unix time of the last successful publication (0: none yet)");
  platform_ready_ = &common::AddPlatformReadyGauge(*registry_);
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace cn::nodeagent
