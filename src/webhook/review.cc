#include "src/webhook/review.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace cn::webhook {
namespace {

constexpr absl::string_view kV1 = "admission.k8s.io/v1";
constexpr absl::string_view kV1beta1 = "admission.k8s.io/v1beta1";

const nlohmann::json* Member(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) {
    return nullptr;
  }
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string StringMember(const nlohmann::json& object, const char* key) {
  const nlohmann::json* value = Member(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

// request.kind is {group, version, kind} of the object; request.resource the REST resource.
// Either saying core/v1 Pod (and no subresource: pods/status, pods/binding and friends are not
// pod creations) makes it a Pod.
bool IsPod(const nlohmann::json& request) {
  if (!StringMember(request, "subResource").empty()) {
    return false;
  }
  const nlohmann::json* kind = Member(request, "kind");
  if (kind != nullptr && kind->is_object()) {
    return StringMember(*kind, "group").empty() && StringMember(*kind, "version") == "v1" &&
           StringMember(*kind, "kind") == "Pod";
  }
  const nlohmann::json* resource = Member(request, "resource");
  return resource != nullptr && StringMember(*resource, "group").empty() &&
         StringMember(*resource, "version") == "v1" &&
         StringMember(*resource, "resource") == "pods";
}

}  // namespace

int JsonNestingDepth(absl::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > limit) {
            return deepest;
          }
        }
        break;
      case ']':
      case '}':
        --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

absl::StatusOr<Review> ParseReview(absl::string_view body, const ReviewLimits& limits) {
  if (body.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the AdmissionReview is ", body.size(), " bytes, above the limit of ", limits.max_bytes));
  }
  // nlohmann's parser is iterative, but the values it builds are destroyed and copied
  // recursively: bound the depth before building anything.
  if (JsonNestingDepth(body, limits.max_depth) > limits.max_depth) {
    return absl::InvalidArgumentError(absl::StrCat("the AdmissionReview nests deeper than ",
                                                   limits.max_depth, " arrays or objects"));
  }
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InvalidArgumentError("the body is not JSON (expected an AdmissionReview)");
  }
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the body is a JSON ", parsed.type_name(), ", not an AdmissionReview object"));
  }
  Review review;
  review.api_version = StringMember(parsed, "apiVersion");
  if (review.api_version != kV1 && review.api_version != kV1beta1) {
    return absl::InvalidArgumentError(
        absl::StrCat("apiVersion \"", absl::CEscape(review.api_version.substr(0, 64)),
                     "\" is not admission.k8s.io/v1 or admission.k8s.io/v1beta1"));
  }
  const std::string kind = StringMember(parsed, "kind");
  if (kind != "AdmissionReview") {
    return absl::InvalidArgumentError(
        absl::StrCat("kind \"", absl::CEscape(kind.substr(0, 64)), "\" is not AdmissionReview"));
  }
  const nlohmann::json* request = Member(parsed, "request");
  if (request == nullptr || !request->is_object()) {
    return absl::InvalidArgumentError("the AdmissionReview has no request object");
  }
  review.uid = StringMember(*request, "uid");
  if (review.uid.empty()) {
    return absl::InvalidArgumentError("request.uid is missing, empty or not a string");
  }
  if (review.uid.size() > 256) {
    return absl::InvalidArgumentError("request.uid is longer than 256 characters");
  }
  review.operation = StringMember(*request, "operation");
  review.is_pod = IsPod(*request);
  review.namespace_name = StringMember(*request, "namespace");
  review.name = StringMember(*request, "name");
  if (const nlohmann::json* object = Member(*request, "object"); object != nullptr) {
    review.object = std::move(parsed["request"]["object"]);
  }
  return review;
}

std::string RenderVerdict(const Review& review, const Verdict& verdict) {
  nlohmann::json response = {{"uid", review.uid}, {"allowed", verdict.allowed}};
  if (verdict.allowed && !verdict.patch.empty()) {
    response["patchType"] = "JSONPatch";
    response["patch"] = absl::Base64Escape(verdict.patch.dump());
  }
  if (!verdict.allowed) {
    response["status"] = {{"code", 403},
                          {"reason", "Forbidden"},
                          {"status", "Failure"},
                          {"message", verdict.message}};
  }
  if (!verdict.warnings.empty()) {
    response["warnings"] = verdict.warnings;
  }
  nlohmann::json answer = {
      {"apiVersion", review.api_version}, {"kind", "AdmissionReview"}, {"response", response}};
  // Replacement instead of an exception for invalid UTF-8 that came in a name or value.
  return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cn::webhook
