#pragma once

// NodeCache: the EPC of every node, kept by listing and then watching Nodes through the API
// server, for the validator's warning "this pod asks for more EPC than the largest node offers".
//
// A node's EPC is its status.allocatable `kubernetes.azure.com/sgx_epc_mem_in_MiB` (what the
// scheduler books against), else its label `sgx.confidential-nodes.io/epc-mib` (set by the node
// agent before the device plugin registers). Nodes with neither count as 0.
//
// The loop: list (in pages of 250), then watch from the list's resourceVersion for 5 minutes at
// a time; a 410 Gone (too old) lists again; any other failure is logged once per kind of
// failure, and retried after 1 s doubling to 30 s, keeping the last known nodes (the warning is
// advice; stale advice beats none). Without permission to list nodes (403) the cache turns
// itself off, logged once: LargestNode then says "unknown" and no warning is given.
//
// Thread safety: Run on one thread; LargestNode and Stop from any thread.

#include <atomic>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "nlohmann/json.hpp"
#include "src/kube/client.h"
#include "src/webhook/validator.h"

namespace cn::webhook {

class NodeCache : public EpcCapacity {
 public:
  struct Options {
    absl::Duration watch_duration = absl::Minutes(5);
    absl::Duration initial_backoff = absl::Seconds(1);
    absl::Duration max_backoff = absl::Seconds(30);
  };
  // `api` must outlive the cache.
  NodeCache(const kube::ApiClient& api, Options options);

  std::optional<Largest> LargestNode() const override;

  // Lists and watches until Stop (or until the API server refuses the permission).
  void Run();
  void Stop();

  // Whether a list has completed (tests wait on it).
  bool WaitUntilSynced(absl::Duration timeout) const;
  bool disabled() const { return disabled_.load(); }

  // A node object's EPC in MiB (exposed for tests).
  static int64_t NodeEpcMiB(const nlohmann::json& node);

 private:
  // One list and the watches after it; returns why it stopped.
  absl::Status ListAndWatch();

  const kube::ApiClient& api_;
  const Options options_;
  absl::Notification stop_;
  std::atomic<bool> disabled_{false};

  mutable absl::Mutex mu_;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, int64_t> epc_by_node_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cn::webhook
