#include "src/webhook/quantity.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cn::webhook {
namespace {

using ::testing::HasSubstr;

TEST(QuantityToMiB, RoundsEveryNotationUpToWholeMiB) {
  EXPECT_EQ(*QuantityToMiB("10Mi"), 10);
  EXPECT_EQ(*QuantityToMiB("1500Ki"), 2);  // 1.46 MiB
  EXPECT_EQ(*QuantityToMiB("1024Ki"), 1);
  EXPECT_EQ(*QuantityToMiB("1025Ki"), 2);
  EXPECT_EQ(*QuantityToMiB("5M"), 5);  // 4.77 MiB
  EXPECT_EQ(*QuantityToMiB("1Gi"), 1024);
  EXPECT_EQ(*QuantityToMiB("0.5Gi"), 512);
  EXPECT_EQ(*QuantityToMiB(".5Gi"), 512);
  EXPECT_EQ(*QuantityToMiB("1048576"), 1);
  EXPECT_EQ(*QuantityToMiB("1048577"), 2);
  EXPECT_EQ(*QuantityToMiB("1e6"), 1);
  EXPECT_EQ(*QuantityToMiB("2E6"), 2);
  EXPECT_EQ(*QuantityToMiB("1E"), 953674316407);  // 10^18 bytes
  EXPECT_EQ(*QuantityToMiB("1k"), 1);
  EXPECT_EQ(*QuantityToMiB("+3Mi"), 3);
  EXPECT_EQ(*QuantityToMiB("0"), 0);
  EXPECT_EQ(*QuantityToMiB("0Mi"), 0);
  EXPECT_EQ(*QuantityToMiB("1m"), 1);  // a thousandth of a byte still needs a MiB
  EXPECT_EQ(*QuantityToMiB("256Gi"), 262144);
  EXPECT_EQ(*QuantityToMiB("0.000000000000000000000000000000001Mi"), 1);
}

TEST(QuantityToMiB, RefusesNonsenseWithTheReason) {
  struct Case {
    const char* text;
    const char* why;
  } cases[] = {
      {"", "empty"},
      {"-10Mi", "negative"},
      {"10MB", "unknown suffix \"MB\""},
      {"10mi", "unknown suffix"},
      {"Mi", "does not start with a number"},
      {"1.2.3Mi", "more than one decimal point"},
      {"1e", "unknown suffix"},
      {"1e999", "exponent"},
      {"1e1.5", "exponent"},
      {"10 Mi", "unknown suffix"},
      {"2Ei", "larger than 1 EiB"},
      {"99999999999999999999999", "digits"},
      {"1Pi", ""},  // 2^30 MiB: allowed (below the limit)
  };
  for (const Case& c : cases) {
    absl::StatusOr<int64_t> mib = QuantityToMiB(c.text);
    if (*c.why == '\0') {
      EXPECT_TRUE(mib.ok()) << c.text;
      continue;
    }
    ASSERT_FALSE(mib.ok()) << c.text << " gave " << *mib;
    EXPECT_THAT(mib.status().message(), HasSubstr(c.why)) << c.text;
    EXPECT_THAT(mib.status().message(), HasSubstr(absl::StrCat("\"", c.text)));
  }
}

}  // namespace
}  // namespace cn::webhook
