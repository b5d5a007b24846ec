#include "src/sgx/host_watch.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/sgx/platform.h"

namespace cn::sgx {

std::vector<std::string> PlatformWatchDirectories() {
  return {"/dev", "/dev/sgx", std::string(kAesmDirectory)};
}

bool IsPlatformEntry(absl::string_view host_directory, absl::string_view name) {
  if (host_directory != "/dev") {
    return true;  // /dev/sgx and the AESM directory hold nothing else
  }
  return name == "sgx_enclave" || name == "sgx_provision" || name == "sgx" || name == "isgx";
}

absl::StatusOr<std::unique_ptr<os::Cpuid>> OpenCpuid(const os::FileSystem& local,
                                                     const std::string& cpuid_file) {
  if (cpuid_file.empty()) {
    return std::make_unique<os::X86Cpuid>();
  }
  absl::StatusOr<std::string> text = local.ReadFile(cpuid_file);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--cpuid-file: ", text.status().message()));
  }
  absl::StatusOr<std::unique_ptr<os::TableCpuid>> table = os::ParseCpuidTable(*text, cpuid_file);
  if (!table.ok()) {
    return table.status();
  }
  return std::unique_ptr<os::Cpuid>(*std::move(table));
}

}  // namespace cn::sgx
