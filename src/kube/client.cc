#include "src/kube/client.h"

#include <algorithm>

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

absl::StatusOr<http::HttpRequest> ApiClient::NewRequest(absl::string_view method,
                                                        absl::string_view path,
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
  return request;
}

absl::StatusOr<nlohmann::json> ApiClient::Call(absl::string_view method, absl::string_view path,
                                               const std::string& body,
                                               absl::string_view content_type) const {
  const std::string what = absl::StrCat(method, " ", path);
  ASSIGN_OR_RETURN(http::HttpRequest request, NewRequest(method, path, body, content_type));
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

absl::Status ApiClient::Watch(absl::string_view path, absl::string_view resource_version,
                              absl::Duration duration,
                              const std::function<bool(const WatchEvent&)>& on_event,
                              const std::function<bool()>& keep_going) const {
  const int64_t seconds = std::max<int64_t>(1, absl::ToInt64Seconds(duration));
  const std::string watch_path =
      absl::StrCat(path, "?watch=1&allowWatchBookmarks=true&timeoutSeconds=", seconds,
                   resource_version.empty() ? "" : "&resourceVersion=", resource_version);
  const std::string what = absl::StrCat("WATCH ", path);
  ASSIGN_OR_RETURN(http::HttpRequest request, NewRequest("GET", watch_path, "", ""));
  // Events arrive one JSON object per line; a line may span chunks.
  std::string line;
  absl::Status ended;
  bool stopped = false;
  auto on_body = [&](absl::string_view chunk) {
    if (chunk.empty()) {
      stopped = !keep_going();
      return !stopped;
    }
    while (!chunk.empty()) {
      const size_t newline = chunk.find('\n');
      absl::StrAppend(&line, chunk.substr(0, newline));
      if (line.size() > options_.max_body_bytes) {
        ended = absl::ResourceExhaustedError(
            absl::StrCat(what, ": an event is larger than ", options_.max_body_bytes, " bytes"));
        return false;
      }
      if (newline == absl::string_view::npos) {
        break;
      }
      chunk.remove_prefix(newline + 1);
      nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
      line.clear();
      if (!event.is_object() || !event.contains("type") || !event["type"].is_string() ||
          !event.contains("object") || !event["object"].is_object()) {
        ended = absl::UnknownError(absl::StrCat(what, ": an event is not {type, object}"));
        return false;
      }
      WatchEvent parsed{event["type"].get<std::string>(), std::move(event["object"])};
      if (parsed.type == "ERROR") {
        const int code = parsed.object.value("code", 0);
        ended = StatusFromResponse(what, code, parsed.object.dump());
        return false;
      }
      if (!on_event(parsed)) {
        stopped = true;
        return false;
      }
    }
    return true;
  };
  absl::StatusOr<http::HttpResponse> response =
      http_.Send(request, {.timeout = duration + absl::Seconds(15),
                           .max_body_bytes = options_.max_body_bytes,
                           .on_body = on_body});
  if (!ended.ok()) {
    return ended;
  }
  if (stopped) {
    return absl::OkStatus();
  }
  if (!response.ok()) {
    return absl::Status(
        response.status().code(),
        absl::StrCat(response.status().message(), " (API server from ", config_.source, ")"));
  }
  if (response->status != 200) {
    return StatusFromResponse(what, response->status, response->body);
  }
  return absl::OkStatus();
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
    case 410:
      return absl::FailedPreconditionError(
          absl::StrCat(message, " (the resourceVersion is too old: list again)"));
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
