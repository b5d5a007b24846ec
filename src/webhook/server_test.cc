// The served endpoints over real HTTPS sockets: answers, 400s, metrics, and the certificate
// replaced without a restart (files rewritten, and the Secret volume's ..data symlink swap).

#include "src/http/server.h"

#include <httplib.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "src/testing/fake_kube_api.h"
#include "src/testing/temp_dir.h"
#include "src/webhook/service.h"

namespace cn::webhook {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

std::string ReadTestdata(const std::string& name) {
  std::ifstream file(std::string(CN_WEBHOOK_TESTDATA) + "/" + name + ".json");
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class WebhookServerTest : public ::testing::Test {
 protected:
  WebhookServerTest()
      : tls_(testing::MakeTestTls(dir_, "a-", "localhost", "ca-a")),
        mutator_({.quote_helper = QuoteHelper::kProvision, .tolerations = {}}),
        validator_(nullptr),
        service_(mutator_, validator_, {}, {"kube-system", "confidential-nodes"}, *registry_) {}

  std::unique_ptr<http::Server> Start(const std::string& cert_file, const std::string& key_file) {
    http::ServerOptions options;
    options.host = "127.0.0.1";
    options.tls_cert_file = cert_file;
    options.tls_key_file = key_file;
    options.tls_reload_interval = absl::Milliseconds(50);
    options.threads = 2;
    auto server = std::make_unique<http::Server>(options, registry_);
    service_.Register(*server);
    EXPECT_TRUE(server->Start().ok());
    return server;
  }

  std::unique_ptr<httplib::SSLClient> Client(int port, const std::string& ca_file) {
    auto client = std::make_unique<httplib::SSLClient>("localhost", port);
    client->set_ca_cert_path(ca_file.c_str());
    client->enable_server_certificate_verification(true);
    client->set_read_timeout(5, 0);
    return client;
  }

  testing::TempDir dir_;
  testing::TestTlsFiles tls_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  Mutator mutator_;
  Validator validator_;
  WebhookService service_;
};

TEST_F(WebhookServerTest, MutatesAndValidatesOverHttpsIgnoringTheQueryString) {
  auto server = Start(tls_.certificate_file, tls_.key_file);
  auto owned_client = Client(server->port(), tls_.ca_file);
  httplib::SSLClient& client = *owned_client;
  auto mutated =
      client.Post("/mutate?timeout=10s", ReadTestdata("intel-style"), "application/json");
  ASSERT_TRUE(mutated);
  EXPECT_EQ(mutated->status, 200);
  json answer = json::parse(mutated->body);
  EXPECT_EQ(answer["response"]["uid"], "intel-style-0001");
  EXPECT_EQ(answer["response"]["patchType"], "JSONPatch");

  auto refused =
      client.Post("/validate?timeout=10s", ReadTestdata("both-epc-names"), "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 200);
  EXPECT_EQ(json::parse(refused->body)["response"]["allowed"], false);

  const std::string metrics = prometheus::TextSerializer().Serialize(registry_->Collect());
  EXPECT_THAT(metrics,
              HasSubstr(R"(cn_webhook_admissions_total{operation="mutate",verdict="patched"} 1)"));
  EXPECT_THAT(metrics,
              HasSubstr(R"(cn_webhook_admissions_total{operation="validate",verdict="denied"} 1)"));
  EXPECT_THAT(metrics,
              HasSubstr(R"(cn_webhook_admission_duration_seconds_count{operation="mutate"} 1)"));
}

TEST_F(WebhookServerTest, BadInputIsA400NeverA5xx) {
  auto server = Start(tls_.certificate_file, tls_.key_file);
  auto owned_client = Client(server->port(), tls_.ca_file);
  httplib::SSLClient& client = *owned_client;
  for (const std::string& body :
       {std::string("not json"), std::string("{}"), std::string("[]"), std::string(5000, '['),
        std::string(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})")}) {
    auto answer = client.Post("/mutate", body, "application/json");
    ASSERT_TRUE(answer) << body.substr(0, 40);
    EXPECT_EQ(answer->status, 400) << body.substr(0, 40);
    EXPECT_EQ(json::parse(answer->body)["error"]["code"], "invalid_request");
  }
  // Larger than the limit: refused before it is read.
  auto huge = client.Post("/mutate", std::string(5 << 20, ' '), "application/json");
  if (huge) {  // the server may close the connection while the client still sends
    EXPECT_EQ(huge->status, 413);
  }
  // Well-formed reviews of odd objects are allowed without a patch.
  auto odd = client.Post(
      "/mutate",
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u",)"
      R"("kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE",)"
      R"("object":{"spec":{"containers":[{"name":"a","resources":null},7,{"resources":{"limits":[]}}]}}}})",
      "application/json");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->status, 200);
  EXPECT_FALSE(json::parse(odd->body)["response"].contains("patch"));
}

TEST_F(WebhookServerTest, LeavesExcludedNamespacesAlone) {
  auto server = Start(tls_.certificate_file, tls_.key_file);
  auto owned_client = Client(server->port(), tls_.ca_file);
  httplib::SSLClient& client = *owned_client;
  json review = json::parse(ReadTestdata("intel-style"));
  review["request"]["namespace"] = "kube-system";
  auto answer = client.Post("/mutate", review.dump(), "application/json");
  ASSERT_TRUE(answer);
  EXPECT_FALSE(json::parse(answer->body)["response"].contains("patch"));
}

// Waits until a client that trusts only `ca_file` completes a handshake, or `timeout`.
bool TrustedWithin(int port, const std::string& ca_file, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    httplib::SSLClient client("localhost", port);
    client.set_ca_cert_path(ca_file.c_str());
    client.enable_server_certificate_verification(true);
    if (auto result = client.Get("/nothing"); result) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(20));  // retrying a handshake, bounded by the deadline
  }
  return false;
}

