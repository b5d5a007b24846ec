#pragma once

// The node agent's Prometheus metrics (docs/node-agent.md lists them).
//
// Thread safety: prometheus-cpp metrics may be updated and serialized from several threads.

#include <memory>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace cn::nodeagent {

class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  prometheus::Counter& publishes() const { return *publishes_; }
  prometheus::Counter& changes() const { return *changes_; }
  prometheus::Counter& errors() const { return *errors_; }
  prometheus::Gauge& last_success() const { return *last_success_; }
  prometheus::Gauge& platform_ready() const { return *platform_ready_; }

  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* publishes_;
  prometheus::Counter* changes_;
  prometheus::Counter* errors_;
  prometheus::Gauge* last_success_;
  prometheus::Gauge* platform_ready_;
};

}  // namespace cn::nodeagent
