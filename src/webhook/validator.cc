#include "src/webhook/validator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/webhook/pod.h"
#include "src/webhook/quantity.h"

namespace cn::webhook {
namespace {

std::string Describe(const ContainerRef& container) {
  const char* what =
      absl::string_view(container.list) == "initContainers" ? "init container" : "container";
  if (container.name.empty()) {
    return absl::StrCat(what, " #", container.index);
  }
  return absl::StrCat(what, " \"", container.name, "\"");
}

std::string Text(const nlohmann::json& value) { return QuantityText(value).value_or(value.dump()); }

// The EPC of one resource name in one container: requests vs limits, parsed. An error message,
// or empty when fine.
std::string CheckName(const ContainerRef& container, absl::string_view name) {
  const nlohmann::json* requests = ResourceMap(*container.object, "requests");
  const nlohmann::json* limits = ResourceMap(*container.object, "limits");
  const std::string key(name);
  const nlohmann::json* request =
      requests != nullptr && requests->contains(key) ? &(*requests)[key] : nullptr;
  const nlohmann::json* limit =
      limits != nullptr && limits->contains(key) ? &(*limits)[key] : nullptr;
  if (request == nullptr && limit == nullptr) {
    return "";
  }
  auto parse = [&](const nlohmann::json& value) -> absl::StatusOr<int64_t> {
    std::optional<std::string> text = QuantityText(value);
    if (!text.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(value.dump(), " is not a quantity"));
    }
    if (name == kIntelEpc) {
      return QuantityToMiB(*text);
    }
    int64_t mib = 0;
    if (!absl::SimpleAtoi(*text, &mib) || mib < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", *text, "\" is not a whole number of MiB"));
    }
    return mib;
  };
  for (const nlohmann::json* value : {request, limit}) {
    if (value != nullptr) {
      absl::StatusOr<int64_t> parsed = parse(*value);
      if (!parsed.ok()) {
        return absl::StrCat(Describe(container), ": ", name, ": ", parsed.status().message());
      }
    }
  }
  if (limit == nullptr) {
    return absl::StrCat(Describe(container), " requests ", name, ": ", Text(*request),
                        " without a limit; EPC requests must equal limits");
  }
  if (request != nullptr && *parse(*request) != *parse(*limit)) {
    return absl::StrCat(Describe(container), " requests ", name, ": ", Text(*request),
                        " but its limit is ", Text(*limit), "; EPC requests must equal limits");
  }
  return "";
}

std::string EpcNames(const nlohmann::json& container) {
  std::vector<std::string> parts;
  for (absl::string_view name : {kIntelEpc, kEpcMiB}) {
    for (const char* which : {"limits", "requests"}) {
      const nlohmann::json* map = ResourceMap(container, which);
      if (map != nullptr && map->contains(std::string(name))) {
        parts.push_back(absl::StrCat(name, ": ", Text((*map)[std::string(name)])));
        break;
      }
    }
  }
  return absl::StrJoin(parts, " and ");
}

Verdict Refuse(std::string message) {
  Verdict verdict;
  verdict.allowed = false;
  verdict.message = std::move(message);
  return verdict;
}

}  // namespace

Verdict Validator::ValidatePod(const nlohmann::json& pod) const {
  const std::vector<ContainerRef> containers = Containers(pod);
  int64_t app_total = 0;
  int64_t init_largest = 0;
  for (const ContainerRef& container : containers) {
    const nlohmann::json* requests = ResourceMap(*container.object, "requests");
    const nlohmann::json* limits = ResourceMap(*container.object, "limits");
    auto has = [](const nlohmann::json* map, absl::string_view key) {
      return map != nullptr && map->contains(std::string(key));
    };
    if ((has(requests, kIntelEpc) || has(limits, kIntelEpc)) &&
        (has(requests, kEpcMiB) || has(limits, kEpcMiB))) {
      return Refuse(absl::StrCat(Describe(container), " asks for EPC twice (",
                                 EpcNames(*container.object), "): ask for one of them"));
    }
    for (absl::string_view name : {kIntelEpc, kEpcMiB}) {
      if (std::string problem = CheckName(container, name); !problem.empty()) {
        return Refuse(std::move(problem));
      }
    }
    const int64_t mib = ContainerEpcMiB(*container.object).value_or(0);
    if (absl::string_view(container.list) == "initContainers") {
      init_largest = std::max(init_largest, mib);
    } else {
      app_total += mib;
    }
  }
  if (const std::optional<std::string> provider = Annotation(pod, kQuoteProviderAnnotation);
      provider.has_value()) {
    auto named = std::find_if(containers.begin(), containers.end(),
                              [&](const ContainerRef& c) { return c.name == *provider; });
    if (named == containers.end()) {
      return Refuse(absl::StrCat("annotation ", kQuoteProviderAnnotation, ": \"", *provider,
                                 "\" names no container of this pod"));
    }
    if (!AsksForEpc(*named->object)) {
      return Refuse(absl::StrCat("annotation ", kQuoteProviderAnnotation, ": ", Describe(*named),
                                 " asks for no EPC (", kEpcMiB, " or ", kIntelEpc,
                                 "); the quote provider must be an "
                                 "enclave container"));
    }
  }
  Verdict verdict;
  // What the scheduler books: the app containers together, or the largest init container.
  const int64_t pod_mib = std::max(app_total, init_largest);
  if (pod_mib > 0 && capacity_ != nullptr) {
    if (std::optional<EpcCapacity::Largest> largest = capacity_->LargestNode();
        largest.has_value() && pod_mib > largest->epc_mib) {
      verdict.warnings.push_back(
          largest->node.empty()
              ? absl::StrCat("this pod asks for ", pod_mib,
                             " MiB of EPC and no node of the cluster offers EPC now: it stays "
                             "Pending until an SGX node joins")
              : absl::StrCat("this pod asks for ", pod_mib,
                             " MiB of EPC, more than the largest "
                             "SGX node offers (",
                             largest->node, ": ", largest->epc_mib,
                             " MiB): it stays Pending until a larger node joins"));
    }
  }
  return verdict;
}

Verdict Validator::Validate(const Review& review) const {
  if (!review.is_pod || review.operation != "CREATE" || !review.object.is_object()) {
    return Verdict();
  }
  return ValidatePod(review.object);
}

}  // namespace cn::webhook
