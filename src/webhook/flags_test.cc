#include "src/webhook/flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cn::webhook {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<Flags> Parse(std::vector<std::string> arguments) {
  arguments.insert(arguments.begin(), "sgx-webhook");
  return ParseFlags(arguments);
}

TEST(ParseFlags, ReadsTheFixedInterface) {
  absl::StatusOr<Flags> flags =
      Parse({"--listen", "127.0.0.1:9443", "--tls-cert", "/c", "--tls-key", "/k",
             "--quote-helper=aesm", "--add-toleration", "sgx.intel.com/node", "--add-toleration",
             "dedicated", "--metrics-addr=", "--log-format", "json"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->listen.host, "127.0.0.1");
  EXPECT_EQ(flags->listen.port, 9443);
  EXPECT_EQ(flags->quote_helper, QuoteHelper::kAesm);
  EXPECT_EQ(flags->tolerations, (std::vector<std::string>{"sgx.intel.com/node", "dedicated"}));
  EXPECT_EQ(flags->metrics_addr, "");
  flags = Parse({"--self-managed-tls", "--namespace", "cn", "--service", "svc"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->quote_helper, QuoteHelper::kProvision);
  EXPECT_EQ(flags->listen.port, 8443);
  EXPECT_EQ(flags->metrics_addr, ":9877");
}

TEST(ParseFlags, NamesWhatIsWrong) {
  struct Case {
    std::vector<std::string> arguments;
    const char* why;
  } cases[] = {
      {{}, "no TLS"},
      {{"--tls-cert", "/c"}, "--tls-key: required"},
      {{"--tls-cert", "/c", "--tls-key", "/k", "--self-managed-tls"}, "choose one"},
      {{"--self-managed-tls", "--service", "s"}, "needs --namespace"},
      {{"--self-managed-tls", "--namespace", "Bad_NS", "--service", "s"}, "--namespace"},
      {{"--tls-cert", "/c", "--tls-key", "/k", "--quote-helper", "qe"}, "--quote-helper"},
      {{"--tls-cert", "/c", "--tls-key", "/k", "--add-toleration", "a b"}, "--add-toleration"},
      {{"--tls-cert", "/c", "--tls-key", "/k", "--listen", "nowhere"}, "--listen"},
      {{"--tls-cert", "/c", "--tls-key", "/k", "--log-format", "xml"}, "xml"},
      {{"--bogus"}, "--bogus"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Flags> flags = Parse(c.arguments);
    ASSERT_FALSE(flags.ok()) << c.why;
    EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(flags.status().message(), HasSubstr(c.why));
  }
  EXPECT_TRUE(Parse({"--help"})->help.has_value());
}

}  // namespace
}  // namespace cn::webhook
