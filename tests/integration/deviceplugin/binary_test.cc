// The real sgx-device-plugin binary: signal handling, socket cleanup, HTTP endpoints, and
// behaviour on a node without SGX. Waits are bounded and event-driven (pidfd for the exit,
// the stand-in's registrations, the metrics port announced in the log). Also the AESM stand-in
// executable that the e2e quote helper runs, against the plugin executable.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "src/deviceplugin/device_set.h"
#include "src/sgx/simulated_host.h"
#include "src/testing/subprocess.h"
#include "src/testing/temp_dir.h"
#include "tests/integration/deviceplugin/plugin_process.h"
#include "tools/kubelet_standin.h"

namespace cn::deviceplugin {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kPatience = absl::Seconds(10);

// GETs `path` until `accept` holds for the answer (or the deadline passes): a bounded wait on a
// state the process reaches on its own, such as readiness right after its last registration.
httplib::Result GetWhen(httplib::Client& client, const std::string& path,
                        const std::function<bool(const httplib::Response&)>& accept) {
  absl::Time deadline = absl::Now() + kPatience;
  httplib::Result result = client.Get(path);
  while (absl::Now() < deadline && !(result && accept(*result))) {
    std::this_thread::yield();
    result = client.Get(path);
  }
  return result;
}

struct Node {
  testing::TempDir dir;
  std::string host_root = dir.MakeDirectory("host");
  std::string kubelet_dir = dir.MakeDirectory("kubelet");
  std::string cpuid_file = dir.path() + "/cpuid";

  void Write(const sgx::SimulatedHost& host) {
    ASSERT_TRUE(sgx::WriteHostRoot(host, host_root).ok());
    dir.WriteFile("cpuid", sgx::EncodeCpuidFile(host));
  }
  std::vector<std::string> Flags() const {
    return {"--kubelet-dir", kubelet_dir, "--host-root",    host_root,
            "--cpuid-file",  cpuid_file,  "--metrics-addr", "127.0.0.1:0"};
  }
};

TEST(DevicePluginBinaryTest, SigtermStopsServesRemovesSocketsAndExitsZeroWithinTwoSeconds) {
  Node node;
  node.Write(sgx::TypicalSgx2Host(64 * kMiB));
  auto kubelet = tools::KubeletStandin::Start(node.kubelet_dir);
  ASSERT_TRUE(kubelet.ok());
  PluginProcess plugin(CN_DEVICE_PLUGIN_BINARY, node.Flags(), node.dir.path() + "/plugin.log");
  ASSERT_TRUE((*kubelet)->WaitForRegistrations(3, kPatience)) << plugin.Log();
  for (const char* socket : {"sgx-epc.sock", "sgx-enclave.sock", "sgx-provision.sock"}) {
    EXPECT_TRUE(std::filesystem::exists(node.kubelet_dir + "/" + socket)) << socket;
  }
  // The metrics port is logged before the daemon starts, so it is there by now.
  std::optional<int> port = plugin.MetricsPort();
  ASSERT_TRUE(port.has_value()) << plugin.Log();
  httplib::Client http("127.0.0.1", *port);
  auto ready = GetWhen(http, "/readyz", [](const auto& answer) { return answer.status == 200; });
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              HasSubstr("cn_sgx_registrations_total{resource=\"sgx.intel.com/enclave\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("cn_sgx_epc_bytes 67108864"));
  EXPECT_THAT(
      metrics->body,
      HasSubstr(
          "cn_sgx_devices_advertised{resource=\"kubernetes.azure.com/sgx_epc_mem_in_MiB\"} 64"));
  // A stream is open, as the kubelet's would be.
  auto watch = tools::PluginClient(node.kubelet_dir + "/sgx-epc.sock").Watch();
  ASSERT_TRUE(watch->WaitForUpdates(1, kPatience));

  absl::Time signalled = absl::Now();
  ASSERT_EQ(::kill(plugin.pid(), SIGTERM), 0);
  std::optional<int> status = plugin.WaitForExit(absl::Seconds(5));
  ASSERT_TRUE(status.has_value()) << "still running 5 s after SIGTERM";
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(2));
  EXPECT_EQ(*status, 0) << plugin.Log();
  for (const char* socket : {"sgx-epc.sock", "sgx-enclave.sock", "sgx-provision.sock"}) {
    EXPECT_FALSE(std::filesystem::exists(node.kubelet_dir + "/" + socket)) << socket;
  }
  EXPECT_TRUE(watch->WaitForEnd(kPatience));
  EXPECT_THAT(plugin.Log(), HasSubstr("received SIGTERM"));
}

TEST(DevicePluginBinaryTest, SigintAlsoStopsCleanly) {
  Node node;
  node.Write(sgx::TypicalSgx2Host(8 * kMiB));
  auto kubelet = tools::KubeletStandin::Start(node.kubelet_dir);
  ASSERT_TRUE(kubelet.ok());
  PluginProcess plugin(CN_DEVICE_PLUGIN_BINARY, node.Flags(), node.dir.path() + "/plugin.log");
  ASSERT_TRUE((*kubelet)->WaitForRegistrations(3, kPatience)) << plugin.Log();
  ASSERT_EQ(::kill(plugin.pid(), SIGINT), 0);
  std::optional<int> status = plugin.WaitForExit(absl::Seconds(5));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0);
  EXPECT_FALSE(std::filesystem::exists(node.kubelet_dir + "/sgx-epc.sock"));
}

