// The device plugin in-process against a simulated node: real Unix sockets, real inotify, the
// kubelet stand-in as the kubelet. Timing claims are checked by measuring from the triggering
// file operation to the event the stand-in observes, with bounded waits, never sleeps.

#include <filesystem>
#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/deviceplugin/device_set.h"
#include "src/deviceplugin/registration.h"
#include "tests/integration/deviceplugin/plugin_fixture.h"
#include "tools/aesm_standin.h"

namespace cn::deviceplugin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr ResourceKind kAll[] = {ResourceKind::kEpc, ResourceKind::kEnclave,
                                 ResourceKind::kProvision};

bool AllHealth(const v1beta1::ListAndWatchResponse& list, absl::string_view health) {
  if (list.devices_size() == 0) {
    return false;
  }
  for (const auto& device : list.devices()) {
    if (device.health() != health) {
      return false;
    }
  }
  return true;
}

// One ListAndWatch stream per resource.
std::vector<std::unique_ptr<tools::DeviceWatch>> WatchEveryResource(SimulatedNode& node) {
  std::vector<std::unique_ptr<tools::DeviceWatch>> watches;
  for (ResourceKind kind : kAll) {
    watches.push_back(node.Client(kind).Watch());
  }
  return watches;
}

// Waits until every stream's newest list shows all its devices with `health`.
bool EveryStreamShows(const std::vector<std::unique_ptr<tools::DeviceWatch>>& watches,
                      absl::string_view health) {
  for (const auto& watch : watches) {
    if (!watch->WaitFor([health](const auto& list) { return AllHealth(list, health); },
                        kPatience)) {
      return false;
    }
  }
  return true;
}

std::set<std::string> ContainerDevicePaths(const v1beta1::ContainerAllocateResponse& response) {
  std::set<std::string> paths;
  for (const auto& device : response.devices()) {
    paths.insert(device.container_path() + "<-" + device.host_path());
  }
  return paths;
}

sgx::SimulatedHost Host(uint64_t epc_mib) { return sgx::TypicalSgx2Host(epc_mib * kMiB); }

TEST(DevicePluginTest, RegistersEveryResourceWithVersionEndpointNameAndOptions) {
  SimulatedNode node;
  node.WriteHost(Host(64));
  ASSERT_TRUE(node.StartKubelet().ok());
  node.StartDaemon();
  ASSERT_TRUE(node.kubelet().WaitForRegistrations(3, kPatience));
  std::map<std::string, v1beta1::RegisterRequest> by_resource;
  for (const auto& request : node.kubelet().Registrations()) {
    by_resource[request.resource_name()] = request;
  }
  ASSERT_EQ(by_resource.size(), 3u);
  const auto& epc = by_resource.at("kubernetes.azure.com/sgx_epc_mem_in_MiB");
  EXPECT_EQ(epc.version(), "v1beta1");
  EXPECT_EQ(epc.endpoint(), "sgx-epc.sock");
  EXPECT_TRUE(epc.options().get_preferred_allocation_available());
  EXPECT_FALSE(epc.options().pre_start_required());
  EXPECT_EQ(by_resource.at("sgx.intel.com/enclave").endpoint(), "sgx-enclave.sock");
  EXPECT_EQ(by_resource.at("sgx.intel.com/provision").endpoint(), "sgx-provision.sock");
  // The kubelet dials right after Register: the sockets serve already.
  for (ResourceKind kind : kAll) {
    EXPECT_TRUE(node.Client(kind).GetOptions(kPatience).ok()) << Info(kind).name;
  }
  EXPECT_TRUE(node.daemon().Ready().ok());
}

struct Profile {
  std::string name;
  sgx::SimulatedHost host;
  Options options;
  std::map<ResourceKind, int> devices;         // expected device counts
  std::map<ResourceKind, std::string> health;  // expected health of all devices
  bool topology = false;
};

