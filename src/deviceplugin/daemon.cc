#include "src/deviceplugin/daemon.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"
#include "src/deviceplugin/kubelet_checkpoint.h"
#include "src/deviceplugin/registration.h"

namespace cn::deviceplugin {
namespace {

constexpr absl::Duration kServerGrace = absl::Milliseconds(500);
constexpr absl::Duration kRegistrationTimeout = absl::Seconds(5);
constexpr absl::Duration kFirstRegistrationRetry = absl::Milliseconds(100);
constexpr absl::Duration kMaxRegistrationRetry = absl::Seconds(2);

// Host directories whose entries decide the platform's readiness.
constexpr absl::string_view kDeviceDirectory = "/dev";
constexpr absl::string_view kDcapDeviceDirectory = "/dev/sgx";

// Entries of /dev that matter; everything else there (ttys, disks) is noise.
bool IsSgxDeviceEntry(absl::string_view name) {
  return name == "sgx_enclave" || name == "sgx_provision" || name == "sgx" || name == "isgx";
}

std::string MiB(uint64_t bytes) { return absl::StrCat(bytes / kMiB, " MiB"); }

}  // namespace

Daemon::Daemon(Options options, const os::FileSystem& host, const os::FileSystem& local,
               const os::Cpuid& cpuid, os::FileWatcher& watcher, const os::Clock& clock,
               Metrics& metrics, ProbeFunction probe)
    : options_(std::move(options)),
      host_(host),
      local_(local),
      cpuid_(cpuid),
      watcher_(watcher),
      clock_(clock),
      metrics_(metrics),
      probe_(std::move(probe)) {
  for (ResourceKind kind : options_.resources) {
    resources_[kind].state = std::make_unique<ResourceState>(kind);
    status_.serving[kind] = false;
    status_.registered[kind] = false;
    status_.healthy[kind] = false;
  }
  status_.not_ready_reason = "the host has not been probed yet";
}

Daemon::~Daemon() { StopServers(); }

const ResourceState* Daemon::State(ResourceKind kind) const {
  auto found = resources_.find(kind);
  return found == resources_.end() ? nullptr : found->second.state.get();
}

std::string Daemon::KubeletPath(absl::string_view name) const {
  return os::JoinPath(options_.kubelet_dir, name);
}

void Daemon::Stop() {
  stop_requested_ = true;
  watcher_.Wake();
}

absl::Status Daemon::Run() {
  spdlog::info("sgx-device-plugin: resources {}, kubelet directory {}, host root {}",
               absl::StrJoin(options_.resources, ",",
                             [](std::string* out, ResourceKind kind) {
                               absl::StrAppend(out, Info(kind).name);
                             }),
               options_.kubelet_dir, options_.host_root);
  absl::Time next_probe = clock_.Now();
  absl::Status result = absl::OkStatus();
  while (!stop_requested_) {
    WatchDirectories();
    if (probe_due_ || clock_.Now() >= next_probe) {
      probe_due_ = false;
      Probe();
      next_probe = clock_.Now() + options_.reprobe_interval;
    }
    Reconcile();
    absl::Time wake = std::min(next_probe, retry_wake_);
    absl::StatusOr<std::vector<os::FileEvent>> events =
        watcher_.Wait(std::max(wake - clock_.Now(), absl::ZeroDuration()));
    if (!events.ok()) {
      spdlog::error("file watching failed, stopping: {}", events.status().ToString());
      result = events.status();
      break;
    }
    HandleEvents(*events);
  }
  StopServers();
  UpdateStatus([](DaemonStatus& status) { status.stopped = true; });
  spdlog::info("stopped: servers shut down and sockets removed");
  return result;
}

void Daemon::WatchDirectories() {
  // NotFound is expected (no /dev/sgx on an in-kernel host; no kubelet directory yet): the
  // periodic re-probe covers those until the directory appears and can be watched.
  for (absl::string_view directory :
       {kDeviceDirectory, kDcapDeviceDirectory, sgx::kAesmDirectory}) {
    (void)watcher_.Watch(host_.LocalPath(directory));
  }
  (void)watcher_.Watch(local_.LocalPath(options_.kubelet_dir));
}

void Daemon::HandleEvents(const std::vector<os::FileEvent>& events) {
  const std::string kubelet_dir = local_.LocalPath(options_.kubelet_dir);
  const std::string device_dir = host_.LocalPath(kDeviceDirectory);
  for (const os::FileEvent& event : events) {
    if (event.directory == kubelet_dir) {
      if (event.kind == os::FileEvent::Kind::kCreated && event.name == kKubeletSocketName) {
        kubelet_socket_created_ = true;
      }
      // The kubelet writes its checkpoint to a temporary file and renames it into place after
      // each allocation: the moment a new holder becomes visible to PodResources.
      if (event.kind == os::FileEvent::Kind::kCreated && event.name == kKubeletCheckpointName &&
          accounting_ != nullptr) {
        accounting_->Poke();
      }
      // Deleted sockets of ours are found by Reconcile, which checks every socket each turn.
      continue;
    }
    if (event.directory == device_dir && event.kind != os::FileEvent::Kind::kWatchLost &&
        !IsSgxDeviceEntry(event.name)) {
      continue;
    }
    probe_due_ = true;
  }
}

void Daemon::Probe() {
  absl::StatusOr<sgx::Platform> probed = probe_(host_, cpuid_);
  std::string reason;
  std::vector<std::string> problems;
  if (!probed.ok()) {
    reason = absl::StrCat("probing the host failed: ", probed.status().message());
  } else {
    problems = sgx::ProblemTexts(*probed);
    if (!probed->ready) {
      reason = problems.empty() ? std::string("the host cannot run enclaves")
                                : absl::StrJoin(problems, "; ");
    }
  }
  const bool ready = reason.empty();
  metrics_.platform_ready().Set(ready ? 1 : 0);
  if (!last_ready_.has_value() || *last_ready_ != ready || reason != last_reason_) {
    if (ready) {
      spdlog::info(
          "SGX platform ready: {} of EPC ({}), {} driver, enclave device {}, AESM {}",
          MiB(probed->epc_total_bytes), std::string(sgx::EpcSourceName(probed->epc_source)),
          std::string(sgx::DriverKindName(probed->driver.kind)),
          probed->driver.enclave_device->host_path, probed->aesm_socket.value_or("absent"));
    } else if (serving_) {
      spdlog::warn("SGX platform no longer ready, all devices now Unhealthy: {}", reason);
    } else {
      spdlog::warn(
          "SGX platform not ready, not serving resources yet (health endpoints stay "
          "up; re-probing on device changes and every {}s): {}",
          absl::ToInt64Seconds(options_.reprobe_interval), reason);
    }
  }
  if (ready && problems != last_problems_) {
    for (const std::string& problem : problems) {
      spdlog::warn("SGX platform: {}", problem);
    }
  }
  last_ready_ = ready;
  last_reason_ = reason;
  last_problems_ = problems;
  UpdateStatus([&](DaemonStatus& status) {
    status.platform_ready = ready;
    status.not_ready_reason = reason;
  });
  if (ready) {
    PublishReady(std::make_shared<const sgx::Platform>(*std::move(probed)));
  } else if (serving_) {
    PublishUnhealthy(reason);
  }
}

void Daemon::PublishReady(const std::shared_ptr<const sgx::Platform>& platform) {
  platform_ = platform;
  serving_ = true;
  metrics_.epc_bytes().Set(static_cast<double>(platform->epc_total_bytes));
  for (auto& [kind, resource] : resources_) {
    DeviceSet devices;
    ResourceHealth health{true, ""};
    switch (kind) {
      case ResourceKind::kEpc: {
        if (!epc_plan_.has_value() || epc_plan_nodes_.size() != platform->numa_nodes.size() ||
            !std::equal(epc_plan_nodes_.begin(), epc_plan_nodes_.end(),
                        platform->numa_nodes.begin(),
                        [](const sgx::NumaEpc& a, const sgx::NumaEpc& b) {
                          return a.node == b.node && a.bytes == b.bytes;
                        }) ||
            epc_plan_total_ != platform->epc_total_bytes) {
          epc_plan_ =
              PlanEpcDevices(*platform, options_.numa_topology, options_.max_list_and_watch_bytes);
          epc_plan_nodes_ = platform->numa_nodes;
          epc_plan_total_ = platform->epc_total_bytes;
          if (epc_plan_->capped) {
            spdlog::warn(
                "EPC capped: the host has {} MiB of EPC, but listing one device per MiB would "
                "make a {}-byte ListAndWatch message, over the {}-byte limit kept below the "
                "kubelet's 4 MiB; advertising {} MiB ({} bytes) instead",
                epc_plan_->wanted_devices, epc_plan_->uncapped_encoded_bytes,
                options_.max_list_and_watch_bytes, epc_plan_->devices.size(),
                epc_plan_->encoded_bytes);
          }
          if (epc_plan_->topology_note.has_value()) {
            spdlog::warn("{}", *epc_plan_->topology_note);
          }
          metrics_.epc_capped().Set(epc_plan_->capped ? 1 : 0);
        }
        devices = epc_plan_->devices;
        break;
      }
      case ResourceKind::kEnclave:
        devices = DeviceSet::Slots(kind, static_cast<uint64_t>(options_.enclave_limit));
        break;
      case ResourceKind::kProvision:
        devices = DeviceSet::Slots(kind, static_cast<uint64_t>(options_.provision_limit));
        if (!platform->driver.provision_device.has_value()) {
          health = ResourceHealth{false, absl::StrCat("the host has no SGX provision device (",
                                                      sgx::kInKernelProvisionDevice, " or ",
                                                      sgx::kDcapProvisionDevice, ")")};
        }
        break;
    }
    const Metrics::Resource& metrics = metrics_.For(kind);
    if (kind == ResourceKind::kEpc) {
      SetEpcAllocatable(health.healthy ? devices.size() * kMiB : 0);
    }
    metrics.devices_advertised->Set(static_cast<double>(devices.size()));
    metrics.devices_healthy->Set(health.healthy ? static_cast<double>(devices.size()) : 0);
    const bool healthy = health.healthy;
    resource.state->Publish(std::move(devices), std::move(health), platform);
    UpdateStatus([&, kind = kind](DaemonStatus& status) { status.healthy[kind] = healthy; });
  }
}

void Daemon::PublishUnhealthy(const std::string& reason) {
  for (auto& [kind, resource] : resources_) {
    std::shared_ptr<const ResourceSnapshot> snapshot = resource.state->Snapshot();
    resource.state->Publish(snapshot->devices, ResourceHealth{false, reason},
                            snapshot->platform != nullptr ? snapshot->platform : platform_);
    metrics_.For(kind).devices_healthy->Set(0);
    UpdateStatus([kind = kind](DaemonStatus& status) { status.healthy[kind] = false; });
  }
  SetEpcAllocatable(0);
}

void Daemon::SetEpcAllocatable(uint64_t bytes) {
  if (accounting_ != nullptr) {
    accounting_->SetAllocatableBytes(bytes);
  } else {
    metrics_.epc_allocatable_bytes().Set(static_cast<double>(bytes));
  }
}

void Daemon::Reconcile() {
  retry_wake_ = absl::InfiniteFuture();
  if (!serving_) {
    return;
  }
  const std::string kubelet_socket = KubeletPath(kKubeletSocketName);
  if (kubelet_socket_created_) {
    kubelet_socket_created_ = false;
    // A new kubelet: register at once, whatever the backoff after failures with the old one.
    registration_failures_ = 0;
    next_registration_attempt_ = absl::InfinitePast();
    if (ever_registered_) {
      metrics_.kubelet_restarts().Increment();
      UpdateStatus([](DaemonStatus& status) { ++status.kubelet_restarts; });
      spdlog::warn("kubelet restarted ({} was recreated): registering again", kubelet_socket);
    }
    for (auto& [kind, resource] : resources_) {
      resource.registration.reset();  // a call to the old kubelet is moot: cancel it
      resource.needs_registration = true;
      UpdateStatus([kind = kind](DaemonStatus& status) { status.registered[kind] = false; });
    }
  }
  const bool kubelet_present = local_.Stat(kubelet_socket).ok();
  const absl::Time now = clock_.Now();
  const bool retry_due = now >= next_registration_attempt_;
  bool failed = false;         // a server did not start or a registration failed this turn
  bool retry_pending = false;  // something waits for the retry timer
  bool in_flight = false;      // a registration call is running
  for (auto& [kind, resource] : resources_) {
    const std::string socket = KubeletPath(Info(kind).socket_name);
    if (resource.server == nullptr || !local_.Stat(socket).ok()) {
      if (resource.server != nullptr) {
        spdlog::warn("{} was removed (kubelet restart?): serving {} again", socket,
                     std::string(Info(kind).name));
        resource.registration.reset();  // it registered a socket that is gone
        resource.server->Stop(kServerGrace);
        resource.server.reset();
      }
      absl::StatusOr<std::unique_ptr<PluginServer>> server = PluginServer::Start(
          socket, *resource.state, metrics_.For(kind), options_.epc_with_provision);
      if (!server.ok()) {
        if (resource.last_error != server.status().message()) {
          resource.last_error = std::string(server.status().message());
          spdlog::error("{}", resource.last_error);
        }
        failed = true;
        retry_pending = true;
        continue;
      }
      resource.server = *std::move(server);
      resource.needs_registration = true;
      UpdateStatus([kind = kind](DaemonStatus& status) {
        status.serving[kind] = true;
        status.registered[kind] = false;
      });
    }
    if (resource.registration != nullptr) {
      std::optional<absl::Status> registered = resource.registration->Result();
      if (!registered.has_value()) {
        in_flight = true;
        continue;
      }
      resource.registration.reset();
      if (registered->ok()) {
        resource.needs_registration = false;
        resource.last_error.clear();
        ever_registered_ = true;
        metrics_.For(kind).registrations->Increment();
        spdlog::info("registered {} with the kubelet (socket {})", std::string(Info(kind).name),
                     socket);
        UpdateStatus([kind = kind](DaemonStatus& status) { status.registered[kind] = true; });
        continue;
      }
      if (resource.last_error != registered->message()) {
        resource.last_error = std::string(registered->message());
        spdlog::warn("{} (will retry)", resource.last_error);
      }
      UpdateStatus([](DaemonStatus& status) { ++status.registration_failures; });
      failed = true;
      retry_pending = true;
      continue;
    }
    if (!resource.needs_registration || !kubelet_present) {
      continue;
    }
    if (!retry_due) {
      retry_pending = true;
      continue;
    }
    resource.registration = std::make_unique<RegistrationCall>(
        kubelet_socket, MakeRegisterRequest(kind), kRegistrationTimeout,
        [&watcher = watcher_] { watcher.Wake(); });
    in_flight = true;
  }
  if (failed && retry_due) {
    // One step of backoff per round of attempts, however many resources failed in it.
    absl::Duration backoff =
        std::min(kMaxRegistrationRetry,
                 kFirstRegistrationRetry * (1 << std::min(registration_failures_, 5)));
    ++registration_failures_;
    next_registration_attempt_ = now + backoff;
  } else if (!retry_pending && !in_flight) {
    registration_failures_ = 0;
    next_registration_attempt_ = absl::InfinitePast();
  }
  if (retry_pending) {
    retry_wake_ = next_registration_attempt_;
  }
}

void Daemon::StopServers() {
  for (auto& [kind, resource] : resources_) {
    resource.registration.reset();
    if (resource.server != nullptr) {
      resource.server->Stop(kServerGrace);
      resource.server.reset();
    }
    UpdateStatus([kind = kind](DaemonStatus& status) {
      status.serving[kind] = false;
      status.registered[kind] = false;
    });
  }
}

absl::Status Daemon::Ready() const {
  DaemonStatus status = Status();
  if (!status.platform_ready) {
    return absl::UnavailableError(status.not_ready_reason);
  }
  std::vector<std::string> missing;
  for (const auto& [kind, registered] : status.registered) {
    if (!registered) {
      missing.emplace_back(Info(kind).name);
    }
  }
  if (!missing.empty()) {
    return absl::UnavailableError(
        absl::StrCat("not registered with the kubelet yet: ", absl::StrJoin(missing, ", ")));
  }
  return absl::OkStatus();
}

DaemonStatus Daemon::Status() const {
  absl::MutexLock lock(&status_mutex_);
  return status_;
}

bool Daemon::WaitUntil(const std::function<bool(const DaemonStatus&)>& condition,
                       absl::Duration timeout) const {
  struct Arguments {
    const std::function<bool(const DaemonStatus&)>* condition;
    const DaemonStatus* status;
  };
  absl::MutexLock lock(&status_mutex_);
  Arguments arguments{&condition, &status_};
  return status_mutex_.AwaitWithTimeout(
      absl::Condition(
          +[](Arguments* args) { return (*args->condition)(*args->status); }, &arguments),
      timeout);
}

void Daemon::UpdateStatus(const std::function<void(DaemonStatus&)>& change) {
  absl::MutexLock lock(&status_mutex_);
  change(status_);
}

}  // namespace cn::deviceplugin
