#include "src/kube/client.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "src/common/status_macros.h"

namespace cn::kube {
namespace {

// The Status object's message in an error answer, or the start of the body when it is not one.
std::string ServerMessage(absl::string_view body) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()) {
    return parsed["message"].get<std::string>();
  }
  std::string text(absl::StripAsciiWhitespace(body.substr(0, 200)));
  return text.empty() ? std::string("(empty answer)") : text;
}

}  // namespace

ApiClient::ApiClient(ClusterConfig config, const http::HttpClient& http,
                     const os::FileSystem& file_system, Options options)
    : config_(std::move(config)), http_(http), file_system_(file_system), options_(options) {}

absl::StatusOr<nlohmann::json> ApiClient::Get(absl::string_view path) const {
  return Call("GET", path, "", "");
}

absl::StatusOr<nlohmann::json> ApiClient::MergePatch(absl::string_view path,
                                                     const nlohmann::json& patch) const {
  return Call("PATCH", path, patch.dump(), "application/merge-patch+json");
}

absl::StatusOr<nlohmann::json> ApiClient::JsonPatch(absl::string_view path,
                                                    const nlohmann::json& operations) const {
  return Call("PATCH", path, operations.dump(), "application/json-patch+json");
}

absl::StatusOr<nlohmann::json> ApiClient::Create(absl::string_view path,
                                                 const nlohmann::json& object) const {
  return Call("POST", path, object.dump(), "application/json");
}

absl::StatusOr<nlohmann::json> ApiClient::Update(absl::string_view path,
                                                 const nlohmann::json& object) const {
  return Call("PUT", path, object.dump(), "application/json");
}

absl::StatusOr<nlohmann::json> ApiClient::Call(absl::string_view method, absl::string_view path,
                                               const std::string& body,
                                               absl::string_view content_type) const {
  const std::string what = absl::StrCat(method, " ", path);
  http::HttpRequest request;
  request.method = std::string(method);
  request.url = absl::StrCat(config_.server, path);
  request.headers.emplace_back("Accept", "application/json");
  if (!body.empty()) {
    request.body = body;
    request.content_type = std::string(content_type);
  }
  std::string token = config_.token;
  if (!config_.token_file.empty()) {
    // Read per request: the kubelet rewrites a bound token well before it expires.
    absl::StatusOr<std::string> read = file_system_.ReadFile(config_.token_file);
    if (!read.ok()) {
      return absl::PermissionDeniedError(absl::StrCat(what, ": cannot read the token file ",
                                                      config_.token_file, ": ",
                                                      read.status().message()));
    }
    token = std::string(absl::StripAsciiWhitespace(*read));
    if (token.empty()) {
      return absl::PermissionDeniedError(
          absl::StrCat(what, ": the token file ", config_.token_file, " is empty"));
    }
  }
  if (!token.empty()) {
    request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", token));
  }
  request.tls.ca_file = config_.ca_file;
  request.tls.ca_pem = config_.ca_pem;
  request.tls.client_certificate_pem = config_.client_certificate_pem;
  request.tls.client_key_pem = config_.client_key_pem;

  absl::StatusOr<http::HttpResponse> response =
      http_.Send(request, {.timeout = options_.timeout, .max_body_bytes = options_.max_body_bytes});
  if (!response.ok()) {
    return absl::Status(
        response.status().code(),
        absl::StrCat(response.status().message(), " (API server from ", config_.source, ")"));
  }
  if (response->status < 200 || response->status > 299) {
    return StatusFromResponse(what, response->status, response->body);
  }
  nlohmann::json parsed = nlohmann::json::parse(response->body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return absl::UnknownError(absl::StrCat(what, ": the API server answered ", response->status,
                                           " with a body that is "
                                           "not a JSON object"));
  }
  return parsed;
}

absl::StatusOr<std::string> NodePath(absl::string_view name) {
  bool valid = !name.empty() && name.size() <= 253 && name.front() != '-' && name.front() != '.' &&
               name.back() != '-' && name.back() != '.';
  for (char c : name) {
    valid = valid && (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '.');
  }
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat("node name \"", absl::CEscape(name),
                     "\" is not a DNS subdomain (lower-case letters, digits, '-', '.')"));
  }
  return absl::StrCat("/api/v1/nodes/", name);
}

absl::Status StatusFromResponse(absl::string_view what, int status, absl::string_view body) {
  const std::string message = absl::StrCat(what, ": HTTP ", status, ": ", ServerMessage(body));
  switch (status) {
    case 401:
      return absl::PermissionDeniedError(
          absl::StrCat(message,
                       " (the API server did not accept the credentials: token or client "
                       "certificate)"));
    case 403:
      return absl::PermissionDeniedError(
          absl::StrCat(message,
                       " (RBAC does not allow this: the identity needs this verb on "
                       "this resource, for the node agent get and patch on nodes)"));
    case 404:
      return absl::NotFoundError(message);
    case 409:
      return absl::AbortedError(absl::StrCat(message, " (conflict: read again and retry)"));
    case 400:
    case 422:
      return absl::InvalidArgumentError(message);
    case 429:
      return absl::UnavailableError(message);
    default:
      if (status >= 500 && status <= 599) {
        return absl::UnavailableError(message);
      }
      return absl::UnknownError(message);
  }
}

}  // namespace cn::kube
