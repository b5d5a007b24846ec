#include "tools/kubelet_standin.h"

#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/channel_arguments.h"

namespace cn::tools {
namespace {

absl::Status FromGrpc(const grpc::Status& status, absl::string_view call) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(call, ": ", status.error_message()));
}

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context.set_wait_for_ready(true);
}

std::shared_ptr<grpc::Channel> KubeletLikeChannel(const std::string& socket_path) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kKubeletMaxReceiveBytes);
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 250);
  return grpc::CreateCustomChannel(absl::StrCat("unix://", socket_path),
                                   grpc::InsecureChannelCredentials(), arguments);
}

}  // namespace

// A callback service: gRPC's synchronous servers keep a polling thread pool whose teardown
// can take seconds, which a test fixture restarting the "kubelet" cannot afford.
class KubeletStandin::Service final : public v1beta1::Registration::CallbackService {
 public:
  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* context,
                                     const v1beta1::RegisterRequest* request,
                                     v1beta1::Empty*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    {
      absl::MutexLock lock(&mutex_);
      if (holding_) {
        held_.push_back({reactor, *request});
        return reactor;
      }
      registrations_.push_back(*request);
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  void Hold() {
    absl::MutexLock lock(&mutex_);
    holding_ = true;
  }

  // Answers the held calls with `status`; recorded as registrations when it is OK.
  void Release(const grpc::Status& status) {
    std::vector<Held> held;
    {
      absl::MutexLock lock(&mutex_);
      holding_ = false;
      held.swap(held_);
      if (status.ok()) {
        for (const Held& call : held) {
          registrations_.push_back(call.request);
        }
      }
    }
    for (const Held& call : held) {
      call.reactor->Finish(status);
    }
  }

  bool WaitForHeld(size_t count, absl::Duration timeout) const {
    absl::MutexLock lock(&mutex_);
    auto enough = [this, count]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return held_.size() >= count; };
    return mutex_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

  std::vector<v1beta1::RegisterRequest> Registrations() const {
    absl::MutexLock lock(&mutex_);
    return registrations_;
  }

  bool WaitFor(size_t count, absl::Duration timeout) const {
    absl::MutexLock lock(&mutex_);
    auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      return registrations_.size() >= count;
    };
    return mutex_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  struct Held {
    grpc::ServerUnaryReactor* reactor;
    v1beta1::RegisterRequest request;
  };

  mutable absl::Mutex mutex_;
  std::vector<v1beta1::RegisterRequest> registrations_ ABSL_GUARDED_BY(mutex_);
  bool holding_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<Held> held_ ABSL_GUARDED_BY(mutex_);
};

absl::StatusOr<std::unique_ptr<KubeletStandin>> KubeletStandin::Start(
    const std::string& kubelet_dir) {
  std::unique_ptr<KubeletStandin> standin(new KubeletStandin());
  std::error_code ignored;
  standin->socket_path_ = (std::filesystem::absolute(kubelet_dir, ignored) / "kubelet.sock")
                              .lexically_normal()
                              .string();
  std::filesystem::remove(standin->socket_path_, ignored);
  standin->service_ = std::make_unique<Service>();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix://", standin->socket_path_),
                           grpc::InsecureServerCredentials());
  builder.RegisterService(standin->service_.get());
  standin->server_ = builder.BuildAndStart();
  if (standin->server_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve the Registration API on ", standin->socket_path_));
  }
  return standin;
}

KubeletStandin::~KubeletStandin() { Stop(); }

void KubeletStandin::Stop() {
  if (server_ == nullptr) {
    return;
  }
  // Held calls must end before the server can; a kubelet that exits drops them.
  service_->Release(grpc::Status(grpc::StatusCode::UNAVAILABLE, "kubelet stand-in stopped"));
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  server_->Wait();
  server_.reset();
  std::error_code ignored;
  std::filesystem::remove(socket_path_, ignored);
}

void KubeletStandin::HoldRegistrations() { service_->Hold(); }

void KubeletStandin::ReleaseRegistrations() { service_->Release(grpc::Status::OK); }

bool KubeletStandin::WaitForHeldRegistrations(size_t count, absl::Duration timeout) const {
  return service_->WaitForHeld(count, timeout);
}

std::vector<v1beta1::RegisterRequest> KubeletStandin::Registrations() const {
  return service_->Registrations();
}

bool KubeletStandin::WaitForRegistrations(size_t count, absl::Duration timeout) const {
  return service_->WaitFor(count, timeout);
}

