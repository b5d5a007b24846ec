#include "src/webhook/mutator.h"

#include "absl/strings/str_cat.h"
#include "src/webhook/pod.h"
#include "src/webhook/quantity.h"

namespace cn::webhook {
namespace {

constexpr const char* kAesmVolume = "sgx-aesmd";
constexpr const char* kAesmPath = "/var/run/aesmd";
constexpr const char* kAesmEnv = "SGX_AESM_ADDR";

nlohmann::json* MutableMember(nlohmann::json& object, const std::string& key) {
  if (!object.is_object()) {
    return nullptr;
  }
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// Translates sgx.intel.com/epc in one resource map; false (and nothing changed) when the
// container must be left for the validator.
bool CanTranslate(const nlohmann::json& container) {
  for (const char* which : {"requests", "limits"}) {
    const nlohmann::json* map = ResourceMap(container, which);
    if (map == nullptr) {
      continue;
    }
    auto epc = map->find(std::string(kIntelEpc));
    if (epc == map->end()) {
      continue;
    }
    if (map->contains(std::string(kEpcMiB))) {
      return false;  // both names: refused by the validator
    }
    std::optional<std::string> text = QuantityText(*epc);
    if (!text.has_value() || !QuantityToMiB(*text).ok()) {
      return false;
    }
  }
  // Both names across requests and limits (one in each) is refused too.
  const nlohmann::json* requests = ResourceMap(container, "requests");
  const nlohmann::json* limits = ResourceMap(container, "limits");
  auto has = [](const nlohmann::json* map, absl::string_view key) {
    return map != nullptr && map->contains(std::string(key));
  };
  const bool intel = has(requests, kIntelEpc) || has(limits, kIntelEpc);
  const bool azure = has(requests, kEpcMiB) || has(limits, kEpcMiB);
  return !(intel && azure);
}

void Translate(nlohmann::json& container) {
  nlohmann::json& resources = container["resources"];
  for (const char* which : {"requests", "limits"}) {
    nlohmann::json* map = MutableMember(resources, which);
    if (map == nullptr || !map->is_object()) {
      continue;
    }
    auto epc = map->find(std::string(kIntelEpc));
    if (epc == map->end()) {
      continue;
    }
    const int64_t mib = *QuantityToMiB(*QuantityText(*epc));  // checked by CanTranslate
    map->erase(epc);
    (*map)[std::string(kEpcMiB)] = std::to_string(mib);
  }
}

void AddProvision(nlohmann::json& container) {
  nlohmann::json& resources = container["resources"];
  if (!resources.is_object()) {
    resources = nlohmann::json::object();
  }
  for (const char* which : {"limits", "requests"}) {
    nlohmann::json& map = resources[which];
    if (map.is_null()) {
      map = nlohmann::json::object();
    }
    if (map.is_object() && !map.contains(std::string(kProvision))) {
      map[std::string(kProvision)] = "1";
    }
  }
}

bool MountsAesm(const nlohmann::json& container) {
  const nlohmann::json* mounts =
      container.contains("volumeMounts") ? &container["volumeMounts"] : nullptr;
  if (mounts == nullptr || !mounts->is_array()) {
    return false;
  }
  for (const nlohmann::json& mount : *mounts) {
    if (mount.is_object() && mount.value("mountPath", nlohmann::json()) == kAesmPath) {
      return true;
    }
  }
  return false;
}

bool SetsAesmEnv(const nlohmann::json& container) {
  const nlohmann::json* env = container.contains("env") ? &container["env"] : nullptr;
  if (env == nullptr || !env->is_array()) {
    return false;
  }
  for (const nlohmann::json& variable : *env) {
    if (variable.is_object() && variable.value("name", nlohmann::json()) == kAesmEnv) {
      return true;
    }
  }
  return false;
}

// Appends to an array member, creating it when absent or null; false when it is something else
// (the pod is odd: leave that part alone).
bool Append(nlohmann::json& object, const char* key, nlohmann::json value) {
  nlohmann::json& array = object[key];
  if (array.is_null()) {
    array = nlohmann::json::array();
  }
  if (!array.is_array()) {
    return false;
  }
  array.push_back(std::move(value));
  return true;
}

void AddAesm(nlohmann::json& pod, nlohmann::json& container) {
  if (!MountsAesm(container)) {
    if (Append(container, "volumeMounts",
               {{"name", kAesmVolume}, {"mountPath", kAesmPath}, {"readOnly", true}})) {
      nlohmann::json& spec = pod["spec"];
      bool has_volume = false;
      if (spec.contains("volumes") && spec["volumes"].is_array()) {
        for (const nlohmann::json& volume : spec["volumes"]) {
          has_volume = has_volume || (volume.is_object() &&
                                      volume.value("name", nlohmann::json()) == kAesmVolume);
        }
      }
      if (!has_volume) {
        Append(spec, "volumes",
               {{"name", kAesmVolume}, {"hostPath", {{"path", kAesmPath}, {"type", "Directory"}}}});
      }
    }
  }
  if (!SetsAesmEnv(container)) {
    Append(container, "env", {{"name", kAesmEnv}, {"value", "1"}});
  }
}

// A toleration covers {key, Exists, NoSchedule} when it has that key (or none with Exists: it
// tolerates everything), tolerates any value (Exists) and that effect (or every effect).
bool Covered(const nlohmann::json& tolerations, const std::string& key) {
  if (!tolerations.is_array()) {
    return false;
  }
  for (const nlohmann::json& toleration : tolerations) {
    if (!toleration.is_object()) {
      continue;
    }
    const nlohmann::json their_key = toleration.value("key", nlohmann::json(""));
    const nlohmann::json their_operator = toleration.value("operator", nlohmann::json("Equal"));
    const nlohmann::json their_effect = toleration.value("effect", nlohmann::json(""));
    if (their_operator != "Exists") {
      continue;
    }
    if ((their_key == key || their_key == "") &&
        (their_effect == "" || their_effect == "NoSchedule")) {
      return true;
    }
  }
  return false;
}

}  // namespace

nlohmann::json Mutator::PatchFor(const nlohmann::json& pod) const {
  const std::vector<ContainerRef> containers = Containers(pod);
  bool asks_for_sgx = false;
  for (const ContainerRef& container : containers) {
    asks_for_sgx = asks_for_sgx || AsksForSgx(*container.object);
  }
  if (!asks_for_sgx) {
    return nlohmann::json::array();  // the common case: no copy, no diff
  }
  const std::optional<std::string> quote_provider = Annotation(pod, kQuoteProviderAnnotation);
  nlohmann::json mutated = pod;
  nlohmann::json& spec = mutated["spec"];
  for (const ContainerRef& ref : containers) {
    nlohmann::json& container = spec[ref.list][ref.index];
    if (CanTranslate(container)) {
      Translate(container);
    }
    if (quote_provider.has_value() && !ref.name.empty() && ref.name == *quote_provider &&
        AsksForEpc(container)) {
      if (options_.quote_helper == QuoteHelper::kProvision) {
        AddProvision(container);
      } else {
        AddAesm(mutated, container);
      }
    }
  }
  for (const std::string& key : options_.tolerations) {
    nlohmann::json& tolerations = spec["tolerations"];
    if (tolerations.is_null()) {
      tolerations = nlohmann::json::array();
    }
    if (tolerations.is_array() && !Covered(tolerations, key)) {
      tolerations.push_back({{"key", key}, {"operator", "Exists"}, {"effect", "NoSchedule"}});
    }
  }
  return nlohmann::json::diff(pod, mutated);
}

Verdict Mutator::Mutate(const Review& review) const {
  Verdict verdict;
  if (!review.is_pod || review.operation != "CREATE" || !review.object.is_object()) {
    return verdict;
  }
  verdict.patch = PatchFor(review.object);
  return verdict;
}

}  // namespace cn::webhook
