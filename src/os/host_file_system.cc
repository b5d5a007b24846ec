#include "src/os/host_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace cn::os {
namespace {

absl::Status ErrnoToStatus(int error, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::UnavailableError(message);
  }
}

// Closes `fd` leaving errno as it was: callers report the errno of the call before this one.
void CloseKeepingErrno(int fd) {
  int saved = errno;
  ::close(fd);
  errno = saved;
}

// openat2(2) has no glibc wrapper in Debian 12.
int OpenAt2(int directory_fd, const char* path, uint64_t flags, uint64_t resolve) {
  struct open_how how {};
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, directory_fd, path, &how, sizeof(how)));
}

}  // namespace

absl::string_view FileTypeName(FileType type) {
  switch (type) {
    case FileType::kRegular:
      return "regular file";
    case FileType::kDirectory:
      return "directory";
    case FileType::kCharacterDevice:
      return "character device";
    case FileType::kSocket:
      return "socket";
    case FileType::kOther:
      return "other file type";
  }
  return "unknown";
}

absl::StatusOr<std::string> FileSystem::ReadFileRange(absl::string_view host_path, uint64_t offset,
                                                      size_t length) const {
  absl::StatusOr<std::string> content = ReadFile(host_path);
  if (!content.ok()) {
    return content.status();
  }
  if (offset >= content->size()) {
    return std::string();
  }
  return content->substr(static_cast<size_t>(offset), length);
}

absl::Status FileSystem::WriteFile(absl::string_view host_path, absl::string_view) const {
  return absl::UnimplementedError(
      absl::StrCat("cannot write ", host_path, ": this file system is read-only"));
}

std::string JoinPath(absl::string_view directory, absl::string_view name) {
  absl::string_view base = directory;
  while (absl::ConsumeSuffix(&base, "/")) {
  }
  absl::string_view tail = name;
  while (absl::ConsumePrefix(&tail, "/")) {
  }
  return absl::StrCat(base, "/", tail);
}

HostFileSystem::HostFileSystem(std::string root) : root_(root.empty() ? "/" : std::move(root)) {}

std::string HostFileSystem::LocalPath(absl::string_view host_path) const {
  if (root_ == "/") {
    return std::string(host_path);
  }
  return JoinPath(root_, host_path);
}

int HostFileSystem::Open(absl::string_view host_path, int flags) const {
  flags |= O_CLOEXEC;
  if (root_ != "/") {
    // Resolve the path as if root_ were "/": an absolute symbolic link such as
    // /dev/sgx/enclave -> /dev/sgx_enclave (or a chain of ".." ) then stays under the host root,
    // as it does on the host, instead of landing on this process's own file system.
    int root_fd = ::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
      return -1;
    }
    absl::Cleanup close_root = [root_fd] { CloseKeepingErrno(root_fd); };
    absl::string_view relative = host_path;
    while (absl::ConsumePrefix(&relative, "/")) {
    }
    const std::string path = relative.empty() ? "." : std::string(relative);
    int fd = -1;
    // EAGAIN: a rename raced with resolving ".."; the kernel asks the caller to try again.
    for (int attempt = 0; attempt < 8; ++attempt) {
      fd = OpenAt2(root_fd, path.c_str(), static_cast<uint64_t>(flags),
                   RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
      if (fd >= 0 || errno != EAGAIN) {
        break;
      }
    }
    // Kernels before 5.6, or a seccomp profile that refuses openat2, leave plain path joining.
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) {
      return fd;
    }
  }
  return ::open(LocalPath(host_path).c_str(), flags);
}

std::string HostFileSystem::Describe(absl::string_view host_path) const {
  if (root_ == "/") {
    return std::string(host_path);
  }
  return absl::StrCat(host_path, " (under host root ", root_, ")");
}

