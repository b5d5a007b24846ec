#include "src/common/logging.h"

#include "gtest/gtest.h"

namespace cn::common {
namespace {

TEST(ParseLogFormat, AcceptsTextAndJson) {
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
}

TEST(ParseLogFormat, RejectsUnknownFormatNamingIt) {
  auto format = ParseLogFormat("yaml");
  ASSERT_FALSE(format.ok());
  EXPECT_NE(format.status().message().find("yaml"), std::string::npos);
}

TEST(JsonEscape, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonEscape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace cn::common
