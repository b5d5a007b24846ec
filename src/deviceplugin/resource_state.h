#pragma once

// ResourceState: what one resource currently advertises, shared between the daemon (which
// changes it when the host changes) and the gRPC handlers (which read it and stream it).
//
// Every change produces an immutable Snapshot holding the encoded ListAndWatch message, built
// once and shared by every stream without copying. A change that leaves the devices and their
// health as they were (for example, only the AESM socket appeared) keeps the version, so open
// streams do not resend an identical list.
//
// Streams subscribe as Listeners. Listener callbacks run with the state's lock held: they must
// not call back into ResourceState and must not block. A listener stays registered until it
// removes itself; RemoveListener waits out a callback in progress, so after it returns the
// listener may be destroyed.
//
// Thread safety: all methods are safe from several threads.

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/deviceplugin/allocation.h"
#include "src/deviceplugin/device_set.h"
#include "src/sgx/platform.h"

namespace cn::deviceplugin {

struct ResourceSnapshot {
  uint64_t version = 0;  // 0: nothing published yet
  DeviceSet devices;
  ResourceHealth health;
  std::shared_ptr<const sgx::Platform> platform;      // never null once published
  std::shared_ptr<const std::string> list_and_watch;  // encoded ListAndWatchResponse
};

class ResourceState {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // A new version was published (also called once from AddListener when one exists).
    virtual void OnSnapshot(std::shared_ptr<const ResourceSnapshot> snapshot) = 0;
    // The server is going away: end the stream.
    virtual void OnClose() = 0;
  };

  explicit ResourceState(ResourceKind kind);

  ResourceKind kind() const { return kind_; }

  // Publishes new devices, health and platform. Re-encodes the message and notifies listeners
  // only when the devices or the health changed. Called from one thread at a time (the
  // daemon loop); readers may run concurrently.
  void Publish(DeviceSet devices, ResourceHealth health,
               std::shared_ptr<const sgx::Platform> platform);

  // The current snapshot; version 0 (and a null platform) before the first Publish.
  std::shared_ptr<const ResourceSnapshot> Snapshot() const;

  void AddListener(Listener* listener);
  void RemoveListener(Listener* listener);
  // Calls OnClose on every listener (they remove themselves when their stream is done).
  void CloseStreams();
  size_t listener_count() const;

 private:
  const ResourceKind kind_;
  mutable absl::Mutex mutex_;
  std::shared_ptr<const ResourceSnapshot> snapshot_ ABSL_GUARDED_BY(mutex_);
  std::set<Listener*> listeners_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace cn::deviceplugin