absl::StatusOr<std::string> HostFileSystem::ReadFile(absl::string_view host_path) const {
  int fd = Open(host_path, O_RDONLY);
  if (fd < 0) {
    return ErrnoToStatus(errno, absl::StrCat("cannot open ", Describe(host_path)));
  }
  std::string content;
  // Reserving the size (when stat knows it; sysfs and cgroup files say 4096 or 0) spares a
  // multi-megabyte file the doubling growth, which would briefly hold it twice.
  struct stat info {};
  if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && info.st_size > 0) {
    content.reserve(static_cast<size_t>(info.st_size));
  }
  char buffer[65536];
  while (true) {
    ssize_t count = ::read(fd, buffer, sizeof(buffer));
    if (count < 0) {
      if (errno == EINTR) {
        continue;
      }
      int error = errno;
      ::close(fd);
      return ErrnoToStatus(error, absl::StrCat("cannot read ", Describe(host_path)));
    }
    if (count == 0) {
      break;
    }
    content.append(buffer, static_cast<size_t>(count));
  }
  ::close(fd);
  return content;
}

absl::StatusOr<std::string> HostFileSystem::ReadFileRange(absl::string_view host_path,
                                                          uint64_t offset, size_t length) const {
  int fd = Open(host_path, O_RDONLY);
  if (fd < 0) {
    return ErrnoToStatus(errno, absl::StrCat("cannot open ", Describe(host_path)));
  }
  absl::Cleanup close_fd = [fd] { CloseKeepingErrno(fd); };
  std::string content(length, '\0');
  size_t filled = 0;
  while (filled < length) {
    ssize_t count =
        ::pread(fd, content.data() + filled, length - filled, static_cast<off_t>(offset + filled));
    if (count < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoToStatus(errno, absl::StrCat("cannot read ", Describe(host_path)));
    }
    if (count == 0) {
      break;
    }
    filled += static_cast<size_t>(count);
  }
  content.resize(filled);
  return content;
}

absl::Status HostFileSystem::WriteFile(absl::string_view host_path,
                                       absl::string_view content) const {
  // O_NONBLOCK: a FIFO put where a control file should be fails at once instead of hanging.
  int fd = Open(host_path, O_WRONLY | O_TRUNC | O_NONBLOCK);
  if (fd < 0) {
    return ErrnoToStatus(errno, absl::StrCat("cannot open ", Describe(host_path), " for writing"));
  }
  absl::Cleanup close_fd = [fd] { CloseKeepingErrno(fd); };
  ssize_t written;
  do {
    written = ::write(fd, content.data(), content.size());
  } while (written < 0 && errno == EINTR);
  if (written < 0) {
    return ErrnoToStatus(errno, absl::StrCat("cannot write ", Describe(host_path)));
  }
  if (static_cast<size_t>(written) != content.size()) {
    return absl::DataLossError(absl::StrCat("cannot write ", Describe(host_path), ": wrote ",
                                            written, " of ", content.size(), " bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<FileType> HostFileSystem::Stat(absl::string_view host_path) const {
  // O_PATH: a device node is looked at, never opened.
  int fd = Open(host_path, O_PATH);
  if (fd < 0) {
    return ErrnoToStatus(errno, absl::StrCat("cannot stat ", Describe(host_path)));
  }
  absl::Cleanup close_fd = [fd] { CloseKeepingErrno(fd); };
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("cannot stat ", Describe(host_path)));
  }
  if (S_ISREG(info.st_mode)) {
    return FileType::kRegular;
  }
  if (S_ISDIR(info.st_mode)) {
    return FileType::kDirectory;
  }
  if (S_ISCHR(info.st_mode)) {
    return FileType::kCharacterDevice;
  }
  if (S_ISSOCK(info.st_mode)) {
    return FileType::kSocket;
  }
  return FileType::kOther;
}

absl::StatusOr<std::vector<std::string>> HostFileSystem::ListDirectory(
    absl::string_view host_path) const {
  int fd = Open(host_path, O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    return ErrnoToStatus(errno, absl::StrCat("cannot list ", Describe(host_path)));
  }
  DIR* directory = ::fdopendir(fd);  // owns fd from here
  if (directory == nullptr) {
    int error = errno;
    ::close(fd);
    return ErrnoToStatus(error, absl::StrCat("cannot list ", Describe(host_path)));
  }
  std::vector<std::string> names;
  while (struct dirent* entry = ::readdir(directory)) {
    absl::string_view name = entry->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  ::closedir(directory);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace cn::os
