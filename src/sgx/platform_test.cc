#include "src/sgx/platform.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/os/host_file_system.h"
#include "src/sgx/simulated_host.h"
#include "src/testing/fake_file_system.h"
#include "src/testing/temp_dir.h"

namespace cn::sgx {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kGiB = 1024 * kMiB;

// Probes a simulated host written to a fresh temp-dir host root, as sgx-detect would.
class ProbeFixture : public ::testing::Test {
 protected:
  Platform Probe(const SimulatedHost& host) {
    absl::Status written = WriteHostRoot(host, root_.path());
    EXPECT_TRUE(written.ok()) << written;
    os::HostFileSystem file_system(root_.path());
    os::TableCpuid cpuid = EncodeCpuid(host);
    auto platform = ProbePlatform(file_system, cpuid);
    EXPECT_TRUE(platform.ok()) << platform.status();
    return platform.ok() ? *platform : Platform{};
  }

  testing::TempDir root_;
};

std::string AllProblems(const Platform& platform) {
  std::string joined;
  for (const Problem& problem : platform.problems) {
    joined += problem.text + "\n";
  }
  return joined;
}

TEST_F(ProbeFixture, HostWithoutSgxIsNotReadyAndSaysSo) {
  Platform platform = Probe(SimulatedHost{});
  EXPECT_FALSE(platform.ready);
  EXPECT_FALSE(platform.cpu.sgx);
  EXPECT_EQ(platform.epc_source, EpcSource::kNone);
  EXPECT_EQ(platform.epc_total_bytes, 0u);
  EXPECT_EQ(platform.driver.kind, DriverKind::kNone);
  ASSERT_EQ(platform.problems.size(), 1u);
  EXPECT_EQ(platform.problems[0].check, Check::kCpu);
  EXPECT_THAT(platform.problems[0].text, HasSubstr("does not report SGX"));
}

TEST_F(ProbeFixture, SgxDisabledInFirmwareIsExplainedWithTheFix) {
  SimulatedHost host;
  host.cpu.sgx = true;
  host.cpu.flc = true;
  host.cpu.sgx1 = true;  // The CPU can, but firmware reserved no EPC.
  Platform platform = Probe(host);
  EXPECT_FALSE(platform.ready);
  EXPECT_EQ(platform.epc_total_bytes, 0u);
  EXPECT_THAT(AllProblems(platform),
              AllOf(HasSubstr("the CPU supports SGX but no EPC is reported: SGX is disabled in "
                              "firmware; enable it in the BIOS/UEFI setup"),
                    HasSubstr("load the in-kernel SGX driver")));
}

TEST_F(ProbeFixture, SgxBitWithoutSgx1IsDisabledInFirmware) {
  SimulatedHost host;
  host.cpu.sgx = true;
  Platform platform = Probe(host);
  EXPECT_FALSE(platform.ready);
  EXPECT_THAT(AllProblems(platform), HasSubstr("not the SGX1 instructions"));
}

TEST_F(ProbeFixture, OutOfTreeDriverOnCpuWithoutFlcIsReady) {
  SimulatedHost host;
  host.cpu = {.sgx = true, .flc = false, .sgx1 = true, .max_enclave_size_64 = 36};
  host.epc_sections = {{0x70200000, 93 * kMiB + 512 * 1024, EpcProtection::kIntegrity}};
  host.driver = DriverKind::kOutOfTree;
  Platform platform = Probe(host);
  EXPECT_TRUE(platform.ready);
  EXPECT_EQ(platform.driver.kind, DriverKind::kOutOfTree);
  ASSERT_TRUE(platform.driver.enclave_device);
  EXPECT_EQ(platform.driver.enclave_device->host_path, "/dev/isgx");
  EXPECT_FALSE(platform.driver.provision_device);
  EXPECT_EQ(platform.epc_source, EpcSource::kCpuid);
  EXPECT_EQ(platform.epc_total_bytes, 93 * kMiB + 512 * 1024);
  // Placeholder files in a fixture are not character devices: reported, but not fatal.
  EXPECT_THAT(AllProblems(platform), HasSubstr("/dev/isgx exists but is a regular file"));
}

TEST_F(ProbeFixture, NoDriverOnCpuWithoutFlcPointsToTheLegacyDriver) {
  SimulatedHost host;
  host.cpu = {.sgx = true, .flc = false, .sgx1 = true};
  host.epc_sections = {{0x70200000, 128 * kMiB, EpcProtection::kIntegrity}};
  Platform platform = Probe(host);
  EXPECT_FALSE(platform.ready);
  EXPECT_THAT(AllProblems(platform), HasSubstr("install Intel's legacy out-of-tree driver"));
}

TEST_F(ProbeFixture, DcapDriverUsesItsDevicePaths) {
  SimulatedHost host = TypicalSgx2Host(64 * kMiB);
  host.driver = DriverKind::kDcap;
  Platform platform = Probe(host);
  EXPECT_TRUE(platform.ready);
  EXPECT_EQ(platform.driver.kind, DriverKind::kDcap);
  EXPECT_EQ(platform.driver.enclave_device->host_path, "/dev/sgx/enclave");
  EXPECT_EQ(platform.driver.provision_device->host_path, "/dev/sgx/provision");
}

TEST_F(ProbeFixture, MissingProvisionDeviceIsAProblemButNotFatal) {
  SimulatedHost host = TypicalSgx2Host(64 * kMiB);
  host.provision_device = false;
  Platform platform = Probe(host);
  EXPECT_TRUE(platform.ready);
  EXPECT_FALSE(platform.driver.provision_device);
  EXPECT_THAT(AllProblems(platform), HasSubstr("provision device is missing"));
}

TEST_F(ProbeFixture, InKernelSgx2WithTwoNumaNodesPrefersSysfs) {
  SimulatedHost host = TypicalSgx2Host(0);
  host.epc_sections = {{0x0000004000000000ull, 32 * kGiB, EpcProtection::kConfidentialityOnly},
                       {0x0000084000000000ull, 32 * kGiB, EpcProtection::kConfidentialityOnly}};
  host.sysfs_numa_epc = {{1, 32 * kGiB}, {0, 32 * kGiB}};
  Platform platform = Probe(host);
  EXPECT_TRUE(platform.ready);
  EXPECT_TRUE(platform.cpu.sgx2);
  EXPECT_EQ(platform.epc_source, EpcSource::kSysfs);
  EXPECT_EQ(platform.epc_total_bytes, 64 * kGiB);
  EXPECT_THAT(platform.numa_nodes,
              ElementsAre(AllOf(Field(&NumaEpc::node, 0), Field(&NumaEpc::bytes, 32 * kGiB)),
                          AllOf(Field(&NumaEpc::node, 1), Field(&NumaEpc::bytes, 32 * kGiB))));
  ASSERT_EQ(platform.epc_sections.size(), 2u);
  EXPECT_EQ(platform.epc_sections[1].base, 0x0000084000000000ull);
  EXPECT_EQ(platform.driver.enclave_device->host_path, "/dev/sgx_enclave");
  EXPECT_EQ(platform.driver.provision_device->host_path, "/dev/sgx_provision");
  EXPECT_THAT(AllProblems(platform), Not(HasSubstr("CPUID reports")));
}

TEST_F(ProbeFixture, CpuidAndSysfsDisagreeingUsesSysfsAndReportsIt) {
  SimulatedHost host = TypicalSgx2Host(128 * kMiB);
  host.sysfs_numa_epc = {{0, 96 * kMiB}};
  Platform platform = Probe(host);
  EXPECT_TRUE(platform.ready);
  EXPECT_EQ(platform.epc_total_bytes, 96 * kMiB);
  EXPECT_EQ(platform.epc_source, EpcSource::kSysfs);
  EXPECT_THAT(AllProblems(platform),
              HasSubstr("CPUID reports 134217728 bytes (128 MiB) of EPC but the kernel set up "
                        "100663296 bytes (96 MiB)"));
}

TEST_F(ProbeFixture, KernelWithZeroSysfsEpcIsNotReady) {
  SimulatedHost host = TypicalSgx2Host(128 * kMiB);
  host.sysfs_numa_epc = {{0, 0}};
  Platform platform = Probe(host);
  EXPECT_FALSE(platform.ready);
  EXPECT_THAT(AllProblems(platform), HasSubstr("the kernel set up none"));
}

TEST_F(ProbeFixture, AesmSocketIsReportedAsHostPath) {
  SimulatedHost host = TypicalSgx2Host(64 * kMiB);
  host.aesm = true;
  Platform platform = Probe(host);
  ASSERT_TRUE(platform.aesm_socket);
  EXPECT_EQ(*platform.aesm_socket, "/var/run/aesmd/aesm.socket");
  EXPECT_THAT(AllProblems(platform), Not(HasSubstr("aesm")));
}

TEST_F(ProbeFixture, MiscCgroupSgxEpcCapacityIsRead) {
  SimulatedHost host = TypicalSgx2Host(64 * kMiB);
  host.misc_cgroup_epc_bytes = 64 * kMiB;
  EXPECT_EQ(Probe(host).misc_cgroup_epc_bytes, 64 * kMiB);
}

TEST_F(ProbeFixture, NoMiscCgroupMeansNoEpcCgroup) {
  Platform platform = Probe(TypicalSgx2Host(64 * kMiB));
  EXPECT_FALSE(platform.misc_cgroup_epc_bytes.has_value());
  EXPECT_FALSE(platform.epc_cgroup.available);
  EXPECT_THAT(platform.epc_cgroup.detail, HasSubstr("misc.capacity does not exist"));
  EXPECT_THAT(FormatReport(platform), HasSubstr("[info] EPC cgroup: unavailable: "));
}

TEST_F(ProbeFixture, MiscCgroupWithSgxEpcIsReportedAvailable) {
  SimulatedHost host = TypicalSgx2Host(64 * kMiB);
  host.misc_cgroup_epc_bytes = 64 * kMiB;
  Platform platform = Probe(host);
  EXPECT_TRUE(platform.epc_cgroup.available);
  EXPECT_EQ(platform.epc_cgroup.capacity_bytes, 64 * kMiB);
  EXPECT_THAT(FormatReport(platform), HasSubstr("[info] EPC cgroup: available (sgx_epc capacity"));
  EXPECT_EQ(PlatformToJson(platform)["epc_cgroup"]["available"], true);
}

TEST(ProbeEpcCgroup, MiscControllerWithoutSgxEpcIsUnavailable) {
  testing::FakeFileSystem file_system;
  file_system.AddFile("/sys/fs/cgroup/misc.capacity", "res_a 10\n");
  EpcCgroup cgroup = ProbeEpcCgroup(file_system);
  EXPECT_FALSE(cgroup.available);
  EXPECT_THAT(cgroup.detail, HasSubstr("lists no sgx_epc"));
}

TEST(ProbeEpcCgroup, GarbageSgxEpcValueIsUnavailableAndNamed) {
  testing::FakeFileSystem file_system;
  file_system.AddFile("/sys/fs/cgroup/misc.capacity", "sgx_epc lots\n");
  EpcCgroup cgroup = ProbeEpcCgroup(file_system);
  EXPECT_FALSE(cgroup.available);
  EXPECT_THAT(cgroup.detail, HasSubstr("/sys/fs/cgroup/misc.capacity"));
}

TEST(ProbePlatform, CharacterDevicesRaiseNoDeviceProblem) {
  testing::FakeFileSystem file_system;
  file_system.AddCharacterDevice("/dev/sgx_enclave").AddCharacterDevice("/dev/sgx_provision");
  file_system.AddSocket("/var/run/aesmd/aesm.socket");
  os::TableCpuid cpuid = EncodeCpuid(TypicalSgx2Host(64 * kMiB));
  auto platform = ProbePlatform(file_system, cpuid);
  ASSERT_TRUE(platform.ok());
  EXPECT_TRUE(platform->ready);
  EXPECT_TRUE(platform->driver.enclave_device->character_device);
  EXPECT_THAT(platform->problems, IsEmpty());
}

TEST(ProbePlatform, AesmPathThatIsNotASocketIsAProblem) {
  testing::FakeFileSystem file_system;
  file_system.AddCharacterDevice("/dev/sgx_enclave").AddCharacterDevice("/dev/sgx_provision");
  file_system.AddFile("/var/run/aesmd/aesm.socket", "");
  os::TableCpuid cpuid = EncodeCpuid(TypicalSgx2Host(64 * kMiB));
  auto platform = ProbePlatform(file_system, cpuid);
  ASSERT_TRUE(platform.ok());
  EXPECT_THAT(platform->problems,
              ElementsAre(AllOf(Field(&Problem::check, Check::kAesm),
                                Field(&Problem::text, HasSubstr("not a socket")))));
  // A warning on a ready host: a note under the AESM line, and still READY.
  std::string report = FormatReport(*platform);
  EXPECT_THAT(report, HasSubstr("[info] AESM socket: /var/run/aesmd/aesm.socket\n       note: "
                                "/var/run/aesmd/aesm.socket exists but is a regular file"));
  EXPECT_THAT(report, HasSubstr("\nREADY"));
}

TEST(ProbePlatform, MalformedSysfsSizeIsAnErrorNamingThePath) {
  testing::FakeFileSystem file_system;
  file_system.AddFile("/sys/devices/system/node/node0/x86/sgx_total_bytes", "lots\n");
  os::TableCpuid cpuid = EncodeCpuid(TypicalSgx2Host(64 * kMiB));
  auto platform = ProbePlatform(file_system, cpuid);
  ASSERT_FALSE(platform.ok());
  EXPECT_EQ(platform.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(platform.status().message()),
      AllOf(HasSubstr("/sys/devices/system/node/node0/x86/sgx_total_bytes"), HasSubstr("'lots'")));
}

TEST(ProbePlatform, NegativeSysfsSizeIsRejected) {
  testing::FakeFileSystem file_system;
  file_system.AddFile("/sys/devices/system/node/node0/x86/sgx_total_bytes", "-5");
  os::TableCpuid cpuid;
  EXPECT_FALSE(ProbePlatform(file_system, cpuid).ok());
}

TEST(ProbePlatform, UnreadableSysfsSizeIsAnError) {
  testing::FakeFileSystem file_system;
  file_system.AddUnreadable("/sys/devices/system/node/node0/x86/sgx_total_bytes");
  os::TableCpuid cpuid;
  EXPECT_EQ(ProbePlatform(file_system, cpuid).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(ProbePlatform, IgnoresNonNodeEntriesInTheNodeDirectory) {
  testing::FakeFileSystem file_system;
  file_system.AddFile("/sys/devices/system/node/possible", "0-1");
  file_system.AddFile("/sys/devices/system/node/nodefoo/x86/sgx_total_bytes", "junk");
  file_system.AddFile("/sys/devices/system/node/node3/x86/sgx_total_bytes", "4096");
  os::TableCpuid cpuid;
  auto platform = ProbePlatform(file_system, cpuid);
  ASSERT_TRUE(platform.ok()) << platform.status();
  EXPECT_THAT(platform->numa_nodes, ElementsAre(Field(&NumaEpc::node, 3)));
}

// --- CPUID decoding, bit by bit ---

struct FeatureBit {
  uint32_t leaf;
  uint32_t subleaf;
  char reg;  // 'a', 'b', 'c' or 'd'
  int bit;
  bool CpuFeatures::*field;
  const char* name;
};

void PrintTo(const FeatureBit& bit, std::ostream* out) { *out << bit.name; }

class FeatureBitDecoding : public ::testing::TestWithParam<FeatureBit> {};

os::TableCpuid SgxCpuWith(const FeatureBit& bit) {
  os::TableCpuid cpuid;
  os::CpuidRegisters leaf7{0, 1u << 2, 0, 0};  // SGX, so that leaf 0x12 is consulted.
  std::map<std::pair<uint32_t, uint32_t>, os::CpuidRegisters> registers = {{{7, 0}, leaf7}};
  os::CpuidRegisters& target = registers[{bit.leaf, bit.subleaf}];
  uint32_t* slot = bit.reg == 'a'   ? &target.eax
                   : bit.reg == 'b' ? &target.ebx
                   : bit.reg == 'c' ? &target.ecx
                                    : &target.edx;
  *slot |= 1u << bit.bit;
  for (const auto& [key, value] : registers) {
    cpuid.Set(key.first, key.second, value);
  }
  return cpuid;
}

TEST_P(FeatureBitDecoding, ExactlyThisBitSetsExactlyThisFeature) {
  const FeatureBit& bit = GetParam();
  CpuFeatures features = DecodeCpuFeatures(SgxCpuWith(bit));
  EXPECT_TRUE(features.*bit.field) << bit.name;
  // Every other feature stays off (SGX itself is on in the fixture).
  for (bool CpuFeatures::*other :
       {&CpuFeatures::flc, &CpuFeatures::sgx1, &CpuFeatures::sgx2, &CpuFeatures::edeccssa,
        &CpuFeatures::kss, &CpuFeatures::aex_notify}) {
    if (other != bit.field) {
      EXPECT_FALSE(features.*other) << bit.name;
    }
  }
  // The neighbouring bits do not set it.
  for (int neighbour : {bit.bit - 1, bit.bit + 1}) {
    if (neighbour < 0 || neighbour > 31) {
      continue;
    }
    FeatureBit shifted = bit;
    shifted.bit = neighbour;
    if (shifted.leaf == 7 && shifted.reg == 'b' && neighbour == 2) {
      continue;
    }
    EXPECT_FALSE(DecodeCpuFeatures(SgxCpuWith(shifted)).*bit.field)
        << bit.name << " set by bit " << neighbour;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllFeatures, FeatureBitDecoding,
    ::testing::Values(FeatureBit{7, 0, 'c', 30, &CpuFeatures::flc, "flc"},
                      FeatureBit{0x12, 0, 'a', 0, &CpuFeatures::sgx1, "sgx1"},
                      FeatureBit{0x12, 0, 'a', 1, &CpuFeatures::sgx2, "sgx2"},
                      FeatureBit{0x12, 0, 'a', 11, &CpuFeatures::edeccssa, "edeccssa"},
                      FeatureBit{0x12, 1, 'a', 7, &CpuFeatures::kss, "kss"},
                      FeatureBit{0x12, 1, 'a', 10, &CpuFeatures::aex_notify, "aex_notify"}));

TEST(DecodeCpuFeatures, SgxBitIsEbxBit2OfLeaf7) {
  os::TableCpuid cpuid;
  cpuid.Set(7, 0, {0xFFFFFFFF, ~(1u << 2), 0xFFFFFFFF, 0xFFFFFFFF});
  cpuid.Set(0x12, 0, {0xFFFFFFFF, 0, 0, 0xFFFFFFFF});
  CpuFeatures features = DecodeCpuFeatures(cpuid);
  EXPECT_FALSE(features.sgx);
  // Without the SGX bit, leaf 0x12 is not trusted at all.
  EXPECT_FALSE(features.sgx1);
  EXPECT_EQ(features.max_enclave_size_64, 0);
  cpuid.Set(7, 0, {0, 1u << 2, 0, 0});
  EXPECT_TRUE(DecodeCpuFeatures(cpuid).sgx);
  EXPECT_TRUE(DecodeCpuFeatures(cpuid).sgx1);
}

TEST(DecodeCpuFeatures, MaxEnclaveSizeIsEdxBits15To8) {
  os::TableCpuid cpuid;
  cpuid.Set(7, 0, {0, 1u << 2, 0, 0});
  cpuid.Set(0x12, 0, {1, 0, 0, 0xFFFF24FF});
  EXPECT_EQ(DecodeCpuFeatures(cpuid).max_enclave_size_64, 0x24);
}

TEST(DecodeEpcSections, CombinesLowAndHighBitsAbove4GiB) {
  os::TableCpuid cpuid;
  cpuid.Set(7, 0, {0, 1u << 2, 0, 0});
  // Base 0x000F_FFFF_FFFF_F000 (every address bit), size 0x0000_0008_8000_0000 (34 GiB).
  cpuid.Set(0x12, 2, {0xFFFFF001, 0xFFFFFFFF, 0x80000001, 0xFFF00008});
  auto sections = DecodeEpcSections(cpuid);
  ASSERT_EQ(sections.size(), 1u);
  EXPECT_EQ(sections[0].base, 0x000FFFFFFFFFF000ull);  // EBX[31:20] ignored
  EXPECT_EQ(sections[0].size, 0x0000000880000000ull);  // EDX[31:20] ignored
  EXPECT_EQ(sections[0].protection, EpcProtection::kIntegrity);
}

TEST(DecodeEpcSections, LowTwelveBitsAreNotPartOfAddresses) {
  os::TableCpuid cpuid;
  cpuid.Set(7, 0, {0, 1u << 2, 0, 0});
  cpuid.Set(0x12, 2, {0x12345FF1, 0, 0x00100FF2, 0});
  auto sections = DecodeEpcSections(cpuid);
  ASSERT_EQ(sections.size(), 1u);
  EXPECT_EQ(sections[0].base, 0x12345000u);
  EXPECT_EQ(sections[0].size, 0x00100000u);
  EXPECT_EQ(sections[0].protection, EpcProtection::kConfidentialityOnly);
}

TEST(DecodeEpcSections, StopsAtTheFirstInvalidSubleafAndAtEight) {
  os::TableCpuid cpuid;
  cpuid.Set(7, 0, {0, 1u << 2, 0, 0});
  for (uint32_t subleaf = 2; subleaf < 12; ++subleaf) {
    cpuid.Set(0x12, subleaf, {0x1001, 0, 0x1001, 0});
  }
  EXPECT_EQ(DecodeEpcSections(cpuid).size(), 8u);
  cpuid.Set(0x12, 4, {0, 0, 0, 0});
  EXPECT_EQ(DecodeEpcSections(cpuid).size(), 2u);
}

TEST(DecodeEpcSections, SkipsReservedSubleafTypes) {
  os::TableCpuid cpuid;
  cpuid.Set(7, 0, {0, 1u << 2, 0, 0});
  cpuid.Set(0x12, 2, {0x1002, 0, 0x1001, 0});  // type 2: reserved
  cpuid.Set(0x12, 3, {0x2001, 0, 0x3003, 0});  // protection 3: unknown
  auto sections = DecodeEpcSections(cpuid);
  ASSERT_EQ(sections.size(), 1u);
  EXPECT_EQ(sections[0].base, 0x2000u);
  EXPECT_EQ(sections[0].protection, EpcProtection::kUnknown);
}

TEST(DecodeEpcSections, NoSectionsWithoutSgx) {
  os::TableCpuid cpuid;
  cpuid.Set(0x12, 2, {0x1001, 0, 0x1001, 0});
  EXPECT_THAT(DecodeEpcSections(cpuid), IsEmpty());
}

TEST(SimulatedHost, CpuidFileRoundTripsThroughTheParser) {
  SimulatedHost host = TypicalSgx2Host(0);
  host.epc_sections = {{0x0000004000000000ull, 32 * kGiB, EpcProtection::kConfidentialityOnly},
                       {0x1000, 4096, EpcProtection::kIntegrity}};
  auto parsed = os::ParseCpuidTable(EncodeCpuidFile(host), "simulated");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  os::TableCpuid expected = EncodeCpuid(host);
  for (uint32_t subleaf = 0; subleaf < 5; ++subleaf) {
    EXPECT_EQ((*parsed)->Query(0x12, subleaf), expected.Query(0x12, subleaf)) << subleaf;
  }
  EXPECT_EQ((*parsed)->Query(7, 0), expected.Query(7, 0));
  EXPECT_EQ(DecodeCpuFeatures(**parsed).max_enclave_size_64, 36);
}

// --- Output ---

TEST_F(ProbeFixture, JsonHasTheDocumentedShape) {
  SimulatedHost host = TypicalSgx2Host(64 * kMiB);
  host.aesm = true;
  nlohmann::json json = PlatformToJson(Probe(host));
  EXPECT_EQ(json["ready"], true);
  EXPECT_EQ(json["cpu"]["sgx2"], true);
  EXPECT_EQ(json["cpu"]["max_enclave_size_64"], 36);
  EXPECT_EQ(json["epc"]["total_bytes"], 64 * kMiB);
  EXPECT_EQ(json["epc"]["source"], "sysfs");
  EXPECT_EQ(json["epc"]["sections"][0]["protection"], "integrity");
  EXPECT_EQ(json["epc"]["numa_nodes"][0]["bytes"], 64 * kMiB);
  EXPECT_EQ(json["driver"]["kind"], "in-kernel");
  EXPECT_EQ(json["driver"]["enclave_device"], "/dev/sgx_enclave");
  EXPECT_EQ(json["driver"]["provision_device"], "/dev/sgx_provision");
  EXPECT_EQ(json["aesm"]["socket"], "/var/run/aesmd/aesm.socket");
  EXPECT_TRUE(json["misc_cgroup"]["sgx_epc_bytes"].is_null());
  EXPECT_EQ(json["epc_cgroup"]["available"], false);
  EXPECT_TRUE(json["epc_cgroup"]["detail"].is_string());
  EXPECT_TRUE(json["problems"].is_array());
}

TEST_F(ProbeFixture, JsonUsesNullForAbsentDevices) {
  nlohmann::json json = PlatformToJson(Probe(SimulatedHost{}));
  EXPECT_EQ(json["ready"], false);
  EXPECT_TRUE(json["driver"]["enclave_device"].is_null());
  EXPECT_TRUE(json["driver"]["provision_device"].is_null());
  EXPECT_TRUE(json["aesm"]["socket"].is_null());
  EXPECT_EQ(json["epc"]["source"], "none");
}

TEST_F(ProbeFixture, ReportOnAHostWithoutSgxGivesEveryFailureAFix) {
  std::string report = FormatReport(Probe(SimulatedHost{}));
  EXPECT_THAT(report, HasSubstr("[FAIL] CPU does not support SGX\n       fix: the CPU does not "
                                "report SGX"));
  EXPECT_THAT(report, HasSubstr("[FAIL] no SGX driver device found\n       fix: follows from the "
                                "first failure above"));
  EXPECT_THAT(report, HasSubstr("\nNOT READY"));
}

TEST_F(ProbeFixture, ReportMarksEachCheckAndEndsWithTheVerdict) {
  std::string ready = FormatReport(Probe(TypicalSgx2Host(64 * kMiB)));
  EXPECT_THAT(ready, HasSubstr("[ok]   CPU supports SGX\n"));
  EXPECT_THAT(ready, HasSubstr("[ok]   EPC total: 67108864 bytes (64 MiB) (from sysfs)\n"));
  EXPECT_THAT(ready, HasSubstr("READY"));

  SimulatedHost disabled;
  disabled.cpu = {.sgx = true, .flc = true, .sgx1 = true};
  testing::TempDir other_root;
  ASSERT_TRUE(WriteHostRoot(disabled, other_root.path()).ok());
  os::HostFileSystem file_system(other_root.path());
  os::TableCpuid cpuid = EncodeCpuid(disabled);
  std::string not_ready = FormatReport(*ProbePlatform(file_system, cpuid));
  EXPECT_THAT(not_ready, HasSubstr("[FAIL] EPC total: 0 bytes"));
  // The fix sits right under the failed check.
  EXPECT_THAT(not_ready, HasSubstr("(from none)\n       fix: the CPU supports SGX but no EPC is "
                                   "reported"));
  EXPECT_THAT(not_ready, HasSubstr("[FAIL] no SGX driver device found\n       fix: no SGX "
                                   "enclave device"));
  EXPECT_THAT(not_ready, Not(HasSubstr("problem:")));
  EXPECT_THAT(not_ready, HasSubstr("NOT READY"));
}

}  // namespace
}  // namespace cn::sgx
