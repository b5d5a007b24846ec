#include "src/deviceplugin/plugin_server.h"

#include <filesystem>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "proto/deviceplugin/v1beta1/api.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace cn::deviceplugin {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// A ByteBuffer over the snapshot's bytes without copying them: the slice keeps its own
// reference to the shared string and drops it when gRPC is done with the bytes.
grpc::ByteBuffer SharedBuffer(const std::shared_ptr<const std::string>& bytes) {
  auto* owner = new std::shared_ptr<const std::string>(bytes);
  grpc::Slice slice(
      const_cast<char*>((*owner)->data()), (*owner)->size(),
      [](void* user_data) { delete static_cast<std::shared_ptr<const std::string>*>(user_data); },
      owner);
  return grpc::ByteBuffer(&slice, 1);
}

// One ListAndWatch stream. At most one write is in flight; a snapshot published meanwhile
// replaces any older pending one, so the client always converges on the newest list. gRPC
// calls (StartWrite, Finish) are made outside mutex_ so that a reaction running on another
// thread never waits on a lock we hold while calling into gRPC.
class ListAndWatchReactor : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                            public ResourceState::Listener {
 public:
  explicit ListAndWatchReactor(ResourceState& state) : state_(state) { state_.AddListener(this); }

  void OnSnapshot(std::shared_ptr<const ResourceSnapshot> snapshot) override {
    {
      absl::MutexLock lock(&mutex_);
      pending_ = std::move(snapshot);
    }
    Advance();
  }

  void OnClose() override {
    {
      absl::MutexLock lock(&mutex_);
      finish_requested_ = true;
      finish_status_ = grpc::Status::OK;
    }
    Advance();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mutex_);
      writing_ = false;
      if (!ok) {
        // The client went away; only Finish remains.
        finish_requested_ = true;
        finish_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "write failed");
      }
    }
    Advance();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mutex_);
      finish_requested_ = true;
      finish_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    Advance();
  }

  void OnDone() override {
    state_.RemoveListener(this);
    delete this;
  }

 private:
  // Starts the next write or the Finish, whichever is due and allowed.
  void Advance() {
    enum class Action { kNone, kWrite, kFinish } action = Action::kNone;
    grpc::Status status;
    {
      absl::MutexLock lock(&mutex_);
      if (finished_ || writing_) {
        return;
      }
      if (finish_requested_) {
        finished_ = true;
        status = finish_status_;
        action = Action::kFinish;
      } else if (pending_ != nullptr && pending_->version != written_version_) {
        buffer_ = SharedBuffer(pending_->list_and_watch);
        written_version_ = pending_->version;
        pending_.reset();
        writing_ = true;
        action = Action::kWrite;
      }
    }
    if (action == Action::kWrite) {
      StartWrite(&buffer_);
    } else if (action == Action::kFinish) {
      Finish(status);
    }
  }

  ResourceState& state_;
  absl::Mutex mutex_;
  std::shared_ptr<const ResourceSnapshot> pending_ ABSL_GUARDED_BY(mutex_);
  uint64_t written_version_ ABSL_GUARDED_BY(mutex_) = 0;
  bool writing_ ABSL_GUARDED_BY(mutex_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mutex_) = false;
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mutex_);
  // Written only while no write is in flight; gRPC reads it until OnWriteDone.
  grpc::ByteBuffer buffer_;
};

using ServiceBase = v1beta1::DevicePlugin::WithCallbackMethod_GetDevicePluginOptions<
    v1beta1::DevicePlugin::WithRawCallbackMethod_ListAndWatch<
        v1beta1::DevicePlugin::WithCallbackMethod_GetPreferredAllocation<
            v1beta1::DevicePlugin::WithCallbackMethod_Allocate<
                v1beta1::DevicePlugin::WithCallbackMethod_PreStartContainer<
                    v1beta1::DevicePlugin::Service>>>>>;

}  // namespace

class DevicePluginService final : public ServiceBase {
 public:
  DevicePluginService(ResourceState& state, const Metrics::Resource& metrics,
                      bool epc_with_provision)
      : state_(state), metrics_(metrics), epc_with_provision_(epc_with_provision) {}

  // The synchronous and typed overloads stay disabled by the generated bases.
  using ServiceBase::Allocate;
  using ServiceBase::GetDevicePluginOptions;
  using ServiceBase::GetPreferredAllocation;
  using ServiceBase::ListAndWatch;
  using ServiceBase::PreStartContainer;

