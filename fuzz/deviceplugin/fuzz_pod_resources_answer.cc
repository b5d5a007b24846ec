// Feeds arbitrary bytes to the PodResources answer walker. Invariants: it never crashes, and
// what it accepts is consistent: every holding is labelled, counts at least one device, and its
// smallest ID is one of ours.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/match.h"
#include "src/deviceplugin/pod_resources.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto holdings = cn::deviceplugin::ParseListAnswer(bytes);
  if (!holdings.ok()) {
    if (holdings.status().code() != absl::StatusCode::kInvalidArgument) {
      std::abort();
    }
    return 0;
  }
  for (const auto& holding : holdings->containers) {
    if (holding.namespace_name.empty() || holding.pod.empty() || holding.container.empty() ||
        holding.devices == 0 ||
        !absl::StartsWith(holding.first_device, cn::deviceplugin::Info(holding.kind).id_prefix)) {
      std::abort();
    }
  }
  return 0;
}
