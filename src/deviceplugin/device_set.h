#pragma once

// DeviceSet: the devices one resource advertises, held as ranges of indices rather than as a
// list, because the EPC resource has one device per MiB (131072 at 128 GiB) and the plugin must
// stay small (docs/PERFORMANCE.md: peak RSS under 16 MiB at 128 GiB of EPC).
//
// Device IDs are the resource's prefix and a decimal index: "epc-0", "enclave-109". Indices of
// EPC devices are laid out node by node over the *whole* EPC, so an ID means the same MiB slot
// after a restart, with or without a cap (a capped node advertises a prefix of its range).
//
// The kubelet reads plugin messages with gRPC's 4 MiB limit. EncodedSize computes the exact
// size of the ListAndWatch message without building it; PlanEpcDevices uses it to cap the EPC
// resource so that the message, with every device Unhealthy (the longer health word), never
// exceeds the configured maximum.
//
// Thread safety: a DeviceSet is an immutable value after construction.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/deviceplugin/v1beta1/api.pb.h"
#include "src/deviceplugin/resources.h"
#include "src/sgx/platform.h"

namespace cn::deviceplugin {

inline constexpr uint64_t kMiB = 1024 * 1024;
inline constexpr absl::string_view kHealthy = "Healthy";
inline constexpr absl::string_view kUnhealthy = "Unhealthy";

// A run of consecutive device indices [first, first + count).
struct DeviceRange {
  uint64_t first = 0;
  uint64_t count = 0;
  // NUMA node sent as topology; nullopt sends no topology at all.
  std::optional<int> numa_node;

  friend bool operator==(const DeviceRange&, const DeviceRange&) = default;
};

class DeviceSet {
 public:
  DeviceSet() = default;
  DeviceSet(ResourceKind kind, std::vector<DeviceRange> ranges);

  // `count` shared slots without topology: IDs prefix-0 .. prefix-(count-1).
  static DeviceSet Slots(ResourceKind kind, uint64_t count);

  ResourceKind kind() const { return kind_; }
  const std::vector<DeviceRange>& ranges() const { return ranges_; }
  uint64_t size() const;  // devices advertised
  bool has_topology() const;

  std::string Id(uint64_t index) const;
  // The range holding this device ID; nullptr when the ID is not one of ours (wrong prefix, not
  // a canonical decimal index, or an index not advertised).
  const DeviceRange* Find(absl::string_view id) const;
  // The index of an ID of this resource's form, whether advertised or not.
  std::optional<uint64_t> ParseIndex(absl::string_view id) const;

  // The ListAndWatchResponse with every device in the given health, in protobuf wire format.
  // Parses as v1beta1::ListAndWatchResponse; built without materialising one message object
  // per device.
  std::string EncodeListAndWatch(bool healthy) const;
  // Exactly EncodeListAndWatch(healthy).size(), computed in time proportional to the number of
  // ranges.
  uint64_t EncodedSize(bool healthy) const;

 private:
  ResourceKind kind_ = ResourceKind::kEpc;
  std::vector<DeviceRange> ranges_;
};

// What PlanEpcDevices decided, for logs and metrics.
struct EpcPlan {
  DeviceSet devices;
  uint64_t wanted_devices = 0;  // one per whole MiB of EPC
  bool capped = false;
  uint64_t uncapped_encoded_bytes = 0;  // the message size without the cap (all Unhealthy)
  uint64_t encoded_bytes = 0;           // the message size as advertised (all Unhealthy)
  // Set when --numa-topology was asked for but the kernel does not expose EPC per node, so no
  // topology can be sent.
  std::optional<std::string> topology_note;
};

// One device per whole MiB of the platform's EPC. Per-node sizes from sysfs lay the indices out
// node by node (and give the topology when `numa_topology`); otherwise the total is one range.
// When the message would exceed `max_message_bytes`, every node keeps the same fraction of its
// devices, as large as fits.
EpcPlan PlanEpcDevices(const sgx::Platform& platform, bool numa_topology,
                       uint64_t max_message_bytes);

// GetPreferredAllocation for one container: `allocation_size` IDs that include every
// must-include ID; the rest comes from `available`. With topology the answer stays on one NUMA
// node when one can hold it (the node of the must-include devices first, then the node that
// fits most tightly, keeping large free runs for large requests); otherwise it spans the fewest
// nodes. Without topology the lowest indices are chosen, so answers are deterministic.
// IDs that are not ours are ignored in `available`. InvalidArgument when the size is not
// positive, when more IDs must be included than the size, or when a must-include ID is unknown.
absl::StatusOr<std::vector<std::string>> PreferDevices(
    const DeviceSet& devices, const v1beta1::ContainerPreferredAllocationRequest& request);

}  // namespace cn::deviceplugin
