#include "src/nodeagent/labels.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/os/host_file_system.h"
#include "src/sgx/simulated_host.h"
#include "src/testing/temp_dir.h"

namespace cn::nodeagent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint64_t kMiB = 1024 * 1024;

// Desired labels of a simulated host, through the real probe (as the agent computes them).
Labels LabelsOf(const sgx::SimulatedHost& host) {
  testing::TempDir root;
  EXPECT_TRUE(sgx::WriteHostRoot(host, root.path()).ok());
  os::HostFileSystem file_system(root.path());
  os::TableCpuid cpuid = sgx::EncodeCpuid(host);
  absl::StatusOr<sgx::Platform> platform = sgx::ProbePlatform(file_system, cpuid);
  EXPECT_TRUE(platform.ok()) << platform.status();
  return platform.ok() ? DesiredLabels(*platform) : Labels{};
}

const Labels kOnlyDisabled = {{"sgx.confidential-nodes.io/enabled", "false"}};

TEST(DesiredLabelsTest, HostsThatCannotRunEnclavesOnlySayEnabledFalse) {
  EXPECT_EQ(LabelsOf(sgx::SimulatedHost{}), kOnlyDisabled);  // no SGX
  sgx::SimulatedHost firmware_off;
  firmware_off.cpu.sgx = firmware_off.cpu.sgx1 = firmware_off.cpu.flc = true;
  firmware_off.driver = sgx::DriverKind::kInKernel;
  EXPECT_EQ(LabelsOf(firmware_off), kOnlyDisabled);  // disabled in firmware: no EPC
  sgx::SimulatedHost no_driver = sgx::TypicalSgx2Host(64 * kMiB);
  no_driver.driver = sgx::DriverKind::kNone;
  EXPECT_EQ(LabelsOf(no_driver), kOnlyDisabled);
  EXPECT_EQ(NotEnabledLabels(), kOnlyDisabled);  // probe failed
}

TEST(DesiredLabelsTest, AnInKernelSgx2HostWithAesmGetsEveryLabel) {
  sgx::SimulatedHost host = sgx::TypicalSgx2Host(256 * kMiB);
  host.aesm = true;
  EXPECT_EQ(LabelsOf(host), (Labels{{"sgx.confidential-nodes.io/enabled", "true"},
                                    {"sgx.confidential-nodes.io/flc", "true"},
                                    {"sgx.confidential-nodes.io/sgx2", "true"},
                                    {"sgx.confidential-nodes.io/aesm", "true"},
                                    {"sgx.confidential-nodes.io/driver", "in-kernel"},
                                    {"sgx.confidential-nodes.io/epc-mib", "256"},
                                    {"intel.feature.node.kubernetes.io/sgx", "true"},
                                    {"feature.node.kubernetes.io/cpu-sgx.enabled", "true"}}));
}

TEST(DesiredLabelsTest, DriversFlcSgx2AndAesmOff) {
  sgx::SimulatedHost dcap = sgx::TypicalSgx2Host(64 * kMiB);
  dcap.driver = sgx::DriverKind::kDcap;
  EXPECT_EQ(LabelsOf(dcap).at("sgx.confidential-nodes.io/driver"), "dcap");
  EXPECT_EQ(LabelsOf(dcap).at("sgx.confidential-nodes.io/aesm"), "false");

  sgx::SimulatedHost legacy = sgx::TypicalSgx2Host(64 * kMiB);
  legacy.cpu.flc = false;
  legacy.cpu.sgx2 = false;
  legacy.driver = sgx::DriverKind::kOutOfTree;
  const Labels labels = LabelsOf(legacy);
  EXPECT_EQ(labels.at("sgx.confidential-nodes.io/enabled"), "true");
  EXPECT_EQ(labels.at("sgx.confidential-nodes.io/driver"), "isgx");
  EXPECT_EQ(labels.at("sgx.confidential-nodes.io/flc"), "false");
  EXPECT_EQ(labels.at("sgx.confidential-nodes.io/sgx2"), "false");
  // EPC in whole MiB, rounded down.
  sgx::SimulatedHost odd = sgx::TypicalSgx2Host(64 * kMiB);
  odd.sysfs_numa_epc = {{0, 64 * kMiB + 512 * 1024}};
  EXPECT_EQ(LabelsOf(odd).at("sgx.confidential-nodes.io/epc-mib"), "64");
}

