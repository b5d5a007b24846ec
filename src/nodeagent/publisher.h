#pragma once

// Where the agent's labels go: the Node object through the API server, or an NFD local feature
// file for clusters where NFD owns node labels (--nfd-features-dir).
//
// Thread safety: Publish is called from the agent's one thread.

#include <string>

#include "absl/status/statusor.h"
#include "src/kube/client.h"
#include "src/nodeagent/labels.h"

namespace cn::nodeagent {

class Publisher {
 public:
  virtual ~Publisher() = default;
  // Makes the destination carry `desired`. Returns whether anything had to change (false: it
  // already did and nothing was sent or written). Errors are the destination's (see below).
  virtual absl::StatusOr<bool> Publish(const Labels& desired) = 0;
  // "node NAME" or "NFD feature file PATH", for logs.
  virtual std::string Describe() const = 0;
};

// Labels the Node: GET, compute the minimal merge patch (labels.h), PATCH it with the
// resourceVersion that was read. A 409 (the Node changed in between) is answered by reading
// again, up to 3 attempts in one Publish. The Node is never created: NotFound when it does not
// exist. Errors are ApiClient's (PermissionDenied, Unavailable, ...).
class NodeLabelPublisher : public Publisher {
 public:
  // `client` must outlive the publisher. `node_name` must be valid (kube::NodePath).
  NodeLabelPublisher(const kube::ApiClient& client, std::string node_name);
  absl::StatusOr<bool> Publish(const Labels& desired) override;
  std::string Describe() const override;

 private:
  const kube::ApiClient& client_;
  const std::string node_name_;
};

// Writes DIR/confidential-nodes-sgx (NfdFeatureFile) when its content differs, atomically
// (a temporary file renamed over it), so NFD never reads half a file. Unavailable naming the
// path when the directory cannot be written.
class NfdFilePublisher : public Publisher {
 public:
  explicit NfdFilePublisher(std::string directory);
  absl::StatusOr<bool> Publish(const Labels& desired) override;
  std::string Describe() const override;
  const std::string& path() const { return path_; }

 private:
  const std::string directory_;
  const std::string path_;
};

inline constexpr char kNfdFeatureFileName[] = "confidential-nodes-sgx";

}  // namespace cn::nodeagent
