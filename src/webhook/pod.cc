#include "src/webhook/pod.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/webhook/quantity.h"

namespace cn::webhook {
namespace {

const nlohmann::json* Member(const nlohmann::json& object, absl::string_view key) {
  if (!object.is_object()) {
    return nullptr;
  }
  auto it = object.find(std::string(key));
  return it == object.end() ? nullptr : &*it;
}

bool Has(const nlohmann::json* map, absl::string_view key) {
  return map != nullptr && Member(*map, key) != nullptr;
}

}  // namespace

std::vector<ContainerRef> Containers(const nlohmann::json& pod) {
  std::vector<ContainerRef> containers;
  const nlohmann::json* spec = Member(pod, "spec");
  if (spec == nullptr) {
    return containers;
  }
  for (const char* list : {"initContainers", "containers"}) {
    const nlohmann::json* items = Member(*spec, list);
    if (items == nullptr || !items->is_array()) {
      continue;
    }
    for (size_t i = 0; i < items->size(); ++i) {
      const nlohmann::json& container = (*items)[i];
      if (!container.is_object()) {
        continue;
      }
      const nlohmann::json* name = Member(container, "name");
      containers.push_back({list, i,
                            name != nullptr && name->is_string() ? name->get<std::string>() : "",
                            &container});
    }
  }
  return containers;
}

const nlohmann::json* ResourceMap(const nlohmann::json& container, const char* which) {
  const nlohmann::json* resources = Member(container, "resources");
  if (resources == nullptr) {
    return nullptr;
  }
  const nlohmann::json* map = Member(*resources, which);
  return map != nullptr && map->is_object() ? map : nullptr;
}

std::optional<std::string> QuantityText(const nlohmann::json& value) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_number_integer() || value.is_number_unsigned()) {
    return value.dump();
  }
  if (value.is_number_float()) {
    return value.dump();
  }
  return std::nullopt;
}

bool AsksForSgx(const nlohmann::json& container) {
  for (const char* which : {"requests", "limits"}) {
    const nlohmann::json* map = ResourceMap(container, which);
    for (absl::string_view name : {kIntelEpc, kEpcMiB, kEnclave, kProvision}) {
      if (Has(map, name)) {
        return true;
      }
    }
  }
  return false;
}

bool AsksForEpc(const nlohmann::json& container) {
  for (const char* which : {"requests", "limits"}) {
    const nlohmann::json* map = ResourceMap(container, which);
    if (Has(map, kIntelEpc) || Has(map, kEpcMiB)) {
      return true;
    }
  }
  return false;
}

std::optional<std::string> Annotation(const nlohmann::json& pod, absl::string_view key) {
  const nlohmann::json* metadata = Member(pod, "metadata");
  const nlohmann::json* annotations =
      metadata == nullptr ? nullptr : Member(*metadata, "annotations");
  const nlohmann::json* value = annotations == nullptr ? nullptr : Member(*annotations, key);
  if (value == nullptr || !value->is_string()) {
    return std::nullopt;
  }
  return value->get<std::string>();
}

absl::StatusOr<int64_t> ContainerEpcMiB(const nlohmann::json& container) {
  for (const char* which : {"limits", "requests"}) {
    const nlohmann::json* map = ResourceMap(container, which);
    if (map == nullptr) {
      continue;
    }
    if (const nlohmann::json* mib = Member(*map, kEpcMiB); mib != nullptr) {
      std::optional<std::string> text = QuantityText(*mib);
      int64_t value = 0;
      if (!text.has_value() || !absl::SimpleAtoi(*text, &value) || value < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(kEpcMiB, " ", text.value_or(mib->dump()), " is not a whole number"));
      }
      return value;
    }
    if (const nlohmann::json* epc = Member(*map, kIntelEpc); epc != nullptr) {
      std::optional<std::string> text = QuantityText(*epc);
      if (!text.has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat(kIntelEpc, " ", epc->dump(), " is not a quantity"));
      }
      absl::StatusOr<int64_t> mib = QuantityToMiB(*text);
      if (!mib.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(kIntelEpc, ": ", mib.status().message()));
      }
      return mib;
    }
  }
  return 0;
}

}  // namespace cn::webhook