TEST(DevicePluginTest, AdvertisesTheDeviceCountsOfEachHostProfile) {
  std::vector<Profile> profiles;
  {
    Profile profile{"256 MiB, defaults", Host(256), {}, {}, {}, false};
    profile.devices = {
        {ResourceKind::kEpc, 256}, {ResourceKind::kEnclave, 110}, {ResourceKind::kProvision, 110}};
    profiles.push_back(profile);
  }
  {
    Profile profile{"two NUMA nodes, topology, small limits", Host(96), {}, {}, {}, true};
    profile.host.sysfs_numa_epc = {{0, 64 * kMiB}, {1, 32 * kMiB}};
    profile.options.numa_topology = true;
    profile.options.enclave_limit = 3;
    profile.options.provision_limit = 2;
    profile.devices = {
        {ResourceKind::kEpc, 96}, {ResourceKind::kEnclave, 3}, {ResourceKind::kProvision, 2}};
    profiles.push_back(profile);
  }
  {
    Profile profile{"out-of-tree driver: no provision device", Host(128), {}, {}, {}, false};
    profile.host.driver = sgx::DriverKind::kOutOfTree;
    profile.host.cpu.flc = false;
    profile.devices = {
        {ResourceKind::kEpc, 128}, {ResourceKind::kEnclave, 110}, {ResourceKind::kProvision, 110}};
    profile.health = {{ResourceKind::kProvision, "Unhealthy"}};
    profiles.push_back(profile);
  }
  {
    Profile profile{"only the enclave resource", Host(128), {}, {}, {}, false};
    profile.options.resources = {ResourceKind::kEnclave};
    profile.devices = {{ResourceKind::kEnclave, 110}};
    profiles.push_back(profile);
  }
  for (const Profile& profile : profiles) {
    SCOPED_TRACE(profile.name);
    SimulatedNode node;
    node.WriteHost(profile.host);
    ASSERT_TRUE(node.StartKubelet().ok());
    node.StartDaemon(profile.options);
    ASSERT_TRUE(node.kubelet().WaitForRegistrations(profile.devices.size(), kPatience));
    for (ResourceKind kind : kAll) {
      auto expected = profile.devices.find(kind);
      if (expected == profile.devices.end()) {
        EXPECT_FALSE(std::filesystem::exists(node.SocketPath(kind))) << Info(kind).name;
        continue;
      }
      auto list = node.Client(kind).ListOnce(kPatience);
      ASSERT_TRUE(list.ok()) << list.status();
      EXPECT_EQ(list->devices_size(), expected->second) << Info(kind).name;
      auto health = profile.health.find(kind);
      EXPECT_TRUE(AllHealth(*list, health == profile.health.end() ? "Healthy" : health->second))
          << Info(kind).name;
      bool any_topology = false;
      for (const auto& device : list->devices()) {
        EXPECT_LE(device.id().size(), 63u);
        any_topology = any_topology || device.has_topology();
      }
      EXPECT_EQ(any_topology, profile.topology && kind == ResourceKind::kEpc) << Info(kind).name;
    }
  }
}

TEST(DevicePluginTest, DeviceIdsAreTheSameAfterARestart) {
  SimulatedNode node;
  node.WriteHost(Host(32));
  ASSERT_TRUE(node.StartKubelet().ok());
  node.StartDaemon();
  ASSERT_TRUE(node.WaitUntilRegistered());
  auto before = node.Client(ResourceKind::kEpc).ListOnce(kPatience);
  ASSERT_TRUE(before.ok());
  node.StopDaemon();
  node.StartDaemon();
  ASSERT_TRUE(node.WaitUntilRegistered());
  auto after = node.Client(ResourceKind::kEpc).ListOnce(kPatience);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(before->SerializeAsString(), after->SerializeAsString());
}

struct DriverCase {
  std::string name;
  sgx::DriverKind driver;
  bool aesm;
  std::set<std::string> epc_devices;
};

