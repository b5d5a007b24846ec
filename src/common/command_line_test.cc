#include "src/common/command_line.h"

#include <unistd.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cn::common {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

struct App {
  CLI::App app{"test app", "test"};
  std::string address = ":9876";
  std::string name;
  bool verbose = false;
  App() {
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.add_option("--metrics-addr", address, "address");
    app.add_option("--name", name, "name");
    app.add_flag("--verbose", verbose, "verbose");
  }
};

TEST(ParseCommandLineTest, AnEqualsSignWithNothingAfterItIsTheEmptyValue) {
  App app;
  auto parsed = ParseCommandLine(app.app, {"test", "--metrics-addr=", "--verbose"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, std::nullopt);
  EXPECT_EQ(app.address, "");
  EXPECT_TRUE(app.verbose);
}

TEST(ParseCommandLineTest, ValuesInEitherFormAndTheLastOfTwoWins) {
  App app;
  auto parsed = ParseCommandLine(app.app, {"test", "--name", "a", "--metrics-addr=:1", "--name=b"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(app.name, "b");
  EXPECT_EQ(app.address, ":1");
}

TEST(ParseCommandLineTest, HelpIsTheHelpTextNotAnError) {
  App app;
  auto parsed = ParseCommandLine(app.app, {"test", "--help"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, Optional(HasSubstr("--metrics-addr")));
}

TEST(ParseCommandLineTest, AnUnknownFlagIsInvalidArgumentNamingIt) {
  App app;
  auto parsed = ParseCommandLine(app.app, {"test", "--bogus"});
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("--bogus"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("(see --help)"));
}

TEST(AbsolutePathTest, RelativePathsResolveAgainstTheWorkingDirectory) {
  const std::string cwd = std::filesystem::current_path().string();
  EXPECT_EQ(AbsolutePath("a/./b/../c"), cwd + "/a/c");
  EXPECT_EQ(AbsolutePath("/x//y/"), "/x/y/");
  EXPECT_EQ(AbsolutePath(""), "");
}

TEST(AbsoluteDirectoryTest, DropsTrailingSlashesAndEmptyIsRoot) {
  EXPECT_EQ(AbsoluteDirectory("/host/"), "/host");
  EXPECT_EQ(AbsoluteDirectory("/"), "/");
  EXPECT_EQ(AbsoluteDirectory(""), "/");
  EXPECT_EQ(AbsoluteDirectory("//"), "/");
}

}  // namespace
}  // namespace cn::common
