#include "src/webhook/service.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace cn::webhook {
namespace {

const prometheus::Histogram::BucketBoundaries& Buckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1};
  return *buckets;
}

}  // namespace

WebhookService::WebhookService(const Mutator& mutator, const Validator& validator,
                               ReviewLimits limits, std::vector<std::string> excluded_namespaces,
                               prometheus::Registry& registry)
    : mutator_(mutator),
      validator_(validator),
      limits_(limits),
      excluded_namespaces_(std::move(excluded_namespaces)),
      admissions_(prometheus::BuildCounter()
                      .Name("cn_webhook_admissions_total")
                      .Help("AdmissionReviews answered, by webhook operation (mutate, validate) "
                            "and verdict (patched, unchanged, allowed, warned, denied, invalid)")
                      .Register(registry)),
      latency_(prometheus::BuildHistogram()
                   .Name("cn_webhook_admission_duration_seconds")
                   .Help("Time from the request body to the answer, by webhook operation")
                   .Register(registry)) {
  mutate_latency_ = &latency_.Add({{"operation", "mutate"}}, Buckets());
  validate_latency_ = &latency_.Add({{"operation", "validate"}}, Buckets());
  // Every series exists from the start, so that rate() works before the first admission.
  for (const char* verdict : {"patched", "unchanged", "invalid"}) {
    admissions_.Add({{"operation", "mutate"}, {"verdict", verdict}});
  }
  for (const char* verdict : {"allowed", "warned", "denied", "invalid"}) {
    admissions_.Add({{"operation", "validate"}, {"verdict", verdict}});
  }
}

void WebhookService::Register(http::Server& server) {
  server.Handle("POST", "/mutate",
                [this](const http::Request& request) { return Mutate(request); });
  server.Handle("POST", "/validate",
                [this](const http::Request& request) { return Validate(request); });
}

http::Response WebhookService::Mutate(const http::Request& request) {
  return Answer(true, request);
}

http::Response WebhookService::Validate(const http::Request& request) {
  return Answer(false, request);
}

http::Response WebhookService::Answer(bool mutate, const http::Request& request) {
  const absl::Time start = absl::Now();
  const char* operation = mutate ? "mutate" : "validate";
  prometheus::Histogram& latency = mutate ? *mutate_latency_ : *validate_latency_;
  absl::StatusOr<Review> review = ParseReview(request.body, limits_);
  if (!review.ok()) {
    admissions_.Add({{"operation", operation}, {"verdict", "invalid"}}).Increment();
    spdlog::warn("/{}: refused a request that is not an AdmissionReview: {}", operation,
                 std::string(review.status().message()));
    latency.Observe(absl::ToDoubleSeconds(absl::Now() - start));
    return http::ErrorResponse(400, "invalid_request", review.status().message());
  }
  const bool excluded = std::find(excluded_namespaces_.begin(), excluded_namespaces_.end(),
                                  review->namespace_name) != excluded_namespaces_.end();
  Verdict verdict;
  if (!excluded) {
    verdict = mutate ? mutator_.Mutate(*review) : validator_.Validate(*review);
  }
  const char* outcome;
  if (mutate) {
    outcome = verdict.patch.empty() ? "unchanged" : "patched";
  } else if (!verdict.allowed) {
    outcome = "denied";
    spdlog::info("/validate: refused pod {}/{} (uid {}): {}", review->namespace_name,
                 review->name.empty() ? "(generated name)" : review->name, review->uid,
                 verdict.message);
  } else {
    outcome = verdict.warnings.empty() ? "allowed" : "warned";
  }
  http::Response response;
  response.body = RenderVerdict(*review, verdict);
  admissions_.Add({{"operation", operation}, {"verdict", outcome}}).Increment();
  latency.Observe(absl::ToDoubleSeconds(absl::Now() - start));
  return response;
}

}  // namespace cn::webhook
