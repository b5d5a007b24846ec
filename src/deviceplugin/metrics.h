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

#include "absl/synchronization/mutex.h"
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

  // Per-pod EPC accounting (pod_accounting.h). The families hold one series per pod or
  // container; PodAccounting adds and removes them, so that pods that are gone disappear.
  prometheus::Gauge& epc_allocatable_bytes() const { return *epc_allocatable_bytes_; }
  prometheus::Gauge& epc_free_bytes() const { return *epc_free_bytes_; }
  prometheus::Family<prometheus::Gauge>& epc_allocated_bytes() const {
    return *epc_allocated_bytes_;
  }
  prometheus::Family<prometheus::Gauge>& enclave_slots_allocated() const {
    return *enclave_slots_allocated_;
  }
  prometheus::Family<prometheus::Gauge>& epc_limit_bytes() const { return *epc_limit_bytes_; }
  prometheus::Family<prometheus::Gauge>& epc_used_bytes() const { return *epc_used_bytes_; }
  prometheus::Family<prometheus::Counter>& epc_limit_hits() const { return *epc_limit_hits_; }
  prometheus::Gauge& pod_resources_up() const { return *pod_resources_up_; }
  prometheus::Counter& pod_resources_errors() const { return *pod_resources_errors_; }
  prometheus::Gauge& epc_enforcement_active() const { return *epc_enforcement_active_; }
  prometheus::Counter& epc_enforcement_errors() const { return *epc_enforcement_errors_; }

  // The Prometheus text exposition format (version 0.0.4).
  std::string Serialize() const;

  // Runs `update` so that no Serialize sees it half done: series that are read together (the
  // per-pod EPC figures and the free bytes they imply) change as one.
  template <typename Update>
  void UpdateTogether(Update update) {
    absl::MutexLock lock(&snapshot_mutex_);
    update();
  }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* epc_bytes_;
  prometheus::Gauge* epc_capped_;
  prometheus::Gauge* platform_ready_;
  prometheus::Counter* kubelet_restarts_;
  std::map<ResourceKind, Resource> resources_;
  prometheus::Gauge* epc_allocatable_bytes_;
  prometheus::Gauge* epc_free_bytes_;
  mutable absl::Mutex snapshot_mutex_;
  prometheus::Family<prometheus::Gauge>* epc_allocated_bytes_;
  prometheus::Family<prometheus::Gauge>* enclave_slots_allocated_;
  prometheus::Family<prometheus::Gauge>* epc_limit_bytes_;
  prometheus::Family<prometheus::Gauge>* epc_used_bytes_;
  prometheus::Family<prometheus::Counter>* epc_limit_hits_;
  prometheus::Gauge* pod_resources_up_;
  prometheus::Counter* pod_resources_errors_;
  prometheus::Gauge* epc_enforcement_active_;
  prometheus::Counter* epc_enforcement_errors_;
};

}  // namespace cn::deviceplugin
