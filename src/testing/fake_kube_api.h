#pragma once

// FakeKubeApi: a Kubernetes API server stand-in over real HTTPS, for tests of src/kube, the node
// agent and the webhook. It serves GET and PATCH (application/merge-patch+json only) of
// /api/v1/nodes/NAME, LIST and WATCH of /api/v1/nodes (watch=1 streams the node events after
// the given resourceVersion, one JSON line each, until timeoutSeconds), and any other object
// path generically: GET, POST to its collection (409 AlreadyExists when the name is taken), PUT
// (409 on a stale metadata.resourceVersion) and PATCH with application/json-patch+json (422
// when an operation, a `test` say, fails). All with the API server's semantics that matter to
// a client: resourceVersion
// bumps on every change, a patch carrying a stale metadata.resourceVersion is a 409, a missing
// node a 404 with a Status object, a wrong bearer token a 401. Tests can make it refuse (403,
// 500...), change a node behind the client's back, delete and re-create nodes, and read every
// request it received.
//
// TLS: a fresh test CA signs a certificate for "localhost"; ca_pem()/ca_file() are what a client
// must trust. url() is https://localhost:PORT.
//
// Thread safety: every method is safe to call while the server thread answers requests.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/testing/temp_dir.h"

namespace httplib {
class SSLServer;
}

namespace cn::testing {

struct RecordedRequest {
  std::string method;
  std::string path;
  std::string content_type;
  std::string authorization;
  std::string body;
};

// A CA and a leaf certificate it signed, as PEM files in a temp dir (test-only).
struct TestTlsFiles {
  std::string ca_pem;
  std::string ca_file;
  std::string certificate_file;
  std::string key_file;
  std::string certificate_pem;
  std::string key_pem;
};
// A fresh CA named `ca_name` and a leaf for `common_name` in `dir`, files prefixed `prefix`.
TestTlsFiles MakeTestTls(const TempDir& dir, const std::string& prefix,
                         const std::string& common_name, const std::string& ca_name);

class FakeKubeApi {
 public:
  FakeKubeApi();
  ~FakeKubeApi();
  FakeKubeApi(const FakeKubeApi&) = delete;
  FakeKubeApi& operator=(const FakeKubeApi&) = delete;

  std::string url() const;
  const std::string& ca_pem() const { return tls_.ca_pem; }
  const std::string& ca_file() const { return tls_.ca_file; }

  // Requests must carry "Authorization: Bearer TOKEN" (default "test-token"); others get 401.
  void SetToken(std::string token);
  // Every request is answered with this status (and a Status body) until cleared with 0.
  void FailWith(int status);
  // The next `count` requests only are answered with `status`.
  void FailNext(int count, int status);
  // Before the next `count` patches are applied, a foreign label is changed (as another writer
  // would), so a patch carrying the resourceVersion the client read is refused with 409.
  void ChangeBeforeNextPatches(int count);

  // Any object at its path ("/api/v1/namespaces/ns/secrets/name"): stored as given (the
  // resourceVersion is set), read back, removed.
  void PutObject(const std::string& path, nlohmann::json object);
  std::optional<nlohmann::json> Object(const std::string& path) const;
  void DeleteObject(const std::string& path);
  // Creates or replaces a node given as a whole object (status included: allocatable EPC).
  void PutNodeObject(nlohmann::json node);
  // Watches in progress (open WATCH streams).
  int OpenWatches() const;

  // Creates or replaces a node with these labels and annotations.
  void PutNode(const std::string& name, const std::map<std::string, std::string>& labels = {},
               const std::map<std::string, std::string>& annotations = {});
  void DeleteNode(const std::string& name);
  // Changes one label by hand, as `kubectl label` would (bumps the resourceVersion).
  void SetLabel(const std::string& name, const std::string& key, const std::string& value);
  void RemoveLabel(const std::string& name, const std::string& key);

  // The node's labels/annotations; empty when it does not exist.
  std::map<std::string, std::string> Labels(const std::string& name) const;
  std::map<std::string, std::string> Annotations(const std::string& name) const;
  bool HasNode(const std::string& name) const;
  std::vector<RecordedRequest> Requests() const;
  int CountRequests(const std::string& method) const;
  void ClearRequests();
  // Blocks until `condition` holds on the node's labels, or `timeout`; returns whether it held.
  bool WaitForLabels(
      const std::string& name,
      const std::function<bool(const std::map<std::string, std::string>&)>& condition,
      absl::Duration timeout) const;
  // Blocks until at least `count` requests of `method` arrived, or `timeout`.
  bool WaitForRequests(const std::string& method, int count, absl::Duration timeout) const;

 private:
  void Bump(nlohmann::json& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void NodeEvent(const std::string& type, const nlohmann::json& node)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  bool HandleGeneric(const std::string& method, const std::string& path,
                     const std::string& content_type, const std::string& body, int& status,
                     std::string& answer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  TempDir dir_;
  TestTlsFiles tls_;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;

  mutable absl::Mutex mutex_;
  std::string token_ ABSL_GUARDED_BY(mutex_) = "test-token";
  int fail_status_ ABSL_GUARDED_BY(mutex_) = 0;
  int fail_next_count_ ABSL_GUARDED_BY(mutex_) = 0;
  int fail_next_status_ ABSL_GUARDED_BY(mutex_) = 0;
  int change_before_patches_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t resource_version_ ABSL_GUARDED_BY(mutex_) = 100;
  std::map<std::string, nlohmann::json> nodes_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::pair<int64_t, nlohmann::json>> node_events_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, nlohmann::json> objects_ ABSL_GUARDED_BY(mutex_);
  int open_watches_ ABSL_GUARDED_BY(mutex_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<RecordedRequest> requests_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace cn::testing
