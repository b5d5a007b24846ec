#include "src/kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "src/common/status_macros.h"

namespace cn::kube {
namespace {

std::string TrimTrailingSlashes(std::string server) {
  while (!server.empty() && server.back() == '/') {
    server.pop_back();
  }
  return server;
}

// The kubeconfig being parsed, for messages and relative paths.
struct Source {
  std::string path;
  const os::FileSystem& file_system;

  absl::Status Error(absl::string_view where, absl::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", path, ": ", where, ": ", problem));
  }
  std::string Resolve(const std::string& file) const {
    if (file.empty() || file.front() == '/') {
      return file;
    }
    return (std::filesystem::path(path).parent_path() / file).lexically_normal().string();
  }
  absl::StatusOr<std::string> ReadReferenced(absl::string_view where,
                                             const std::string& file) const {
    absl::StatusOr<std::string> text = file_system.ReadFile(Resolve(file));
    if (!text.ok()) {
      return Error(where,
                   absl::StrCat("cannot read ", Resolve(file), ": ", text.status().message()));
    }
    return text;
  }
};

// A string scalar at `node[key]`, or empty when absent. yaml-cpp throws on type mismatches; every
// access of the parsed tree goes through these helpers inside one try block.
std::string Scalar(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  if (!value || value.IsNull()) {
    return "";
  }
  if (!value.IsScalar()) {
    throw YAML::Exception(YAML::Mark::null_mark(), absl::StrCat("'", key, "' is not a string"));
  }
  return value.as<std::string>();
}

// The entry named `name` in the list `config[list]` (clusters, contexts, users): its inner
// object under `inner`. NotFound-like InvalidArgument naming the list when absent.
absl::StatusOr<YAML::Node> Named(const Source& source, const YAML::Node& config, const char* list,
                                 const char* inner, const std::string& name) {
  const YAML::Node entries = config[list];
  if (entries && !entries.IsSequence() && !entries.IsNull()) {
    return source.Error(list, "is not a list");
  }
  if (entries && entries.IsSequence()) {
    for (const YAML::Node& entry : entries) {
      if (entry.IsMap() && Scalar(entry, "name") == name) {
        const YAML::Node body = entry[inner];
        if (!body || !body.IsMap()) {
          return source.Error(absl::StrCat(list, "[", name, "]"),
                              absl::StrCat("has no '", inner, "' object"));
        }
        return body;
      }
    }
  }
  return source.Error(list, absl::StrCat("no entry named \"", name, "\""));
}

absl::StatusOr<std::string> Base64Field(const Source& source, absl::string_view where,
                                        const std::string& encoded) {
  std::string decoded;
  if (!absl::Base64Unescape(absl::StripAsciiWhitespace(encoded), &decoded)) {
    return source.Error(where, "is not valid base64");
  }
  return decoded;
}

// PEM from "<key>-data" (base64) or "<key>" (a file path); empty when neither is set.
absl::StatusOr<std::string> PemField(const Source& source, const YAML::Node& node,
                                     const std::string& where, const char* key) {
  const std::string data_key = absl::StrCat(key, "-data");
  const std::string data = Scalar(node, data_key.c_str());
  if (!data.empty()) {
    return Base64Field(source, absl::StrCat(where, ".", data_key), data);
  }
  const std::string file = Scalar(node, key);
  if (!file.empty()) {
    return source.ReadReferenced(absl::StrCat(where, ".", key), file);
  }
  return std::string();
}

absl::StatusOr<ClusterConfig> Resolve(const Source& source, const YAML::Node& config) {
  if (!config.IsMap()) {
    return source.Error("top level", "is not a YAML mapping (is this a kubeconfig?)");
  }
  const std::string context_name = Scalar(config, "current-context");
  if (context_name.empty()) {
    return source.Error("current-context", "is not set");
  }
  ASSIGN_OR_RETURN(YAML::Node context, Named(source, config, "contexts", "context", context_name));
  const std::string context_where = absl::StrCat("contexts[", context_name, "].context");
  const std::string cluster_name = Scalar(context, "cluster");
  const std::string user_name = Scalar(context, "user");
  if (cluster_name.empty()) {
    return source.Error(context_where, "has no 'cluster'");
  }
  ClusterConfig result;
  result.source = absl::StrCat("kubeconfig ", source.path, " (context ", context_name, ")");

  ASSIGN_OR_RETURN(YAML::Node cluster, Named(source, config, "clusters", "cluster", cluster_name));
  const std::string cluster_where = absl::StrCat("clusters[", cluster_name, "].cluster");
  result.server = TrimTrailingSlashes(Scalar(cluster, "server"));
  if (result.server.empty()) {
    return source.Error(absl::StrCat(cluster_where, ".server"), "is not set");
  }
  if (!absl::StartsWith(result.server, "https://")) {
    return source.Error(absl::StrCat(cluster_where, ".server"),
                        absl::StrCat("\"", result.server,
                                     "\" is not https:// (the agent only talks to the API server "
                                     "over verified TLS)"));
  }
  const std::string insecure = absl::AsciiStrToLower(Scalar(cluster, "insecure-skip-tls-verify"));
  if (insecure == "true" || insecure == "yes") {
    return source.Error(absl::StrCat(cluster_where, ".insecure-skip-tls-verify"),
                        "is true; TLS is always verified: give certificate-authority(-data)");
  }
  ASSIGN_OR_RETURN(result.ca_pem,
                   PemField(source, cluster, cluster_where, "certificate-authority"));

  if (user_name.empty()) {
    return source.Error(context_where, "has no 'user'");
  }
  ASSIGN_OR_RETURN(YAML::Node user, Named(source, config, "users", "user", user_name));
  const std::string user_where = absl::StrCat("users[", user_name, "].user");
  for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
    if (user[unsupported]) {
      return source.Error(absl::StrCat(user_where, ".", unsupported),
                          "is not supported; use a token, tokenFile or client certificate");
    }
  }
  result.token = std::string(absl::StripAsciiWhitespace(Scalar(user, "token")));
  const std::string token_file = Scalar(user, "tokenFile");
  if (!token_file.empty()) {
    result.token_file = source.Resolve(token_file);
  }
  ASSIGN_OR_RETURN(result.client_certificate_pem,
                   PemField(source, user, user_where, "client-certificate"));
  ASSIGN_OR_RETURN(result.client_key_pem, PemField(source, user, user_where, "client-key"));
  if (result.client_certificate_pem.empty() != result.client_key_pem.empty()) {
    return source.Error(user_where,
                        "has a client certificate without a key or a key without a certificate");
  }
  if (result.token.empty() && result.token_file.empty() && result.client_certificate_pem.empty()) {
    return source.Error(user_where,
                        "has no credentials (token, tokenFile, or client-certificate and "
                        "client-key)");
  }
  return result;
}

}  // namespace

