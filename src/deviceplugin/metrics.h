#pragma once

// The plugin's Prometheus metrics (docs/device-plugin.md lists them with their meaning).
//
// Gauges describe the present (what is advertised, whether the EPC was capped); counters count
// events since the process started (registrations, allocations, kubelet restarts seen).
//
// Thread safety: prometheus-cpp metrics are safe to update from several threads; Serialize may
// run concurrently with updates.

#include <map>
#include <memory>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "src/deviceplugin/resources.h"

namespace cn::deviceplugin {

class Metrics {
 public:
  struct Resource {
    prometheus::Gauge* devices_advertised;
    prometheus::Gauge* devices_healthy;
    prometheus::Counter* registrations;
    prometheus::Counter* allocations;
    prometheus::Counter* allocation_errors;
  };

  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  const Resource& For(ResourceKind kind) const { return resources_.at(kind); }
  prometheus::Gauge& epc_bytes() const { return *epc_bytes_; }
  prometheus::Gauge& epc_capped() const { return *epc_capped_; }
  prometheus::Gauge& platform_ready() const { return *platform_ready_; }
  prometheus::Counter& kubelet_restarts() const { return *kubelet_restarts_; }

  // The Prometheus text exposition format (version 0.0.4).
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* epc_bytes_;
  prometheus::Gauge* epc_capped_;
  prometheus::Gauge* platform_ready_;
  prometheus::Counter* kubelet_restarts_;
  std::map<ResourceKind, Resource> resources_;
};

}  // namespace cn::deviceplugin
