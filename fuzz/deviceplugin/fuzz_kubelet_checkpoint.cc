// Feeds arbitrary text to the kubelet checkpoint reader. Invariants: it never crashes or
// throws, a refusal is InvalidArgument naming the source, and an entry without devices has no
// smallest ID.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/match.h"
#include "src/deviceplugin/kubelet_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto entries = cn::deviceplugin::ParseKubeletCheckpoint(text, "fuzz");
  if (!entries.ok()) {
    if (entries.status().code() != absl::StatusCode::kInvalidArgument ||
        !absl::StartsWith(entries.status().message(), "fuzz:")) {
      std::abort();
    }
    return 0;
  }
  for (const auto& entry : *entries) {
    if (entry.devices == 0 && !entry.first_device.empty()) {
      std::abort();
    }
  }
  return 0;
}
