#pragma once

// PodAccounting: who holds the node's EPC, as metrics, and the EPC limit of each pod's cgroup
// where the kernel can enforce one (docs/device-plugin.md, "Per-pod EPC accounting").
//
// Each round (Refresh):
//   1. Lists the pods' devices through the PodResources API (pod_resources.h). A failure keeps
//      the last figures, sets cn_sgx_pod_resources_up 0, counts it, and logs once per change
//      of the reason: a kubelet without the API (no socket, Unimplemented) leaves accounting
//      off and nothing else in the plugin is affected.
//   2. Publishes cn_sgx_epc_allocated_bytes{namespace,pod,container},
//      cn_sgx_enclave_slots_allocated{namespace,pod} and cn_sgx_epc_free_bytes (allocatable
//      minus allocated, negative when the kubelet holds more than is healthy now). Series of
//      pods and containers that are no longer listed are removed, not zeroed.
//   3. With enforcement on (--enforce-epc) and the kernel's EPC cgroup present
//      (sgx::ProbeEpcCgroup), for each pod holding EPC: its UID from the kubelet's checkpoint
//      (kubelet_checkpoint.h; read only when a pod's UID is not known yet), its cgroup
//      (epc_cgroup.h), the pod's EPC (sum over its containers) written into misc.max when it
//      differs, and misc.current / misc.events read back as cn_sgx_epc_used_bytes and
//      cn_sgx_epc_limit_hits_total. Each failure (no UID, no cgroup, a file that cannot be
//      written) is logged once per pod and reason, counted in
//      cn_sgx_epc_enforcement_errors_total, and never stops the round. Without the EPC cgroup
//      it says once that enforcement is unavailable and why.
//
// Start() runs rounds on a thread of its own, every `interval` and at once after Poke() (the
// daemon pokes when the kubelet rewrites its checkpoint, that is after every allocation), so a
// slow kubelet never holds up the device plugin's own loop.
//
// Thread safety: Refresh is called from one thread at a time (the runner's, or a test's).
// SetAllocatableBytes, Poke, Rounds and WaitForRounds are safe from any thread.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/deviceplugin/metrics.h"
#include "src/deviceplugin/pod_resources.h"
#include "src/os/file_system.h"

namespace cn::deviceplugin {

struct AccountingOptions {
  bool enforce_epc = false;
  // The kubelet's device-manager checkpoint (a local path, like the kubelet directory).
  std::string checkpoint_path = "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint";
  absl::Duration interval = absl::Seconds(10);
};

class PodAccounting {
 public:
  // `host` reads (and, for misc.max only, writes) host paths under --host-root; `local` reads
  // the checkpoint. All references must outlive the object.
  PodAccounting(AccountingOptions options, PodResourcesSource& source, const os::FileSystem& host,
                const os::FileSystem& local, Metrics& metrics);
  ~PodAccounting();  // stops the runner
  PodAccounting(const PodAccounting&) = delete;
  PodAccounting& operator=(const PodAccounting&) = delete;

  // One round, as described above.
  void Refresh();

  void Start();
  void Stop();
  void Poke();

  // The EPC the plugin advertises as healthy; cn_sgx_epc_free_bytes follows at once.
  void SetAllocatableBytes(uint64_t bytes);

  // Rounds completed so far, and a wait for `count` of them (tests wait on this, never sleep).
  uint64_t Rounds() const;
  bool WaitForRounds(uint64_t count, absl::Duration timeout) const;

 private:
  // (namespace, pod) and (namespace, pod, container).
  using PodKey = std::tuple<std::string, std::string>;
  using ContainerKey = std::tuple<std::string, std::string, std::string>;
  struct PodEpc {
    uint64_t bytes = 0;
    // (container, smallest EPC ID, EPC devices) per container: matched against the checkpoint.
    std::map<std::string, std::pair<std::string, uint64_t>> containers;
  };
  struct Enforced {
    std::string uid;
    std::string signature;  // what the UID was matched on; a new pod of the same name differs
    prometheus::Gauge* limit = nullptr;
    prometheus::Gauge* used = nullptr;
    prometheus::Counter* hits = nullptr;
    uint64_t hits_seen = 0;
  };

  void Publish(const Holdings& holdings);
  void Enforce(const std::map<PodKey, PodEpc>& pods);
  bool CheckEnforcementSupport();
  void EnforcementError(const PodKey& pod, const std::string& message);
  void PublishFree();
  void RunLoop();

  const AccountingOptions options_;
  PodResourcesSource& source_;
  const os::FileSystem& host_;
  const os::FileSystem& local_;
  Metrics& metrics_;

  // Round state (one thread).
  std::string last_list_error_;  // the status code of the last failure; empty after a success
  bool ever_listed_ = false;
  int consecutive_failures_ = 0;
  uint64_t last_foreign_devices_ = 0;
  std::optional<bool> last_enforcement_available_;
  std::map<ContainerKey, prometheus::Gauge*> allocated_;
  std::map<PodKey, prometheus::Gauge*> slots_;
  std::map<PodKey, Enforced> enforced_;
  std::map<PodKey, std::string> last_enforcement_error_;

  mutable absl::Mutex mutex_;
  uint64_t allocatable_bytes_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t allocated_bytes_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t rounds_ ABSL_GUARDED_BY(mutex_) = 0;
  bool poked_ ABSL_GUARDED_BY(mutex_) = false;
  bool stop_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread runner_;
};

}  // namespace cn::deviceplugin