DeviceWatch::DeviceWatch(std::shared_ptr<grpc::Channel> channel) : channel_(std::move(channel)) {
  context_.set_wait_for_ready(true);
  thread_ = std::thread([this] { Read(); });
}

DeviceWatch::~DeviceWatch() {
  context_.TryCancel();
  thread_.join();
}

void DeviceWatch::Read() {
  auto stub = v1beta1::DevicePlugin::NewStub(channel_);
  v1beta1::Empty empty;
  std::unique_ptr<grpc::ClientReader<v1beta1::ListAndWatchResponse>> reader =
      stub->ListAndWatch(&context_, empty);
  v1beta1::ListAndWatchResponse response;
  while (reader->Read(&response)) {
    absl::MutexLock lock(&mutex_);
    latest_ = std::move(response);
    response = v1beta1::ListAndWatchResponse();
    ++updates_;
  }
  grpc::Status status = reader->Finish();
  absl::MutexLock lock(&mutex_);
  ended_ = true;
  end_status_ = status;
}

bool DeviceWatch::WaitFor(
    const std::function<bool(const v1beta1::ListAndWatchResponse&)>& predicate,
    absl::Duration timeout) const {
  absl::MutexLock lock(&mutex_);
  auto holds = [this, &predicate]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return updates_ > 0 && predicate(latest_);
  };
  return mutex_.AwaitWithTimeout(absl::Condition(&holds), timeout);
}

bool DeviceWatch::WaitForUpdates(size_t count, absl::Duration timeout) const {
  absl::MutexLock lock(&mutex_);
  auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return updates_ >= count; };
  return mutex_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

bool DeviceWatch::WaitForEnd(absl::Duration timeout) const {
  absl::MutexLock lock(&mutex_);
  return mutex_.AwaitWithTimeout(absl::Condition(&ended_), timeout);
}

v1beta1::ListAndWatchResponse DeviceWatch::Latest() const {
  absl::MutexLock lock(&mutex_);
  return latest_;
}

size_t DeviceWatch::updates() const {
  absl::MutexLock lock(&mutex_);
  return updates_;
}

bool DeviceWatch::ended() const {
  absl::MutexLock lock(&mutex_);
  return ended_;
}

grpc::Status DeviceWatch::end_status() const {
  absl::MutexLock lock(&mutex_);
  return end_status_;
}

PluginClient::PluginClient(const std::string& socket_path)
    : channel_(KubeletLikeChannel(std::filesystem::absolute(socket_path).string())),
      stub_(v1beta1::DevicePlugin::NewStub(channel_)) {}

namespace {

// One unary call with the deadline and wait-for-ready the kubelet uses.
template <typename Response, typename Request, typename Method>
absl::StatusOr<Response> Unary(v1beta1::DevicePlugin::Stub& stub, Method method,
                               const Request& request, absl::Duration timeout,
                               absl::string_view name) {
  grpc::ClientContext context;
  SetDeadline(context, timeout);
  Response response;
  grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) {
    return FromGrpc(status, name);
  }
  return response;
}

}  // namespace

absl::StatusOr<v1beta1::DevicePluginOptions> PluginClient::GetOptions(
    absl::Duration timeout) const {
  return Unary<v1beta1::DevicePluginOptions>(*stub_,
                                             &v1beta1::DevicePlugin::Stub::GetDevicePluginOptions,
                                             v1beta1::Empty(), timeout, "GetDevicePluginOptions");
}

absl::StatusOr<v1beta1::PreferredAllocationResponse> PluginClient::GetPreferredAllocation(
    const v1beta1::PreferredAllocationRequest& request, absl::Duration timeout) const {
  return Unary<v1beta1::PreferredAllocationResponse>(
      *stub_, &v1beta1::DevicePlugin::Stub::GetPreferredAllocation, request, timeout,
      "GetPreferredAllocation");
}

absl::StatusOr<v1beta1::AllocateResponse> PluginClient::Allocate(
    const v1beta1::AllocateRequest& request, absl::Duration timeout) const {
  return Unary<v1beta1::AllocateResponse>(*stub_, &v1beta1::DevicePlugin::Stub::Allocate, request,
                                          timeout, "Allocate");
}

absl::StatusOr<v1beta1::ListAndWatchResponse> PluginClient::ListOnce(absl::Duration timeout) const {
  grpc::ClientContext context;
  SetDeadline(context, timeout);
  std::unique_ptr<grpc::ClientReader<v1beta1::ListAndWatchResponse>> reader =
      stub_->ListAndWatch(&context, v1beta1::Empty());
  v1beta1::ListAndWatchResponse response;
  if (reader->Read(&response)) {
    context.TryCancel();
    reader->Finish().IgnoreError();
    return response;
  }
  return FromGrpc(reader->Finish(), "ListAndWatch");
}

