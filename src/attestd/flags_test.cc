#include "src/attestd/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cn::attestd {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<ParsedFlags> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "sgx-attestd");
  return ParseFlags(args);
}

std::string Error(std::vector<std::string> args) {
  return std::string(Parse(std::move(args)).status().message());
}

TEST(FlagsTest, DefaultsAndEveryFlag) {
  auto minimal = Parse({"--signing-key", "k.pem", "--collateral-dir", "/c"});
  ASSERT_TRUE(minimal.ok()) << minimal.status();
  EXPECT_EQ(minimal->options.listen_port, 8443);
  EXPECT_EQ(minimal->options.issuer, "");
  EXPECT_EQ(DefaultIssuer(minimal->options), "http://localhost:8443");
  EXPECT_EQ(minimal->options.token_lifetime, absl::Hours(8));
  EXPECT_EQ(minimal->options.upstream_timeout, absl::Seconds(5));
  EXPECT_EQ(minimal->options.max_request_bytes, 1u << 20);
  EXPECT_EQ(minimal->options.cache, "/var/cache/sgx-attestd/collateral.db");
  EXPECT_EQ(minimal->options.threads, 0);  // EventServer's "one per core" (its own test)

  auto all = Parse({"--listen",
                    "127.0.0.1:9443",
                    "--tls-cert",
                    "t.pem",
                    "--tls-key",
                    "t.key",
                    "--signing-key",
                    "a.pem",
                    "--signing-cert",
                    "a.crt",
                    "--signing-key=b.pem",
                    "--issuer",
                    "https://attest.example/",
                    "--policy",
                    "p.txt",
                    "--root-ca",
                    "r.pem",
                    "--collateral-dir",
                    "/c",
                    "--upstream-timeout",
                    "3s",
                    "--token-lifetime",
                    "30m",
                    "--max-request-bytes",
                    "4096",
                    "--threads",
                    "2",
                    "--log-format",
                    "json"});
  ASSERT_TRUE(all.ok()) << all.status();
  const Options& o = all->options;
  EXPECT_EQ(o.listen_host, "127.0.0.1");
  EXPECT_EQ(o.listen_port, 9443);
  ASSERT_EQ(o.signing_keys.size(), 2u);
  EXPECT_EQ(o.signing_keys[0].key, "a.pem");
  EXPECT_EQ(o.signing_keys[0].cert, "a.crt");
  EXPECT_EQ(o.signing_keys[1].key, "b.pem");
  EXPECT_EQ(o.signing_keys[1].cert, "");
  EXPECT_EQ(o.issuer, "https://attest.example");
  EXPECT_EQ(o.upstream_timeout, absl::Seconds(3));
  EXPECT_EQ(o.token_lifetime, absl::Minutes(30));
  EXPECT_EQ(o.max_request_bytes, 4096u);
  EXPECT_EQ(o.threads, 2);
  EXPECT_EQ(DefaultIssuer(o), "https://127.0.0.1:9443");
}

TEST(FlagsTest, DurationsAcceptTheDocumentedForms) {
  EXPECT_EQ(*ParseDuration("5", "--f", false), absl::Seconds(5));
  EXPECT_EQ(*ParseDuration("5s", "--f", false), absl::Seconds(5));
  EXPECT_FALSE(ParseDuration("5m", "--f", false).ok());
  EXPECT_EQ(*ParseDuration("8h", "--f", true), absl::Hours(8));
  EXPECT_EQ(*ParseDuration("3600", "--f", true), absl::Hours(1));
  for (const char* bad : {"", "0", "-5", "5x", "h", "1.5h"}) {
    EXPECT_THAT(std::string(ParseDuration(bad, "--token-lifetime", true).status().message()),
                HasSubstr("--token-lifetime"))
        << bad;
  }
}

TEST(FlagsTest, BadFlagsNameTheFlag) {
  EXPECT_THAT(Error({"--collateral-dir", "/c"}), HasSubstr("--signing-key: required"));
  EXPECT_THAT(Error({"--signing-key", "k"}), HasSubstr("--collateral-dir or --pccs-url"));
  EXPECT_THAT(Error({"--signing-cert", "c", "--signing-key", "k", "--collateral-dir", "/c"}),
              HasSubstr("--signing-cert: must follow"));
  EXPECT_THAT(Error({"--signing-key", "k", "--collateral-dir", "/c", "--listen", "nowhere"}),
              HasSubstr("--listen"));
  EXPECT_THAT(Error({"--signing-key", "k", "--collateral-dir", "/c", "--listen", ":99999"}),
              HasSubstr("--listen: port"));
  EXPECT_THAT(Error({"--signing-key", "k", "--collateral-dir", "/c", "--tls-cert", "c"}),
              HasSubstr("--tls-key: required"));
  EXPECT_THAT(Error({"--signing-key", "k", "--collateral-dir", "/c", "--upstream-timeout", "x"}),
              HasSubstr("--upstream-timeout"));
  EXPECT_THAT(Error({"--signing-key", "k", "--collateral-dir", "/c", "--max-request-bytes", "1"}),
              HasSubstr("--max-request-bytes"));
  EXPECT_THAT(Error({"--signing-key", "k", "--collateral-dir", "/c", "--log-format", "xml"}),
              HasSubstr("xml"));
  EXPECT_THAT(Error({"--signing-key", "k", "--collateral-dir", "/c", "--bogus"}),
              HasSubstr("--bogus"));
  EXPECT_THAT(Error({"--signing-key"}), HasSubstr("--signing-key: needs a file"));
}

}  // namespace
}  // namespace cn::attestd
