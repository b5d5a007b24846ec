#pragma once

// HostFileSystem: the real FileSystem, reading host paths under a root directory.
//
// With root "/" it reads the machine itself; with root "/tmp/fixture" the host path
// "/dev/sgx_enclave" is read at "/tmp/fixture/dev/sgx_enclave". Errors name the host path and,
// when the root is not "/", the root too.
//
// Under a root other than "/", paths are resolved as the host would resolve them: symbolic links
// (absolute ones and ".." chains alike) stay inside the root, through openat2(2) with
// RESOLVE_IN_ROOT. Where the kernel or a seccomp profile refuses openat2, the path is simply
// joined to the root and an absolute link is followed on this process's own file system.

#include <string>

#include "src/os/file_system.h"

namespace cn::os {

class HostFileSystem : public FileSystem {
 public:
  // `root` is an existing directory; "" means "/".
  explicit HostFileSystem(std::string root);

  absl::StatusOr<std::string> ReadFile(absl::string_view host_path) const override;
  absl::StatusOr<FileType> Stat(absl::string_view host_path) const override;
  absl::StatusOr<std::vector<std::string>> ListDirectory(
      absl::string_view host_path) const override;
  absl::StatusOr<std::string> ReadFileRange(absl::string_view host_path, uint64_t offset,
                                            size_t length) const override;
  // Opens with O_WRONLY | O_TRUNC (never O_CREAT; O_NONBLOCK) and writes everything in one call.
  absl::Status WriteFile(absl::string_view host_path, absl::string_view content) const override;
  std::string LocalPath(absl::string_view host_path) const override;

  const std::string& root() const { return root_; }

 private:
  std::string Describe(absl::string_view host_path) const;
  // open(2) of a host path (O_CLOEXEC added); -1 with errno set on failure.
  int Open(absl::string_view host_path, int flags) const;

  std::string root_;
};

}  // namespace cn::os
