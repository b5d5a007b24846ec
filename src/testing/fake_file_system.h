#pragma once

// FakeFileSystem: an in-memory FileSystem for unit tests. Files, directories, character devices
// and sockets are added by host path; parent directories appear implicitly.
//
// Thread safety: add everything before sharing it; reads are then safe from several threads.

#include <map>
#include <string>

#include "src/os/file_system.h"

namespace cn::testing {

class FakeFileSystem : public os::FileSystem {
 public:
  FakeFileSystem& AddFile(absl::string_view host_path, absl::string_view content);
  FakeFileSystem& AddCharacterDevice(absl::string_view host_path);
  FakeFileSystem& AddSocket(absl::string_view host_path);
  FakeFileSystem& AddDirectory(absl::string_view host_path);
  // A path that exists but cannot be read (ReadFile returns PermissionDenied).
  FakeFileSystem& AddUnreadable(absl::string_view host_path);
  FakeFileSystem& Remove(absl::string_view host_path);

  absl::StatusOr<std::string> ReadFile(absl::string_view host_path) const override;
  absl::StatusOr<os::FileType> Stat(absl::string_view host_path) const override;
  absl::StatusOr<std::vector<std::string>> ListDirectory(
      absl::string_view host_path) const override;
  std::string LocalPath(absl::string_view host_path) const override;

 private:
  struct Entry {
    os::FileType type = os::FileType::kRegular;
    std::string content;
    bool readable = true;
  };
  void AddParents(absl::string_view host_path);

  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace cn::testing
