#include "src/deviceplugin/pod_resources.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace cn::deviceplugin {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

constexpr int kMaxAnswerBytes = 16 * 1024 * 1024;
constexpr char kListMethod[] = "/v1.PodResourcesLister/List";

// Field numbers of proto/podresources/v1/api.proto.
constexpr int kResponsePodResources = 1;  // ListPodResourcesResponse.pod_resources
constexpr int kPodName = 1;               // PodResources.name
constexpr int kPodNamespace = 2;          // PodResources.namespace
constexpr int kPodContainers = 3;         // PodResources.containers
constexpr int kContainerName = 1;         // ContainerResources.name
constexpr int kContainerDevices = 2;      // ContainerResources.devices
constexpr int kDevicesResourceName = 1;   // ContainerDevices.resource_name
constexpr int kDevicesIds = 2;            // ContainerDevices.device_ids

const ResourceInfo* OurResource(absl::string_view name) {
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

// One ContainerDevices message: its resource and, for each ID, count and minimum. The IDs may
// come before the resource name on the wire, so they are checked once both are known; until
// then at most the smallest ID and the count of well-formed candidates are kept per prefix.
struct DeviceTally {
  std::string resource;
  uint64_t ids = 0;
  // Per resource kind: count and smallest of the IDs that are that resource's.
  uint64_t matching[3] = {0, 0, 0};
  std::string smallest[3];
};

class Walker {
 public:
  explicit Walker(CodedInputStream& input) : input_(input) {}

  absl::StatusOr<Holdings> Response() {
    while (uint32_t tag = input_.ReadTag()) {
      if (Field(tag) == kResponsePodResources && Len(tag)) {
        if (!Nested([this] { return Pod(); })) {
          return Error("a PodResources entry");
        }
      } else if (!Skip(tag)) {
        return Error("the answer");
      }
    }
    if (!AtEnd()) {
      return Error("the answer");
    }
    return std::move(holdings_);
  }

 private:
  static int Field(uint32_t tag) {
    return static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
  }
  static bool Len(uint32_t tag) {
    return WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  }
  absl::Status Error(absl::string_view where) const {
    return absl::InvalidArgumentError(absl::StrCat(
        "PodResources answer: ", where, " is not well-formed at byte ", input_.CurrentPosition()));
  }
  // ReadTag returns 0 at the end of the input, at a limit, and for a malformed tag: only the
  // limit (set to every message's length) is a whole message.
  bool AtEnd() { return input_.ConsumedEntireMessage() && input_.BytesUntilLimit() == 0; }
  bool Skip(uint32_t tag) { return WireFormatLite::SkipField(&input_, tag); }
  template <typename Body>
  bool Nested(Body body) {
    uint32_t length = 0;
    // A length beyond the enclosing message would be clamped by PushLimit, not refused.
    if (!input_.ReadVarint32(&length) ||
        static_cast<int64_t>(length) > static_cast<int64_t>(input_.BytesUntilLimit())) {
      return false;
    }
    CodedInputStream::Limit limit = input_.PushLimit(static_cast<int>(length));
    bool ok = body() && AtEnd();
    input_.PopLimit(limit);
    return ok;
  }
  bool String(std::string* out) {
    uint32_t length = 0;
    return input_.ReadVarint32(&length) && input_.ReadString(out, static_cast<int>(length));
  }

  bool Pod() {
    std::string name, ns;
    containers_.clear();
    while (uint32_t tag = input_.ReadTag()) {
      bool ok = true;
      if (Field(tag) == kPodName && Len(tag)) {
        ok = String(&name);
      } else if (Field(tag) == kPodNamespace && Len(tag)) {
        ok = String(&ns);
      } else if (Field(tag) == kPodContainers && Len(tag)) {
        ok = Nested([this] { return Container(); });
      } else {
        ok = Skip(tag);
      }
      if (!ok) {
        return false;
      }
    }
    for (ContainerHolding& holding : containers_) {
      if (name.empty() || ns.empty() || holding.container.empty()) {
        holdings_.foreign_devices += holding.devices;
        continue;
      }
      holding.namespace_name = ns;
      holding.pod = name;
      holdings_.containers.push_back(std::move(holding));
    }
    return true;
  }

  bool Container() {
    std::string name;
    const size_t first = containers_.size();
    while (uint32_t tag = input_.ReadTag()) {
      bool ok = true;
      if (Field(tag) == kContainerName && Len(tag)) {
        ok = String(&name);
      } else if (Field(tag) == kContainerDevices && Len(tag)) {
        ok = Nested([this] { return Devices(); });
      } else {
        ok = Skip(tag);
      }
      if (!ok) {
        return false;
      }
    }
    for (size_t i = first; i < containers_.size(); ++i) {
      containers_[i].container = name;
    }
    return true;
  }

  bool Devices() {
    DeviceTally tally;
    while (uint32_t tag = input_.ReadTag()) {
      bool ok = true;
      if (Field(tag) == kDevicesResourceName && Len(tag)) {
        ok = String(&tally.resource);
      } else if (Field(tag) == kDevicesIds && Len(tag)) {
        ok = String(&scratch_);
        if (ok) {
          Count(tally, scratch_);
        }
      } else {
        ok = Skip(tag);
      }
      if (!ok) {
        return false;
      }
    }
    const ResourceInfo* info = OurResource(tally.resource);
    if (info == nullptr) {
      return true;  // another plugin's resource
    }
    const size_t index = static_cast<size_t>(info->kind);
    holdings_.foreign_devices += tally.ids - tally.matching[index];
    if (tally.matching[index] > 0) {
      ContainerHolding holding;
      holding.kind = info->kind;
      holding.devices = tally.matching[index];
      holding.first_device = std::move(tally.smallest[index]);
      containers_.push_back(std::move(holding));
    }
    return true;
  }

  static void Count(DeviceTally& tally, const std::string& id) {
    ++tally.ids;
    for (ResourceKind kind :
         {ResourceKind::kEpc, ResourceKind::kEnclave, ResourceKind::kProvision}) {
      if (IsOurDeviceId(Info(kind), id)) {
        const size_t index = static_cast<size_t>(kind);
        if (tally.matching[index] == 0 || id < tally.smallest[index]) {
          tally.smallest[index] = id;
        }
        ++tally.matching[index];
      }
    }
  }

  CodedInputStream& input_;
  Holdings holdings_;
  std::vector<ContainerHolding> containers_;  // of the pod being read
  std::string scratch_;
};

// `size` is the answer's length: the walk must end exactly there.
absl::StatusOr<Holdings> Walk(google::protobuf::io::ZeroCopyInputStream& stream, size_t size) {
  if (size > static_cast<size_t>(kMaxAnswerBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PodResources answer: ", size, " bytes, over the ", kMaxAnswerBytes, "-byte limit"));
  }
  CodedInputStream input(&stream);
  input.SetTotalBytesLimit(kMaxAnswerBytes);
  input.PushLimit(static_cast<int>(size));
  return Walker(input).Response();
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
    stub_ = std::make_unique<grpc::GenericStub>(grpc::CreateCustomChannel(
        absl::StrCat("unix://", socket_path_), grpc::InsecureChannelCredentials(), arguments));
  }

  absl::StatusOr<Holdings> List() override {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    context.set_wait_for_ready(false);
    // ListPodResourcesRequest has no fields: its encoding is empty.
    grpc::Slice empty;
    grpc::ByteBuffer request(&empty, 1);
    grpc::ByteBuffer answer;
    grpc::Status status;
    absl::Mutex mutex;
    bool done = false;
    stub_->UnaryCall(&context, kListMethod, grpc::StubOptions(), &request, &answer,
                     [&](grpc::Status result) {
                       absl::MutexLock lock(&mutex);
                       status = std::move(result);
                       done = true;
                     });
    {
      absl::MutexLock lock(&mutex);
      mutex.Await(absl::Condition(&done));
    }
    if (!status.ok()) {
      return absl::Status(
          static_cast<absl::StatusCode>(status.error_code()),
          absl::StrCat("PodResources List on ", socket_path_, " failed: ", status.error_message()));
    }
    grpc::ProtoBufferReader reader(&answer);
    absl::StatusOr<Holdings> holdings = Walk(reader, answer.Length());
    if (!holdings.ok()) {
      return absl::InternalError(
          absl::StrCat("PodResources List on ", socket_path_, ": ", holdings.status().message()));
    }
    return holdings;
  }

 private:
  const std::string socket_path_;
  const absl::Duration timeout_;
  std::unique_ptr<grpc::GenericStub> stub_;
};

}  // namespace

absl::StatusOr<Holdings> ParseListAnswer(absl::string_view bytes) {
  google::protobuf::io::ArrayInputStream input(bytes.data(), static_cast<int>(bytes.size()));
  return Walk(input, bytes.size());
}

std::unique_ptr<PodResourcesSource> NewGrpcPodResources(std::string socket_path,
                                                        absl::Duration timeout) {
  return std::make_unique<GrpcPodResources>(std::move(socket_path), timeout);
}

}  // namespace cn::deviceplugin
