#include "src/nodeagent/agent.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"
#include "src/sgx/host_watch.h"

namespace cn::nodeagent {

Agent::Agent(AgentOptions options, const os::FileSystem& host, const os::Cpuid& cpuid,
             os::FileWatcher& watcher, const os::Clock& clock, Publisher& publisher,
             Metrics& metrics, ProbeFunction probe)
    : options_(options),
      host_(host),
      cpuid_(cpuid),
      watcher_(watcher),
      clock_(clock),
      publisher_(publisher),
      metrics_(metrics),
      probe_(std::move(probe)) {}

Labels Agent::Probe() {
  absl::StatusOr<sgx::Platform> platform = probe_(host_, cpuid_);
  if (!platform.ok()) {
    const std::string error(platform.status().message());
    if (error != last_probe_error_) {
      spdlog::error("probing the host failed, publishing enabled=false: {}", error);
      last_probe_error_ = error;
    }
    last_ready_ = false;
    metrics_.platform_ready().Set(0);
    return NotEnabledLabels();
  }
  last_probe_error_.clear();
  if (!last_ready_.has_value() || *last_ready_ != platform->ready) {
    if (platform->ready) {
      spdlog::info("SGX platform ready: {} MiB of EPC, {} driver, AESM {}",
                   platform->epc_total_bytes / (1024 * 1024),
                   std::string(sgx::DriverKindName(platform->driver.kind)),
                   platform->aesm_socket.value_or("absent"));
    } else {
      spdlog::info("this node cannot run enclaves: {}",
                   absl::StrJoin(sgx::ProblemTexts(*platform), "; "));
    }
    last_ready_ = platform->ready;
  }
  metrics_.platform_ready().Set(platform->ready ? 1 : 0);
  return DesiredLabels(*platform);
}

absl::Status Agent::Publish(const Labels& desired) {
  absl::StatusOr<bool> changed = publisher_.Publish(desired);
  absl::MutexLock lock(&mutex_);
  if (!changed.ok()) {
    metrics_.errors().Increment();
    ++snapshot_.consecutive_failures;
    const std::string error(changed.status().ToString());
    if (error != snapshot_.last_error) {
      spdlog::warn("publishing to {} failed (retrying with backoff): {}", publisher_.Describe(),
                   error);
    }
    snapshot_.last_error = error;
    return changed.status();
  }
  if (snapshot_.consecutive_failures > 0) {
    spdlog::info("publishing to {} works again after {} failed attempts", publisher_.Describe(),
                 snapshot_.consecutive_failures);
  }
  metrics_.publishes().Increment();
  if (*changed) {
    metrics_.changes().Increment();
  }
  const absl::Time now = clock_.Now();
  metrics_.last_success().Set(absl::ToDoubleSeconds(now - absl::UnixEpoch()));
  snapshot_.published_once = true;
  snapshot_.consecutive_failures = 0;
  snapshot_.last_error.clear();
  snapshot_.last_published = desired;
  snapshot_.last_success = now;
  return absl::OkStatus();
}

absl::Status Agent::PublishOnce() { return Publish(Probe()); }

void Agent::Stop() {
  stop_requested_ = true;
  watcher_.Wake();
}

absl::Status Agent::Ready() const {
  absl::MutexLock lock(&mutex_);
  if (snapshot_.published_once) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      snapshot_.last_error.empty()
          ? std::string("labels not published yet")
          : absl::StrCat("labels not published yet: ", snapshot_.last_error));
}

AgentSnapshot Agent::Snapshot() const {
  absl::MutexLock lock(&mutex_);
  return snapshot_;
}

void Agent::WatchDirectories() {
  // NotFound is expected (no /dev/sgx on an in-kernel host, no AESM directory): the periodic
  // probe covers those until they appear.
  for (const std::string& directory : sgx::PlatformWatchDirectories()) {
    (void)watcher_.Watch(host_.LocalPath(directory));
  }
}

absl::Status Agent::Run() {
  spdlog::info("sgx-node-agent: publishing to {}, resync every {}s", publisher_.Describe(),
               absl::ToInt64Seconds(options_.resync_interval));
  bool probe_due = true;
  bool publish_due = true;
  Labels desired;
  Labels published;
  absl::Time next_probe = clock_.Now();
  absl::Time next_attempt = clock_.Now();
  absl::Time next_resync = absl::InfiniteFuture();
  absl::Duration retry = options_.first_retry;
  while (!stop_requested_) {
    WatchDirectories();
    absl::Time now = clock_.Now();
    if (probe_due || now >= next_probe) {
      probe_due = false;
      desired = Probe();
      next_probe = clock_.Now() + options_.reprobe_interval;
      if (desired != published && !publish_due) {
        publish_due = true;
        next_attempt = now;  // a host change goes out at once, even during a backoff wait
      }
    }
    now = clock_.Now();
    if ((publish_due && now >= next_attempt) || (!publish_due && now >= next_resync)) {
      if (Publish(desired).ok()) {
        published = desired;
        publish_due = false;
        retry = options_.first_retry;
        next_resync = clock_.Now() + options_.resync_interval;
      } else {
        publish_due = true;
        next_attempt = clock_.Now() + std::min(retry, options_.resync_interval);
        retry = std::min(retry * 2, options_.max_retry);
      }
    }
    const absl::Time wake = std::min(next_probe, publish_due ? next_attempt : next_resync);
    absl::StatusOr<std::vector<os::FileEvent>> events =
        watcher_.Wait(std::max(wake - clock_.Now(), absl::ZeroDuration()));
    if (!events.ok()) {
      spdlog::error("file watching failed, stopping: {}", events.status().ToString());
      return events.status();
    }
    for (const os::FileEvent& event : *events) {
      for (const std::string& directory : sgx::PlatformWatchDirectories()) {
        if (event.directory == host_.LocalPath(directory) &&
            (event.kind == os::FileEvent::Kind::kWatchLost ||
             sgx::IsPlatformEntry(directory, event.name))) {
          probe_due = true;
        }
      }
    }
  }
  spdlog::info("stopped");
  return absl::OkStatus();
}

}  // namespace cn::nodeagent
