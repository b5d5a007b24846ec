#pragma once

// FakeFileSystem: an in-memory FileSystem for unit tests. Files, directories, character devices
// and sockets are added by host path; parent directories appear implicitly.
//
// Thread safety: add everything before sharing it; reads and WriteFile are then safe from
// several threads (WriteFile changes only the content of existing files, under a lock).

#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
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
  // A file that can be read but not written (WriteFile returns PermissionDenied).
  FakeFileSystem& AddUnwritable(absl::string_view host_path, absl::string_view content);
  FakeFileSystem& Remove(absl::string_view host_path);
  // How many WriteFile calls succeeded on the path.
  int WriteCount(absl::string_view host_path) const;

  absl::StatusOr<std::string> ReadFile(absl::string_view host_path) const override;
  absl::StatusOr<os::FileType> Stat(absl::string_view host_path) const override;
  absl::StatusOr<std::vector<std::string>> ListDirectory(
      absl::string_view host_path) const override;
  absl::Status WriteFile(absl::string_view host_path, absl::string_view content) const override;
  std::string LocalPath(absl::string_view host_path) const override;

 private:
  struct Entry {
    os::FileType type = os::FileType::kRegular;
    std::string content;
    bool readable = true;
    bool writable = true;
    int writes = 0;
  };
  void AddParents(absl::string_view host_path);

  mutable absl::Mutex mutex_;
  // Mutable for WriteFile, which is const like every FileSystem call.
  mutable std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace cn::testing
