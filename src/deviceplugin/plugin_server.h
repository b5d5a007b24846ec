#pragma once

// PluginServer: one resource's v1beta1.DevicePlugin gRPC server on its Unix socket in the
// kubelet's plugin directory.
//
// The server answers from a ResourceState: ListAndWatch streams the current list at once and
// every later change as it is published (a stream never sends the same version twice, and a
// slow reader only ever gets the newest list, never a backlog); Allocate and
// GetPreferredAllocation read the snapshot current at the time of the call.
//
// ListAndWatch sends the snapshot's pre-encoded bytes through gRPC's raw (ByteBuffer) callback
// API, so a 3 MiB EPC list is neither re-encoded nor copied per stream.
//
// Thread safety: Start and Stop are called from one thread; the handlers run on gRPC's threads.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "src/deviceplugin/metrics.h"
#include "src/deviceplugin/resource_state.h"

namespace cn::deviceplugin {

class DevicePluginService;

class PluginServer {
 public:
  // Serves `state` on `socket_path`, replacing any file already there (a stale socket of an
  // earlier run). Unavailable, naming the path, when gRPC cannot listen there. `state` and
  // `metrics` must outlive the server.
  static absl::StatusOr<std::unique_ptr<PluginServer>> Start(std::string socket_path,
                                                             ResourceState& state,
                                                             const Metrics::Resource& metrics,
                                                             bool epc_with_provision);
  ~PluginServer();
  PluginServer(const PluginServer&) = delete;
  PluginServer& operator=(const PluginServer&) = delete;

  // Ends the ListAndWatch streams, shuts the server down (cancelling calls still running after
  // `grace`) and removes the socket file. Idempotent; the destructor calls it with 1 s grace.
  void Stop(absl::Duration grace);

  const std::string& socket_path() const { return socket_path_; }

 private:
  PluginServer(std::string socket_path, ResourceState& state,
               std::unique_ptr<DevicePluginService> service);

  std::string socket_path_;
  ResourceState& state_;
  std::unique_ptr<DevicePluginService> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace cn::deviceplugin
