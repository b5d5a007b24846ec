#include "src/testing/fake_file_system.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cn::testing {

void FakeFileSystem::AddParents(absl::string_view host_path) {
  for (size_t slash = host_path.find('/', 1); slash != absl::string_view::npos;
       slash = host_path.find('/', slash + 1)) {
    entries_[std::string(host_path.substr(0, slash))] = Entry{os::FileType::kDirectory, "", true};
  }
  entries_["/"] = Entry{os::FileType::kDirectory, "", true};
}

FakeFileSystem& FakeFileSystem::AddFile(absl::string_view host_path, absl::string_view content) {
  AddParents(host_path);
  entries_[std::string(host_path)] = Entry{os::FileType::kRegular, std::string(content), true};
  return *this;
}

FakeFileSystem& FakeFileSystem::AddCharacterDevice(absl::string_view host_path) {
  AddParents(host_path);
  entries_[std::string(host_path)] = Entry{os::FileType::kCharacterDevice, "", true};
  return *this;
}

FakeFileSystem& FakeFileSystem::AddSocket(absl::string_view host_path) {
  AddParents(host_path);
  entries_[std::string(host_path)] = Entry{os::FileType::kSocket, "", true};
  return *this;
}

FakeFileSystem& FakeFileSystem::AddDirectory(absl::string_view host_path) {
  AddParents(host_path);
  entries_[std::string(host_path)] = Entry{os::FileType::kDirectory, "", true};
  return *this;
}

FakeFileSystem& FakeFileSystem::AddUnreadable(absl::string_view host_path) {
  AddParents(host_path);
  entries_[std::string(host_path)] = Entry{os::FileType::kRegular, "", false};
  return *this;
}

FakeFileSystem& FakeFileSystem::AddUnwritable(absl::string_view host_path,
                                              absl::string_view content) {
  AddFile(host_path, content);
  entries_[std::string(host_path)].writable = false;
  return *this;
}

int FakeFileSystem::WriteCount(absl::string_view host_path) const {
  absl::MutexLock lock(&mutex_);
  auto found = entries_.find(host_path);
  return found == entries_.end() ? 0 : found->second.writes;
}

absl::Status FakeFileSystem::WriteFile(absl::string_view host_path,
                                       absl::string_view content) const {
  absl::MutexLock lock(&mutex_);
  auto found = entries_.find(host_path);
  if (found == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("cannot open ", host_path, ": no such file"));
  }
  if (found->second.type != os::FileType::kRegular) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", host_path, " for writing: not a regular file"));
  }
  if (!found->second.writable) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open ", host_path, " for writing: permission denied"));
  }
  found->second.content = std::string(content);
  ++found->second.writes;
  return absl::OkStatus();
}

FakeFileSystem& FakeFileSystem::Remove(absl::string_view host_path) {
  entries_.erase(std::string(host_path));
  return *this;
}

absl::StatusOr<std::string> FakeFileSystem::ReadFile(absl::string_view host_path) const {
  absl::MutexLock lock(&mutex_);
  auto found = entries_.find(host_path);
  if (found == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("cannot open ", host_path, ": no such file"));
  }
  if (!found->second.readable) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open ", host_path, ": permission denied"));
  }
  if (found->second.type == os::FileType::kDirectory) {
    return absl::UnavailableError(absl::StrCat("cannot read ", host_path, ": is a directory"));
  }
  return found->second.content;
}

absl::StatusOr<os::FileType> FakeFileSystem::Stat(absl::string_view host_path) const {
  auto found = entries_.find(host_path);
  if (found == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("cannot stat ", host_path, ": no such file"));
  }
  return found->second.type;
}

absl::StatusOr<std::vector<std::string>> FakeFileSystem::ListDirectory(
    absl::string_view host_path) const {
  auto found = entries_.find(host_path);
  if (found == entries_.end() || found->second.type != os::FileType::kDirectory) {
    return absl::NotFoundError(absl::StrCat("cannot list ", host_path, ": no such directory"));
  }
  std::string prefix = host_path == "/" ? "/" : absl::StrCat(host_path, "/");
  std::vector<std::string> names;
  for (auto it = entries_.upper_bound(prefix); it != entries_.end(); ++it) {
    if (!absl::StartsWith(it->first, prefix)) {
      break;
    }
    absl::string_view rest = absl::string_view(it->first).substr(prefix.size());
    if (!rest.empty() && rest.find('/') == absl::string_view::npos) {
      names.emplace_back(rest);
    }
  }
  return names;
}

std::string FakeFileSystem::LocalPath(absl::string_view host_path) const {
  return std::string(host_path);
}

}  // namespace cn::testing
