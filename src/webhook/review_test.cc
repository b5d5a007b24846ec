#include "src/webhook/review.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cn::webhook {
namespace {

using ::testing::HasSubstr;

TEST(ParseReview, RefusesWhatIsNotAnAdmissionReviewWithTheReason) {
  struct Case {
    std::string body;
    const char* why;
  } cases[] = {
      {"", "not JSON"},
      {"not json", "not JSON"},
      {"[1,2]", "a JSON array, not an AdmissionReview"},
      {R"({"apiVersion":"v1","kind":"AdmissionReview","request":{"uid":"u"}})",
       "apiVersion \"v1\""},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{"uid":"u"}})",
       "kind \"Pod\""},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})", "no request object"},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null})",
       "no request object"},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7}})",
       "request.uid"},
      {R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":""}})",
       "request.uid"},
      {absl::StrCat(
           R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","object":)",
           std::string(100, '['), std::string(100, ']'), "}}"),
       "nests deeper than 64"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Review> review = ParseReview(c.body);
    ASSERT_FALSE(review.ok()) << c.body;
    EXPECT_EQ(review.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(review.status().message(), HasSubstr(c.why)) << c.body;
  }
  absl::StatusOr<Review> large = ParseReview(std::string(100, ' '), {.max_bytes = 10});
  EXPECT_THAT(large.status().message(), HasSubstr("above the limit of 10"));
}

TEST(ParseReview, TakesOddRequestsAsNotPodCreations) {
  absl::StatusOr<Review> review = ParseReview(
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u",)"
      R"("kind":{"group":"apps","version":"v1","kind":"Deployment"},"operation":"CREATE",)"
      R"("object":{"spec":7}}})");
  ASSERT_TRUE(review.ok()) << review.status();
  EXPECT_FALSE(review->is_pod);
  review = ParseReview(
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u",)"
      R"("kind":{"group":"","version":"v1","kind":"Pod"},"subResource":"status"}})");
  ASSERT_TRUE(review.ok());
  EXPECT_FALSE(review->is_pod);
  EXPECT_TRUE(review->object.is_null());
}

TEST(JsonNestingDepth, IgnoresBracketsInStrings) {
  EXPECT_EQ(JsonNestingDepth(R"({"a":"[[[[{{{\"]]]"})", 10), 1);
  EXPECT_EQ(JsonNestingDepth("[[[]]]", 10), 3);
  EXPECT_EQ(JsonNestingDepth("[[[[[[", 3), 4);  // stops counting past the limit
}

}  // namespace
}  // namespace cn::webhook
