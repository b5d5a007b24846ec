#include "src/deviceplugin/pod_resources.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "proto/podresources/v1/api.grpc.pb.h"

namespace cn::deviceplugin {
namespace {

constexpr int kMaxAnswerBytes = 16 * 1024 * 1024;

const ResourceInfo* OurResource(const std::string& name) {
  for (ResourceKind kind : {ResourceKind::kEpc, ResourceKind::kEnclave, ResourceKind::kProvision}) {
    if (Info(kind).name == name) {
      return &Info(kind);
    }
  }
  return nullptr;
}

// Our IDs are the resource's prefix and a decimal index (device_set.h).
bool IsOurDeviceId(const ResourceInfo& info, absl::string_view id) {
  if (!absl::ConsumePrefix(&id, info.id_prefix) || id.empty() || id.size() > 20) {
    return false;
  }
  for (char c : id) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

class GrpcPodResources : public PodResourcesSource {
 public:
  GrpcPodResources(std::string socket_path, absl::Duration timeout)
      : socket_path_(std::move(socket_path)), timeout_(timeout) {
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(kMaxAnswerBytes);
    arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    stub_ = v1::PodResourcesLister::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("unix://", socket_path_), grpc::InsecureChannelCredentials(), arguments));
  }

  absl::StatusOr<Holdings> List() override {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    context.set_wait_for_ready(false);
    v1::ListPodResourcesRequest request;
    v1::ListPodResourcesResponse response;
    grpc::Status status = stub_->List(&context, request, &response);
    if (!status.ok()) {
      return absl::Status(
          static_cast<absl::StatusCode>(status.error_code()),
          absl::StrCat("PodResources List on ", socket_path_, " failed: ", status.error_message()));
    }
    return HoldingsFromList(response);
  }

 private:
  const std::string socket_path_;
  const absl::Duration timeout_;
  std::unique_ptr<v1::PodResourcesLister::Stub> stub_;
};

}  // namespace

Holdings HoldingsFromList(const v1::ListPodResourcesResponse& response) {
  Holdings holdings;
  for (const v1::PodResources& pod : response.pod_resources()) {
    for (const v1::ContainerResources& container : pod.containers()) {
      for (const v1::ContainerDevices& devices : container.devices()) {
        const ResourceInfo* info = OurResource(devices.resource_name());
        if (info == nullptr) {
          continue;  // another plugin's resource
        }
        if (pod.name().empty() || pod.namespace_().empty() || container.name().empty()) {
          holdings.foreign_devices += static_cast<uint64_t>(devices.device_ids_size());
          continue;
        }
        ContainerHolding holding;
        for (const std::string& id : devices.device_ids()) {
          if (!IsOurDeviceId(*info, id)) {
            ++holdings.foreign_devices;
            continue;
          }
          if (holding.devices == 0 || id < holding.first_device) {
            holding.first_device = id;
          }
          ++holding.devices;
        }
        if (holding.devices == 0) {
          continue;
        }
        holding.namespace_name = pod.namespace_();
        holding.pod = pod.name();
        holding.container = container.name();
        holding.kind = info->kind;
        holdings.containers.push_back(std::move(holding));
      }
    }
  }
  return holdings;
}

std::unique_ptr<PodResourcesSource> NewGrpcPodResources(std::string socket_path,
                                                        absl::Duration timeout) {
  return std::make_unique<GrpcPodResources>(std::move(socket_path), timeout);
}

}  // namespace cn::deviceplugin
