#pragma once

// Where the Kubernetes API server is and how to prove who we are to it: from the pod's service
// account (in-cluster) or from a kubeconfig file.
//
// TLS is always verified: a kubeconfig that asks for `insecure-skip-tls-verify` or an http://
// server is refused. Without a CA in the configuration, the system CA store is used (managed
// clusters with publicly trusted endpoints).
//
// Credentials, in the order a request uses them: a token file (re-read before every request,
// because bound service account tokens are rotated by the kubelet while the pod runs), a static
// token, or a client certificate and key. Exec plugins, auth providers and basic auth are not
// supported (an error names the key).
//
// Thread safety: ClusterConfig is a value; the loaders are pure functions of their inputs.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/os/file_system.h"

namespace cn::kube {

struct ClusterConfig {
  std::string server;  // "https://host:port", without a trailing slash
  // The CA that signs the server's certificate: a file libcurl reads at each request (the
  // in-cluster ca.crt, a *local* path) or PEM text (kubeconfig). Both empty: the system store.
  std::string ca_file;
  std::string ca_pem;
  std::string token_file;  // host path read through the FileSystem before every request
  std::string token;
  std::string client_certificate_pem;
  std::string client_key_pem;
  // Where this came from, for messages: "in-cluster service account" or
  // "kubeconfig /path (context NAME)".
  std::string source;
};

// The paths a pod's service account is mounted at (fixed by Kubernetes).
struct InClusterPaths {
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
};

// The in-cluster configuration from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (passed
// in, so tests need no environment) and the service account files, read through `file_system`.
// FailedPrecondition naming what is missing: either variable (not running in a pod), the token
// file or the CA file.
absl::StatusOr<ClusterConfig> InClusterConfig(const os::FileSystem& file_system,
                                              std::optional<std::string> service_host,
                                              std::optional<std::string> service_port,
                                              const InClusterPaths& paths = {});

// Parses a kubeconfig (YAML) and resolves its current context. `path` is the file's host path:
// relative file references (certificate-authority, client-certificate, client-key, tokenFile)
// are relative to its directory, as kubectl reads them. Referenced certificate and key files
// are read now, through `file_system`; a token file is read per request. InvalidArgument naming
// the file and the key (for example "kubeconfig /k: users[admin].user: exec plugins are not
// supported") for anything malformed, missing or unsupported.
absl::StatusOr<ClusterConfig> ParseKubeconfig(absl::string_view text, absl::string_view path,
                                              const os::FileSystem& file_system);
// Reads `path` through `file_system` and parses it. NotFound-like errors name the path.
absl::StatusOr<ClusterConfig> LoadKubeconfig(const os::FileSystem& file_system,
                                             absl::string_view path);

// What a daemon's `--kubeconfig` flag means: LoadKubeconfig of `kubeconfig_path` when it is
// given, else InClusterConfig with this process's KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT (the one place that reads them from the environment).
absl::StatusOr<ClusterConfig> KubeconfigOrInClusterConfig(const os::FileSystem& file_system,
                                                          absl::string_view kubeconfig_path);

}  // namespace cn::kube
