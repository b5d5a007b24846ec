#pragma once

// TempDir: a real directory under $TMPDIR (or /tmp) for fixtures that must exist on disk:
// host roots for HostFileSystem, kubelet plugin directories with Unix sockets. Removed with
// everything in it when the object is destroyed.

#include <string>

#include "absl/strings/string_view.h"

namespace cn::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  // Writes `content` at path()/relative, creating parent directories. Aborts on failure: a
  // fixture that cannot be built is a broken test, not an input error.
  std::string WriteFile(absl::string_view relative, absl::string_view content) const;
  std::string MakeDirectory(absl::string_view relative) const;
  // Binds a listening Unix socket at path()/relative and closes it (the socket file remains), as
  // a daemon that created its socket would leave it.
  std::string MakeSocketFile(absl::string_view relative) const;
  // Creates a symbolic link at path()/relative whose target is `target`, verbatim (absolute
  // targets are not rebased under path()).
  std::string MakeSymlink(absl::string_view relative, absl::string_view target) const;
  void Remove(absl::string_view relative) const;

 private:
  std::string path_;
};

}  // namespace cn::testing
