#pragma once

// Registration with the kubelet: one Registration.Register call per resource on kubelet.sock.
//
// The kubelet dials the plugin back right after Register returns, so the plugin's server must
// already be serving. The call fails at once (Unavailable) when nothing accepts connections on
// kubelet.sock, a stale socket of a dead kubelet or a new one not listening yet; the caller
// retries after a short backoff, so a restarted kubelet is re-registered within a second.
//
// A kubelet that accepts the connection but does not answer would hold a caller for the whole
// deadline, so the daemon runs each call as a RegistrationCall on its own thread: its loop keeps
// publishing health, serving other sockets and obeying SIGTERM meanwhile.

#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "proto/deviceplugin/v1beta1/api.pb.h"
#include "src/deviceplugin/resources.h"

namespace cn::deviceplugin {

inline constexpr absl::string_view kKubeletSocketName = "kubelet.sock";
inline constexpr absl::string_view kApiVersion = "v1beta1";

// The request for one resource: version v1beta1, the socket file name relative to the kubelet
// directory, the resource name, and our options (preferred allocation available, no
// PreStartContainer).
v1beta1::RegisterRequest MakeRegisterRequest(ResourceKind kind);

// One Register call on the Unix socket `kubelet_socket`, on a thread of its own. Its outcome
// carries the gRPC code and message and names the socket and resource; DeadlineExceeded when
// the kubelet does not answer within `timeout`. `on_done` runs on that thread right after the
// outcome is known (the daemon passes its loop's wake-up). Destroying the object cancels a call
// still in flight (it ends at once with Cancelled) and joins the thread, so `on_done` never
// runs after the destructor returns.
//
// Thread safety: Result may be called from any thread.
class RegistrationCall {
 public:
  RegistrationCall(std::string kubelet_socket, v1beta1::RegisterRequest request,
                   absl::Duration timeout, std::function<void()> on_done);
  ~RegistrationCall();
  RegistrationCall(const RegistrationCall&) = delete;
  RegistrationCall& operator=(const RegistrationCall&) = delete;

  // The outcome once the call has finished; nullopt while it is in flight.
  std::optional<absl::Status> Result() const;

 private:
  grpc::ClientContext context_;  // outlives the thread; TryCancel is thread-safe
  mutable absl::Mutex mutex_;
  std::optional<absl::Status> result_ ABSL_GUARDED_BY(mutex_);
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace cn::deviceplugin
