#include "src/deviceplugin/device_set.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"

namespace cn::deviceplugin {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;

// Tag of ListAndWatchResponse.devices (field 1, length-delimited).
const uint32_t kDevicesTag = WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);

int DecimalDigits(uint64_t value) {
  int digits = 1;
  while (value >= 10) {
    value /= 10;
    ++digits;
  }
  return digits;
}

uint64_t PowerOfTen(int exponent) {
  uint64_t value = 1;
  for (int i = 0; i < exponent; ++i) {
    value *= 10;
  }
  return value;
}

// A Device message with everything but the ID filled in, reused for every device.
v1beta1::Device Template(const DeviceRange& range, bool healthy) {
  v1beta1::Device device;
  device.set_health(std::string(healthy ? kHealthy : kUnhealthy));
  if (range.numa_node.has_value()) {
    device.mutable_topology()->add_nodes()->set_id(*range.numa_node);
  }
  return device;
}

// Bytes one device of this range takes inside ListAndWatchResponse, for an ID of `id_length`.
uint64_t ElementSize(const DeviceRange& range, bool healthy, size_t id_length) {
  v1beta1::Device device = Template(range, healthy);
  device.set_id(std::string(id_length, 'x'));
  uint64_t size = device.ByteSizeLong();
  return CodedOutputStream::VarintSize32(kDevicesTag) + CodedOutputStream::VarintSize64(size) +
         size;
}

}  // namespace

DeviceSet::DeviceSet(ResourceKind kind, std::vector<DeviceRange> ranges)
    : kind_(kind), ranges_(std::move(ranges)) {
  ranges_.erase(std::remove_if(ranges_.begin(), ranges_.end(),
                               [](const DeviceRange& range) { return range.count == 0; }),
                ranges_.end());
  std::sort(ranges_.begin(), ranges_.end(),
            [](const DeviceRange& a, const DeviceRange& b) { return a.first < b.first; });
}

DeviceSet DeviceSet::Slots(ResourceKind kind, uint64_t count) {
  return DeviceSet(kind, {DeviceRange{0, count, std::nullopt}});
}

uint64_t DeviceSet::size() const {
  uint64_t total = 0;
  for (const DeviceRange& range : ranges_) {
    total += range.count;
  }
  return total;
}

bool DeviceSet::has_topology() const {
  return std::any_of(ranges_.begin(), ranges_.end(),
                     [](const DeviceRange& range) { return range.numa_node.has_value(); });
}

std::string DeviceSet::Id(uint64_t index) const {
  return absl::StrCat(Info(kind_).id_prefix, index);
}

std::optional<uint64_t> DeviceSet::ParseIndex(absl::string_view id) const {
  absl::string_view prefix = Info(kind_).id_prefix;
  if (id.size() <= prefix.size() || id.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  absl::string_view digits = id.substr(prefix.size());
  // Canonical decimal only: "epc-01" or "epc-+1" would alias "epc-1".
  if (digits.size() > 19 || (digits.size() > 1 && digits.front() == '0') ||
      !std::all_of(digits.begin(), digits.end(),
                   [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); })) {
    return std::nullopt;
  }
  uint64_t index = 0;
  if (!absl::SimpleAtoi(digits, &index)) {
    return std::nullopt;
  }
  return index;
}

const DeviceRange* DeviceSet::Find(absl::string_view id) const {
  std::optional<uint64_t> index = ParseIndex(id);
  if (!index.has_value()) {
    return nullptr;
  }
  for (const DeviceRange& range : ranges_) {
    if (*index >= range.first && *index - range.first < range.count) {
      return &range;
    }
  }
  return nullptr;
}