TEST(DevicePluginTest, AllocateAnswersForEachDriverKindWithAndWithoutAesm) {
  const std::vector<DriverCase> cases = {
      {"in-kernel with AESM",
       sgx::DriverKind::kInKernel,
       true,
       {"/dev/sgx_enclave<-/dev/sgx_enclave", "/dev/sgx/enclave<-/dev/sgx_enclave",
        "/dev/sgx_provision<-/dev/sgx_provision", "/dev/sgx/provision<-/dev/sgx_provision"}},
      {"in-kernel without AESM",
       sgx::DriverKind::kInKernel,
       false,
       {"/dev/sgx_enclave<-/dev/sgx_enclave", "/dev/sgx/enclave<-/dev/sgx_enclave",
        "/dev/sgx_provision<-/dev/sgx_provision", "/dev/sgx/provision<-/dev/sgx_provision"}},
      {"DCAP with AESM",
       sgx::DriverKind::kDcap,
       true,
       {"/dev/sgx_enclave<-/dev/sgx/enclave", "/dev/sgx/enclave<-/dev/sgx/enclave",
        "/dev/sgx_provision<-/dev/sgx/provision", "/dev/sgx/provision<-/dev/sgx/provision"}},
      {"out-of-tree without AESM", sgx::DriverKind::kOutOfTree, false, {"/dev/isgx<-/dev/isgx"}},
  };
  for (const DriverCase& test : cases) {
    SCOPED_TRACE(test.name);
    SimulatedNode node;
    sgx::SimulatedHost host = Host(16);
    host.driver = test.driver;
    host.aesm = test.aesm;
    node.WriteHost(host);
    ASSERT_TRUE(node.StartKubelet().ok());
    node.StartDaemon();
    ASSERT_TRUE(node.WaitUntilRegistered());

    auto epc = node.Client(ResourceKind::kEpc)
                   .Allocate(tools::AllocateRequestFor({"epc-0", "epc-1"}), kPatience);
    ASSERT_TRUE(epc.ok()) << epc.status();
    ASSERT_EQ(epc->container_responses_size(), 1);
    const auto& container = epc->container_responses(0);
    EXPECT_EQ(ContainerDevicePaths(container), test.epc_devices);
    for (const auto& device : container.devices()) {
      EXPECT_EQ(device.permissions(), "rw");
    }
    if (test.aesm) {
      ASSERT_EQ(container.mounts_size(), 1);
      EXPECT_EQ(container.mounts(0).container_path(), "/var/run/aesmd");
      EXPECT_EQ(container.mounts(0).host_path(), "/var/run/aesmd");
      EXPECT_EQ(container.envs().at("SGX_AESM_ADDR"), "1");
    } else {
      EXPECT_EQ(container.mounts_size(), 0);
      EXPECT_EQ(container.envs_size(), 0);
    }

    auto enclave = node.Client(ResourceKind::kEnclave)
                       .Allocate(tools::AllocateRequestFor({"enclave-7"}), kPatience);
    ASSERT_TRUE(enclave.ok()) << enclave.status();
    for (const auto& device : enclave->container_responses(0).devices()) {
      EXPECT_THAT(device.container_path(), Not(HasSubstr("provision")));
    }
    EXPECT_EQ(enclave->container_responses(0).mounts_size(), 0);
  }
}

// What the EPC container of a new pod receives, allocated now.
v1beta1::ContainerAllocateResponse AllocateEpc(SimulatedNode& node) {
  auto answer = node.Client(ResourceKind::kEpc)
                    .Allocate(tools::AllocateRequestFor({"epc-0", "epc-1"}), kPatience);
  EXPECT_TRUE(answer.ok()) << answer.status();
  if (!answer.ok() || answer->container_responses_size() != 1) {
    return {};
  }
  return answer->container_responses(0);
}

bool HasAesm(const v1beta1::ContainerAllocateResponse& container) {
  return container.mounts_size() == 1 && container.mounts(0).container_path() == "/var/run/aesmd" &&
         container.mounts(0).host_path() == "/var/run/aesmd" && container.mounts(0).read_only() &&
         container.envs().contains("SGX_AESM_ADDR") && container.envs().at("SGX_AESM_ADDR") == "1";
}

bool HasNoAesm(const v1beta1::ContainerAllocateResponse& container) {
  return container.mounts_size() == 0 && container.envs_size() == 0 && container.devices_size() > 0;
}

// Allocates for new containers until one receives what `wanted` says, or `kPatience` passes;
// returns how long that took (InfiniteDuration when it never happened). The plugin announces
// no event for an AESM change, so asking again is the only observation a kubelet has too.
absl::Duration TimeUntilAllocation(
    SimulatedNode& node,
    const std::function<bool(const v1beta1::ContainerAllocateResponse&)>& wanted,
    absl::Time since) {
  const absl::Time deadline = absl::Now() + kPatience;
  while (absl::Now() < deadline) {
    if (wanted(AllocateEpc(node))) {
      return absl::Now() - since;
    }
    absl::SleepFor(absl::Milliseconds(5));  // pacing of the probe requests, not synchronisation
  }
  return absl::InfiniteDuration();
}

