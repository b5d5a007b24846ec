#include "tools/podresources_standin.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/byte_buffer.h"

namespace cn::tools {

// A generic (raw bytes) service: it can answer what a typed service never could (garbage), and
// it answers every method it does not know Unimplemented, as a real gRPC server does.
class PodResourcesStandin::Service : public grpc::CallbackGenericService {
 public:
  explicit Service(PodResourcesStandin* owner) : owner_(owner) {}

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    return new Reactor(owner_, context->method());
  }

 private:
  class Reactor : public grpc::ServerGenericBidiReactor {
   public:
    Reactor(PodResourcesStandin* owner, std::string method)
        : owner_(owner), method_(std::move(method)) {
      StartRead(&request_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
        return;
      }
      std::string answer;
      Mode mode;
      {
        absl::MutexLock lock(&owner_->mutex_);
        mode = owner_->mode_;
        if (method_ == "/v1.PodResourcesLister/List") {
          ++owner_->list_calls_;
        }
        answer = owner_->pods_.SerializeAsString();
      }
      if (mode == Mode::kUnimplemented || method_ != "/v1.PodResourcesLister/List") {
        Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                            absl::StrCat("unknown method ", method_)));
        return;
      }
      if (mode == Mode::kGarbage) {
        // Field 1 announced as 200 bytes long, then the message ends: no parser accepts it.
        answer = std::string("\x0a\xc8\x01garbage", 10);
      }
      grpc::Slice slice(answer);
      response_ = grpc::ByteBuffer(&slice, 1);
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    }
    void OnDone() override { delete this; }

   private:
    PodResourcesStandin* owner_;
    std::string method_;
    grpc::ByteBuffer request_;
    grpc::ByteBuffer response_;
  };

  PodResourcesStandin* owner_;
};

absl::StatusOr<std::unique_ptr<PodResourcesStandin>> PodResourcesStandin::Start(
    const std::string& socket_path) {
  std::unique_ptr<PodResourcesStandin> standin(new PodResourcesStandin());
  std::error_code ignored;
  standin->socket_path_ =
      std::filesystem::absolute(socket_path, ignored).lexically_normal().string();
  std::filesystem::remove(standin->socket_path_, ignored);
  standin->service_ = std::make_unique<Service>(standin.get());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix://", standin->socket_path_),
                           grpc::InsecureServerCredentials());
  builder.RegisterCallbackGenericService(standin->service_.get());
  standin->server_ = builder.BuildAndStart();
  if (standin->server_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve the PodResources API on ", standin->socket_path_));
  }
  return standin;
}

PodResourcesStandin::~PodResourcesStandin() {
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    server_.reset();
  }
  std::error_code ignored;
  std::filesystem::remove(socket_path_, ignored);
}

void PodResourcesStandin::SetPods(v1::ListPodResourcesResponse pods) {
  absl::MutexLock lock(&mutex_);
  pods_ = std::move(pods);
}

void PodResourcesStandin::SetMode(Mode mode) {
  absl::MutexLock lock(&mutex_);
  mode_ = mode;
}

void PodResourcesStandin::AddPod(const std::string& ns, const std::string& pod,
                                 const std::string& container, const std::string& resource,
                                 const std::vector<std::string>& ids) {
  absl::MutexLock lock(&mutex_);
  v1::PodResources* entry = pods_.add_pod_resources();
  entry->set_namespace_(ns);
  entry->set_name(pod);
  v1::ContainerResources* resources = entry->add_containers();
  resources->set_name(container);
  v1::ContainerDevices* devices = resources->add_devices();
  devices->set_resource_name(resource);
  for (const std::string& id : ids) {
    devices->add_device_ids(id);
  }
}

void PodResourcesStandin::RemovePod(const std::string& ns, const std::string& pod) {
  absl::MutexLock lock(&mutex_);
  auto* pods = pods_.mutable_pod_resources();
  for (int i = pods->size() - 1; i >= 0; --i) {
    if (pods->Get(i).namespace_() == ns && pods->Get(i).name() == pod) {
      pods->DeleteSubrange(i, 1);
    }
  }
}

uint64_t PodResourcesStandin::ListCalls() const {
  absl::MutexLock lock(&mutex_);
  return list_calls_;
}

bool PodResourcesStandin::WaitForListCalls(uint64_t count, absl::Duration timeout) const {
  absl::MutexLock lock(&mutex_);
  auto arrived = [this, count]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return list_calls_ >= count; };
  return mutex_.AwaitWithTimeout(absl::Condition(&arrived), timeout);
}

}  // namespace cn::tools