absl::StatusOr<ClusterConfig> InClusterConfig(const os::FileSystem& file_system,
                                              std::optional<std::string> service_host,
                                              std::optional<std::string> service_port,
                                              const InClusterPaths& paths) {
  if (!service_host.has_value() || service_host->empty() || !service_port.has_value() ||
      service_port->empty()) {
    return absl::FailedPreconditionError(
        "not running in a pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both "
        "set): give --kubeconfig FILE");
  }
  ClusterConfig config;
  // An IPv6 service address must be bracketed in a URL.
  const std::string host =
      absl::StrContains(*service_host, ':') ? absl::StrCat("[", *service_host, "]") : *service_host;
  config.server = absl::StrCat("https://", host, ":", *service_port);
  for (const std::string* file : {&paths.token_file, &paths.ca_file}) {
    absl::StatusOr<os::FileType> type = file_system.Stat(*file);
    if (!type.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("in-cluster service account: ", *file, ": ",
                                                        type.status().message(),
                                                        " (is automountServiceAccountToken off?)"));
    }
  }
  config.token_file = paths.token_file;
  config.ca_file = file_system.LocalPath(paths.ca_file);
  config.source = "in-cluster service account";
  return config;
}

absl::StatusOr<ClusterConfig> ParseKubeconfig(absl::string_view text, absl::string_view path,
                                              const os::FileSystem& file_system) {
  const Source source{std::string(path), file_system};
  try {
    const YAML::Node config = YAML::Load(std::string(text));
    return Resolve(source, config);
  } catch (const YAML::Exception& error) {
    // yaml-cpp's marks are 0-based; editors count lines from 1.
    const std::string where =
        error.mark.is_null()
            ? std::string("YAML")
            : absl::StrCat("line ", error.mark.line + 1, ", column ", error.mark.column + 1);
    return source.Error(where, error.msg);
  }
}

absl::StatusOr<ClusterConfig> LoadKubeconfig(const os::FileSystem& file_system,
                                             absl::string_view path) {
  absl::StatusOr<std::string> text = file_system.ReadFile(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("--kubeconfig: ", text.status().message()));
  }
  return ParseKubeconfig(*text, path, file_system);
}

absl::StatusOr<ClusterConfig> KubeconfigOrInClusterConfig(const os::FileSystem& file_system,
                                                          absl::string_view kubeconfig_path) {
  if (!kubeconfig_path.empty()) {
    return LoadKubeconfig(file_system, kubeconfig_path);
  }
  auto environment = [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
  };
  return InClusterConfig(file_system, environment("KUBERNETES_SERVICE_HOST"),
                         environment("KUBERNETES_SERVICE_PORT"));
}

}  // namespace cn::kube
