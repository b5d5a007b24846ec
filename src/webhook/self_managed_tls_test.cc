#include "src/webhook/self_managed_tls.h"

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/os/host_file_system.h"
#include "src/testing/fake_clock.h"
#include "src/testing/fake_kube_api.h"
#include "src/webhook/certificates.h"

namespace cn::webhook {
namespace {

using json = nlohmann::json;

constexpr const char* kSecret = "/api/v1/namespaces/cn/secrets/sgx-webhook-tls";
constexpr const char* kMutating =
    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/cfg";
constexpr const char* kValidating =
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/cfg";

json Configuration(const char* kind, int webhooks) {
  json object = {{"apiVersion", "admissionregistration.k8s.io/v1"},
                 {"kind", kind},
                 {"metadata", {{"name", "cfg"}}},
                 {"webhooks", json::array()}};
  for (int i = 0; i < webhooks; ++i) {
    object["webhooks"].push_back(
        {{"name", absl::StrCat("w", i, ".example.com")},
         {"clientConfig", {{"service", {{"name", "svc"}, {"namespace", "cn"}}}}}});
  }
  return object;
}

std::string Data(const json& secret, const char* key) {
  std::string decoded;
  absl::Base64Unescape(secret["data"][key].get<std::string>(), &decoded);
  return decoded;
}

class SelfManagedTlsTest : public ::testing::Test {
 protected:
  SelfManagedTlsTest() : clock_(absl::FromUnixSeconds(1800000000)) {
    config_.server = api_.url();
    config_.ca_pem = api_.ca_pem();
    config_.token = "test-token";
    config_.source = "test";
    api_.PutObject(kMutating, Configuration("MutatingWebhookConfiguration", 1));
    api_.PutObject(kValidating, Configuration("ValidatingWebhookConfiguration", 2));
  }

  // A replica: its own API client and what it serves.
  struct Replica {
    std::string certificate;
    std::unique_ptr<kube::ApiClient> client;
    std::unique_ptr<SelfManagedTls> tls;
  };
  std::unique_ptr<Replica> NewReplica() {
    auto replica = std::make_unique<Replica>();
    replica->client =
        std::make_unique<kube::ApiClient>(config_, http_, files_, kube::ApiClient::Options{});
    Replica* raw = replica.get();
    replica->tls = std::make_unique<SelfManagedTls>(
        SelfManagedTlsOptions{.namespace_name = "cn",
                              .service = "svc",
                              .secret = "sgx-webhook-tls",
                              .mutating_configuration = "cfg",
                              .validating_configuration = "cfg"},
        *replica->client, clock_, [raw](const std::string& certificate, const std::string&) {
          raw->certificate = certificate;
          return absl::OkStatus();
        });
    return replica;
  }

  std::string Bundle(const char* path) {
    std::string decoded;
    absl::Base64Unescape(
        (*api_.Object(path))["webhooks"][0]["clientConfig"]["caBundle"].get<std::string>(),
        &decoded);
    return decoded;
  }

