#include "src/os/file_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"

namespace cn::os {
namespace {

absl::Status OsError(absl::string_view what) {
  int error = errno;
  std::string message = absl::StrCat(what, ": ", std::strerror(error));
  if (error == ENOENT || error == ENOTDIR) {
    return absl::NotFoundError(message);
  }
  return absl::UnavailableError(message);
}

class InotifyFileWatcher : public FileWatcher {
 public:
  InotifyFileWatcher(int inotify_fd, int wake_fd) : inotify_fd_(inotify_fd), wake_fd_(wake_fd) {}
  ~InotifyFileWatcher() override {
    ::close(inotify_fd_);
    ::close(wake_fd_);
  }

  absl::Status Watch(absl::string_view local_directory) override {
    std::string path(local_directory);
    for (const auto& [descriptor, watched] : directories_) {
      if (watched == path) {
        return absl::OkStatus();
      }
    }
    constexpr uint32_t kMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                               IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
    int descriptor = ::inotify_add_watch(inotify_fd_, path.c_str(), kMask);
    if (descriptor < 0) {
      return OsError(absl::StrCat("cannot watch directory ", path));
    }
    directories_[descriptor] = path;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<FileEvent>> Wait(absl::Duration timeout) override {
    pollfd descriptors[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int64_t milliseconds = absl::ToInt64Milliseconds(timeout);
    if (milliseconds < 0) {
      milliseconds = 0;
    }
    int ready = ::poll(descriptors, 2, static_cast<int>(std::min<int64_t>(milliseconds, 1 << 30)));
    if (ready < 0) {
      if (errno == EINTR) {
        return std::vector<FileEvent>();
      }
      return OsError("cannot wait for file events");
    }
    if ((descriptors[1].revents & POLLIN) != 0) {
      uint64_t count = 0;
      // The counter only needs resetting; a short read cannot happen on an eventfd.
      [[maybe_unused]] ssize_t ignored = ::read(wake_fd_, &count, sizeof(count));
    }
    std::vector<FileEvent> events;
    if ((descriptors[0].revents & POLLIN) != 0) {
      if (absl::Status status = ReadEvents(events); !status.ok()) {
        return status;
      }
    }
    return events;
  }

  void Wake() override {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t ignored = ::write(wake_fd_, &one, sizeof(one));
  }

 private:
  absl::Status ReadEvents(std::vector<FileEvent>& events) {
    alignas(inotify_event) char buffer[16384];
    ssize_t length = ::read(inotify_fd_, buffer, sizeof(buffer));
    if (length < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return absl::OkStatus();
      }
      return OsError("cannot read file events");
    }
    for (ssize_t offset = 0; offset < length;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if ((event->mask & IN_Q_OVERFLOW) != 0) {
        // Events were dropped: report every directory as lost so the owner rechecks them all.
        for (const auto& [descriptor, path] : directories_) {
          events.push_back({FileEvent::Kind::kWatchLost, path, ""});
        }
        continue;
      }
      auto found = directories_.find(event->wd);
      if (found == directories_.end()) {
        continue;
      }
      if ((event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) != 0) {
        events.push_back({FileEvent::Kind::kWatchLost, found->second, ""});
        if ((event->mask & IN_MOVE_SELF) != 0) {
          // The directory lives on under another name; stop following it there. The kernel
          // answers with IN_IGNORED, which forgets the descriptor below.
          ::inotify_rm_watch(inotify_fd_, event->wd);
        }
        if ((event->mask & IN_IGNORED) != 0) {
          directories_.erase(found);
        }
        continue;
      }
      std::string name = event->len > 0 ? std::string(event->name) : std::string();
      if ((event->mask & (IN_CREATE | IN_MOVED_TO)) != 0) {
        events.push_back({FileEvent::Kind::kCreated, found->second, std::move(name)});
      } else if ((event->mask & (IN_DELETE | IN_MOVED_FROM)) != 0) {
        events.push_back({FileEvent::Kind::kDeleted, found->second, std::move(name)});
      }
    }
    return absl::OkStatus();
  }

  const int inotify_fd_;
  const int wake_fd_;
  std::map<int, std::string> directories_;  // watch descriptor -> local path
};

}  // namespace

absl::StatusOr<std::unique_ptr<FileWatcher>> NewInotifyFileWatcher() {
  int inotify_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd < 0) {
    return OsError("cannot create an inotify instance");
  }
  int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    absl::Status status = OsError("cannot create an eventfd");
    ::close(inotify_fd);
    return status;
  }
  return std::unique_ptr<FileWatcher>(new InotifyFileWatcher(inotify_fd, wake_fd));
}

}  // namespace cn::os
