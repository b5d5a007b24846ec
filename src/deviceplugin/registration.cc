#include "src/deviceplugin/registration.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "proto/deviceplugin/v1beta1/api.grpc.pb.h"

namespace cn::deviceplugin {

v1beta1::RegisterRequest MakeRegisterRequest(ResourceKind kind) {
  const ResourceInfo& info = Info(kind);
  v1beta1::RegisterRequest request;
  request.set_version(std::string(kApiVersion));
  request.set_endpoint(std::string(info.socket_name));
  request.set_resource_name(std::string(info.name));
  request.mutable_options()->set_pre_start_required(false);
  request.mutable_options()->set_get_preferred_allocation_available(true);
  return request;
}

namespace {

// The call itself, with a context the RegistrationCall owns so that it can cancel it.
absl::Status CallRegister(grpc::ClientContext& context, const std::string& kubelet_socket,
                          const v1beta1::RegisterRequest& request, absl::Duration timeout) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 250);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      absl::StrCat("unix://", kubelet_socket), grpc::InsecureChannelCredentials(), arguments);
  auto stub = v1beta1::Registration::NewStub(channel);
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  // Fail fast when nothing listens (a stale kubelet.sock of a kubelet that died, or a new one
  // not listening yet): the daemon retries within 100 ms instead of waiting out the deadline
  // while a new kubelet.sock may already be there.
  context.set_wait_for_ready(false);
  v1beta1::Empty empty;
  grpc::Status status = stub->Register(&context, request, &empty);
  if (!status.ok()) {
    return absl::Status(
        static_cast<absl::StatusCode>(status.error_code()),
        absl::StrCat("registering ", request.resource_name(), " with the kubelet at ",
                     kubelet_socket, " failed: ", status.error_message()));
  }
  return absl::OkStatus();
}

}  // namespace

RegistrationCall::RegistrationCall(std::string kubelet_socket, v1beta1::RegisterRequest request,
                                   absl::Duration timeout, std::function<void()> on_done)
    : thread_([this, kubelet_socket = std::move(kubelet_socket), request = std::move(request),
               timeout, on_done = std::move(on_done)] {
        absl::Status status = CallRegister(context_, kubelet_socket, request, timeout);
        {
          absl::MutexLock lock(&mutex_);
          result_ = std::move(status);
        }
        if (on_done) {
          on_done();
        }
      }) {}

RegistrationCall::~RegistrationCall() {
  // Before the call starts, TryCancel marks the context so that the call ends as it starts.
  context_.TryCancel();
  thread_.join();
}

std::optional<absl::Status> RegistrationCall::Result() const {
  absl::MutexLock lock(&mutex_);
  return result_;
}

}  // namespace cn::deviceplugin