Labels SgxLabels() {
  sgx::Platform platform;
  platform.ready = true;
  platform.cpu.flc = true;
  platform.cpu.sgx2 = true;
  platform.driver.kind = sgx::DriverKind::kInKernel;
  platform.epc_total_bytes = 128 * kMiB;
  return DesiredLabels(platform);
}

TEST(ComputePatchTest, LabelsABareNodeAndRecordsTheCompatLabelsItSets) {
  NodeMetadata node{.labels = {{"kubernetes.io/hostname", "n1"}}, .resource_version = "7"};
  std::optional<nlohmann::json> patch = ComputePatch(node, SgxLabels());
  ASSERT_TRUE(patch.has_value());
  EXPECT_EQ(*patch, nlohmann::json::parse(R"({"metadata": {
      "resourceVersion": "7",
      "labels": {"sgx.confidential-nodes.io/enabled": "true", "sgx.confidential-nodes.io/flc": "true",
                 "sgx.confidential-nodes.io/sgx2": "true", "sgx.confidential-nodes.io/aesm": "false",
                 "sgx.confidential-nodes.io/driver": "in-kernel",
                 "sgx.confidential-nodes.io/epc-mib": "128",
                 "intel.feature.node.kubernetes.io/sgx": "true",
                 "feature.node.kubernetes.io/cpu-sgx.enabled": "true"},
      "annotations": {"sgx.confidential-nodes.io/owned-labels":
          "feature.node.kubernetes.io/cpu-sgx.enabled,intel.feature.node.kubernetes.io/sgx"}}})"));
}

// Applies a merge patch of labels/annotations to node metadata, as the API server would.
NodeMetadata Apply(NodeMetadata node, const nlohmann::json& patch) {
  nlohmann::json object = {{"metadata",
                            {{"labels", node.labels},
                             {"annotations", node.annotations},
                             {"resourceVersion", node.resource_version}}}};
  object.merge_patch(patch);
  return *ParseNodeMetadata(object);
}

TEST(ComputePatchTest, ASecondRunSendsNothing) {
  NodeMetadata node{.labels = {{"kubernetes.io/hostname", "n1"}}};
  for (const Labels& desired : {SgxLabels(), kOnlyDisabled}) {
    std::optional<nlohmann::json> patch = ComputePatch(node, desired);
    ASSERT_TRUE(patch.has_value());
    node = Apply(node, *patch);
    EXPECT_EQ(ComputePatch(node, desired), std::nullopt);
  }
}

TEST(ComputePatchTest, RemovesStaleLabelsAndOwnedCompatLabelsOnly) {
  NodeMetadata node{.labels = {{"kubernetes.io/hostname", "n1"}}};
  node = Apply(node, *ComputePatch(node, SgxLabels()));
  node.labels["sgx.confidential-nodes.io/retired-label"] = "x";  // an older agent's
  std::optional<nlohmann::json> patch = ComputePatch(node, kOnlyDisabled);
  ASSERT_TRUE(patch.has_value());
  const nlohmann::json& labels = (*patch)["metadata"]["labels"];
  EXPECT_EQ(labels["sgx.confidential-nodes.io/enabled"], "false");
  for (const char* removed :
       {"sgx.confidential-nodes.io/flc", "sgx.confidential-nodes.io/sgx2",
        "sgx.confidential-nodes.io/aesm", "sgx.confidential-nodes.io/driver",
        "sgx.confidential-nodes.io/epc-mib", "sgx.confidential-nodes.io/retired-label",
        "intel.feature.node.kubernetes.io/sgx", "feature.node.kubernetes.io/cpu-sgx.enabled"}) {
    ASSERT_TRUE(labels.contains(removed)) << removed;
    EXPECT_TRUE(labels[removed].is_null()) << removed;
  }
  EXPECT_FALSE(labels.contains("kubernetes.io/hostname"));
  EXPECT_TRUE(
      (*patch)["metadata"]["annotations"]["sgx.confidential-nodes.io/owned-labels"].is_null());
  node = Apply(node, *patch);
  EXPECT_EQ(node.labels, (Labels{{"kubernetes.io/hostname", "n1"},
                                 {"sgx.confidential-nodes.io/enabled", "false"}}));
  EXPECT_TRUE(node.annotations.empty());
}

