#include "src/nodeagent/flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cn::nodeagent {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<Flags> Parse(const std::vector<std::string>& arguments,
                            std::optional<std::string> env = std::nullopt) {
  std::vector<std::string> argv = {"sgx-node-agent"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return ParseFlags(argv, env);
}

TEST(NodeAgentFlagsTest, DefaultsAndTheNodeNameFromTheEnvironment) {
  absl::StatusOr<Flags> flags = Parse({}, "node-1");
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->node_name, "node-1");
  EXPECT_EQ(flags->resync_interval, absl::Seconds(60));
  EXPECT_EQ(flags->host_root, "/");
  EXPECT_FALSE(flags->once);
  absl::StatusOr<Flags> explicit_name =
      Parse({"--node-name", "n2", "--resync-interval=5", "--once", "--metrics-addr="}, "node-1");
  ASSERT_TRUE(explicit_name.ok()) << explicit_name.status();
  EXPECT_EQ(explicit_name->node_name, "n2");
  EXPECT_EQ(explicit_name->resync_interval, absl::Seconds(5));
  EXPECT_TRUE(explicit_name->once);
  EXPECT_EQ(explicit_name->metrics_addr, "");
  absl::StatusOr<Flags> relative = Parse({"--kubeconfig", "dir/kubeconfig"}, "n");
  ASSERT_TRUE(relative.ok());
  EXPECT_EQ(relative->kubeconfig.front(), '/');
  EXPECT_TRUE(relative->kubeconfig.ends_with("/dir/kubeconfig")) << relative->kubeconfig;
}

TEST(NodeAgentFlagsTest, NoNodeNameIsAnErrorUnlessWritingAnNfdFile) {
  EXPECT_THAT(Parse({}).status().message(), HasSubstr("NODE_NAME"));
  EXPECT_TRUE(Parse({"--nfd-features-dir", "/etc/nfd"}).ok());
}

TEST(NodeAgentFlagsTest, BadValuesNameTheFlag) {
  EXPECT_THAT(Parse({"--resync-interval", "0"}, "n").status().message(),
              HasSubstr("--resync-interval"));
  EXPECT_THAT(Parse({"--metrics-addr", "nope"}, "n").status().message(),
              HasSubstr("--metrics-addr"));
  EXPECT_THAT(Parse({"--log-format", "xml"}, "n").status().message(), HasSubstr("xml"));
  EXPECT_THAT(Parse({"--node-name", "Bad/Name"}).status().message(), HasSubstr("--node-name"));
  EXPECT_FALSE(Parse({"--no-such-flag"}, "n").ok());
}

}  // namespace
}  // namespace cn::nodeagent
