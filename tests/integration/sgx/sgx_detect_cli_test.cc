// Runs the real sgx-detect binary against simulated hosts in temp dirs and checks its exit
// status, its JSON and its error messages.

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/sgx/simulated_host.h"
#include "src/testing/subprocess.h"
#include "src/testing/temp_dir.h"

namespace cn::sgx {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint64_t kMiB = 1024 * 1024;

class SgxDetectCli : public ::testing::Test {
 protected:
  testing::ProcessResult RunOn(const SimulatedHost& host, std::vector<std::string> extra = {}) {
    EXPECT_TRUE(WriteHostRoot(host, root_.MakeDirectory("root")).ok());
    std::string cpuid = files_.WriteFile("cpuid.txt", EncodeCpuidFile(host));
    std::vector<std::string> argv = {CN_SGX_DETECT_BINARY, "--host-root", root_.path() + "/root",
                                     "--cpuid-file", cpuid};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return testing::RunProcess(argv);
  }

  testing::TempDir root_;
  testing::TempDir files_;
};

TEST_F(SgxDetectCli, ReadyHostExitsZeroWithHostPathsInJson) {
  SimulatedHost host = TypicalSgx2Host(256 * kMiB);
  host.aesm = true;
  testing::ProcessResult result = RunOn(host, {"--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  nlohmann::json json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["ready"], true);
  EXPECT_EQ(json["epc"]["total_bytes"], 256 * kMiB);
  EXPECT_EQ(json["driver"]["enclave_device"], "/dev/sgx_enclave");
  EXPECT_EQ(json["aesm"]["socket"], "/var/run/aesmd/aesm.socket");
  EXPECT_THAT(result.out, Not(HasSubstr(root_.path())));
}

TEST_F(SgxDetectCli, HostWithoutSgxExitsOneWithReport) {
  testing::ProcessResult result = RunOn(SimulatedHost{});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.out, HasSubstr("[FAIL] CPU does not support SGX"));
  EXPECT_THAT(result.out, HasSubstr("NOT READY"));
}

TEST_F(SgxDetectCli, MalformedCpuidFileExitsTwoNamingFileAndLine) {
  std::string cpuid = files_.WriteFile("bad.txt", "# header\n0x7 0x0 0x0 0x4 0x0\n");
  testing::ProcessResult result =
      testing::RunProcess({CN_SGX_DETECT_BINARY, "--cpuid-file", cpuid});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr(cpuid + ":2: expected 6 fields"));
}

TEST_F(SgxDetectCli, MissingCpuidFileExitsTwo) {
  testing::ProcessResult result =
      testing::RunProcess({CN_SGX_DETECT_BINARY, "--cpuid-file", "/nonexistent/cpuid.txt"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("/nonexistent/cpuid.txt"));
}

TEST_F(SgxDetectCli, MalformedSysfsExitsTwoNamingThePath) {
  files_.WriteFile("root/sys/devices/system/node/node0/x86/sgx_total_bytes", "12x\n");
  testing::ProcessResult result =
      testing::RunProcess({CN_SGX_DETECT_BINARY, "--host-root", files_.path() + "/root"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("node0/x86/sgx_total_bytes"));
}

TEST_F(SgxDetectCli, UnknownFlagAndBadHostRootAreUsageErrors) {
  EXPECT_EQ(testing::RunProcess({CN_SGX_DETECT_BINARY, "--frobnicate"}).exit_code, 2);
  testing::ProcessResult result =
      testing::RunProcess({CN_SGX_DETECT_BINARY, "--host-root", "/nonexistent/root"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("/nonexistent/root"));
}

TEST_F(SgxDetectCli, HelpExitsZero) {
  testing::ProcessResult result = testing::RunProcess({CN_SGX_DETECT_BINARY, "--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("--cpuid-file"));
}

}  // namespace
}  // namespace cn::sgx
