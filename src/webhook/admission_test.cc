// The mutator and validator on AdmissionReview bodies shaped as the API server sends them
// (testdata/*.json: defaulted Pods, service account volume, default tolerations).

#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/webhook/mutator.h"
#include "src/webhook/review.h"
#include "src/webhook/validator.h"

namespace cn::webhook {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using json = nlohmann::json;

std::string ReadTestdata(const std::string& name) {
  std::ifstream file(std::string(CN_WEBHOOK_TESTDATA) + "/" + name + ".json");
  EXPECT_TRUE(file.good()) << name;
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

Review Load(const std::string& name) {
  absl::StatusOr<Review> review = ParseReview(ReadTestdata(name));
  EXPECT_TRUE(review.ok()) << name << ": " << review.status();
  return review.ok() ? *review : Review();
}

const MutatorOptions kProvision{.quote_helper = QuoteHelper::kProvision,
                                .tolerations = {"sgx.intel.com/sgx-node"}};

// The pod after the mutator's patch, as the API server would apply it.
json Mutated(const std::string& name, const MutatorOptions& options = kProvision) {
  Review review = Load(name);
  Verdict verdict = Mutator(options).Mutate(review);
  EXPECT_TRUE(verdict.allowed);
  return review.object.patch(verdict.patch);
}

json Container(const json& pod, size_t index, const char* list = "containers") {
  return pod["spec"][list][index];
}

class FixedCapacity : public EpcCapacity {
 public:
  explicit FixedCapacity(std::optional<Largest> largest) : largest_(std::move(largest)) {}
  std::optional<Largest> LargestNode() const override { return largest_; }

 private:
  std::optional<Largest> largest_;
};

TEST(Mutator, TranslatesIntelStyleEpcInRequestsAndLimits) {
  const json pod = Mutated("intel-style");
  const json resources = Container(pod, 0)["resources"];
  EXPECT_EQ(resources["limits"], json({{"kubernetes.azure.com/sgx_epc_mem_in_MiB", "10"}}));
  EXPECT_EQ(resources["requests"], json({{"kubernetes.azure.com/sgx_epc_mem_in_MiB", "10"}}));
}

TEST(Mutator, ChangesNothingElseOfTheContainer) {
  const Review review = Load("intel-style");
  json before = review.object["spec"]["containers"][0];
  json after = Container(Mutated("intel-style"), 0);
  before.erase("resources");
  after.erase("resources");
  EXPECT_EQ(before, after);
}

TEST(Mutator, TranslatesTheAksQuickstartJobPod) {
  const json pod = Mutated("aks-quickstart");
  EXPECT_EQ(Container(pod, 0)["resources"]["limits"],
            json({{"kubernetes.azure.com/sgx_epc_mem_in_MiB", "5"}}));
  EXPECT_EQ(pod["metadata"]["generateName"], "oe-helloworld-");
}

TEST(Mutator, AddsTheTolerationToSgxPodsAfterTheExistingOnes) {
  const json tolerations = Mutated("intel-style")["spec"]["tolerations"];
  ASSERT_EQ(tolerations.size(), 3u);
  EXPECT_EQ(tolerations[0]["key"], "node.kubernetes.io/not-ready");
  EXPECT_EQ(
      tolerations[2],
      json({{"key", "sgx.intel.com/sgx-node"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}));
}

TEST(Mutator, LeavesAzureStylePodsAloneExceptTheToleration) {
  Review review = Load("azure-style");
  Verdict verdict = Mutator({}).Mutate(review);
  EXPECT_TRUE(verdict.allowed);
  EXPECT_THAT(verdict.patch, IsEmpty());
  // With a toleration configured, the SGX pod gets it and nothing else.
  json patch = Mutator(kProvision).Mutate(review).patch;
  ASSERT_EQ(patch.size(), 1u);
  EXPECT_EQ(patch[0]["path"], "/spec/tolerations/-");
}

TEST(Mutator, TranslatesEveryContainerAndLeavesTheSidecar) {
  const json pod = Mutated("multi-container");
  EXPECT_EQ(Container(pod, 0)["resources"]["limits"],
            json({{"cpu", "500m"}, {"kubernetes.azure.com/sgx_epc_mem_in_MiB", "10"}}));
  EXPECT_EQ(Container(pod, 1)["resources"],
            Load("multi-container").object["spec"]["containers"][1]["resources"]);
  EXPECT_EQ(Container(pod, 2)["resources"]["requests"],
            json({{"kubernetes.azure.com/sgx_epc_mem_in_MiB", "1024"}}));
}

TEST(Mutator, TranslatesInitContainers) {
  const json pod = Mutated("init-containers");
  EXPECT_EQ(Container(pod, 0, "initContainers")["resources"]["limits"],
            json({{"kubernetes.azure.com/sgx_epc_mem_in_MiB", "4"}}));
  EXPECT_EQ(Container(pod, 1, "initContainers")["resources"], json::object());
  EXPECT_EQ(Container(pod, 0)["resources"]["limits"],
            json({{"kubernetes.azure.com/sgx_epc_mem_in_MiB", "20"}}));
}

TEST(Mutator, AllowsPodsWithoutSgxOrWithOddResourcesWithoutAPatch) {
  Verdict verdict = Mutator(kProvision).Mutate(Load("no-resources"));
  EXPECT_TRUE(verdict.allowed);
  EXPECT_THAT(verdict.patch, IsEmpty());
}

TEST(Mutator, GivesAnEmptyPatchToAPodItMutatedBefore) {
  EXPECT_THAT(Mutator(kProvision).Mutate(Load("already-mutated")).patch, IsEmpty());
  // And a second pass over its own output changes nothing, for every recorded pod.
  for (const char* name : {"intel-style", "aks-quickstart", "multi-container", "init-containers",
                           "quote-provider", "quote-provider-has-aesm", "enclave-kept"}) {
    for (QuoteHelper helper : {QuoteHelper::kProvision, QuoteHelper::kAesm}) {
      MutatorOptions options = kProvision;
      options.quote_helper = helper;
      json once = Mutated(name, options);
      EXPECT_THAT(Mutator(options).PatchFor(once), IsEmpty()) << name;
    }
  }
}

TEST(Mutator, RoundsKibibytesUpToWholeMiB) {
  EXPECT_EQ(Container(Mutated("quantity-1500ki"),
                      0)["resources"]["limits"]["kubernetes.azure.com/sgx_epc_mem_in_MiB"],
            "2");
}

TEST(Mutator, GivesTheQuoteProviderTheProvisionDevice) {
  const json pod = Mutated("quote-provider");
  EXPECT_EQ(
      Container(pod, 0)["resources"]["limits"],
      json({{"kubernetes.azure.com/sgx_epc_mem_in_MiB", "10"}, {"sgx.intel.com/provision", "1"}}));
  EXPECT_EQ(Container(pod, 0)["resources"]["requests"]["sgx.intel.com/provision"], "1");
  EXPECT_FALSE(Container(pod, 1)["resources"]["limits"].contains("sgx.intel.com/provision"));
}

TEST(Mutator, GivesTheQuoteProviderTheAesmSocketWithAesmHelper) {
  MutatorOptions options{.quote_helper = QuoteHelper::kAesm, .tolerations = {}};
  const json pod = Mutated("quote-provider", options);
  const json app = Container(pod, 0);
  EXPECT_FALSE(app["resources"]["limits"].contains("sgx.intel.com/provision"));
  EXPECT_EQ(app["volumeMounts"].back(),
            json({{"name", "sgx-aesmd"}, {"mountPath", "/var/run/aesmd"}, {"readOnly", true}}));
  EXPECT_EQ(app["env"], json::parse(R"([{"name":"SGX_AESM_ADDR","value":"1"}])"));
  EXPECT_EQ(pod["spec"]["volumes"].back(),
            json::parse(
                R"({"name":"sgx-aesmd","hostPath":{"path":"/var/run/aesmd","type":"Directory"}})"));
  EXPECT_FALSE(Container(pod, 1).contains("env"));
}

TEST(Mutator, LeavesAnAesmMountAndVariableThePodHasAlone) {
  MutatorOptions options{.quote_helper = QuoteHelper::kAesm, .tolerations = {}};
  const Review review = Load("quote-provider-has-aesm");
  const json pod = Mutated("quote-provider-has-aesm", options);
  EXPECT_EQ(Container(pod, 0)["volumeMounts"],
            review.object["spec"]["containers"][0]["volumeMounts"]);
  EXPECT_EQ(Container(pod, 0)["env"], review.object["spec"]["containers"][0]["env"]);
  EXPECT_EQ(pod["spec"]["volumes"], review.object["spec"]["volumes"]);
}

TEST(Mutator, KeepsAnEnclaveResourceThePodAskedFor) {
  EXPECT_EQ(
      Container(Mutated("enclave-kept"), 0)["resources"]["limits"],
      json({{"kubernetes.azure.com/sgx_epc_mem_in_MiB", "8"}, {"sgx.intel.com/enclave", "1"}}));
}

TEST(Mutator, LeavesPodsTheValidatorRefusesForItToExplain) {
  for (const char* name : {"both-epc-names", "bad-quantity"}) {
    const json pod = Mutated(name, {});
    EXPECT_EQ(pod["spec"]["containers"], Load(name).object["spec"]["containers"]) << name;
  }
}

TEST(Mutator, PatchesOnlyAtCreation) {
  EXPECT_THAT(Mutator(kProvision).Mutate(Load("update")).patch, IsEmpty());
}

TEST(Review, AnswersInTheVersionItWasAskedIn) {
  for (const char* name : {"intel-style", "intel-style-v1beta1"}) {
    const Review review = Load(name);
    const json answer = json::parse(RenderVerdict(review, Mutator(kProvision).Mutate(review)));
    EXPECT_EQ(answer["apiVersion"], review.api_version);
    EXPECT_EQ(answer["kind"], "AdmissionReview");
    EXPECT_EQ(answer["response"]["uid"], review.uid);
    EXPECT_EQ(answer["response"]["allowed"], true);
    EXPECT_EQ(answer["response"]["patchType"], "JSONPatch");
    std::string patch;
    ASSERT_TRUE(absl::Base64Unescape(answer["response"]["patch"].get<std::string>(), &patch));
    EXPECT_EQ(json::parse(patch), Mutator(kProvision).Mutate(review).patch);
  }
  EXPECT_EQ(Load("intel-style-v1beta1").api_version, "admission.k8s.io/v1beta1");
}

TEST(Review, AnEmptyPatchIsSentAsNoPatch) {
  const Review review = Load("no-resources");
  const json answer = json::parse(RenderVerdict(review, Mutator(kProvision).Mutate(review)));
  EXPECT_FALSE(answer["response"].contains("patch"));
  EXPECT_FALSE(answer["response"].contains("patchType"));
}

TEST(Validator, AllowsEveryWellFormedRecordedPod) {
  Validator validator(nullptr);
  for (const char* name : {"intel-style", "aks-quickstart", "azure-style", "multi-container",
                           "init-containers", "no-resources", "already-mutated", "quantity-1500ki",
                           "quote-provider", "enclave-kept", "large-epc", "update"}) {
    Verdict verdict = validator.Validate(Load(name));
    EXPECT_TRUE(verdict.allowed) << name << ": " << verdict.message;
    EXPECT_THAT(verdict.warnings, IsEmpty()) << name;
  }
}

struct Refusal {
  const char* name;
  const char* message;
};

TEST(Validator, RefusesWithAMessageNamingTheContainerAndTheValue) {
  Validator validator(nullptr);
  for (const Refusal& refusal : {
           Refusal{"both-epc-names",
                   "container \"app\" asks for EPC twice (sgx.intel.com/epc: 10Mi and "
                   "kubernetes.azure.com/sgx_epc_mem_in_MiB: 10): ask for one of them"},
           Refusal{"requests-differ",
                   "container \"app\" requests sgx.intel.com/epc: 5Mi but its limit is 10Mi; EPC "
                   "requests must equal limits"},
           Refusal{"request-without-limit",
                   "container \"app\" requests sgx.intel.com/epc: 10Mi without a limit"},
           Refusal{"bad-quantity",
                   "container \"app\": sgx.intel.com/epc: \"10MB\" is not a valid "
                   "quantity: unknown suffix \"MB\""},
           Refusal{"quote-provider-names-nobody",
                   "annotation sgx.intel.com/quote-provider: \"quoter\" names no container of "
                   "this pod"},
           Refusal{"quote-provider-no-epc",
                   "annotation sgx.intel.com/quote-provider: container \"helper\" asks for no "
                   "EPC"},
       }) {
    Verdict verdict = validator.Validate(Load(refusal.name));
    EXPECT_FALSE(verdict.allowed) << refusal.name;
    EXPECT_THAT(verdict.message, HasSubstr(refusal.message)) << refusal.name;
    const json answer = json::parse(RenderVerdict(Load(refusal.name), verdict));
    EXPECT_EQ(answer["response"]["allowed"], false);
    EXPECT_EQ(answer["response"]["status"]["message"], verdict.message);
    EXPECT_EQ(answer["response"]["status"]["code"], 403);
  }
}

TEST(Validator, WarnsWhenThePodIsLargerThanTheLargestNode) {
  FixedCapacity capacity(EpcCapacity::Largest{"sgx-node-2", 256});
  Verdict verdict = Validator(&capacity).Validate(Load("large-epc"));
  EXPECT_TRUE(verdict.allowed);
  EXPECT_THAT(verdict.warnings,
              ElementsAre("this pod asks for 512 MiB of EPC, more than the largest SGX node "
                          "offers (sgx-node-2: 256 MiB): it stays Pending until a larger node "
                          "joins"));
  const json answer = json::parse(RenderVerdict(Load("large-epc"), verdict));
  EXPECT_EQ(answer["response"]["warnings"], json(verdict.warnings));
  // Pods that fit get no warning; neither does anything while the cache knows nothing.
  EXPECT_THAT(Validator(&capacity).Validate(Load("intel-style")).warnings, IsEmpty());
  FixedCapacity unknown(std::nullopt);
  EXPECT_THAT(Validator(&unknown).Validate(Load("large-epc")).warnings, IsEmpty());
  FixedCapacity none(EpcCapacity::Largest{"", 0});
  EXPECT_THAT(Validator(&none).Validate(Load("large-epc")).warnings,
              ElementsAre(HasSubstr("no node of the cluster offers EPC")));
}

TEST(Validator, CountsInitContainersAsTheSchedulerDoes) {
  // init-containers: app 20 MiB, largest init 4 MiB: the pod needs 20.
  FixedCapacity capacity(EpcCapacity::Largest{"n", 19});
  EXPECT_THAT(Validator(&capacity).Validate(Load("init-containers")).warnings,
              ElementsAre(HasSubstr("asks for 20 MiB")));
}

}  // namespace
}  // namespace cn::webhook
