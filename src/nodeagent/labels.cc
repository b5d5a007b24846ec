#include "src/nodeagent/labels.h"

#include <set>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace cn::nodeagent {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

const char* Bool(bool value) { return value ? "true" : "false"; }

std::string DriverValue(sgx::DriverKind kind) {
  switch (kind) {
    case sgx::DriverKind::kInKernel:
      return "in-kernel";
    case sgx::DriverKind::kDcap:
      return "dcap";
    case sgx::DriverKind::kOutOfTree:
      return "isgx";
    case sgx::DriverKind::kNone:
      break;
  }
  return "none";
}

bool IsCompatLabel(absl::string_view key) {
  return key == kIntelCompatLabel || key == kNfdCompatLabel;
}

absl::StatusOr<Labels> StringMap(const nlohmann::json& metadata, const char* key) {
  Labels out;
  if (!metadata.contains(key) || metadata[key].is_null()) {
    return out;
  }
  if (!metadata[key].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("node metadata.", key, " is not an object"));
  }
  for (const auto& [name, value] : metadata[key].items()) {
    if (!value.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("node metadata.", key, "[", name, "] is not a string"));
    }
    out[name] = value.get<std::string>();
  }
  return out;
}

}  // namespace

Labels NotEnabledLabels() { return {{std::string(kEnabledLabel), "false"}}; }

Labels DesiredLabels(const sgx::Platform& platform) {
  if (!platform.ready) {
    return NotEnabledLabels();
  }
  return {
      {std::string(kEnabledLabel), "true"},
      {std::string(kFlcLabel), Bool(platform.cpu.flc)},
      {std::string(kSgx2Label), Bool(platform.cpu.sgx2)},
      {std::string(kAesmLabel), Bool(platform.aesm_socket.has_value())},
      {std::string(kDriverLabel), DriverValue(platform.driver.kind)},
      {std::string(kEpcMibLabel), std::to_string(platform.epc_total_bytes / kMiB)},
      {std::string(kIntelCompatLabel), "true"},
      {std::string(kNfdCompatLabel), "true"},
  };
}

absl::StatusOr<NodeMetadata> ParseNodeMetadata(const nlohmann::json& node) {
  if (!node.is_object() || !node.contains("metadata") || !node["metadata"].is_object()) {
    return absl::InvalidArgumentError("the API server's answer is not a Node (no metadata)");
  }
  const nlohmann::json& metadata = node["metadata"];
  NodeMetadata result;
  absl::StatusOr<Labels> labels = StringMap(metadata, "labels");
  if (!labels.ok()) {
    return labels.status();
  }
  absl::StatusOr<Labels> annotations = StringMap(metadata, "annotations");
  if (!annotations.ok()) {
    return annotations.status();
  }
  result.labels = *std::move(labels);
  result.annotations = *std::move(annotations);
  if (metadata.contains("resourceVersion") && metadata["resourceVersion"].is_string()) {
    result.resource_version = metadata["resourceVersion"].get<std::string>();
  }
  return result;
}

std::optional<nlohmann::json> ComputePatch(const NodeMetadata& node, const Labels& desired) {
  nlohmann::json labels = nlohmann::json::object();
  auto set = [&](const std::string& key, const std::string& value) {
    auto current = node.labels.find(key);
    if (current == node.labels.end() || current->second != value) {
      labels[key] = value;
    }
  };

  // Compatibility labels: only those the annotation says we set are ours.
  std::set<std::string> owned;
  if (auto found = node.annotations.find(std::string(kOwnedAnnotation));
      found != node.annotations.end()) {
    for (absl::string_view key : absl::StrSplit(found->second, ',', absl::SkipEmpty())) {
      if (IsCompatLabel(key)) {
        owned.insert(std::string(key));
      }
    }
  }
  std::set<std::string> now_owned;
  for (absl::string_view compat : {kIntelCompatLabel, kNfdCompatLabel}) {
    const std::string key(compat);
    const bool present = node.labels.count(key) == 1;
    auto wanted = desired.find(key);
    if (wanted != desired.end()) {
      if (owned.count(key) == 1 || !present) {
        set(key, wanted->second);  // ours (repaired if changed by hand), or free to take
        now_owned.insert(key);
      }
      // else: someone else's label; left exactly as it is and not claimed.
    } else if (owned.count(key) == 1 && present) {
      labels[key] = nullptr;
    }
  }

  // Our own prefix: exactly the desired set.
  for (const auto& [key, value] : desired) {
    if (absl::StartsWith(key, kLabelPrefix)) {
      set(key, value);
    }
  }
  for (const auto& [key, value] : node.labels) {
    if (absl::StartsWith(key, kLabelPrefix) && desired.count(key) == 0) {
      labels[key] = nullptr;
    }
  }

  nlohmann::json metadata = nlohmann::json::object();
  if (!labels.empty()) {
    metadata["labels"] = std::move(labels);
  }
  const std::string owned_value = absl::StrJoin(now_owned, ",");
  auto current_annotation = node.annotations.find(std::string(kOwnedAnnotation));
  const bool annotated = current_annotation != node.annotations.end();
  if (owned_value.empty() ? annotated : (!annotated || current_annotation->second != owned_value)) {
    metadata["annotations"] = {{std::string(kOwnedAnnotation), owned_value.empty()
                                                                   ? nlohmann::json(nullptr)
                                                                   : nlohmann::json(owned_value)}};
  }
  if (metadata.empty()) {
    return std::nullopt;
  }
  if (!node.resource_version.empty()) {
    metadata["resourceVersion"] = node.resource_version;
  }
  return nlohmann::json{{"metadata", std::move(metadata)}};
}

std::string NfdFeatureFile(const Labels& desired) {
  std::string text =
      "# Written by sgx-node-agent (confidential-nodes) for NFD's local feature source.\n"
      "# Rewritten whenever the host changes; edits are lost.\n";
  for (const auto& [key, value] : desired) {
    if (key == kNfdCompatLabel) {
      continue;
    }
    absl::StrAppend(&text, key, "=", value, "\n");
  }
  return text;
}

}  // namespace cn::nodeagent
