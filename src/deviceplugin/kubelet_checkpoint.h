#pragma once

// The kubelet's device-manager checkpoint (<kubelet dir>/kubelet_internal_checkpoint): the one
// place on a node that ties a pod UID to the device IDs it holds.
//
// Why it is needed: PodResources List names namespace, pod and container but not the pod UID,
// and the UID is what names the pod's cgroup (enforcement). The kubelet rewrites the file after
// every allocation, so an allocation is in it before its container starts. The file is kubelet
// internals, not an API; the plugin reads only what it needs, never writes it, and uses it only
// for enforcement: accounting comes from the PodResources API alone.
//
// Format (kubelet 1.20, JSON): {"Data": {"PodDeviceEntries": [{"PodUID", "ContainerName",
// "ResourceName", "DeviceIDs", "AllocResp"}, ...], "RegisteredDevices": {...}}, "Checksum": N}.
// DeviceIDs is {"<NUMA node>": [IDs]} since 1.20 and a plain [IDs] before; both are read.
//
// Memory: RegisteredDevices lists every device of every resource (131,072 EPC IDs at 128 GiB),
// so the file is read in 64 KiB pieces and parsed as a stream (nlohmann's SAX interface); only
// the entries are kept, each reduced to its device count and smallest ID, and reading stops
// once the PodDeviceEntries list has ended (the kubelet writes it first). What follows it is
// not looked at: the kubelet checks its own checksum; the plugin needs only the entries.
// Device IDs are exclusive to one container, so (resource, container name, smallest ID,
// count) identifies an allocation.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/os/file_system.h"

namespace cn::deviceplugin {

inline constexpr absl::string_view kKubeletCheckpointName = "kubelet_internal_checkpoint";

struct CheckpointEntry {
  std::string pod_uid;
  std::string container;
  std::string resource;
  uint64_t devices = 0;
  std::string first_device;  // the smallest device ID (string order)
};

// Parses the checkpoint's text. InvalidArgument naming `source` and the byte offset for text
// that is not JSON, or entries whose fields have the wrong types; unknown keys are ignored.
absl::StatusOr<std::vector<CheckpointEntry>> ParseKubeletCheckpoint(absl::string_view text,
                                                                    absl::string_view source);

// The same, reading `path` through `file_system` piece by piece. Read errors keep their code.
absl::StatusOr<std::vector<CheckpointEntry>> ReadKubeletCheckpoint(
    const os::FileSystem& file_system, absl::string_view path);

}  // namespace cn::deviceplugin
