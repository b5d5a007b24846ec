#pragma once

// ApiClient: the one Kubernetes API-server client, for every daemon of the add-on.
//
// What it does: GET an object or a list, create (POST) and replace (PUT) objects, apply a JSON
// merge patch (RFC 7386) or a JSON patch (RFC 6902) to one, over verified TLS,
// with the credentials of a ClusterConfig (a token file is read again before each request, so a
// rotated service account token is picked up without a restart). Each request is bounded by
// `Options::timeout` (connect included) and answers larger than `max_body_bytes` are refused.
//
// Why JSON merge patch: the agent's patches touch only metadata.labels and
// metadata.annotations, which are plain string maps; for maps, strategic merge and merge patch
// behave the same (a key is set, `null` deletes it, other keys are left alone), and merge patch
// is a standard every API server (and any stand-in) implements without Go struct tags. A patch
// may carry metadata.resourceVersion: the API server then refuses it with 409 when the object
// changed since it was read, which turns read-decide-patch into a safe compare-and-swap.
//
// Errors, each naming the method, the path and the server's own message:
//   PermissionDenied   401 (credentials not accepted) and 403 (RBAC does not allow the verb on
//                      the resource: the message says so);
//   NotFound           404; Aborted 409 (conflict: read again and retry); FailedPrecondition 410
//                      (a watch's resourceVersion is too old: list again); InvalidArgument 422 and
//                      400 (the API server refused the request's content);
//   Unavailable        429, 5xx, and the server unreachable or TLS verification failing (wrong CA,
//                      wrong host name: the message has libcurl's reason);
//   DeadlineExceeded   no complete answer within the timeout; Unknown for any other status or
//                      an answer that is not JSON.
//
// Thread safety: const methods may be called from several threads at once.

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/http/http_client.h"
#include "src/kube/config.h"
#include "src/os/file_system.h"

namespace cn::kube {

class ApiClient {
 public:
  struct Options {
    absl::Duration timeout = absl::Seconds(10);
    size_t max_body_bytes = 8 << 20;  // a Node with a long image list is a few hundred KiB
  };

  // `http` and `file_system` (which reads the token file) must outlive the client.
  ApiClient(ClusterConfig config, const http::HttpClient& http, const os::FileSystem& file_system,
            Options options);

  // GET `path` (for example "/api/v1/nodes/n1"): the object as JSON.
  absl::StatusOr<nlohmann::json> Get(absl::string_view path) const;
  // PATCH `path` with `patch` as application/merge-patch+json: the object after the patch.
  absl::StatusOr<nlohmann::json> MergePatch(absl::string_view path,
                                            const nlohmann::json& patch) const;

  // PATCH `path` with RFC 6902 operations (application/json-patch+json): for changes inside
  // arrays, which a merge patch can only replace whole. A `test` operation that fails is 422
  // (InvalidArgument).
  absl::StatusOr<nlohmann::json> JsonPatch(absl::string_view path,
                                           const nlohmann::json& operations) const;
  // POST `object` to the collection `path` ("/api/v1/namespaces/NS/secrets"): the object as
  // created. An object of that name that exists already is Aborted (HTTP 409).
  absl::StatusOr<nlohmann::json> Create(absl::string_view path, const nlohmann::json& object) const;
  // PUT `object` at `path`; with metadata.resourceVersion set, Aborted (409) when the object
  // changed since it was read.
  absl::StatusOr<nlohmann::json> Update(absl::string_view path, const nlohmann::json& object) const;

  // One event of a watch: type ADDED, MODIFIED, DELETED or BOOKMARK, and the object.
  struct WatchEvent {
    std::string type;
    nlohmann::json object;
  };
  // Watches the collection `path` ("/api/v1/nodes") from `resource_version` (a List's
  // metadata.resourceVersion) for at most `duration` (the server's timeoutSeconds; it ends the
  // stream then), calling `on_event` for each event as it arrives. Returns OK when the stream
  // ends (the caller watches again from the last resourceVersion it saw) or when `on_event`
  // returns false. `keep_going` is asked about once a second while the stream is idle; false
  // ends the watch at once (shutdown). FailedPrecondition when the server answers that the
  // resourceVersion is too old (410 Gone: list again); the usual errors otherwise, and
  // ResourceExhausted for one event larger than max_body_bytes.
  absl::Status Watch(absl::string_view path, absl::string_view resource_version,
                     absl::Duration duration,
                     const std::function<bool(const WatchEvent&)>& on_event,
                     const std::function<bool()>& keep_going) const;

  const ClusterConfig& config() const { return config_; }

 private:
  absl::StatusOr<http::HttpRequest> NewRequest(absl::string_view method, absl::string_view path,
                                               const std::string& body,
                                               absl::string_view content_type) const;
  absl::StatusOr<nlohmann::json> Call(absl::string_view method, absl::string_view path,
                                      const std::string& body,
                                      absl::string_view content_type) const;

  const ClusterConfig config_;
  const http::HttpClient& http_;
  const os::FileSystem& file_system_;
  const Options options_;
};

// "/api/v1/nodes/NAME". InvalidArgument unless `name` is a valid node name (a DNS subdomain:
// lower-case letters, digits, '-' and '.', at most 253 characters), so that no name can change
// the path.
absl::StatusOr<std::string> NodePath(absl::string_view name);

// The status for a non-2xx answer (exposed for tests): see the class comment. `what` is
// "METHOD PATH".
absl::Status StatusFromResponse(absl::string_view what, int status, absl::string_view body);

}  // namespace cn::kube