TEST(DevicePluginBinaryTest, NodeWithoutSgxStaysUpUnreadyAndSaysWhyOnce) {
  Node node;
  sgx::SimulatedHost host;  // no SGX at all
  node.Write(host);
  auto kubelet = tools::KubeletStandin::Start(node.kubelet_dir);
  ASSERT_TRUE(kubelet.ok());
  std::vector<std::string> flags = node.Flags();
  flags.push_back("--log-format=json");
  PluginProcess plugin(CN_DEVICE_PLUGIN_BINARY, flags, node.dir.path() + "/plugin.log");
  // The log announces the port before the first probe; the readiness answer then carries the
  // probe's reason once the first probe ran.
  std::optional<int> port;
  httplib::Client* client = nullptr;
  std::unique_ptr<httplib::Client> http;
  absl::Time deadline = absl::Now() + kPatience;
  std::string body;
  while (absl::Now() < deadline && plugin.running()) {
    if (!port) {
      port = plugin.MetricsPort();
      if (port) {
        http = std::make_unique<httplib::Client>("127.0.0.1", *port);
        client = http.get();
      }
    }
    if (client != nullptr) {
      auto ready = client->Get("/readyz");
      if (ready && ready->body.find("SGX") != std::string::npos) {
        EXPECT_EQ(ready->status, 503);
        body = ready->body;
        break;
      }
    }
    std::this_thread::yield();
  }
  EXPECT_THAT(body, HasSubstr("does not report SGX"));
  ASSERT_TRUE(client != nullptr) << plugin.Log();
  auto health = client->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_TRUE(plugin.running());
  EXPECT_TRUE((*kubelet)->Registrations().empty());
  EXPECT_FALSE(std::filesystem::exists(node.kubelet_dir + "/sgx-epc.sock"));

  ASSERT_EQ(::kill(plugin.pid(), SIGTERM), 0);
  std::optional<int> status = plugin.WaitForExit(absl::Seconds(5));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0);
  // Logged once, as JSON lines.
  std::string log = plugin.Log();
  size_t first = log.find("not ready");
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("not ready", first + 1), std::string::npos) << log;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line.rfind("{\"time\":", 0), 0u) << line;
  }
}

