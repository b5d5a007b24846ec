#pragma once

// WebhookService: POST /mutate and POST /validate on a cn::http::Server (HTTPS), with the
// admission metrics:
//   cn_webhook_admissions_total{operation="mutate"|"validate", verdict}   verdict is one of
//     patched     /mutate answered with a patch
//     unchanged   /mutate answered without one (no SGX resource, not a Pod CREATE, reinvocation)
//     allowed     /validate allowed the pod
//     warned      /validate allowed it with a warning (more EPC than the largest node offers)
//     denied      /validate refused it
//     invalid     the body was not an AdmissionReview: answered 400 with the reason
//   cn_webhook_admission_duration_seconds{operation}   time from body to answer, a histogram.
//
// Requests from `excluded_namespaces` (kube-system and ours) are allowed unchanged even when
// the API server sends them: the configurations' namespaceSelector leaves them out by the
// kubernetes.io/metadata.name label, which API servers before 1.21 do not set.
//
// A query string (the API server sends ?timeout=10s) is ignored. Bad input is a 400 with
// {"error": {...}} naming what was wrong, never a 5xx (review.h says what is a parse error and
// what is allowed unchanged). Each refusal and each 400 is logged once with the request's uid,
// namespace and name (never the object).
//
// Thread-safe: handlers run on the server's threads at once; the mutator and validator keep
// no state and the metrics are prometheus-cpp's.

#include <memory>
#include <string>
#include <vector>

#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "src/http/server.h"
#include "src/webhook/mutator.h"
#include "src/webhook/review.h"
#include "src/webhook/validator.h"

namespace cn::webhook {

class WebhookService {
 public:
  // `mutator` and `validator` must outlive the service; the metrics go into `registry`.
  WebhookService(const Mutator& mutator, const Validator& validator, ReviewLimits limits,
                 std::vector<std::string> excluded_namespaces, prometheus::Registry& registry);

  void Register(http::Server& server);

  // The handlers, callable without a server (tests, the benchmark).
  http::Response Mutate(const http::Request& request);
  http::Response Validate(const http::Request& request);

 private:
  http::Response Answer(bool mutate, const http::Request& request);

  const Mutator& mutator_;
  const Validator& validator_;
  const ReviewLimits limits_;
  const std::vector<std::string> excluded_namespaces_;
  prometheus::Family<prometheus::Counter>& admissions_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Histogram* mutate_latency_;
  prometheus::Histogram* validate_latency_;
};

}  // namespace cn::webhook
