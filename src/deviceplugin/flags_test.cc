#include "src/deviceplugin/flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/http/probe_server.h"

namespace cn::deviceplugin {
namespace {

using ::cn::http::ParseListenAddress;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<ParsedFlags> Parse(const std::vector<std::string>& arguments) {
  std::vector<std::string> argv;
  argv.reserve(arguments.size() + 1);
  argv.push_back("sgx-device-plugin");
  for (const std::string& argument : arguments) {
    argv.push_back(argument);
  }
  return ParseFlags(argv);
}

TEST(FlagsTest, DefaultsAreTheDocumentedOnes) {
  auto parsed = Parse({});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const Options& options = parsed->options;
  EXPECT_EQ(options.kubelet_dir, "/var/lib/kubelet/device-plugins");
  EXPECT_EQ(options.host_root, "/");
  EXPECT_THAT(options.resources,
              ElementsAre(ResourceKind::kEpc, ResourceKind::kEnclave, ResourceKind::kProvision));
  EXPECT_EQ(options.enclave_limit, 110);
  EXPECT_EQ(options.provision_limit, 110);
  EXPECT_TRUE(options.epc_with_provision);
  EXPECT_FALSE(options.numa_topology);
  EXPECT_EQ(options.metrics_addr, ":9876");
  EXPECT_EQ(options.log_format, "text");
}

TEST(FlagsTest, ParsesEveryFlag) {
  auto parsed = Parse({"--kubelet-dir=/k/", "--host-root", "/host", "--cpuid-file", "/c",
                       "--resources", "sgx.intel.com/enclave,epc", "--enclave-limit", "3",
                       "--provision-limit=4", "--epc-with-provision=false", "--numa-topology",
                       "--metrics-addr=", "--log-format", "json", "--reprobe-interval", "9"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const Options& options = parsed->options;
  EXPECT_EQ(options.kubelet_dir, "/k");
  EXPECT_EQ(options.host_root, "/host");
  EXPECT_EQ(options.cpuid_file, "/c");
  EXPECT_THAT(options.resources, ElementsAre(ResourceKind::kEpc, ResourceKind::kEnclave));
  EXPECT_EQ(options.enclave_limit, 3);
  EXPECT_EQ(options.provision_limit, 4);
  EXPECT_FALSE(options.epc_with_provision);
  EXPECT_TRUE(options.numa_topology);
  EXPECT_EQ(options.metrics_addr, "");
  EXPECT_EQ(options.log_format, "json");
  EXPECT_EQ(options.reprobe_interval, absl::Seconds(9));
}

TEST(FlagsTest, ParsesTheAccountingFlags) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->options.pod_resources_socket, "/var/lib/kubelet/pod-resources/kubelet.sock");
  EXPECT_EQ(defaults->options.pod_resources_interval, absl::Seconds(10));
  EXPECT_FALSE(defaults->options.enforce_epc);
  auto parsed = Parse(
      {"--pod-resources-socket", "/p/kubelet.sock", "--pod-resources-interval=2", "--enforce-epc"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->options.pod_resources_socket, "/p/kubelet.sock");
  EXPECT_EQ(parsed->options.pod_resources_interval, absl::Seconds(2));
  EXPECT_TRUE(parsed->options.enforce_epc);
  auto off = Parse({"--enforce-epc", "--enforce-epc=false", "--pod-resources-socket="});
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->options.enforce_epc);
  EXPECT_EQ(off->options.pod_resources_socket, "");
  EXPECT_FALSE(Parse({"--pod-resources-interval=0"}).ok());
  EXPECT_FALSE(Parse({"--pod-resources-interval=3601"}).ok());
}

TEST(FlagsTest, ALaterValueOverridesAnEarlierOne) {
  auto parsed = Parse({"--metrics-addr=:9876", "--metrics-addr=127.0.0.1:9876"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->options.metrics_addr, "127.0.0.1:9876");
}

TEST(FlagsTest, RelativeDirectoriesBecomeAbsolute) {
  auto parsed = Parse({"--kubelet-dir", "kubelet", "--host-root", "fixture/"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->options.kubelet_dir.front(), '/');
  EXPECT_THAT(parsed->options.host_root, ::testing::EndsWith("/fixture"));
}

TEST(FlagsTest, RejectsBadValuesNamingTheFlag) {
  EXPECT_THAT(Parse({"--resources", "epc,gpu"}).status().message(), HasSubstr("'gpu'"));
  EXPECT_THAT(Parse({"--resources", "epc,epc"}).status().message(), HasSubstr("more than once"));
  EXPECT_THAT(Parse({"--enclave-limit", "0"}).status().message(), HasSubstr("--enclave-limit"));
  EXPECT_THAT(Parse({"--provision-limit", "1000000"}).status().message(),
              HasSubstr("--provision-limit"));
  EXPECT_THAT(Parse({"--metrics-addr", "9876"}).status().message(), HasSubstr("--metrics-addr"));
  EXPECT_THAT(Parse({"--log-format", "xml"}).status().message(), HasSubstr("xml"));
  EXPECT_FALSE(Parse({"--no-such-flag"}).ok());
  EXPECT_FALSE(Parse({"--epc-with-provision=maybe"}).ok());
}

TEST(FlagsTest, HelpIsReturnedNotRun) {
  auto parsed = Parse({"--help"});
  ASSERT_TRUE(parsed.ok());
  ASSERT_TRUE(parsed->help.has_value());
  EXPECT_THAT(*parsed->help, HasSubstr("--numa-topology"));
}

TEST(ListenAddressTest, ParsesTheAcceptedForms) {
  auto all = ParseListenAddress(":9876");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->host, "0.0.0.0");
  EXPECT_EQ(all->port, 9876);
  auto local = ParseListenAddress("127.0.0.1:0");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->host, "127.0.0.1");
  auto v6 = ParseListenAddress("[::1]:80");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(ParseListenAddress("host").ok());
  EXPECT_FALSE(ParseListenAddress(":70000").ok());
  EXPECT_FALSE(ParseListenAddress(":-1").ok());
  EXPECT_FALSE(ParseListenAddress("host:").ok());
}

}  // namespace
}  // namespace cn::deviceplugin