  testing::FakeKubeApi api_;
  os::HostFileSystem files_{"/"};
  os::RealClock real_clock_;
  http::HttpClient http_{{}, &real_clock_};
  testing::FakeClock clock_;
  kube::ClusterConfig config_;
};

TEST_F(SelfManagedTlsTest, TwoReplicasServeOneCertificateThatTheBundleTrusts) {
  auto first = NewReplica();
  auto second = NewReplica();
  ASSERT_TRUE(first->tls->SyncOnce().ok());
  ASSERT_TRUE(second->tls->SyncOnce().ok());
  EXPECT_TRUE(first->tls->Synced());
  EXPECT_FALSE(first->certificate.empty());
  EXPECT_EQ(first->certificate, second->certificate);  // the Secret's, not one each

  const json secret = *api_.Object(kSecret);
  EXPECT_EQ(secret["type"], "kubernetes.io/tls");
  const std::string bundle = Data(secret, "ca.crt");
  EXPECT_TRUE(IssuedBy(first->certificate, Data(secret, "tls.key"), bundle));
  EXPECT_EQ(Bundle(kMutating), bundle);
  EXPECT_EQ(Bundle(kValidating), bundle);
  EXPECT_TRUE((*api_.Object(kValidating))["webhooks"][1]["clientConfig"].contains("caBundle"));
  EXPECT_EQ(api_.CountRequests("POST"), 1);  // the second replica found the Secret

  // Nothing changes on the next round: no writes at all.
  api_.ClearRequests();
  ASSERT_TRUE(second->tls->SyncOnce().ok());
  EXPECT_EQ(api_.CountRequests("PUT") + api_.CountRequests("PATCH") + api_.CountRequests("POST"),
            0);
}

TEST_F(SelfManagedTlsTest, RenewsTheServingCertificateBeforeExpiryWithTheSameCa) {
  auto replica = NewReplica();
  ASSERT_TRUE(replica->tls->SyncOnce().ok());
  const std::string first = replica->certificate;
  const std::string bundle = Bundle(kMutating);
  clock_.Advance(absl::Hours(24 * 250));  // a third of a year left
  ASSERT_TRUE(replica->tls->SyncOnce().ok());
  EXPECT_NE(replica->certificate, first);
  EXPECT_EQ(Bundle(kMutating), bundle);  // same CA: the configurations need no change
  EXPECT_TRUE(IssuedBy(replica->certificate, Data(*api_.Object(kSecret), "tls.key"), bundle));
}

TEST_F(SelfManagedTlsTest, AddsANewCaToTheBundleBeforeItSignsAnything) {
  auto replica = NewReplica();
  ASSERT_TRUE(replica->tls->SyncOnce().ok());
  const std::string old_bundle = Bundle(kMutating);
  clock_.Advance(absl::Hours(24 * 365 * 7 + 24 * 30));  // the CA has under 3 years left
  ASSERT_TRUE(replica->tls->SyncOnce().ok());
  const std::string bundle = Bundle(kMutating);
  absl::StatusOr<std::vector<absl::Time>> ends = NotAfterOfEach(bundle);
  ASSERT_TRUE(ends.ok());
  ASSERT_EQ(ends->size(), 2u);  // new CA first, the old one kept
  EXPECT_NE(bundle.find(old_bundle), std::string::npos);
  // The certificate renewed in the same round is still the old CA's (already trusted).
  const json secret = *api_.Object(kSecret);
  EXPECT_TRUE(IssuedBy(replica->certificate, Data(secret, "tls.key"), old_bundle));
}

TEST_F(SelfManagedTlsTest, RepairsASecretThatHoldsNoUsableCa) {
  api_.PutObject(kSecret, {{"apiVersion", "v1"},
                           {"kind", "Secret"},
                           {"metadata", {{"name", "sgx-webhook-tls"}, {"namespace", "cn"}}},
                           {"data", {{"ca.crt", "bm9wZQ=="}}}});
  auto replica = NewReplica();
  ASSERT_TRUE(replica->tls->SyncOnce().ok());
  const json secret = *api_.Object(kSecret);
  EXPECT_TRUE(IssuedBy(replica->certificate, Data(secret, "tls.key"), Data(secret, "ca.crt")));
}

TEST_F(SelfManagedTlsTest, AMissingConfigurationIsNotAnError) {
  api_.DeleteObject(kValidating);
  auto replica = NewReplica();
  EXPECT_TRUE(replica->tls->SyncOnce().ok());
  EXPECT_TRUE(replica->tls->Synced());
  EXPECT_FALSE(Bundle(kMutating).empty());
}

TEST_F(SelfManagedTlsTest, ReportsAnApiServerThatRefuses) {
  api_.FailWith(403);
  auto replica = NewReplica();
  absl::Status synced = replica->tls->SyncOnce();
  EXPECT_EQ(synced.code(), absl::StatusCode::kPermissionDenied) << synced;
  EXPECT_FALSE(replica->tls->Synced());
}

}  // namespace
}  // namespace cn::webhook