// The quote helper's story on one node (deploy/components/quote-helper): the plugin runs before
// AESM, AESM (here the stand-in that the e2e image runs) creates its socket in the shared
// /var/run/aesmd, and from then on every new EPC container gets the directory and
// SGX_AESM_ADDR=1; when AESM stops and its socket goes, new containers get neither again. A
// container allocated earlier keeps its answer: the kubelet stores each container's response
// in its checkpoint and reuses it on restarts without asking the plugin again.
TEST(DevicePluginTest, AesmStartedAfterThePluginReachesNewEpcContainersAndLeavesWhenItStops) {
  SimulatedNode node;
  sgx::SimulatedHost host = Host(16);
  host.aesm = false;
  node.WriteHost(host);
  // As the DaemonSets' hostPath (DirectoryOrCreate) leaves it on a node without AESM.
  const std::string aesm_dir = node.dir().MakeDirectory("host/var/run/aesmd");
  ASSERT_TRUE(node.StartKubelet().ok());
  node.StartDaemon();
  ASSERT_TRUE(node.WaitUntilRegistered());
  auto watch = node.Client(ResourceKind::kEpc).Watch();
  ASSERT_TRUE(
      watch->WaitFor([](const auto& list) { return AllHealth(list, "Healthy"); }, kPatience));

  const v1beta1::ContainerAllocateResponse before = AllocateEpc(node);
  EXPECT_TRUE(HasNoAesm(before));

  absl::Time started = absl::Now();
  auto aesm = tools::AesmStandin::Listen(aesm_dir);
  ASSERT_TRUE(aesm.ok()) << aesm.status();
  absl::Duration appeared = TimeUntilAllocation(node, HasAesm, started);
  EXPECT_LT(appeared, absl::Seconds(1)) << "the plugin watches /var/run/aesmd with inotify";
  const v1beta1::ContainerAllocateResponse with_aesm = AllocateEpc(node);
  EXPECT_TRUE(HasAesm(with_aesm));
  // Same devices as before: only the mount and the environment came.
  EXPECT_EQ(ContainerDevicePaths(with_aesm), ContainerDevicePaths(before));
  // The shared-slot resources never get AESM.
  auto enclave = node.Client(ResourceKind::kEnclave)
                     .Allocate(tools::AllocateRequestFor({"enclave-0"}), kPatience);
  ASSERT_TRUE(enclave.ok()) << enclave.status();
  EXPECT_EQ(enclave->container_responses(0).mounts_size(), 0);
  EXPECT_EQ(enclave->container_responses(0).envs_size(), 0);

  absl::Time stopped = absl::Now();
  aesm->reset();  // SIGTERM in the real helper: the stand-in removes its socket
  ASSERT_FALSE(std::filesystem::exists(aesm_dir + "/aesm.socket"));
  absl::Duration vanished = TimeUntilAllocation(node, HasNoAesm, stopped);
  EXPECT_LT(vanished, absl::Seconds(1));

  // AESM's comings and goings never touched the EPC devices' health.
  EXPECT_TRUE(AllHealth(watch->Latest(), "Healthy"));
  EXPECT_EQ(node.metrics().For(ResourceKind::kEpc).allocation_errors->Value(), 0);
  std::printf("AESM socket seen by new allocations after %s, gone after %s\n",
              absl::FormatDuration(appeared).c_str(), absl::FormatDuration(vanished).c_str());
}

TEST(DevicePluginTest, UnknownDeviceIdIsInvalidArgumentAndCounted) {
  SimulatedNode node;
  node.WriteHost(Host(16));
  ASSERT_TRUE(node.StartKubelet().ok());
  node.StartDaemon();
  ASSERT_TRUE(node.WaitUntilRegistered());
  auto answer = node.Client(ResourceKind::kEpc)
                    .Allocate(tools::AllocateRequestFor({"epc-0", "epc-16"}), kPatience);
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(answer.status().message(), HasSubstr("'epc-16'"));
  EXPECT_THAT(answer.status().message(), HasSubstr("kubernetes.azure.com/sgx_epc_mem_in_MiB"));
  EXPECT_EQ(node.metrics().For(ResourceKind::kEpc).allocation_errors->Value(), 1);
  // The plugin is still there.
  EXPECT_TRUE(node.Client(ResourceKind::kEpc)
                  .Allocate(tools::AllocateRequestFor({"epc-15"}), kPatience)
                  .ok());
  EXPECT_EQ(node.metrics().For(ResourceKind::kEpc).allocations->Value(), 1);
}

