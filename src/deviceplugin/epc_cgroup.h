#pragma once

// EPC limits in pod cgroups: where the kubelet puts a pod's cgroup, and the misc controller's
// files in it (cgroup v2; the "sgx_epc" resource exists only on kernels with the EPC cgroup,
// DESIGN.md section 3).
//
// Pod cgroups, by the kubelet's cgroup driver and the pod's QoS class (kubelet defaults:
// --cgroup-root=/, --cgroups-per-qos=true):
//   cgroupfs  /sys/fs/cgroup/kubepods/pod<uid>                     (Guaranteed)
//             /sys/fs/cgroup/kubepods/{burstable,besteffort}/pod<uid>
//   systemd   /sys/fs/cgroup/kubepods.slice/kubepods-pod<uid_>.slice
//             /sys/fs/cgroup/kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice
// where <uid_> is the UID with '-' replaced by '_' (systemd reserves '-' for the hierarchy).
// The plugin learns neither the driver nor the QoS class, so it looks for all six; a UID lives
// in at most one of them.
//
// What is written, and only there: "sgx_epc <bytes>" into misc.max of a pod cgroup that exists
// (files are never created; see FileSystem::WriteFile). Nothing else on the host is written.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/os/file_system.h"

namespace cn::deviceplugin {

inline constexpr absl::string_view kCgroupRoot = "/sys/fs/cgroup";

// True when `uid` looks like a Kubernetes pod UID: 1..64 characters of [0-9a-fA-F-]. Anything
// else (a '/', "..") is refused before it can become part of a path.
bool IsPlausiblePodUid(absl::string_view uid);

// The host paths where the pod's cgroup may be, cgroupfs layouts first.
std::vector<std::string> PodCgroupCandidates(absl::string_view uid);

// The pod's cgroup directory. InvalidArgument for an implausible UID; NotFound, listing where
// it looked, when none of the candidates is a directory.
absl::StatusOr<std::string> FindPodCgroup(const os::FileSystem& host, absl::string_view uid);

// The value of `key` in a flat-keyed cgroup file ("key value" lines). nullopt when absent.
std::optional<std::string> FlatKeyedValue(absl::string_view content, absl::string_view key);

// Makes misc.max of `cgroup` say "sgx_epc <bytes>". Reads it first and writes only when the
// value differs, so a steady state writes nothing. Returns whether it wrote. Errors name the
// file: NotFound when misc.max is missing (the misc controller is not enabled for the pod's
// parent), PermissionDenied (or the OS's reason) when it cannot be written, InvalidArgument
// when misc.max exists but has no sgx_epc line (the kernel cannot limit EPC there).
absl::StatusOr<bool> ApplyEpcLimit(const os::FileSystem& host, absl::string_view cgroup,
                                   uint64_t bytes);

struct EpcUsage {
  uint64_t current_bytes = 0;  // "sgx_epc" in misc.current
  uint64_t limit_hits = 0;     // "sgx_epc.max" in misc.events: charges refused at the limit
};

// Reads misc.current and misc.events of `cgroup`. A missing line reads as 0 (the kernel lists
// a resource's events only once it has any on some kernels); a missing file or a value that is
// not a number is an error naming the file.
absl::StatusOr<EpcUsage> ReadEpcUsage(const os::FileSystem& host, absl::string_view cgroup);

}  // namespace cn::deviceplugin
