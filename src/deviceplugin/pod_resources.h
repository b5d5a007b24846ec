#pragma once

// Who holds which of our devices, from the kubelet's PodResources API (v1 List, on
// /var/lib/kubelet/pod-resources/kubelet.sock by default; proto/podresources/v1/api.proto).
//
// The kubelet lists every active pod with, per container, the device IDs of each extended
// resource it was given. We keep only our resources, and of each container's devices only the
// count and the smallest ID: the count is the figure, and the smallest ID (IDs are exclusive to
// one container) matches the allocation to the kubelet's checkpoint, which has the pod UID.
//
// Memory: a node whose 128 GiB of EPC is all allocated lists ~131,000 device IDs (~1.7 MB).
// Parsed into ListPodResourcesResponse that is one heap string per ID, ~9 MiB, more than the
// whole plugin otherwise needs. So the answer is received as raw bytes and walked field by
// field (protobuf's CodedInputStream, lite runtime) with one scratch string; field numbers are
// those of proto/podresources/v1/api.proto, which the tests check against the generated code.
//
// Kubernetes 1.20's kubelet offers List only (no Watch in v1 or v1alpha1), so callers poll.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/deviceplugin/resources.h"

namespace cn::deviceplugin {

// The devices of one of our resources held by one container.
struct ContainerHolding {
  std::string namespace_name;
  std::string pod;
  std::string container;
  ResourceKind kind = ResourceKind::kEpc;
  uint64_t devices = 0;
  std::string first_device;  // the smallest device ID (string order)
};

struct Holdings {
  std::vector<ContainerHolding> containers;
  // Device IDs of our resources that are not ours (wrong prefix, not a number): a kubelet
  // would never list them; they are left out of the figures and counted here.
  uint64_t foreign_devices = 0;
};

// Our resources' holdings in an encoded ListPodResourcesResponse. Pods or containers without
// names are left out (counted as foreign devices): they cannot be labelled. Unknown fields are
// skipped, as protobuf parsers do. InvalidArgument for bytes that are not a well-formed
// message (truncated, bad lengths, wrong wire types for our fields).
absl::StatusOr<Holdings> ParseListAnswer(absl::string_view bytes);

// Where holdings come from: the kubelet over gRPC in production, anything in tests.
class PodResourcesSource {
 public:
  virtual ~PodResourcesSource() = default;
  // One List. Errors keep gRPC's code: Unavailable (no kubelet listening), Unimplemented (a
  // kubelet without the v1 API), DeadlineExceeded, Internal (an answer that does not parse);
  // the message names the socket.
  virtual absl::StatusOr<Holdings> List() = 0;
};

// v1.PodResourcesLister/List on a Unix socket, one call at a time, each with `timeout`.
// Answers up to 16 MiB are read (a node with all its EPC allocated lists ~1.7 MB of IDs).
std::unique_ptr<PodResourcesSource> NewGrpcPodResources(std::string socket_path,
                                                        absl::Duration timeout);

}  // namespace cn::deviceplugin
