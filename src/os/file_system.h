#pragma once

// FileSystem: the only way our code reads (and, in one place, writes) the host's files.
//
// Every path given to a FileSystem is a *host path* (absolute, as the host names it, for example
// "/dev/sgx_enclave"). The real implementation maps it under a host root (--host-root) so that a
// fixture directory can stand in for a whole machine; fakes keep files in memory. Callers never
// join roots themselves, so the host path they report is always the one the kubelet must see.
//
// Thread safety: implementations are safe to call from several threads at once.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cn::os {

enum class FileType { kRegular, kDirectory, kCharacterDevice, kSocket, kOther };

// Returns a lower-case word for the type ("regular file", "character device", ...).
absl::string_view FileTypeName(FileType type);

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // The whole content of a regular file. NotFound when it does not exist; another error (with
  // the host path and the OS reason) when it exists but cannot be read.
  virtual absl::StatusOr<std::string> ReadFile(absl::string_view host_path) const = 0;

  // What kind of object is at the path, without following a final symbolic link's target
  // beyond what stat(2) does (i.e. links are followed). NotFound when nothing is there.
  virtual absl::StatusOr<FileType> Stat(absl::string_view host_path) const = 0;

  // Names (not paths) of the entries in a directory, sorted, without "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> ListDirectory(
      absl::string_view host_path) const = 0;

  // Up to `length` bytes of a regular file from `offset` (fewer at its end, none past it), for
  // reading a large file piece by piece. Errors as ReadFile. The default reads the whole file
  // and cuts it, which is right for in-memory fakes.
  virtual absl::StatusOr<std::string> ReadFileRange(absl::string_view host_path, uint64_t offset,
                                                    size_t length) const;

  // Replaces the content of an existing file with `content` in one write(2), as control files
  // of the kernel (cgroup interface files) expect. Never creates a file: NotFound when nothing
  // is there, PermissionDenied (or the OS's own reason) when it cannot be opened for writing,
  // naming the host path. The default refuses every write (Unimplemented), so that read-only
  // implementations need not care; only code that owns a write (EPC limits in pod cgroups)
  // calls it.
  virtual absl::Status WriteFile(absl::string_view host_path, absl::string_view content) const;

  // Where a host path lives for this file system's own process (the root joined with the path
  // for the real implementation). Used only to hand paths to APIs that need a real path, such as
  // inotify or bind(2); fakes return the host path unchanged.
  virtual std::string LocalPath(absl::string_view host_path) const = 0;
};

// Joins a directory host path and an entry name with exactly one '/'.
std::string JoinPath(absl::string_view directory, absl::string_view name);

}  // namespace cn::os
