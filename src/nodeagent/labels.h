#pragma once

// The node agent's labels: what a host's SGX platform means for its Node, and the smallest
// change that makes a Node say so. Pure functions: no I/O, no clock.
//
// Ownership (docs/node-agent.md):
//   - every label under `sgx.confidential-nodes.io/` is ours: set when desired, removed when not
//     (a stale `aesm` after AESM went away, the details after SGX went away);
//   - the compatibility labels `intel.feature.node.kubernetes.io/sgx` and
//     `feature.node.kubernetes.io/cpu-sgx.enabled` are ours only if we set them, which the
//     annotation `sgx.confidential-nodes.io/owned-labels` records on the Node (a sorted, comma-
//     separated list). One that someone else set (NFD, an operator) is never changed or removed;
//   - no other label or annotation is ever touched.
//
// Patches are JSON merge patches of metadata.labels and metadata.annotations (null deletes a
// key), carrying the resourceVersion that was read, so a Node changed in between makes the API
// server answer 409 and the agent decides again on fresh data.

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "src/sgx/platform.h"

namespace cn::nodeagent {

using Labels = std::map<std::string, std::string>;

inline constexpr absl::string_view kLabelPrefix = "sgx.confidential-nodes.io/";
inline constexpr absl::string_view kEnabledLabel = "sgx.confidential-nodes.io/enabled";
inline constexpr absl::string_view kFlcLabel = "sgx.confidential-nodes.io/flc";
inline constexpr absl::string_view kSgx2Label = "sgx.confidential-nodes.io/sgx2";
inline constexpr absl::string_view kAesmLabel = "sgx.confidential-nodes.io/aesm";
inline constexpr absl::string_view kDriverLabel = "sgx.confidential-nodes.io/driver";
inline constexpr absl::string_view kEpcMibLabel = "sgx.confidential-nodes.io/epc-mib";
inline constexpr absl::string_view kIntelCompatLabel = "intel.feature.node.kubernetes.io/sgx";
inline constexpr absl::string_view kNfdCompatLabel = "feature.node.kubernetes.io/cpu-sgx.enabled";
inline constexpr absl::string_view kOwnedAnnotation = "sgx.confidential-nodes.io/owned-labels";

// The labels a host with this platform should carry. A host that can run enclaves
// (platform.ready: SGX1, EPC, an enclave device) gets enabled "true", flc, sgx2, aesm
// ("true"/"false"), driver ("in-kernel", "dcap", "isgx"), epc-mib (whole MiB) and both
// compatibility labels "true"; any other host only enabled "false".
Labels DesiredLabels(const sgx::Platform& platform);
// What a host whose probe failed carries: only enabled "false" (a platform we cannot read is
// not one to schedule enclaves on).
Labels NotEnabledLabels();

// The parts of a Node object the agent reads.
struct NodeMetadata {
  Labels labels = {};
  Labels annotations = {};
  std::string resource_version = "";
};
// InvalidArgument when `node` is not a Node-shaped object or a label/annotation value is not a
// string.
absl::StatusOr<NodeMetadata> ParseNodeMetadata(const nlohmann::json& node);

// The merge patch that makes `node` carry `desired` under the ownership rules, or nullopt when
// the Node already does (so a second run sends nothing). `desired` with no labels at all gives
// the patch that removes everything the agent owns (uninstall).
std::optional<nlohmann::json> ComputePatch(const NodeMetadata& node, const Labels& desired);

// The labels of `desired` written to an NFD local feature file: ours and the Intel
// compatibility label; not `feature.node.kubernetes.io/cpu-sgx.enabled`, which NFD's own cpu
// source publishes.
std::string NfdFeatureFile(const Labels& desired);

}  // namespace cn::nodeagent
