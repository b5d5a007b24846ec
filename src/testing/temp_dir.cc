#include "src/testing/temp_dir.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "src/common/check.h"

namespace cn::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/cn-XXXXXX");
  CN_CHECK(::mkdtemp(pattern.data()) != nullptr);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::MakeDirectory(absl::string_view relative) const {
  std::string full = absl::StrCat(path_, "/", relative);
  std::filesystem::create_directories(full);
  return full;
}

std::string TempDir::WriteFile(absl::string_view relative, absl::string_view content) const {
  std::filesystem::path full = absl::StrCat(path_, "/", relative);
  std::filesystem::create_directories(full.parent_path());
  std::ofstream out(full, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  CN_CHECK(out.good());
  return full.string();
}

std::string TempDir::MakeSocketFile(absl::string_view relative) const {
  std::filesystem::path full = absl::StrCat(path_, "/", relative);
  std::filesystem::create_directories(full.parent_path());
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  CN_CHECK(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string text = full.string();
  CN_CHECK(text.size() < sizeof(address.sun_path));
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  CN_CHECK(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  ::close(fd);
  return text;
}

std::string TempDir::MakeSymlink(absl::string_view relative, absl::string_view target) const {
  std::filesystem::path full = absl::StrCat(path_, "/", relative);
  std::filesystem::create_directories(full.parent_path());
  std::filesystem::create_symlink(std::string(target), full);
  return full.string();
}

void TempDir::Remove(absl::string_view relative) const {
  std::error_code ignored;
  std::filesystem::remove_all(absl::StrCat(path_, "/", relative), ignored);
}

}  // namespace cn::testing
