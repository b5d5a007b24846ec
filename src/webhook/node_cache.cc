#include "src/webhook/node_cache.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/webhook/pod.h"

namespace cn::webhook {
namespace {

constexpr const char* kNodes = "/api/v1/nodes";
constexpr const char* kEpcLabel = "sgx.confidential-nodes.io/epc-mib";

std::string NodeName(const nlohmann::json& node) {
  if (node.contains("metadata") && node["metadata"].is_object() &&
      node["metadata"].contains("name") && node["metadata"]["name"].is_string()) {
    return node["metadata"]["name"].get<std::string>();
  }
  return "";
}

std::string ResourceVersionOf(const nlohmann::json& object) {
  if (object.contains("metadata") && object["metadata"].is_object() &&
      object["metadata"].contains("resourceVersion") &&
      object["metadata"]["resourceVersion"].is_string()) {
    return object["metadata"]["resourceVersion"].get<std::string>();
  }
  return "";
}

}  // namespace

NodeCache::NodeCache(const kube::ApiClient& api, Options options) : api_(api), options_(options) {}

int64_t NodeCache::NodeEpcMiB(const nlohmann::json& node) {
  int64_t mib = 0;
  const std::string resource(kEpcMiB);
  if (node.contains("status") && node["status"].is_object()) {
    for (const char* field : {"allocatable", "capacity"}) {
      const nlohmann::json& status = node["status"];
      if (status.contains(field) && status[field].is_object() && status[field].contains(resource) &&
          status[field][resource].is_string() &&
          absl::SimpleAtoi(status[field][resource].get<std::string>(), &mib)) {
        return std::max<int64_t>(0, mib);
      }
    }
  }
  if (node.contains("metadata") && node["metadata"].is_object() &&
      node["metadata"].contains("labels") && node["metadata"]["labels"].is_object() &&
      node["metadata"]["labels"].contains(kEpcLabel) &&
      node["metadata"]["labels"][kEpcLabel].is_string() &&
      absl::SimpleAtoi(node["metadata"]["labels"][kEpcLabel].get<std::string>(), &mib)) {
    return std::max<int64_t>(0, mib);
  }
  return 0;
}

std::optional<EpcCapacity::Largest> NodeCache::LargestNode() const {
  absl::MutexLock lock(&mu_);
  if (!synced_ || disabled_.load()) {
    return std::nullopt;
  }
  Largest largest;
  for (const auto& [name, mib] : epc_by_node_) {
    if (mib > largest.epc_mib) {
      largest = {name, mib};
    }
  }
  return largest;
}

bool NodeCache::WaitUntilSynced(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&synced_), timeout);
}

absl::Status NodeCache::ListAndWatch() {
  std::map<std::string, int64_t> listed;
  std::string resource_version;
  std::string continue_token;
  do {
    const std::string path = absl::StrCat(
        kNodes, "?limit=250", continue_token.empty() ? "" : "&continue=", continue_token);
    absl::StatusOr<nlohmann::json> list = api_.Get(path);
    if (!list.ok()) {
      return list.status();
    }
    if (list->contains("items") && (*list)["items"].is_array()) {
      for (const nlohmann::json& node : (*list)["items"]) {
        if (std::string name = NodeName(node); !name.empty()) {
          listed[name] = NodeEpcMiB(node);
        }
      }
    }
    resource_version = ResourceVersionOf(*list);
    continue_token.clear();
    if ((*list)["metadata"].is_object() && (*list)["metadata"].contains("continue") &&
        (*list)["metadata"]["continue"].is_string()) {
      continue_token = (*list)["metadata"]["continue"].get<std::string>();
    }
  } while (!continue_token.empty() && !stop_.HasBeenNotified());
  {
    absl::MutexLock lock(&mu_);
    const bool first = !synced_;
    epc_by_node_ = std::move(listed);
    synced_ = true;
    if (first) {
      spdlog::info("node cache: {} node(s) listed", epc_by_node_.size());
    }
  }
  while (!stop_.HasBeenNotified()) {
    absl::Status watched = api_.Watch(
        kNodes, resource_version, options_.watch_duration,
        [&](const kube::ApiClient::WatchEvent& event) {
          if (std::string version = ResourceVersionOf(event.object); !version.empty()) {
            resource_version = version;
          }
          const std::string name = NodeName(event.object);
          if (name.empty() || event.type == "BOOKMARK") {
            return true;
          }
          absl::MutexLock lock(&mu_);
          if (event.type == "DELETED") {
            epc_by_node_.erase(name);
          } else {
            epc_by_node_[name] = NodeEpcMiB(event.object);
          }
          return true;
        },
        [this] { return !stop_.HasBeenNotified(); });
    if (!watched.ok()) {
      return watched;
    }
  }
  return absl::OkStatus();
}

void NodeCache::Run() {
  absl::Duration backoff = options_.initial_backoff;
  std::string last_error;
  while (!stop_.HasBeenNotified()) {
    absl::Status status = ListAndWatch();
    if (status.ok()) {
      continue;  // stopped, or the watch ended and listed again (not reached: it re-watches)
    }
    if (status.code() == absl::StatusCode::kPermissionDenied) {
      disabled_ = true;
      spdlog::warn("node cache off: {} (pods larger than every node get no warning)",
                   std::string(status.message()));
      return;
    }
    if (status.code() == absl::StatusCode::kFailedPrecondition) {
      backoff = options_.initial_backoff;
      continue;  // 410 Gone: list again at once
    }
    const std::string error(status.message());
    if (error != last_error) {
      spdlog::warn("node cache: {} (retrying, keeping the last known nodes)", error);
      last_error = error;
    }
    stop_.WaitForNotificationWithTimeout(backoff);
    backoff = std::min(options_.max_backoff, backoff * 2);
  }
}

void NodeCache::Stop() { stop_.Notify(); }

}  // namespace cn::webhook
