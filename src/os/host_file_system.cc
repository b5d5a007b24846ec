#include "src/os/host_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

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

std::string HostFileSystem::Describe(absl::string_view host_path) const {
  if (root_ == "/") {
    return std::string(host_path);
  }
  return absl::StrCat(host_path, " (under host root ", root_, ")");
}

absl::StatusOr<std::string> HostFileSystem::ReadFile(absl::string_view host_path) const {
  const std::string local = LocalPath(host_path);
  int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoToStatus(errno, absl::StrCat("cannot open ", Describe(host_path)));
  }
  std::string content;
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

absl::StatusOr<FileType> HostFileSystem::Stat(absl::string_view host_path) const {
  struct stat info {};
  const std::string local = LocalPath(host_path);
  if (::stat(local.c_str(), &info) != 0) {
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
  const std::string local = LocalPath(host_path);
  DIR* directory = ::opendir(local.c_str());
  if (directory == nullptr) {
    return ErrnoToStatus(errno, absl::StrCat("cannot list ", Describe(host_path)));
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
