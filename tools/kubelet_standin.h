#pragma once

// A stand-in for the kubelet's side of the device plugin protocol (DESIGN.md section 4), for
// tests, benchmarks, the main job, and operators checking any device plugin socket.
//
// KubeletStandin serves v1beta1.Registration on <dir>/kubelet.sock and records every
// RegisterRequest. PluginClient talks to one plugin socket the way the kubelet does, with the
// kubelet's 4 MiB receive limit, so a plugin that sends a larger list fails here as it would
// on a node. DeviceWatch holds a ListAndWatch stream open and remembers the newest list.
//
// Waiting is event-driven: every Wait* call returns as soon as its condition holds, or false
// after its timeout.
//
// Thread safety: all classes are safe to use from several threads.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server.h"
#include "proto/deviceplugin/v1beta1/api.grpc.pb.h"

namespace cn::tools {

// The kubelet reads plugin messages with gRPC's default limit.
inline constexpr int kKubeletMaxReceiveBytes = 4 * 1024 * 1024;

class KubeletStandin {
 public:
  // Serves Registration on `kubelet_dir`/kubelet.sock (replacing a stale file). Unavailable,
  // naming the path, when it cannot listen there.
  static absl::StatusOr<std::unique_ptr<KubeletStandin>> Start(const std::string& kubelet_dir);
  ~KubeletStandin();
  KubeletStandin(const KubeletStandin&) = delete;
  KubeletStandin& operator=(const KubeletStandin&) = delete;

  // Stops serving and removes kubelet.sock, as a kubelet that exits would leave the directory.
  void Stop();

  const std::string& socket_path() const { return socket_path_; }
  std::vector<v1beta1::RegisterRequest> Registrations() const;
  // Waits until at least `count` registrations were recorded.
  bool WaitForRegistrations(size_t count, absl::Duration timeout) const;

  // Plays a kubelet that accepts Register calls and does not answer them: from now on each
  // call is held open (not recorded) until ReleaseRegistrations answers them all with OK and
  // records them, or Stop ends them with Unavailable.
  void HoldRegistrations();
  void ReleaseRegistrations();
  // Waits until at least `count` calls are being held.
  bool WaitForHeldRegistrations(size_t count, absl::Duration timeout) const;

 private:
  class Service;
  KubeletStandin() = default;

  std::string socket_path_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

// A ListAndWatch stream read on its own thread.
class DeviceWatch {
 public:
  ~DeviceWatch();  // cancels the stream and joins the thread
  DeviceWatch(const DeviceWatch&) = delete;
  DeviceWatch& operator=(const DeviceWatch&) = delete;

  // Waits until the newest list satisfies `predicate` (which runs under the watch's lock).
  bool WaitFor(const std::function<bool(const v1beta1::ListAndWatchResponse&)>& predicate,
               absl::Duration timeout) const;
  // Waits until at least `count` lists have arrived.
  bool WaitForUpdates(size_t count, absl::Duration timeout) const;
  // Waits until the stream has ended.
  bool WaitForEnd(absl::Duration timeout) const;

  v1beta1::ListAndWatchResponse Latest() const;
  size_t updates() const;
  bool ended() const;
  grpc::Status end_status() const;

 private:
  friend class PluginClient;
  explicit DeviceWatch(std::shared_ptr<grpc::Channel> channel);
  void Read();

  std::shared_ptr<grpc::Channel> channel_;
  grpc::ClientContext context_;
  mutable absl::Mutex mutex_;
  v1beta1::ListAndWatchResponse latest_ ABSL_GUARDED_BY(mutex_);
  size_t updates_ ABSL_GUARDED_BY(mutex_) = 0;
  bool ended_ ABSL_GUARDED_BY(mutex_) = false;
  grpc::Status end_status_ ABSL_GUARDED_BY(mutex_);
  std::thread thread_;
};

class PluginClient {
 public:
  // A client for the plugin listening on the Unix socket `socket_path`. Connects lazily.
  explicit PluginClient(const std::string& socket_path);

  absl::StatusOr<v1beta1::DevicePluginOptions> GetOptions(absl::Duration timeout) const;
  absl::StatusOr<v1beta1::PreferredAllocationResponse> GetPreferredAllocation(
      const v1beta1::PreferredAllocationRequest& request, absl::Duration timeout) const;
  absl::StatusOr<v1beta1::AllocateResponse> Allocate(const v1beta1::AllocateRequest& request,
                                                     absl::Duration timeout) const;
  // Reads the first ListAndWatch list and closes the stream.
  absl::StatusOr<v1beta1::ListAndWatchResponse> ListOnce(absl::Duration timeout) const;
  // Opens a ListAndWatch stream that keeps reading until the watch is destroyed.
  std::unique_ptr<DeviceWatch> Watch() const;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1beta1::DevicePlugin::Stub> stub_;
};

// A request for `count` devices for one container.
v1beta1::AllocateRequest AllocateRequestFor(const std::vector<std::string>& ids);

// One-line summary of a device list: counts by health, NUMA spread, first and last IDs.
std::string DescribeDevices(const v1beta1::ListAndWatchResponse& devices);
// What a container receives, one line per device, mount and environment variable.
std::string DescribeAllocation(const v1beta1::ContainerAllocateResponse& response);
// Protocol checks the kubelet would make or rely on: IDs of 1..63 characters, unique, health
// "Healthy" or "Unhealthy". One message per violation; empty when the list is fine.
std::vector<std::string> CheckDevices(const v1beta1::ListAndWatchResponse& devices);

}  // namespace cn::tools
