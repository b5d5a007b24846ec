#include "src/kube/config.h"

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/testing/fake_file_system.h"

namespace cn::kube {
namespace {

using ::testing::HasSubstr;

std::string Kubeconfig(const std::string& cluster, const std::string& user,
                       const std::string& context = "ctx") {
  return absl::StrCat(R"(apiVersion: v1
kind: Config
current-context: )",
                      context, R"(
contexts:
- name: other
  context: {cluster: nowhere, user: nobody}
- name: ctx
  context:
    cluster: c1
    user: u1
clusters:
- name: c1
  cluster:
)",
                      cluster, R"(
users:
- name: u1
  user:
)",
                      user, "\n");
}

TEST(KubeconfigTest, ResolvesTheCurrentContextWithInlineData) {
  testing::FakeFileSystem files;
  const std::string yaml =
      Kubeconfig(absl::StrCat("    server: https://10.0.0.1:6443/\n"
                              "    certificate-authority-data: ",
                              absl::Base64Escape("CA PEM")),
                 absl::StrCat("    client-certificate-data: ", absl::Base64Escape("CERT"),
                              "\n    client-key-data: ", absl::Base64Escape("KEY")));
  absl::StatusOr<ClusterConfig> config = ParseKubeconfig(yaml, "/home/k/config", files);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, "CA PEM");
  EXPECT_EQ(config->client_certificate_pem, "CERT");
  EXPECT_EQ(config->client_key_pem, "KEY");
  EXPECT_THAT(config->source, HasSubstr("context ctx"));
}

TEST(KubeconfigTest, ReadsReferencedFilesRelativeToTheKubeconfig) {
  testing::FakeFileSystem files;
  files.AddFile("/etc/k/pki/ca.crt", "CA FILE").AddFile("/abs/cert.pem", "CERT FILE");
  files.AddFile("/etc/k/key.pem", "KEY FILE");
  const std::string yaml = Kubeconfig(
      "    server: https://api:443\n    certificate-authority: pki/ca.crt",
      "    client-certificate: /abs/cert.pem\n    client-key: key.pem\n    tokenFile: tok");
  absl::StatusOr<ClusterConfig> config = ParseKubeconfig(yaml, "/etc/k/kubeconfig", files);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca_pem, "CA FILE");
  EXPECT_EQ(config->client_certificate_pem, "CERT FILE");
  EXPECT_EQ(config->client_key_pem, "KEY FILE");
  EXPECT_EQ(config->token_file, "/etc/k/tok");
}

TEST(KubeconfigTest, ErrorsNameTheKey) {
  testing::FakeFileSystem files;
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {Kubeconfig("    server: http://api:80", "    token: t"), "clusters[c1].cluster.server"},
      {Kubeconfig("    server: https://api\n    insecure-skip-tls-verify: true", "    token: t"),
       "insecure-skip-tls-verify"},
      {Kubeconfig("    server: https://api", "    exec: {command: aws}"), "users[u1].user.exec"},
      {Kubeconfig("    server: https://api", "    username: a"), "users[u1].user.username"},
      {Kubeconfig("    server: https://api", "    token: t", "missing"),
       "contexts: no entry named \"missing\""},
      {Kubeconfig("    server: https://api\n    certificate-authority: /no/ca", "    token: t"),
       "clusters[c1].cluster.certificate-authority: cannot read /no/ca"},
      {Kubeconfig("    server: https://api\n    certificate-authority-data: '%%%'", "    token: t"),
       "certificate-authority-data: is not valid base64"},
      {Kubeconfig("    server: https://api", "    client-certificate-data: Q0VSVA=="),
       "without a key"},
      {Kubeconfig("    server: https://api", "    {}"), "has no credentials"},
      {Kubeconfig("    insecure: false", "    token: t"), "server: is not set"},
      {"current-context: x\ncontexts: [", "line "},
      {"- just\n- a list\n", "top level"},
      {"kind: Config\n", "current-context: is not set"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ClusterConfig> config = ParseKubeconfig(c.yaml, "/k", files);
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(config.status().message(), HasSubstr("kubeconfig /k: ")) << c.yaml;
    EXPECT_THAT(config.status().message(), HasSubstr(c.expected)) << c.yaml;
  }
}

TEST(KubeconfigTest, AMissingFileIsNamed) {
  testing::FakeFileSystem files;
  absl::StatusOr<ClusterConfig> config = LoadKubeconfig(files, "/nope/kubeconfig");
  EXPECT_THAT(config.status().message(), HasSubstr("--kubeconfig"));
  EXPECT_THAT(config.status().message(), HasSubstr("/nope/kubeconfig"));
}

TEST(InClusterConfigTest, UsesTheServiceEnvironmentAndMountedFiles) {
  testing::FakeFileSystem files;
  InClusterPaths paths;
  files.AddFile(paths.token_file, "tok\n").AddFile(paths.ca_file, "CA");
  absl::StatusOr<ClusterConfig> config = InClusterConfig(files, "10.96.0.1", "443");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token_file, paths.token_file);
  EXPECT_EQ(config->ca_file, paths.ca_file);  // the fake's local path is the host path
  absl::StatusOr<ClusterConfig> v6 = InClusterConfig(files, "fd00::1", "443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");
}

TEST(InClusterConfigTest, SaysWhatIsMissing) {
  testing::FakeFileSystem files;
  EXPECT_THAT(InClusterConfig(files, std::nullopt, "443").status().message(),
              HasSubstr("--kubeconfig"));
  absl::StatusOr<ClusterConfig> no_token = InClusterConfig(files, "10.96.0.1", "443");
  EXPECT_EQ(no_token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_token.status().message(), HasSubstr("serviceaccount/token"));
}

TEST(KubeconfigOrInClusterConfigTest, AFlagMeansTheFileElseThisProcesssServiceEnvironment) {
  testing::FakeFileSystem files;
  InClusterPaths paths;
  files.AddFile(paths.token_file, "tok\n").AddFile(paths.ca_file, "CA");
  // A --kubeconfig is read even when the service environment is there.
  ASSERT_EQ(setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1), 0);
  ASSERT_EQ(setenv("KUBERNETES_SERVICE_PORT", "443", 1), 0);
  EXPECT_THAT(KubeconfigOrInClusterConfig(files, "/nope/kubeconfig").status().message(),
              HasSubstr("/nope/kubeconfig"));
  absl::StatusOr<ClusterConfig> in_cluster = KubeconfigOrInClusterConfig(files, "");
  ASSERT_TRUE(in_cluster.ok()) << in_cluster.status();
  EXPECT_EQ(in_cluster->server, "https://10.96.0.1:443");
  // Outside a pod, without a flag: the in-cluster error, which says to give --kubeconfig.
  ASSERT_EQ(unsetenv("KUBERNETES_SERVICE_HOST"), 0);
  ASSERT_EQ(unsetenv("KUBERNETES_SERVICE_PORT"), 0);
  absl::StatusOr<ClusterConfig> outside = KubeconfigOrInClusterConfig(files, "");
  EXPECT_EQ(outside.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(outside.status().message(), HasSubstr("--kubeconfig"));
}

}  // namespace
}  // namespace cn::kube
