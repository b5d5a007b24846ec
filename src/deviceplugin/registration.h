#pragma once

// Registration with the kubelet: one Registration.Register call per resource on kubelet.sock.
//
// The kubelet dials the plugin back right after Register returns, so the plugin's server must
// already be serving. The call fails at once (Unavailable) when nothing accepts connections on
// kubelet.sock, a stale socket of a dead kubelet or a new one not listening yet; the caller
// retries after a short backoff, so a restarted kubelet is re-registered within a second.

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/deviceplugin/v1beta1/api.pb.h"
#include "src/deviceplugin/resources.h"

namespace cn::deviceplugin {

inline constexpr absl::string_view kKubeletSocketName = "kubelet.sock";
inline constexpr absl::string_view kApiVersion = "v1beta1";

// The request for one resource: version v1beta1, the socket file name relative to the kubelet
// directory, the resource name, and our options (preferred allocation available, no
// PreStartContainer).
v1beta1::RegisterRequest MakeRegisterRequest(ResourceKind kind);

// Calls Register on the Unix socket `kubelet_socket`. Errors carry the gRPC code and message
// and name the socket and resource; DeadlineExceeded when the kubelet does not answer within
// `timeout`.
absl::Status RegisterWithKubelet(const std::string& kubelet_socket,
                                 const v1beta1::RegisterRequest& request, absl::Duration timeout);

}  // namespace cn::deviceplugin
