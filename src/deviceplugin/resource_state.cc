#include "src/deviceplugin/resource_state.h"

namespace cn::deviceplugin {

ResourceState::ResourceState(ResourceKind kind)
    : kind_(kind), snapshot_(std::make_shared<ResourceSnapshot>()) {}

void ResourceState::Publish(DeviceSet devices, ResourceHealth health,
                            std::shared_ptr<const sgx::Platform> platform) {
  std::shared_ptr<const ResourceSnapshot> previous = Snapshot();
  auto next = std::make_shared<ResourceSnapshot>();
  const bool same_list = previous->version != 0 && previous->devices.ranges() == devices.ranges() &&
                         previous->health.healthy == health.healthy;
  next->devices = std::move(devices);
  next->health = std::move(health);
  next->platform = std::move(platform);
  if (same_list) {
    next->version = previous->version;
    next->list_and_watch = previous->list_and_watch;
  } else {
    // Encoding a large EPC list takes milliseconds: do it before taking the lock.
    next->version = previous->version + 1;
    next->list_and_watch =
        std::make_shared<const std::string>(next->devices.EncodeListAndWatch(next->health.healthy));
  }
  absl::MutexLock lock(&mutex_);
  snapshot_ = next;
  if (!same_list) {
    for (Listener* listener : listeners_) {
      listener->OnSnapshot(snapshot_);
    }
  }
}

std::shared_ptr<const ResourceSnapshot> ResourceState::Snapshot() const {
  absl::MutexLock lock(&mutex_);
  return snapshot_;
}

void ResourceState::AddListener(Listener* listener) {
  absl::MutexLock lock(&mutex_);
  listeners_.insert(listener);
  if (snapshot_->version != 0) {
    listener->OnSnapshot(snapshot_);
  }
}

void ResourceState::RemoveListener(Listener* listener) {
  absl::MutexLock lock(&mutex_);
  listeners_.erase(listener);
}

void ResourceState::CloseStreams() {
  absl::MutexLock lock(&mutex_);
  for (Listener* listener : listeners_) {
    listener->OnClose();
  }
}

size_t ResourceState::listener_count() const {
  absl::MutexLock lock(&mutex_);
  return listeners_.size();
}

}  // namespace cn::deviceplugin
