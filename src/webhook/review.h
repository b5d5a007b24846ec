#pragma once

// AdmissionReview: the API server's request to a webhook and our answer, in the version it was
// asked in (admission.k8s.io/v1 or v1beta1; both have the same request and response fields for
// what we use, including `warnings`, which API servers before 1.19 ignore).
//
// ParseReview is the one parser of untrusted webhook input (fuzzed: fuzz/webhook). It refuses,
// with InvalidArgument naming what is wrong (the handler answers 400 with it):
//   - a body that is not JSON, not an object, nested deeper than `max_depth`, or larger than
//     `max_bytes` (the HTTP server refuses larger bodies before reading them; this bound holds
//     for any caller);
//   - an apiVersion other than the two above or a kind other than AdmissionReview;
//   - no `request` object, or a request without a non-empty string `uid` (without the uid no
//     answer can be given: the API server matches answers by it).
// Everything else (an unknown kind of object, an operation we do not handle, fields of the
// wrong JSON type, `resources: null`) is not a parse error: the mutator and validator allow
// such requests unchanged, because the API server's own validation is the place to refuse a
// malformed Pod and a webhook that fails on odd input is how peers blocked clusters.
//
// Pure functions; thread-safe.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace cn::webhook {

struct ReviewLimits {
  size_t max_bytes = 4 << 20;  // the API server's own request limit is 3 MiB
  int max_depth = 64;          // a real Pod, managedFields included, nests about 20 deep
};

struct Review {
  std::string api_version;  // "admission.k8s.io/v1" or "admission.k8s.io/v1beta1"
  std::string uid;
  std::string operation;  // CREATE, UPDATE, DELETE, CONNECT; empty when absent
  bool is_pod = false;    // request.kind (or request.resource) says core/v1 Pod, no subresource
  std::string namespace_name;
  std::string name;       // may be empty at CREATE (generateName)
  nlohmann::json object;  // request.object; null when absent
};

absl::StatusOr<Review> ParseReview(absl::string_view body, const ReviewLimits& limits = {});

// What we answer.
struct Verdict {
  bool allowed = true;
  nlohmann::json patch = nlohmann::json::array();  // RFC 6902 operations; empty: no patch
  std::string message;                             // why it was refused (allowed = false)
  std::vector<std::string> warnings;
};

// The AdmissionReview answer for `review` (same apiVersion, its uid). A refusal carries
// status {code: 403, reason: Forbidden, message}: the API server shows the message to the user.
std::string RenderVerdict(const Review& review, const Verdict& verdict);

// The depth of the deepest array or object in `text`, counted without parsing (strings and
// escapes are skipped). Stops counting at `limit` + 1. Exposed for tests.
int JsonNestingDepth(absl::string_view text, int limit);

}  // namespace cn::webhook