TEST(DevicePluginTest, EveryStreamTurnsUnhealthyWithinOneSecondOfTheEnclaveDeviceVanishing) {
  SimulatedNode node;
  node.WriteHost(Host(16));
  ASSERT_TRUE(node.StartKubelet().ok());
  node.StartDaemon();
  ASSERT_TRUE(node.WaitUntilRegistered());
  std::vector<std::unique_ptr<tools::DeviceWatch>> watches = WatchEveryResource(node);
  ASSERT_TRUE(EveryStreamShows(watches, "Healthy"));

  absl::Time removed = absl::Now();
  node.dir().Remove("host/dev/sgx_enclave");
  ASSERT_TRUE(EveryStreamShows(watches, "Unhealthy"));
  EXPECT_LT(absl::Now() - removed, absl::Seconds(1));
  // An unhealthy device cannot be allocated.
  auto refused = node.Client(ResourceKind::kEnclave)
                     .Allocate(tools::AllocateRequestFor({"enclave-0"}), kPatience);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("unhealthy"));
  EXPECT_EQ(node.metrics().For(ResourceKind::kEpc).devices_healthy->Value(), 0);

  absl::Time restored = absl::Now();
  node.dir().WriteFile("host/dev/sgx_enclave", "");
  ASSERT_TRUE(EveryStreamShows(watches, "Healthy"));
  EXPECT_LT(absl::Now() - restored, absl::Seconds(1));
  EXPECT_EQ(node.metrics().For(ResourceKind::kEpc).devices_healthy->Value(), 16);
}

TEST(DevicePluginTest, RegistersAgainWithinOneSecondAfterAKubeletRestart) {
  SimulatedNode node;
  node.WriteHost(Host(16));
  ASSERT_TRUE(node.StartKubelet().ok());
  node.StartDaemon();
  ASSERT_TRUE(node.kubelet().WaitForRegistrations(3, kPatience));
  auto old_stream = node.Client(ResourceKind::kEpc).Watch();
  ASSERT_TRUE(old_stream->WaitForUpdates(1, kPatience));

  // What a kubelet restart does to the directory: its socket goes, every plugin socket is
  // deleted, and a new kubelet.sock appears.
  node.StopKubelet();
  for (ResourceKind kind : kAll) {
    std::filesystem::remove(node.SocketPath(kind));
  }
  absl::Time restarted = absl::Now();
  ASSERT_TRUE(node.StartKubelet().ok());
  ASSERT_TRUE(node.kubelet().WaitForRegistrations(3, kPatience));
  EXPECT_LT(absl::Now() - restarted, absl::Seconds(1));
  for (ResourceKind kind : kAll) {
    auto list = node.Client(kind).ListOnce(kPatience);
    EXPECT_TRUE(list.ok()) << Info(kind).name << ": " << list.status();
  }
  EXPECT_TRUE(node.daemon().WaitUntil(
      [](const DaemonStatus& status) { return status.kubelet_restarts == 1; }, kPatience));
  EXPECT_EQ(node.metrics().kubelet_restarts().Value(), 1);
  EXPECT_EQ(node.metrics().For(ResourceKind::kEpc).registrations->Value(), 2);
  // The old kubelet's stream ended with the old server.
  EXPECT_TRUE(old_stream->WaitForEnd(kPatience));
}

TEST(DevicePluginTest, ANewKubeletIsRegisteredAtOnceEvenAfterFailuresOnAStaleSocket) {
  SimulatedNode node;
  node.WriteHost(Host(16));
  ASSERT_TRUE(node.StartKubelet().ok());
  node.StartDaemon();
  ASSERT_TRUE(node.kubelet().WaitForRegistrations(3, kPatience));

  // The kubelet died and left its socket file behind; our sockets were cleaned away.
  node.StopKubelet();
  node.dir().MakeSocketFile("kubelet/kubelet.sock");
  for (ResourceKind kind : kAll) {
    std::filesystem::remove(node.SocketPath(kind));
  }
  // Registering on the stale socket fails five times (three resources each), until the
  // backoff has grown past a second.
  ASSERT_TRUE(node.daemon().WaitUntil(
      [](const DaemonStatus& status) { return status.registration_failures >= 15; }, kPatience));

  absl::Time started = absl::Now();
  ASSERT_TRUE(node.StartKubelet().ok());
  ASSERT_TRUE(node.kubelet().WaitForRegistrations(3, kPatience));
  EXPECT_LT(absl::Now() - started, absl::Seconds(1));
}