  grpc::ServerUnaryReactor* GetDevicePluginOptions(grpc::CallbackServerContext* context,
                                                   const v1beta1::Empty*,
                                                   v1beta1::DevicePluginOptions* options) override {
    options->set_pre_start_required(false);
    options->set_get_preferred_allocation_available(true);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerWriteReactor<grpc::ByteBuffer>* ListAndWatch(grpc::CallbackServerContext*,
                                                           const grpc::ByteBuffer*) override {
    return new ListAndWatchReactor(state_);
  }

  grpc::ServerUnaryReactor* GetPreferredAllocation(
      grpc::CallbackServerContext* context, const v1beta1::PreferredAllocationRequest* request,
      v1beta1::PreferredAllocationResponse* response) override {
    std::shared_ptr<const ResourceSnapshot> snapshot = state_.Snapshot();
    grpc::Status status = grpc::Status::OK;
    for (const auto& container : request->container_requests()) {
      absl::StatusOr<std::vector<std::string>> chosen = PreferDevices(snapshot->devices, container);
      if (!chosen.ok()) {
        spdlog::warn("GetPreferredAllocation refused: {}", chosen.status().ToString());
        status = ToGrpc(chosen.status());
        response->Clear();
        break;
      }
      auto* answer = response->add_container_responses();
      for (std::string& id : *chosen) {
        answer->add_deviceids(std::move(id));
      }
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

  grpc::ServerUnaryReactor* Allocate(grpc::CallbackServerContext* context,
                                     const v1beta1::AllocateRequest* request,
                                     v1beta1::AllocateResponse* response) override {
    std::shared_ptr<const ResourceSnapshot> snapshot = state_.Snapshot();
    grpc::Status status = grpc::Status::OK;
    const absl::string_view resource = Info(state_.kind()).name;
    if (snapshot->platform == nullptr) {
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            absl::StrCat("resource ", resource, " has no devices yet"));
    } else {
      absl::StatusOr<v1beta1::AllocateResponse> answer = deviceplugin::Allocate(
          snapshot->devices, snapshot->health, *snapshot->platform, epc_with_provision_, *request);
      if (answer.ok()) {
        *response = *std::move(answer);
      } else {
        status = ToGrpc(answer.status());
      }
    }
    if (status.ok()) {
      metrics_.allocations->Increment(request->container_requests_size());
      for (const auto& container : request->container_requests()) {
        spdlog::info("allocated {} {} device(s) to a container", container.devices_ids_size(),
                     std::string(resource));
      }
    } else {
      metrics_.allocation_errors->Increment();
      spdlog::warn("Allocate refused: {}", status.error_message());
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

  grpc::ServerUnaryReactor* PreStartContainer(grpc::CallbackServerContext* context,
                                              const v1beta1::PreStartContainerRequest*,
                                              v1beta1::PreStartContainerResponse*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  ResourceState& state_;
  const Metrics::Resource& metrics_;
  const bool epc_with_provision_;
};

PluginServer::PluginServer(std::string socket_path, ResourceState& state,
                           std::unique_ptr<DevicePluginService> service)
    : socket_path_(std::move(socket_path)), state_(state), service_(std::move(service)) {}

PluginServer::~PluginServer() { Stop(absl::Seconds(1)); }

absl::StatusOr<std::unique_ptr<PluginServer>> PluginServer::Start(std::string socket_path,
                                                                  ResourceState& state,
                                                                  const Metrics::Resource& metrics,
                                                                  bool epc_with_provision) {
  std::error_code ignored;
  std::filesystem::remove(socket_path, ignored);
  auto service = std::make_unique<DevicePluginService>(state, metrics, epc_with_provision);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix://", socket_path), grpc::InsecureServerCredentials());
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot serve the device plugin API on ", socket_path,
        ": gRPC could not listen there (does the directory exist and is it writable?)"));
  }
  std::unique_ptr<PluginServer> plugin(
      new PluginServer(std::move(socket_path), state, std::move(service)));
  plugin->server_ = std::move(server);
  return plugin;
}

void PluginServer::Stop(absl::Duration grace) {
  if (server_ == nullptr) {
    return;
  }
  state_.CloseStreams();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  server_.reset();
  std::error_code ignored;
  std::filesystem::remove(socket_path_, ignored);
}

}  // namespace cn::deviceplugin
