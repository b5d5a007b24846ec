#include "src/nodeagent/publisher.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/common/status_macros.h"

namespace cn::nodeagent {
namespace {

constexpr int kConflictAttempts = 3;

std::string PatchedKeys(const nlohmann::json& patch) {
  std::string keys;
  const nlohmann::json& metadata = patch["metadata"];
  if (metadata.contains("labels")) {
    for (const auto& [key, value] : metadata["labels"].items()) {
      absl::StrAppend(&keys, keys.empty() ? "" : ", ", key, "=",
                      value.is_null() ? "(removed)" : value.get<std::string>());
    }
  }
  return keys.empty() ? std::string("ownership annotation only") : keys;
}

}  // namespace

NodeLabelPublisher::NodeLabelPublisher(const kube::ApiClient& client, std::string node_name)
    : client_(client), node_name_(std::move(node_name)) {}

std::string NodeLabelPublisher::Describe() const { return absl::StrCat("node ", node_name_); }

absl::StatusOr<bool> NodeLabelPublisher::Publish(const Labels& desired) {
  ASSIGN_OR_RETURN(const std::string path, kube::NodePath(node_name_));
  absl::Status last = absl::OkStatus();
  for (int attempt = 0; attempt < kConflictAttempts; ++attempt) {
    ASSIGN_OR_RETURN(nlohmann::json node, client_.Get(path));
    ASSIGN_OR_RETURN(NodeMetadata metadata, ParseNodeMetadata(node));
    std::optional<nlohmann::json> patch = ComputePatch(metadata, desired);
    if (!patch.has_value()) {
      return false;
    }
    absl::StatusOr<nlohmann::json> patched = client_.MergePatch(path, *patch);
    if (patched.ok()) {
      spdlog::info("labelled node {}: {}", node_name_, PatchedKeys(*patch));
      return true;
    }
    last = patched.status();
    if (last.code() != absl::StatusCode::kAborted) {
      return last;
    }
    spdlog::info("node {} changed while being labelled; reading it again", node_name_);
  }
  return last;
}

NfdFilePublisher::NfdFilePublisher(std::string directory)
    : directory_(std::move(directory)), path_(absl::StrCat(directory_, "/", kNfdFeatureFileName)) {}

std::string NfdFilePublisher::Describe() const { return absl::StrCat("NFD feature file ", path_); }

absl::StatusOr<bool> NfdFilePublisher::Publish(const Labels& desired) {
  const std::string content = NfdFeatureFile(desired);
  {
    std::ifstream current(path_, std::ios::binary);
    if (current) {
      std::ostringstream read;
      read << current.rdbuf();
      if (read.str() == content) {
        return false;
      }
    }
  }
  // A dot file: NFD's local source reads every file in the directory, so the temporary one is
  // hidden and lives only between write and rename.
  const std::string temporary = absl::StrCat(directory_, "/.", kNfdFeatureFileName, ".tmp");
  auto fail = [&](absl::string_view step) {
    const std::string reason = std::strerror(errno);
    ::unlink(temporary.c_str());
    return absl::UnavailableError(
        absl::StrCat("--nfd-features-dir: cannot ", step, " ", path_, ": ", reason));
  };
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return fail("write");
  }
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ::close(fd);
      return fail("write");
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return fail("write");
  }
  if (::rename(temporary.c_str(), path_.c_str()) != 0) {
    return fail("replace");
  }
  spdlog::info("wrote {}", path_);
  return true;
}

}  // namespace cn::nodeagent
