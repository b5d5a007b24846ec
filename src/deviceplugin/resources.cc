#include "src/deviceplugin/resources.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace cn::deviceplugin {
namespace {

constexpr ResourceInfo kResources[] = {
    {ResourceKind::kEpc, kEpcResourceName, "epc", "sgx-epc.sock", "epc-"},
    {ResourceKind::kEnclave, kEnclaveResourceName, "enclave", "sgx-enclave.sock", "enclave-"},
    {ResourceKind::kProvision, kProvisionResourceName, "provision", "sgx-provision.sock",
     "provision-"},
};

}  // namespace

const ResourceInfo& Info(ResourceKind kind) {
  for (const ResourceInfo& info : kResources) {
    if (info.kind == kind) {
      return info;
    }
  }
  return kResources[0];  // unreachable: every kind is in the table
}

std::string DefaultResourceList() {
  return absl::StrJoin(kResources, ",", [](std::string* out, const ResourceInfo& info) {
    absl::StrAppend(out, info.name);
  });
}

absl::StatusOr<std::vector<ResourceKind>> ParseResourceList(absl::string_view text) {
  std::vector<ResourceKind> kinds;
  for (absl::string_view entry : absl::StrSplit(text, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--resources: empty entry in '", text,
                                                     "'; expected a comma-separated list of ",
                                                     DefaultResourceList()));
    }
    const ResourceInfo* match = nullptr;
    for (const ResourceInfo& info : kResources) {
      if (entry == info.name || entry == info.short_name) {
        match = &info;
      }
    }
    if (match == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("--resources: unknown resource '", entry,
                                                     "'; known: ", DefaultResourceList()));
    }
    if (std::find(kinds.begin(), kinds.end(), match->kind) != kinds.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--resources: '", entry, "' is listed more than once"));
    }
    kinds.push_back(match->kind);
  }
  std::sort(kinds.begin(), kinds.end());
  return kinds;
}

}  // namespace cn::deviceplugin