TEST(DevicePluginTest, RecreatesAndRegistersASocketThatWasRemoved) {
  SimulatedNode node;
  node.WriteHost(Host(16));
  ASSERT_TRUE(node.StartKubelet().ok());
  node.StartDaemon();
  ASSERT_TRUE(node.kubelet().WaitForRegistrations(3, kPatience));
  absl::Time removed = absl::Now();
  std::filesystem::remove(node.SocketPath(ResourceKind::kEnclave));
  ASSERT_TRUE(node.kubelet().WaitForRegistrations(4, kPatience));
  EXPECT_LT(absl::Now() - removed, absl::Seconds(1));
  EXPECT_EQ(node.kubelet().Registrations().back().resource_name(), "sgx.intel.com/enclave");
  EXPECT_TRUE(node.Client(ResourceKind::kEnclave).ListOnce(kPatience).ok());
  EXPECT_EQ(node.metrics().kubelet_restarts().Value(), 0);
}

// A node whose kubelet accepts Register calls and leaves them unanswered; returns once the
// daemon has all three calls open at once (none waits for another's 5 s deadline).
void StartAgainstAKubeletThatHoldsRegistrations(SimulatedNode& node) {
  node.WriteHost(Host(16));
  ASSERT_TRUE(node.StartKubelet().ok());
  node.kubelet().HoldRegistrations();
  node.StartDaemon();
  ASSERT_TRUE(node.kubelet().WaitForHeldRegistrations(3, kPatience));
}

TEST(DevicePluginTest, AKubeletThatDoesNotAnswerHoldsUpNeitherOtherRegistrationsNorHealth) {
  SimulatedNode node;
  ASSERT_NO_FATAL_FAILURE(StartAgainstAKubeletThatHoldsRegistrations(node));
  std::vector<std::unique_ptr<tools::DeviceWatch>> watches = WatchEveryResource(node);
  ASSERT_TRUE(EveryStreamShows(watches, "Healthy"));
  EXPECT_THAT(std::string(node.daemon().Ready().message()), HasSubstr("not registered"));
  absl::Time removed = absl::Now();
  node.dir().Remove("host/dev/sgx_enclave");
  ASSERT_TRUE(EveryStreamShows(watches, "Unhealthy"));
  EXPECT_LT(absl::Now() - removed, absl::Seconds(1));

  // The kubelet answers at last: every resource counts as registered.
  node.kubelet().ReleaseRegistrations();
  ASSERT_TRUE(node.WaitUntilRegistered());
  EXPECT_EQ(node.kubelet().Registrations().size(), 3u);
  EXPECT_EQ(node.metrics().For(ResourceKind::kEnclave).registrations->Value(), 1);
}

TEST(DevicePluginTest, StopsWithinTwoSecondsWhileTheKubeletHoldsItsRegistrations) {
  SimulatedNode node;
  ASSERT_NO_FATAL_FAILURE(StartAgainstAKubeletThatHoldsRegistrations(node));
  absl::Time stopping = absl::Now();
  node.StopDaemon();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(2));
  for (ResourceKind kind : kAll) {
    EXPECT_FALSE(std::filesystem::exists(node.SocketPath(kind))) << Info(kind).name;
  }
}

TEST(DevicePluginTest, ServesFirstAndRegistersWhenTheKubeletArrivesLater) {
  SimulatedNode node;
  node.WriteHost(Host(16));
  node.StartDaemon();
  ASSERT_TRUE(node.daemon().WaitUntil(
      [](const DaemonStatus& status) {
        return status.serving.at(ResourceKind::kEpc) && status.serving.at(ResourceKind::kEnclave) &&
               status.serving.at(ResourceKind::kProvision);
      },
      kPatience));
  EXPECT_THAT(std::string(node.daemon().Ready().message()), HasSubstr("not registered"));
  absl::Time arrived = absl::Now();
  ASSERT_TRUE(node.StartKubelet().ok());
  ASSERT_TRUE(node.kubelet().WaitForRegistrations(3, kPatience));
  EXPECT_LT(absl::Now() - arrived, absl::Seconds(1));
  EXPECT_EQ(node.metrics().kubelet_restarts().Value(), 0);
}

