// libFuzzer target: the AdmissionReview parser and everything that reads the untrusted Pod
// (mutator, validator, quantity parser, answer rendering). Besides not crashing, it checks the
// properties the webhook promises: every patch applies to the pod it was made for, a second
// mutation of the result gives an empty patch (reinvocation), and every answer is JSON that
// carries the request's uid.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "nlohmann/json.hpp"
#include "src/webhook/mutator.h"
#include "src/webhook/quantity.h"
#include "src/webhook/review.h"
#include "src/webhook/validator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)cn::webhook::QuantityToMiB(text.substr(0, 64));
  absl::StatusOr<cn::webhook::Review> review = cn::webhook::ParseReview(text);
  if (!review.ok()) {
    return 0;
  }
  static const cn::webhook::Mutator* mutators[] = {
      new cn::webhook::Mutator({.quote_helper = cn::webhook::QuoteHelper::kProvision,
                                .tolerations = {"sgx.example/node"}}),
      new cn::webhook::Mutator(
          {.quote_helper = cn::webhook::QuoteHelper::kAesm, .tolerations = {}})};
  static const cn::webhook::Validator validator(nullptr);
  for (const cn::webhook::Mutator* mutator : mutators) {
    cn::webhook::Verdict verdict = mutator->Mutate(*review);
    if (!verdict.allowed) {
      std::abort();
    }
    if (!verdict.patch.empty()) {
      nlohmann::json patched;
      try {
        patched = review->object.patch(verdict.patch);
      } catch (const nlohmann::json::exception&) {
        std::abort();  // a patch that does not apply to its own pod
      }
      if (!mutator->PatchFor(patched).empty()) {
        std::abort();  // not idempotent
      }
    }
    const nlohmann::json answer = nlohmann::json::parse(
        cn::webhook::RenderVerdict(*review, verdict), nullptr, /*allow_exceptions=*/false);
    if (answer.is_discarded() || answer["response"]["uid"] != review->uid) {
      std::abort();
    }
  }
  cn::webhook::Verdict validated = validator.Validate(*review);
  (void)cn::webhook::RenderVerdict(*review, validated);
  return 0;
}
