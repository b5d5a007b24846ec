#pragma once

// A stand-in for the kubelet's PodResources API (proto/podresources/v1/api.proto), for tests,
// benchmarks and trying the plugin's per-pod accounting without a node.
//
// It serves /v1.PodResourcesLister/List on a Unix socket with the pods the test sets, and can
// play the kubelets the plugin must survive: one without the API (every call Unimplemented, as
// a kubelet that does not register the service answers) and one that answers bytes that are
// not a ListPodResourcesResponse. Kubernetes 1.20 has no Watch call; one arriving here is
// answered Unimplemented, as the kubelet would.
//
// Thread safety: every method is safe from any thread.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "proto/podresources/v1/api.pb.h"

namespace cn::tools {

class PodResourcesStandin {
 public:
  enum class Mode { kServe, kUnimplemented, kGarbage };

  // Serves on `socket_path` (replacing a stale file). Unavailable, naming the path, when it
  // cannot listen there.
  static absl::StatusOr<std::unique_ptr<PodResourcesStandin>> Start(const std::string& socket_path);
  ~PodResourcesStandin();
  PodResourcesStandin(const PodResourcesStandin&) = delete;
  PodResourcesStandin& operator=(const PodResourcesStandin&) = delete;

  // What List answers from now on.
  void SetPods(v1::ListPodResourcesResponse pods);
  void SetMode(Mode mode);
  // Adds a pod whose one container holds `ids` of `resource`.
  void AddPod(const std::string& ns, const std::string& pod, const std::string& container,
              const std::string& resource, const std::vector<std::string>& ids);
  void RemovePod(const std::string& ns, const std::string& pod);

  uint64_t ListCalls() const;
  // Waits until at least `count` List calls arrived.
  bool WaitForListCalls(uint64_t count, absl::Duration timeout) const;
  const std::string& socket_path() const { return socket_path_; }

 private:
  class Service;
  PodResourcesStandin() = default;

  std::string socket_path_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  mutable absl::Mutex mutex_;
  v1::ListPodResourcesResponse pods_ ABSL_GUARDED_BY(mutex_);
  Mode mode_ ABSL_GUARDED_BY(mutex_) = Mode::kServe;
  uint64_t list_calls_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace cn::tools