TEST(DevicePluginTest, HostWithoutDriverServesNothingUntilTheDriverAppears) {
  SimulatedNode node;
  sgx::SimulatedHost host = Host(16);
  host.driver = sgx::DriverKind::kNone;
  node.WriteHost(host);
  node.dir().MakeDirectory("host/dev");
  ASSERT_TRUE(node.StartKubelet().ok());
  node.StartDaemon();
  ASSERT_TRUE(node.daemon().WaitUntil(
      [](const DaemonStatus& status) {
        return !status.not_ready_reason.empty() &&
               status.not_ready_reason.find("not been probed") == std::string::npos;
      },
      kPatience));
  EXPECT_THAT(node.daemon().Status().not_ready_reason, HasSubstr("no SGX enclave device"));
  EXPECT_FALSE(std::filesystem::exists(node.SocketPath(ResourceKind::kEpc)));
  EXPECT_TRUE(node.kubelet().Registrations().empty());
  EXPECT_EQ(node.metrics().platform_ready().Value(), 0);

  node.dir().WriteFile("host/dev/sgx_enclave", "");
  node.dir().WriteFile("host/dev/sgx_provision", "");
  ASSERT_TRUE(node.kubelet().WaitForRegistrations(3, kPatience));
  auto list = node.Client(ResourceKind::kEpc).ListOnce(kPatience);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->devices_size(), 16);
  EXPECT_EQ(node.metrics().platform_ready().Value(), 1);
}

TEST(DevicePluginTest, Caps512GiBOfEpcBelowTheKubeletMessageLimit) {
  SimulatedNode node;
  sgx::SimulatedHost host = Host(16);
  host.sysfs_numa_epc = {{0, 549755813888ull}};
  node.WriteHost(host);
  ASSERT_TRUE(node.StartKubelet().ok());
  node.StartDaemon();
  ASSERT_TRUE(node.WaitUntilRegistered());
  // The stand-in reads with the kubelet's 4 MiB limit: receiving the list at all is the proof.
  auto list = node.Client(ResourceKind::kEpc).ListOnce(kPatience);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_LE(list->ByteSizeLong(), Options().max_list_and_watch_bytes);
  EXPECT_GT(list->devices_size(), 100000);
  EXPECT_LT(list->devices_size(), 524288);
  EXPECT_EQ(node.metrics().epc_capped().Value(), 1);
  EXPECT_EQ(node.metrics().epc_bytes().Value(), 549755813888.0);
  EXPECT_EQ(node.metrics().For(ResourceKind::kEpc).devices_advertised->Value(),
            list->devices_size());
  // Even all Unhealthy (longer health word), the list still fits.
  auto watch = node.Client(ResourceKind::kEpc).Watch();
  ASSERT_TRUE(watch->WaitForUpdates(1, kPatience));
  node.dir().Remove("host/dev/sgx_enclave");
  EXPECT_TRUE(
      watch->WaitFor([](const auto& latest) { return AllHealth(latest, "Unhealthy"); }, kPatience));
  EXPECT_FALSE(watch->ended());
}

TEST(DevicePluginTest, PreferredAllocationStaysOnOneNumaNode) {
  SimulatedNode node;
  sgx::SimulatedHost host = Host(8);
  host.sysfs_numa_epc = {{0, 4 * kMiB}, {1, 4 * kMiB}};
  node.WriteHost(host);
  ASSERT_TRUE(node.StartKubelet().ok());
  Options options;
  options.numa_topology = true;
  node.StartDaemon(options);
  ASSERT_TRUE(node.WaitUntilRegistered());
  v1beta1::PreferredAllocationRequest request;
  auto* container = request.add_container_requests();
  for (const char* id : {"epc-0", "epc-1", "epc-2", "epc-5", "epc-6", "epc-7"}) {
    container->add_available_deviceids(id);
  }
  container->add_must_include_deviceids("epc-4");
  container->set_allocation_size(3);
  auto answer = node.Client(ResourceKind::kEpc).GetPreferredAllocation(request, kPatience);
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_EQ(answer->container_responses_size(), 1);
  EXPECT_THAT(answer->container_responses(0).deviceids(), ElementsAre("epc-4", "epc-5", "epc-6"));
}

}  // namespace
}  // namespace cn::deviceplugin