uint64_t DeviceSet::EncodedSize(bool healthy) const {
  const size_t prefix_length = Info(kind_).id_prefix.size();
  uint64_t total = 0;
  for (const DeviceRange& range : ranges_) {
    // Group the range's indices by their number of decimal digits: within a group every
    // device encodes to the same number of bytes.
    uint64_t index = range.first;
    const uint64_t end = range.first + range.count;
    while (index < end) {
      int digits = DecimalDigits(index);
      uint64_t group_end = digits >= 19 ? end : std::min(end, PowerOfTen(digits));
      total += (group_end - index) * ElementSize(range, healthy, prefix_length + digits);
      index = group_end;
    }
  }
  return total;
}

std::string DeviceSet::EncodeListAndWatch(bool healthy) const {
  // Written field by field rather than through one Device message per device: at 128 GiB of
  // EPC this is the hot path of every health change. Each element is
  //   tag(devices) len [tag(ID) len ID] [health and topology, the same for the whole range]
  // The unit tests check that the result parses back and matches EncodedSize to the byte.
  std::string out;
  out.reserve(EncodedSize(healthy));
  auto append_varint = [&out](uint64_t value) {
    while (value >= 0x80) {
      out.push_back(static_cast<char>((value & 0x7F) | 0x80));
      value >>= 7;
    }
    out.push_back(static_cast<char>(value));
  };
  const uint32_t id_tag = WireFormatLite::MakeTag(v1beta1::Device::kIDFieldNumber,
                                                  WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  const absl::string_view prefix = Info(kind_).id_prefix;
  char digits[24];
  for (const DeviceRange& range : ranges_) {
    const std::string suffix = Template(range, healthy).SerializeAsString();
    for (uint64_t index = range.first; index < range.first + range.count; ++index) {
      const size_t digit_count =
          static_cast<size_t>(std::to_chars(digits, digits + sizeof(digits), index).ptr - digits);
      const uint64_t id_length = prefix.size() + digit_count;
      const uint64_t device_length = CodedOutputStream::VarintSize32(id_tag) +
                                     CodedOutputStream::VarintSize64(id_length) + id_length +
                                     suffix.size();
      append_varint(kDevicesTag);
      append_varint(device_length);
      append_varint(id_tag);
      append_varint(id_length);
      out.append(prefix.data(), prefix.size());
      out.append(digits, digit_count);
      out.append(suffix);
    }
  }
  return out;
}

EpcPlan PlanEpcDevices(const sgx::Platform& platform, bool numa_topology,
                       uint64_t max_message_bytes) {
  EpcPlan plan;
  std::vector<DeviceRange> full;
  if (!platform.numa_nodes.empty()) {
    uint64_t next = 0;
    for (const sgx::NumaEpc& node : platform.numa_nodes) {
      uint64_t count = node.bytes / kMiB;
      full.push_back(
          DeviceRange{next, count, numa_topology ? std::optional<int>(node.node) : std::nullopt});
      next += count;
    }
  } else {
    full.push_back(DeviceRange{0, platform.epc_total_bytes / kMiB, std::nullopt});
    if (numa_topology) {
      plan.topology_note =
          "--numa-topology: the kernel does not expose EPC per NUMA node "
          "(/sys/devices/system/node/node*/x86/sgx_total_bytes, Linux 5.17+); EPC devices are "
          "advertised without topology";
    }
  }
  DeviceSet uncapped(ResourceKind::kEpc, full);
  plan.wanted_devices = uncapped.size();
  plan.uncapped_encoded_bytes = uncapped.EncodedSize(/*healthy=*/false);
  if (plan.uncapped_encoded_bytes <= max_message_bytes) {
    plan.devices = std::move(uncapped);
    plan.encoded_bytes = plan.uncapped_encoded_bytes;
    return plan;
  }

  // Keep the same fraction of every node: with `kept` devices in all, a node with c of the
  // wanted devices keeps floor(c * kept / wanted). The size grows with `kept`, so a binary
  // search finds the largest that fits.
  auto scaled = [&](uint64_t kept) {
    std::vector<DeviceRange> ranges = full;
    for (DeviceRange& range : ranges) {
      range.count = static_cast<uint64_t>(static_cast<unsigned __int128>(range.count) * kept /
                                          plan.wanted_devices);
    }
    return DeviceSet(ResourceKind::kEpc, std::move(ranges));
  };
  uint64_t low = 0;                     // fits
  uint64_t high = plan.wanted_devices;  // does not fit
  while (high - low > 1) {
    uint64_t middle = low + (high - low) / 2;
    if (scaled(middle).EncodedSize(false) <= max_message_bytes) {
      low = middle;
    } else {
      high = middle;
    }
  }
  plan.devices = scaled(low);
  plan.capped = true;
  plan.encoded_bytes = plan.devices.EncodedSize(false);
  return plan;
}

absl::StatusOr<std::vector<std::string>> PreferDevices(
    const DeviceSet& devices, const v1beta1::ContainerPreferredAllocationRequest& request) {
  const std::string resource(Info(devices.kind()).name);
  if (request.allocation_size() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("allocation_size ", request.allocation_size(),
                                                   " for resource ", resource, " is not positive"));
  }
  const size_t size = static_cast<size_t>(request.allocation_size());
  if (static_cast<size_t>(request.must_include_deviceids_size()) > size) {
    return absl::InvalidArgumentError(absl::StrCat(
        request.must_include_deviceids_size(), " must-include device IDs exceed allocation_size ",
        size, " for resource ", resource));
  }
  std::vector<std::string> chosen;
  std::set<uint64_t> taken;
  std::map<int, size_t> must_per_node;  // NUMA node (-1: none) -> must-include devices there
  for (const std::string& id : request.must_include_deviceids()) {
    const DeviceRange* range = devices.Find(id);
    if (range == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown must-include device ID '", id, "' for resource ", resource));
    }
    if (taken.insert(*devices.ParseIndex(id)).second) {
      chosen.push_back(id);
      ++must_per_node[range->numa_node.value_or(-1)];
    }
  }
  // Free devices by node, each node's in index order.
  std::map<int, std::vector<uint64_t>> free_per_node;
  for (const std::string& id : request.available_deviceids()) {
    const DeviceRange* range = devices.Find(id);
    if (range == nullptr) {
      continue;
    }
    uint64_t index = *devices.ParseIndex(id);
    if (taken.count(index) == 0) {
      free_per_node[range->numa_node.value_or(-1)].push_back(index);
    }
  }
  for (auto& [node, indices] : free_per_node) {
    std::sort(indices.begin(), indices.end());
    indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  }

  size_t needed = size - chosen.size();
  // Order in which nodes are drawn from.
  std::vector<int> order;
  int home = -2;
  size_t home_count = 0;
  for (const auto& [node, count] : must_per_node) {
    if (count > home_count) {
      home = node;
      home_count = count;
    }
  }
  auto free_on = [&](int node) {
    auto found = free_per_node.find(node);
    return found == free_per_node.end() ? size_t{0} : found->second.size();
  };
  if (home != -2 && free_on(home) >= needed) {
    order.push_back(home);
  } else {
    int best = -2;
    for (const auto& [node, indices] : free_per_node) {
      if (indices.size() >= needed && (best == -2 || indices.size() < free_on(best))) {
        best = node;
      }
    }
    if (best != -2) {
      order.push_back(best);
    } else {
      // No single node can hold the request: the home node first, then the fullest nodes.
      if (home != -2) {
        order.push_back(home);
      }
      std::vector<int> rest;
      for (const auto& [node, indices] : free_per_node) {
        if (node != home) {
          rest.push_back(node);
        }
      }
      std::stable_sort(rest.begin(), rest.end(),
                       [&](int a, int b) { return free_on(a) > free_on(b); });
      order.insert(order.end(), rest.begin(), rest.end());
    }
  }
  for (int node : order) {
    auto found = free_per_node.find(node);
    if (found == free_per_node.end()) {
      continue;
    }
    for (uint64_t index : found->second) {
      if (needed == 0) {
        break;
      }
      chosen.push_back(devices.Id(index));
      --needed;
    }
  }
  return chosen;
}

}  // namespace cn::deviceplugin