TEST_F(WebhookServerTest, ServesTheNewCertificateAfterTheFilesChange) {
  const std::string cert = dir_.WriteFile("tls.crt", tls_.certificate_pem);
  const std::string key = dir_.WriteFile("tls.key", tls_.key_pem);
  auto server = Start(cert, key);
  EXPECT_TRUE(TrustedWithin(server->port(), tls_.ca_file, absl::Seconds(5)));
  testing::TestTlsFiles next = testing::MakeTestTls(dir_, "b-", "localhost", "ca-b");
  dir_.WriteFile("tls.key", next.key_pem);
  dir_.WriteFile("tls.crt", next.certificate_pem);
  EXPECT_TRUE(TrustedWithin(server->port(), next.ca_file, absl::Seconds(10)));
  EXPECT_FALSE(TrustedWithin(server->port(), tls_.ca_file, absl::Milliseconds(100)));
  // A broken pair is refused and the served one stays.
  dir_.WriteFile("tls.crt", tls_.certificate_pem);  // key of b, certificate of a: no match
  EXPECT_TRUE(TrustedWithin(server->port(), next.ca_file, absl::Milliseconds(300)));
}

TEST_F(WebhookServerTest, FollowsASecretVolumeDataSymlinkSwap) {
  // The kubelet's layout: tls.crt -> ..data/tls.crt, ..data -> ..2026_12_01_v1 (a directory);
  // an update writes a new directory and renames a new ..data link over the old one.
  dir_.MakeDirectory("v1");
  dir_.WriteFile("v1/tls.crt", tls_.certificate_pem);
  dir_.WriteFile("v1/tls.key", tls_.key_pem);
  dir_.MakeSymlink("..data", "v1");
  const std::string cert = dir_.MakeSymlink("tls.crt", "..data/tls.crt");
  const std::string key = dir_.MakeSymlink("tls.key", "..data/tls.key");
  auto server = Start(cert, key);
  EXPECT_TRUE(TrustedWithin(server->port(), tls_.ca_file, absl::Seconds(5)));

  testing::TestTlsFiles next = testing::MakeTestTls(dir_, "b-", "localhost", "ca-b");
  dir_.MakeDirectory("v2");
  dir_.WriteFile("v2/tls.crt", next.certificate_pem);
  dir_.WriteFile("v2/tls.key", next.key_pem);
  dir_.MakeSymlink("..data_tmp", "v2");
  ASSERT_EQ(std::rename((dir_.path() + "/..data_tmp").c_str(), (dir_.path() + "/..data").c_str()),
            0);
  EXPECT_TRUE(TrustedWithin(server->port(), next.ca_file, absl::Seconds(10)));
}

}  // namespace
}  // namespace cn::webhook