TEST(DevicePluginBinaryTest, CapsA512GiBNodeAndLogsItOnceWithTheNumbers) {
  Node node;
  sgx::SimulatedHost host = sgx::TypicalSgx2Host(16 * kMiB);
  host.sysfs_numa_epc = {{0, 549755813888ull}};
  node.Write(host);
  auto kubelet = tools::KubeletStandin::Start(node.kubelet_dir);
  ASSERT_TRUE(kubelet.ok());
  PluginProcess plugin(CN_DEVICE_PLUGIN_BINARY, node.Flags(), node.dir.path() + "/plugin.log");
  ASSERT_TRUE((*kubelet)->WaitForRegistrations(3, kPatience)) << plugin.Log();
  auto watch = tools::PluginClient(node.kubelet_dir + "/sgx-epc.sock").Watch();
  ASSERT_TRUE(watch->WaitForUpdates(1, kPatience));
  const int advertised = watch->Latest().devices_size();
  EXPECT_GT(advertised, 100000);
  EXPECT_LT(advertised, 524288);

  // The platform is probed again on each device change; the cap must not be logged again.
  node.dir.Remove("host/dev/sgx_enclave");
  ASSERT_TRUE(watch->WaitForUpdates(2, kPatience));
  node.dir.WriteFile("host/dev/sgx_enclave", "");
  ASSERT_TRUE(watch->WaitForUpdates(3, kPatience));
  EXPECT_EQ(watch->Latest().devices_size(), advertised);

  std::optional<int> port = plugin.MetricsPort();
  ASSERT_TRUE(port.has_value());
  httplib::Client http("127.0.0.1", *port);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("cn_sgx_epc_capped 1"));
  EXPECT_THAT(
      metrics->body,
      HasSubstr(absl::StrCat(
          "cn_sgx_devices_advertised{resource=\"kubernetes.azure.com/sgx_epc_mem_in_MiB\"} ",
          advertised)));

  std::string log = plugin.Log();
  size_t first = log.find("EPC capped");
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("EPC capped", first + 1), std::string::npos) << log;
  std::string line = log.substr(first, log.find('\n', first) - first);
  EXPECT_THAT(line, HasSubstr("524288 MiB"));
  EXPECT_THAT(line, HasSubstr(absl::StrCat("advertising ", advertised, " MiB")));
}

// What scripts/run-main shows, as a test: the stand-in executable against the plugin
// executable on a simulated node (DCAP driver, AESM), and its report of what a pod receives.
TEST(KubeletStandinBinaryTest, RegistersListsAndAllocatesEveryResourceOfTheRealPlugin) {
  Node node;
  sgx::SimulatedHost host = sgx::TypicalSgx2Host(32 * kMiB);
  host.driver = sgx::DriverKind::kDcap;
  host.aesm = true;
  node.Write(host);
  PluginProcess plugin(CN_DEVICE_PLUGIN_BINARY, node.Flags(), node.dir.path() + "/plugin.log");
  testing::ProcessResult standin =
      testing::RunProcess({CN_KUBELET_STANDIN_BINARY, "--kubelet-dir", node.kubelet_dir, "--expect",
                           "3", "--timeout", "10", "--epc-mib", "4"},
                          absl::Seconds(30));
  EXPECT_EQ(standin.exit_code, 0) << standin.out << standin.err << plugin.Log();
  EXPECT_THAT(standin.out, HasSubstr("registered: resource sgx.intel.com/provision, endpoint "
                                     "sgx-provision.sock, version v1beta1"));
  EXPECT_THAT(standin.out, HasSubstr("ListAndWatch: 32 devices (32 Healthy, 0 Unhealthy)"));
  EXPECT_THAT(standin.out, HasSubstr("device /dev/sgx_enclave <- host /dev/sgx/enclave (rw)"));
  EXPECT_THAT(standin.out, HasSubstr("mount  /var/run/aesmd <- host /var/run/aesmd (read-only)"));
  EXPECT_THAT(standin.out, HasSubstr("env    SGX_AESM_ADDR=1"));
  EXPECT_THAT(standin.out, HasSubstr("OK: every plugin registered, listed and allocated"));

  // Alone, against one socket.
  testing::ProcessResult direct = testing::RunProcess(
      {CN_KUBELET_STANDIN_BINARY, "--socket", node.kubelet_dir + "/sgx-enclave.sock", "--resource",
       "sgx.intel.com/enclave", "--count", "2"},
      absl::Seconds(30));
  EXPECT_EQ(direct.exit_code, 0) << direct.out << direct.err;
  EXPECT_THAT(direct.out, HasSubstr("Allocate 2 device(s)"));
  EXPECT_THAT(direct.out, Not(HasSubstr("provision")));
}

// Allocates 2 MiB of EPC for a new container until `wanted` holds for its mounts, or the
// deadline passes; the plugin announces no event for an AESM change.
bool NewEpcContainerGets(const std::string& socket, bool aesm) {
  const absl::Time deadline = absl::Now() + kPatience;
  while (absl::Now() < deadline) {
    auto answer = tools::PluginClient(socket).Allocate(
        tools::AllocateRequestFor({"epc-0", "epc-1"}), kPatience);
    if (answer.ok() && answer->container_responses_size() == 1) {
      const auto& container = answer->container_responses(0);
      bool has = container.mounts_size() == 1 && container.envs().contains("SGX_AESM_ADDR");
      if (has == aesm) {
        return true;
      }
    }
    std::this_thread::yield();
  }
  return false;
}

