// Feeds arbitrary text to the --cpuid-file parser, then decodes whatever table it accepted.
// Invariants checked: a parse either fails with InvalidArgument naming the source, or yields a
// table from which feature and EPC decoding never read out of bounds or produce impossible
// sections.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "src/os/cpuid.h"
#include "src/sgx/platform.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto table = cn::os::ParseCpuidTable(text, "fuzz");
  if (!table.ok()) {
    if (table.status().code() != absl::StatusCode::kInvalidArgument ||
        table.status().message().substr(0, 5) != "fuzz:") {
      std::abort();
    }
    return 0;
  }
  cn::sgx::CpuFeatures features = cn::sgx::DecodeCpuFeatures(**table);
  if (features.max_enclave_size_64 < 0 || features.max_enclave_size_64 > 255) {
    std::abort();
  }
  auto sections = cn::sgx::DecodeEpcSections(**table);
  if (sections.size() > 8) {
    std::abort();
  }
  for (const auto& section : sections) {
    if ((section.base & 0xFFF) != 0 || (section.size & 0xFFF) != 0 ||
        section.base >= (uint64_t{1} << 52) || section.size >= (uint64_t{1} << 52)) {
      std::abort();
    }
  }
  return 0;
}
