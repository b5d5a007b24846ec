#pragma once

// FileWatcher: the only way our code learns that files appeared or disappeared.
//
// The device plugin must notice within a second that the SGX device node vanished, that the
// kubelet recreated kubelet.sock or that our own socket was deleted. Polling with stat(2) would
// either be slow or burn CPU; the kernel's inotify tells us at once. This interface keeps inotify
// behind a seam so that the logic above it can be driven by a fake in tests.
//
// Directories are watched, not files: a file that does not exist yet cannot be watched, and the
// events we care about (create, delete, rename) are reported on the containing directory.
// Paths are *local* paths (what this process can open; see FileSystem::LocalPath).
//
// Thread safety: Watch and Wait are called from one thread (the owner's event loop); Wake may
// be called from any thread, including while Wait blocks.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cn::os {

struct FileEvent {
  enum class Kind {
    kCreated,   // an entry appeared (created, or renamed into the directory)
    kDeleted,   // an entry disappeared (deleted, or renamed away)
    kWatchLost  // the watched directory itself is gone; Watch it again once it is back
  };
  Kind kind = Kind::kCreated;
  std::string directory;  // the local path given to Watch
  std::string name;       // entry name inside `directory`; empty for kWatchLost
};

class FileWatcher {
 public:
  virtual ~FileWatcher() = default;

  // Starts watching a directory for entries appearing and disappearing. Watching a directory
  // that is already watched is a no-op. NotFound when the directory does not exist (callers
  // retry later); another error when the kernel refuses (for example, out of watches).
  virtual absl::Status Watch(absl::string_view local_directory) = 0;

  // Blocks until at least one event is available, Wake() is called, or `timeout` passes, and
  // returns the events gathered so far (empty after a timeout or a wake-up). An error means
  // the watcher itself broke; it names the OS reason.
  virtual absl::StatusOr<std::vector<FileEvent>> Wait(absl::Duration timeout) = 0;

  // Makes a blocked (or the next) Wait return early. Safe from any thread.
  virtual void Wake() = 0;
};

// The Linux implementation, on inotify plus an eventfd for Wake. Fails when the kernel refuses
// to create either descriptor, naming the reason.
absl::StatusOr<std::unique_ptr<FileWatcher>> NewInotifyFileWatcher();

}  // namespace cn::os