// The e2e quote helper's image in miniature: the real sgx-aesm-standin executable serves the
// socket in the plugin executable's host root; the plugin hands new EPC containers AESM while
// it runs; SIGTERM removes the socket and exits 0 at once, and new containers get no AESM.
TEST(AesmStandinBinaryTest, ServesTheSocketThePluginPassesOnAndRemovesItOnSigterm) {
  Node node;
  node.Write(sgx::TypicalSgx2Host(8 * kMiB));
  const std::string aesm_dir = node.dir.MakeDirectory("host/var/run/aesmd");
  const std::string socket = aesm_dir + "/aesm.socket";
  auto kubelet = tools::KubeletStandin::Start(node.kubelet_dir);
  ASSERT_TRUE(kubelet.ok());
  PluginProcess plugin(CN_DEVICE_PLUGIN_BINARY, node.Flags(), node.dir.path() + "/plugin.log");
  ASSERT_TRUE((*kubelet)->WaitForRegistrations(3, kPatience)) << plugin.Log();
  const std::string epc_socket = node.kubelet_dir + "/sgx-epc.sock";
  EXPECT_TRUE(NewEpcContainerGets(epc_socket, /*aesm=*/false));

  PluginProcess aesm(CN_AESM_STANDIN_BINARY, {"--socket-dir", aesm_dir},
                     node.dir.path() + "/aesm.log");
  ASSERT_TRUE(NewEpcContainerGets(epc_socket, /*aesm=*/true)) << aesm.Log() << plugin.Log();
  EXPECT_TRUE(std::filesystem::is_socket(socket));

  absl::Time signalled = absl::Now();
  ASSERT_EQ(::kill(aesm.pid(), SIGTERM), 0);
  std::optional<int> status = aesm.WaitForExit(absl::Seconds(5));
  ASSERT_TRUE(status.has_value()) << "still running 5 s after SIGTERM";
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(2));
  EXPECT_EQ(*status, 0) << aesm.Log();
  EXPECT_FALSE(std::filesystem::exists(socket));
  EXPECT_THAT(aesm.Log(), HasSubstr("serving " + socket));
  EXPECT_THAT(aesm.Log(), HasSubstr("SIGTERM: socket removed"));
  EXPECT_TRUE(NewEpcContainerGets(epc_socket, /*aesm=*/false)) << plugin.Log();
}

TEST(AesmStandinBinaryTest, ALiveSocketIsRefusedWithExitOneAndBadFlagsWithTwo) {
  testing::TempDir dir;
  PluginProcess first(CN_AESM_STANDIN_BINARY, {"--socket-dir", dir.path()},
                      dir.path() + "/first.log");
  const absl::Time deadline = absl::Now() + kPatience;
  while (!std::filesystem::is_socket(dir.path() + "/aesm.socket") && absl::Now() < deadline) {
    std::this_thread::yield();
  }
  testing::ProcessResult second =
      testing::RunProcess({CN_AESM_STANDIN_BINARY, "--socket-dir", dir.path()});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_THAT(second.err,
              HasSubstr("another process already serves " + dir.path() + "/aesm.socket"));
  EXPECT_TRUE(first.running());
  testing::ProcessResult bad = testing::RunProcess({CN_AESM_STANDIN_BINARY, "--socket"});
  EXPECT_EQ(bad.exit_code, 2);
}

TEST(KubeletStandinBinaryTest, FailsWhenNoPluginRegisters) {
  testing::TempDir dir;
  testing::ProcessResult standin = testing::RunProcess(
      {CN_KUBELET_STANDIN_BINARY, "--kubelet-dir", dir.path(), "--timeout", "1"},
      absl::Seconds(30));
  EXPECT_EQ(standin.exit_code, 1);
  EXPECT_THAT(standin.out, HasSubstr("only 0 of 1 plugin(s) registered within 1 s"));
}

TEST(DevicePluginBinaryTest, BadFlagsExitTwoNamingTheFlag) {
  testing::TempDir dir;
  PluginProcess plugin(CN_DEVICE_PLUGIN_BINARY, {"--enclave-limit", "0"},
                       dir.path() + "/plugin.log");
  std::optional<int> status = plugin.WaitForExit(kPatience);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 2);
  EXPECT_THAT(plugin.Log(), HasSubstr("--enclave-limit"));
}

}  // namespace
}  // namespace cn::deviceplugin