TEST(ComputePatchTest, AnAesmThatWentAwayFlipsItsLabel) {
  NodeMetadata node;
  Labels with_aesm = SgxLabels();
  with_aesm["sgx.confidential-nodes.io/aesm"] = "true";
  node = Apply(node, *ComputePatch(node, with_aesm));
  std::optional<nlohmann::json> patch = ComputePatch(node, SgxLabels());
  ASSERT_TRUE(patch.has_value());
  EXPECT_EQ((*patch)["metadata"]["labels"],
            nlohmann::json({{"sgx.confidential-nodes.io/aesm", "false"}}));
  EXPECT_FALSE((*patch)["metadata"].contains("annotations"));
}

TEST(ComputePatchTest, CompatLabelsSetBySomeoneElseAreNeverTouched) {
  NodeMetadata node{.labels = {{"feature.node.kubernetes.io/cpu-sgx.enabled", "true"},
                               {"intel.feature.node.kubernetes.io/sgx", "false"},
                               {"team", "blue"}}};
  std::optional<nlohmann::json> patch = ComputePatch(node, SgxLabels());
  ASSERT_TRUE(patch.has_value());
  const nlohmann::json& labels = (*patch)["metadata"]["labels"];
  EXPECT_FALSE(labels.contains("feature.node.kubernetes.io/cpu-sgx.enabled"));
  EXPECT_FALSE(labels.contains("intel.feature.node.kubernetes.io/sgx"));
  EXPECT_FALSE(labels.contains("team"));
  EXPECT_FALSE((*patch)["metadata"].contains("annotations"));  // nothing claimed
  node = Apply(node, *patch);
  // SGX goes away: NFD's and the operator's labels stay as they were.
  node = Apply(node, *ComputePatch(node, kOnlyDisabled));
  EXPECT_EQ(node.labels.at("feature.node.kubernetes.io/cpu-sgx.enabled"), "true");
  EXPECT_EQ(node.labels.at("intel.feature.node.kubernetes.io/sgx"), "false");
  EXPECT_EQ(node.labels.at("team"), "blue");
}

TEST(ComputePatchTest, RepairsHandEditsOfItsOwnLabels) {
  NodeMetadata node;
  node = Apply(node, *ComputePatch(node, SgxLabels()));
  node.labels["sgx.confidential-nodes.io/epc-mib"] = "999999";
  node.labels.erase("intel.feature.node.kubernetes.io/sgx");            // ours: put back
  node.labels["feature.node.kubernetes.io/cpu-sgx.enabled"] = "false";  // ours: repaired
  std::optional<nlohmann::json> patch = ComputePatch(node, SgxLabels());
  ASSERT_TRUE(patch.has_value());
  EXPECT_EQ((*patch)["metadata"]["labels"],
            nlohmann::json({{"sgx.confidential-nodes.io/epc-mib", "128"},
                            {"intel.feature.node.kubernetes.io/sgx", "true"},
                            {"feature.node.kubernetes.io/cpu-sgx.enabled", "true"}}));
}

TEST(ComputePatchTest, AnEmptyDesiredSetRemovesEverythingTheAgentOwns) {
  NodeMetadata node{.labels = {{"team", "blue"}}};
  node = Apply(node, *ComputePatch(node, SgxLabels()));
  node = Apply(node, *ComputePatch(node, {}));
  EXPECT_EQ(node.labels, (Labels{{"team", "blue"}}));
  EXPECT_TRUE(node.annotations.empty());
}

TEST(ParseNodeMetadataTest, RejectsWhatIsNotANode) {
  EXPECT_FALSE(ParseNodeMetadata(nlohmann::json::array()).ok());
  EXPECT_FALSE(ParseNodeMetadata({{"kind", "Node"}}).ok());
  EXPECT_THAT(ParseNodeMetadata({{"metadata", {{"labels", {{"a", 1}}}}}}).status().message(),
              HasSubstr("labels[a]"));
}

TEST(NfdFeatureFileTest, ListsLabelsButLeavesNfdsOwnCpuLabelToNfd) {
  const std::string file = NfdFeatureFile(SgxLabels());
  EXPECT_THAT(file, HasSubstr("\nsgx.confidential-nodes.io/enabled=true\n"));
  EXPECT_THAT(file, HasSubstr("\nintel.feature.node.kubernetes.io/sgx=true\n"));
  EXPECT_THAT(file, Not(HasSubstr("cpu-sgx.enabled")));
}

}  // namespace
}  // namespace cn::nodeagent