std::unique_ptr<DeviceWatch> PluginClient::Watch() const {
  return std::unique_ptr<DeviceWatch>(new DeviceWatch(channel_));
}

v1beta1::AllocateRequest AllocateRequestFor(const std::vector<std::string>& ids) {
  v1beta1::AllocateRequest request;
  auto* container = request.add_container_requests();
  for (const std::string& id : ids) {
    container->add_devices_ids(id);
  }
  return request;
}

std::string DescribeDevices(const v1beta1::ListAndWatchResponse& devices) {
  size_t healthy = 0;
  std::map<int64_t, size_t> per_node;
  size_t without_topology = 0;
  for (const v1beta1::Device& device : devices.devices()) {
    if (device.health() == "Healthy") {
      ++healthy;
    }
    if (device.has_topology() && device.topology().nodes_size() > 0) {
      for (const v1beta1::NUMANode& node : device.topology().nodes()) {
        ++per_node[node.id()];
      }
    } else {
      ++without_topology;
    }
  }
  std::string text =
      absl::StrCat(devices.devices_size(), " devices (", healthy, " Healthy, ",
                   devices.devices_size() - static_cast<int>(healthy), " Unhealthy)");
  if (!per_node.empty()) {
    absl::StrAppend(&text, "; NUMA ",
                    absl::StrJoin(per_node, ", ", [](std::string* out, const auto& entry) {
                      absl::StrAppend(out, "node ", entry.first, ": ", entry.second);
                    }));
    if (without_topology > 0) {
      absl::StrAppend(&text, ", none: ", without_topology);
    }
  } else {
    absl::StrAppend(&text, "; no topology");
  }
  if (devices.devices_size() > 0) {
    absl::StrAppend(&text, "; IDs ", devices.devices(0).id());
    if (devices.devices_size() > 1) {
      absl::StrAppend(&text, " .. ", devices.devices(devices.devices_size() - 1).id());
    }
  }
  absl::StrAppend(&text, "; ", devices.ByteSizeLong(), " bytes encoded");
  return text;
}

std::string DescribeAllocation(const v1beta1::ContainerAllocateResponse& response) {
  std::string text;
  for (const v1beta1::DeviceSpec& device : response.devices()) {
    absl::StrAppend(&text, "  device ", device.container_path(), " <- host ", device.host_path(),
                    " (", device.permissions(), ")\n");
  }
  for (const v1beta1::Mount& mount : response.mounts()) {
    absl::StrAppend(&text, "  mount  ", mount.container_path(), " <- host ", mount.host_path(),
                    mount.read_only() ? " (read-only)" : " (read-write)", "\n");
  }
  std::map<std::string, std::string> envs(response.envs().begin(), response.envs().end());
  for (const auto& [name, value] : envs) {
    absl::StrAppend(&text, "  env    ", name, "=", value, "\n");
  }
  std::map<std::string, std::string> annotations(response.annotations().begin(),
                                                 response.annotations().end());
  for (const auto& [name, value] : annotations) {
    absl::StrAppend(&text, "  annotation ", name, "=", value, "\n");
  }
  for (const v1beta1::CDIDevice& device : response.cdi_devices()) {
    absl::StrAppend(&text, "  CDI device ", device.name(), "\n");
  }
  if (text.empty()) {
    text = "  (nothing)\n";
  }
  return text;
}

std::vector<std::string> CheckDevices(const v1beta1::ListAndWatchResponse& devices) {
  std::vector<std::string> problems;
  std::set<std::string> seen;
  for (const v1beta1::Device& device : devices.devices()) {
    if (device.id().empty() || device.id().size() > 63) {
      problems.push_back(absl::StrCat("device ID '", device.id().substr(0, 80), "' has ",
                                      device.id().size(), " characters (1..63 allowed)"));
    }
    if (!seen.insert(device.id()).second) {
      problems.push_back(absl::StrCat("device ID '", device.id(), "' is listed twice"));
    }
    if (device.health() != "Healthy" && device.health() != "Unhealthy") {
      problems.push_back(absl::StrCat("device '", device.id(), "' has health '", device.health(),
                                      "' (expected Healthy or Unhealthy)"));
    }
    if (problems.size() >= 10) {
      problems.push_back("(more problems not shown)");
      break;
    }
  }
  return problems;
}

}  // namespace cn::tools
