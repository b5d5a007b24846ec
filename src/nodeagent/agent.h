#pragma once

// Agent: the node agent's control loop. It probes the host (src/sgx, the same probe the device
// plugin uses), turns the platform into labels (labels.h) and publishes them (publisher.h).
//
// When it publishes:
//   - at start;
//   - when a probe gives different labels: probes run on every relevant file event (the host's
//     /dev, /dev/sgx and AESM directory, watched with inotify) and every `reprobe_interval`
//     (5 s) when no event comes, so a host change is published within 5 s of happening;
//   - every `resync_interval` even when nothing changed here, which repairs hand edits and
//     labels a Node that was deleted and re-created (the agent never creates a Node).
// A failed publication is retried after 1 s, doubling to at most 30 s and never more than the
// resync interval: a failing API server sees a bounded, falling rate, never a hot loop.
//
// Thread safety: Run is called once from one thread; Stop, Ready and Snapshot from any thread.

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/nodeagent/labels.h"
#include "src/nodeagent/metrics.h"
#include "src/nodeagent/publisher.h"
#include "src/os/clock.h"
#include "src/os/cpuid.h"
#include "src/os/file_system.h"
#include "src/os/file_watcher.h"
#include "src/sgx/platform.h"

namespace cn::nodeagent {

struct AgentOptions {
  absl::Duration resync_interval = absl::Seconds(60);
  absl::Duration reprobe_interval = absl::Seconds(5);
  absl::Duration first_retry = absl::Seconds(1);
  absl::Duration max_retry = absl::Seconds(30);
};

// What the agent last did, for /readyz and tests.
struct AgentSnapshot {
  bool published_once = false;
  int consecutive_failures = 0;
  std::string last_error;  // empty after a success
  Labels last_published;
  absl::Time last_success = absl::InfinitePast();
};

class Agent {
 public:
  using ProbeFunction =
      std::function<absl::StatusOr<sgx::Platform>(const os::FileSystem&, const os::Cpuid&)>;

  // `host` reads host paths under --host-root. Every reference must outlive the agent.
  Agent(AgentOptions options, const os::FileSystem& host, const os::Cpuid& cpuid,
        os::FileWatcher& watcher, const os::Clock& clock, Publisher& publisher, Metrics& metrics,
        ProbeFunction probe = sgx::ProbePlatform);

  // The labels this host should carry now (a probe that fails gives NotEnabledLabels, logged).
  Labels Probe();
  // One probe and one publication (--once): the publisher's error, if any.
  absl::Status PublishOnce();
  // Runs until Stop(). An error only when the file watcher breaks.
  absl::Status Run();
  void Stop();

  // OK once a publication has succeeded; Unavailable with the last error before that.
  absl::Status Ready() const;
  AgentSnapshot Snapshot() const;

 private:
  absl::Status Publish(const Labels& desired);
  void WatchDirectories();

  const AgentOptions options_;
  const os::FileSystem& host_;
  const os::Cpuid& cpuid_;
  os::FileWatcher& watcher_;
  const os::Clock& clock_;
  Publisher& publisher_;
  Metrics& metrics_;
  const ProbeFunction probe_;
  std::atomic<bool> stop_requested_{false};
  std::optional<bool> last_ready_;  // loop thread: for logging changes once
  std::string last_probe_error_;

  mutable absl::Mutex mutex_;
  AgentSnapshot snapshot_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace cn::nodeagent
