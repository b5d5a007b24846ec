#include "src/deviceplugin/pod_accounting.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/deviceplugin/device_set.h"
#include "src/deviceplugin/epc_cgroup.h"
#include "src/deviceplugin/kubelet_checkpoint.h"
#include "src/sgx/platform.h"

namespace cn::deviceplugin {
namespace {

// After this many failed Lists in a row the last figures are dropped: nobody can tell any more
// who holds what, and a stale series is worse than none. One or two failures (a kubelet
// restarting) keep them, with cn_sgx_pod_resources_up 0.
constexpr int kFailuresBeforeDropping = 3;

std::map<std::string, std::string> PodLabels(const std::tuple<std::string, std::string>& key) {
  return {{"namespace", std::get<0>(key)}, {"pod", std::get<1>(key)}};
}

std::string PodName(const std::tuple<std::string, std::string>& key) {
  return absl::StrCat(std::get<0>(key), "/", std::get<1>(key));
}

// Makes `family` hold exactly the series of `wanted`, with its values. `series` remembers the
// series added so far.
template <typename Key, typename LabelsOf>
void SyncGauges(prometheus::Family<prometheus::Gauge>& family,
                std::map<Key, prometheus::Gauge*>& series, const std::map<Key, uint64_t>& wanted,
                LabelsOf labels_of) {
  for (auto it = series.begin(); it != series.end();) {
    if (wanted.count(it->first) == 0) {
      family.Remove(it->second);
      it = series.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [key, value] : wanted) {
    prometheus::Gauge*& gauge = series[key];
    if (gauge == nullptr) {
      gauge = &family.Add(labels_of(key));
    }
    gauge->Set(static_cast<double>(value));
  }
}

}  // namespace

PodAccounting::PodAccounting(AccountingOptions options, PodResourcesSource& source,
                             const os::FileSystem& host, const os::FileSystem& local,
                             Metrics& metrics)
    : options_(std::move(options)),
      source_(source),
      host_(host),
      local_(local),
      metrics_(metrics) {}

PodAccounting::~PodAccounting() { Stop(); }

void PodAccounting::Start() {
  runner_ = std::thread([this] { RunLoop(); });
}

void PodAccounting::Stop() {
  {
    absl::MutexLock lock(&mutex_);
    stop_ = true;
  }
  if (runner_.joinable()) {
    runner_.join();
  }
}

void PodAccounting::Poke() {
  absl::MutexLock lock(&mutex_);
  poked_ = true;
}

void PodAccounting::RunLoop() {
  while (true) {
    Refresh();
    absl::MutexLock lock(&mutex_);
    auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return poked_ || stop_; };
    mutex_.AwaitWithTimeout(absl::Condition(&woken), options_.interval);
    if (stop_) {
      return;
    }
    poked_ = false;
  }
}

void PodAccounting::SetAllocatableBytes(uint64_t bytes) {
  metrics_.UpdateTogether([&] {
    metrics_.epc_allocatable_bytes().Set(static_cast<double>(bytes));
    {
      absl::MutexLock lock(&mutex_);
      allocatable_bytes_ = bytes;
    }
    PublishFree();
  });
}

void PodAccounting::PublishFree() {
  absl::MutexLock lock(&mutex_);
  metrics_.epc_free_bytes().Set(static_cast<double>(allocatable_bytes_) -
                                static_cast<double>(allocated_bytes_));
}

uint64_t PodAccounting::Rounds() const {
  absl::MutexLock lock(&mutex_);
  return rounds_;
}

bool PodAccounting::WaitForRounds(uint64_t count, absl::Duration timeout) const {
  absl::MutexLock lock(&mutex_);
  auto done = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return rounds_ >= count; };
  return mutex_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

void PodAccounting::Refresh() {
  absl::StatusOr<Holdings> holdings = source_.List();
  if (holdings.ok()) {
    metrics_.pod_resources_up().Set(1);
    if (!ever_listed_ || !last_list_error_.empty()) {
      spdlog::info(
          "per-pod accounting on: the kubelet's PodResources API answers (containers holding "
          "SGX resources: {})",
          holdings->containers.size());
    }
    ever_listed_ = true;
    last_list_error_.clear();
    consecutive_failures_ = 0;
    Publish(*holdings);
  } else {
    metrics_.pod_resources_up().Set(0);
    metrics_.pod_resources_errors().Increment();
    ++consecutive_failures_;
    // Logged once per kind of failure, not per round: a node without the API would otherwise
    // log every interval forever.
    std::string kind = absl::StatusCodeToString(holdings.status().code());
    if (kind != last_list_error_) {
      last_list_error_ = kind;
      if (holdings.status().code() == absl::StatusCode::kUnimplemented) {
        spdlog::warn(
            "the kubelet does not offer the PodResources v1 API ({}): per-pod EPC "
            "accounting is off; the device plugin works as before",
            std::string(holdings.status().message()));
      } else {
        spdlog::warn("per-pod EPC accounting {}: {}; retrying every {}s",
                     ever_listed_ ? "paused" : "off", std::string(holdings.status().message()),
                     absl::ToInt64Seconds(options_.interval));
      }
    }
    if (consecutive_failures_ == kFailuresBeforeDropping) {
      Publish(Holdings());
    }
  }
  absl::MutexLock lock(&mutex_);
  ++rounds_;
}

void PodAccounting::Publish(const Holdings& holdings) {
  std::map<ContainerKey, uint64_t> epc;
  std::map<PodKey, uint64_t> slots;
  std::map<PodKey, PodEpc> pods;
  uint64_t allocated = 0;
  for (const ContainerHolding& holding : holdings.containers) {
    PodKey pod{holding.namespace_name, holding.pod};
    if (holding.kind == ResourceKind::kEpc) {
      const uint64_t bytes = holding.devices * kMiB;
      epc[ContainerKey{holding.namespace_name, holding.pod, holding.container}] += bytes;
      PodEpc& pod_epc = pods[pod];
      pod_epc.bytes += bytes;
      pod_epc.containers[holding.container] = {holding.first_device, holding.devices};
      allocated += bytes;
    } else if (holding.kind == ResourceKind::kEnclave) {
      slots[pod] += holding.devices;
    }
  }
  if (holdings.foreign_devices != last_foreign_devices_) {
    last_foreign_devices_ = holdings.foreign_devices;
    if (holdings.foreign_devices > 0) {
      spdlog::warn(
          "PodResources lists {} device IDs of our resources that the plugin never "
          "advertised (or without pod, namespace or container name); they are left "
          "out of the per-pod figures",
          holdings.foreign_devices);
    }
  }
  // One change for a scrape: the per-pod series and the free bytes they imply.
  metrics_.UpdateTogether([&] {
    SyncGauges(metrics_.epc_allocated_bytes(), allocated_, epc, [](const ContainerKey& key) {
      return std::map<std::string, std::string>{{"namespace", std::get<0>(key)},
                                                {"pod", std::get<1>(key)},
                                                {"container", std::get<2>(key)}};
    });
    SyncGauges(metrics_.enclave_slots_allocated(), slots_, slots, PodLabels);
    {
      absl::MutexLock lock(&mutex_);
      allocated_bytes_ = allocated;
    }
    PublishFree();
  });
  Enforce(pods);
}

bool PodAccounting::CheckEnforcementSupport() {
  sgx::EpcCgroup cgroup = sgx::ProbeEpcCgroup(host_);
  const bool active = options_.enforce_epc && cgroup.available;
  if (!last_enforcement_available_.has_value() ||
      *last_enforcement_available_ != cgroup.available) {
    if (options_.enforce_epc && cgroup.available) {
      spdlog::info(
          "EPC enforcement on: each pod's EPC goes into misc.max of its cgroup; EPC "
          "cgroup {}",
          cgroup.detail);
    } else if (options_.enforce_epc) {
      spdlog::warn("EPC enforcement unavailable (--enforce-epc is set): EPC cgroup {}",
                   cgroup.detail);
    } else if (cgroup.available) {
      spdlog::info(
          "the kernel has the EPC cgroup ({}); --enforce-epc would limit each pod to "
          "the EPC it was given",
          cgroup.detail);
    }
    last_enforcement_available_ = cgroup.available;
  }
  metrics_.epc_enforcement_active().Set(active ? 1 : 0);
  return active;
}

void PodAccounting::EnforcementError(const PodKey& pod, const std::string& message) {
  metrics_.epc_enforcement_errors().Increment();
  std::string& last = last_enforcement_error_[pod];
  if (last != message) {
    last = message;
    spdlog::warn("EPC limit of pod {} not enforced: {}", PodName(pod), message);
  }
}

void PodAccounting::Enforce(const std::map<PodKey, PodEpc>& pods) {
  const bool active = CheckEnforcementSupport();
  // Pods that are gone (or the controller that went away) take their series with them.
  for (auto it = enforced_.begin(); it != enforced_.end();) {
    auto pod = pods.find(it->first);
    if (!active || pod == pods.end() || pod->second.bytes == 0) {
      Enforced& gone = it->second;
      if (gone.limit != nullptr) {
        metrics_.epc_limit_bytes().Remove(gone.limit);
        metrics_.epc_used_bytes().Remove(gone.used);
        metrics_.epc_limit_hits().Remove(gone.hits);
      }
      last_enforcement_error_.erase(it->first);
      it = enforced_.erase(it);
    } else {
      ++it;
    }
  }
  if (!active) {
    return;
  }
  std::optional<absl::StatusOr<std::vector<CheckpointEntry>>> checkpoint;
  for (const auto& [key, pod] : pods) {
    if (pod.bytes == 0) {
      continue;
    }
    std::string signature;
    for (const auto& [container, first] : pod.containers) {
      absl::StrAppend(&signature, container, "=", first.first, "+", first.second, ";");
    }
    Enforced& enforced = enforced_[key];
    if (enforced.signature != signature) {
      // A new pod, or a new pod under an old name: match its UID afresh, new series.
      if (enforced.limit != nullptr) {
        metrics_.epc_limit_bytes().Remove(enforced.limit);
        metrics_.epc_used_bytes().Remove(enforced.used);
        metrics_.epc_limit_hits().Remove(enforced.hits);
      }
      enforced = Enforced();
      enforced.signature = signature;
    }
    if (enforced.uid.empty()) {
      if (!checkpoint.has_value()) {
        checkpoint = ReadKubeletCheckpoint(local_, options_.checkpoint_path);
      }
      if (!checkpoint->ok()) {
        EnforcementError(key, absl::StrCat("cannot read the pod UIDs from the kubelet's "
                                           "checkpoint: ",
                                           checkpoint->status().message()));
        continue;
      }
      std::set<std::string> uids;
      size_t matched = 0;
      for (const CheckpointEntry& entry : **checkpoint) {
        if (entry.resource != kEpcResourceName) {
          continue;
        }
        auto container = pod.containers.find(entry.container);
        if (container != pod.containers.end() && container->second.first == entry.first_device &&
            container->second.second == entry.devices) {
          uids.insert(entry.pod_uid);
          ++matched;
        }
      }
      if (uids.size() != 1 || matched != pod.containers.size()) {
        EnforcementError(
            key, uids.size() > 1
                     ? std::string("the kubelet's checkpoint gives its devices to several pods")
                     : absl::StrCat("the kubelet's checkpoint ", options_.checkpoint_path,
                                    " has no entry with its devices yet"));
        continue;
      }
      enforced.uid = *uids.begin();
    }
    absl::StatusOr<std::string> cgroup = FindPodCgroup(host_, enforced.uid);
    if (!cgroup.ok()) {
      EnforcementError(key, std::string(cgroup.status().message()));
      continue;
    }
    absl::StatusOr<bool> wrote = ApplyEpcLimit(host_, *cgroup, pod.bytes);
    if (!wrote.ok()) {
      EnforcementError(key, std::string(wrote.status().message()));
      continue;
    }
    if (*wrote) {
      spdlog::info("EPC limit of pod {} (UID {}) set to {} MiB in {}/misc.max", PodName(key),
                   enforced.uid, pod.bytes / kMiB, *cgroup);
    }
    if (enforced.limit == nullptr) {
      enforced.limit = &metrics_.epc_limit_bytes().Add(PodLabels(key));
      enforced.used = &metrics_.epc_used_bytes().Add(PodLabels(key));
      enforced.hits = &metrics_.epc_limit_hits().Add(PodLabels(key));
    }
    enforced.limit->Set(static_cast<double>(pod.bytes));
    absl::StatusOr<EpcUsage> usage = ReadEpcUsage(host_, *cgroup);
    if (!usage.ok()) {
      EnforcementError(key, std::string(usage.status().message()));
      continue;
    }
    enforced.used->Set(static_cast<double>(usage->current_bytes));
    if (usage->limit_hits > enforced.hits_seen) {
      enforced.hits->Increment(static_cast<double>(usage->limit_hits - enforced.hits_seen));
    }
    enforced.hits_seen = usage->limit_hits;
    last_enforcement_error_.erase(key);
  }
}

}  // namespace cn::deviceplugin
