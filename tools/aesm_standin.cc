#include "tools/aesm_standin.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cn::tools {
namespace {

std::string Errno(int error) { return std::strerror(error); }

absl::StatusOr<sockaddr_un> Address(const std::string& path) {
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": too long for a Unix socket path (max ",
                                                   sizeof(address.sun_path) - 1, " bytes)"));
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

// Whether a process accepts connections on the socket file at `address`.
bool SomeoneListens(const sockaddr_un& address) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  bool connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return connected;
}

// Makes room for our socket at `path`: nothing there, or a stale socket that is removed.
absl::Status ClearPath(const std::string& path, const sockaddr_un& address) {
  struct stat info;
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) {
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(absl::StrCat("cannot stat ", path, ": ", Errno(errno)));
  }
  if (!S_ISSOCK(info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a socket; remove it or choose another directory"));
  }
  if (SomeoneListens(address)) {
    return absl::FailedPreconditionError(
        absl::StrCat("another process already serves ", path, " (a real AESM?)"));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot remove the stale socket ", path, ": ", Errno(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<AesmStandin>> AesmStandin::Listen(const std::string& socket_dir) {
  if (socket_dir.empty()) {
    return absl::InvalidArgumentError("--socket-dir must not be empty");
  }
  std::error_code error;
  std::filesystem::create_directories(socket_dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", socket_dir, ": ", error.message()));
  }
  const std::string path = (std::filesystem::path(socket_dir) / kAesmSocketName).string();
  absl::StatusOr<sockaddr_un> address = Address(path);
  if (!address.ok()) {
    return address.status();
  }
  if (absl::Status cleared = ClearPath(path, *address); !cleared.ok()) {
    return cleared;
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket(): ", Errno(errno)));
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof(*address)) != 0) {
    int bind_error = errno;
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot bind ", path, ": ", Errno(bind_error)));
  }
  struct stat info;
  if (::chmod(path.c_str(), 0666) != 0 || ::stat(path.c_str(), &info) != 0 ||
      ::listen(fd, 64) != 0) {
    int listen_error = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return absl::FailedPreconditionError(
        absl::StrCat("cannot serve ", path, ": ", Errno(listen_error)));
  }
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    int wake_error = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return absl::InternalError(absl::StrCat("eventfd(): ", Errno(wake_error)));
  }
  return std::unique_ptr<AesmStandin>(new AesmStandin(path, fd, wake, info.st_dev, info.st_ino));
}

AesmStandin::AesmStandin(std::string socket_path, int listen_fd, int wake_fd, dev_t device,
                         ino_t inode)
    : socket_path_(std::move(socket_path)),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      device_(device),
      inode_(inode) {}

AesmStandin::~AesmStandin() {
  ::close(listen_fd_);
  ::close(wake_fd_);
  // Remove the socket only if it is still ours: a successor may have replaced it meanwhile.
  struct stat info;
  if (::lstat(socket_path_.c_str(), &info) == 0 && info.st_dev == device_ &&
      info.st_ino == inode_) {
    ::unlink(socket_path_.c_str());
  }
}

void AesmStandin::Stop() {
  const uint64_t one = 1;
  // Cannot fail short of a closed descriptor; a full counter still leaves it readable.
  [[maybe_unused]] ssize_t written = ::write(wake_fd_, &one, sizeof(one));
}

absl::Status AesmStandin::Serve() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return absl::InternalError(absl::StrCat("poll(): ", Errno(errno)));
    }
    if (fds[1].revents != 0) {
      return absl::OkStatus();
    }
    if (fds[0].revents == 0) {
      continue;
    }
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      // A client that gave up before we accepted it: keep serving. Anything else (out of
      // descriptors, say) would make poll wake again at once, so it ends the stand-in.
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED ||
          errno == EPROTO) {
        continue;
      }
      return absl::InternalError(absl::StrCat("accept on ", socket_path_, ": ", Errno(errno)));
    }
    // No answer: the client sees the connection end.
    ::shutdown(client, SHUT_RDWR);
    ::close(client);
    connections_.fetch_add(1);
  }
}

}  // namespace cn::tools
