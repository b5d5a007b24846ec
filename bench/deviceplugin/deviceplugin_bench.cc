// Device plugin benchmarks (docs/PERFORMANCE.md, "Device plugin", has the command and figures).
//
//   BM_AllocateRoundTrip      one Allocate call over the Unix socket, client to plugin and back;
//                             p50/p99 over every call of the run (>= 10,000) as counters.
//   BM_EncodeListAndWatch     building the encoded ListAndWatch list for N GiB of EPC.
//   BM_PublishAndSendList     a full list at N GiB of EPC: encode, send over the socket, until
//                             the client holds the whole message as bytes (not parsed).
//   BM_PublishAndReceiveList  the same, plus parsing it into Device objects in a kubelet-like
//                             client, as the kubelet does (the health flips each round).
//   BM_PluginPeakRss          the real binary on a simulated 128 GiB node: VmHWM after a
//                             kubelet-like client read the whole EPC list.
//   BM_PluginPeakRssWithAccounting  the same with per-pod accounting (and enforcement) on: 100
//                             pods in PodResources holding 10 MiB each or all the EPC, the
//                             kubelet checkpoint (with every registered device ID) and a cgroup
//                             per pod; VmHWM after the plugin finished two rounds over them.

#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "benchmark/benchmark.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "spdlog/spdlog.h"
#include "src/deviceplugin/device_set.h"
#include "src/deviceplugin/metrics.h"
#include "src/deviceplugin/plugin_server.h"
#include "src/deviceplugin/resource_state.h"
#include "src/os/host_file_system.h"
#include "src/sgx/simulated_host.h"
#include "src/testing/temp_dir.h"
#include "tests/integration/deviceplugin/plugin_process.h"
#include "tools/kubelet_standin.h"
#include "tools/podresources_standin.h"

namespace cn::deviceplugin {
namespace {

constexpr uint64_t kGiB = 1024 * kMiB;

std::shared_ptr<const sgx::Platform> InKernelPlatform(uint64_t epc_bytes) {
  auto platform = std::make_shared<sgx::Platform>();
  platform->driver.kind = sgx::DriverKind::kInKernel;
  platform->driver.enclave_device = sgx::DeviceNode{"/dev/sgx_enclave", true};
  platform->driver.provision_device = sgx::DeviceNode{"/dev/sgx_provision", true};
  platform->aesm_socket = "/var/run/aesmd/aesm.socket";
  platform->epc_total_bytes = epc_bytes;
  platform->numa_nodes = {{0, epc_bytes}};
  return platform;
}

// A plugin server for the EPC resource in a temp dir, without the daemon around it.
struct EpcServer {
  explicit EpcServer(uint64_t epc_bytes)
      : platform(InKernelPlatform(epc_bytes)),
        plan(PlanEpcDevices(*platform, false, Options().max_list_and_watch_bytes)) {
    state.Publish(plan.devices, ResourceHealth{true, ""}, platform);
    auto started = PluginServer::Start(dir.path() + "/sgx-epc.sock", state,
                                       metrics.For(ResourceKind::kEpc), true);
    if (!started.ok()) {
      std::abort();
    }
    server = *std::move(started);
  }
  testing::TempDir dir;
  std::shared_ptr<const sgx::Platform> platform;
  EpcPlan plan;
  Metrics metrics;
  ResourceState state{ResourceKind::kEpc};
  std::unique_ptr<PluginServer> server;
};

void BM_AllocateRoundTrip(benchmark::State& state) {
  // The plugin logs each allocation at info level; 20,000 log lines on the terminal would
  // measure the terminal. (In production that line is one write(2) to stderr per allocation.)
  spdlog::set_level(spdlog::level::warn);
  EpcServer server(16 * kGiB);
  tools::PluginClient client(server.server->socket_path());
  const v1beta1::AllocateRequest request = tools::AllocateRequestFor(
      {"epc-0", "epc-1", "epc-2", "epc-3", "epc-4", "epc-5", "epc-6", "epc-7", "epc-8", "epc-9"});
  if (!client.Allocate(request, absl::Seconds(10)).ok()) {  // connect before timing
    state.SkipWithError("first Allocate failed");
    return;
  }
  std::vector<double> micros;
  micros.reserve(static_cast<size_t>(state.max_iterations));
  for (auto _ : state) {
    absl::Time start = absl::Now();
    auto response = client.Allocate(request, absl::Seconds(10));
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    if (!response.ok()) {
      state.SkipWithError("Allocate failed");
      return;
    }
    benchmark::DoNotOptimize(response);
  }
  std::sort(micros.begin(), micros.end());
  auto percentile = [&](double p) {
    return micros[std::min(micros.size() - 1, static_cast<size_t>(p * micros.size()))];
  };
  state.counters["calls"] = static_cast<double>(micros.size());
  state.counters["p50_us"] = percentile(0.50);
  state.counters["p99_us"] = percentile(0.99);
  state.counters["max_us"] = micros.back();
}
BENCHMARK(BM_AllocateRoundTrip)->Iterations(20000)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_EncodeListAndWatch(benchmark::State& state) {
  auto platform = InKernelPlatform(static_cast<uint64_t>(state.range(0)) * kGiB);
  EpcPlan plan = PlanEpcDevices(*platform, false, Options().max_list_and_watch_bytes);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string encoded = plan.devices.EncodeListAndWatch(true);
    bytes = encoded.size();
    benchmark::DoNotOptimize(encoded);
  }
  state.counters["devices"] = static_cast<double>(plan.devices.size());
  state.counters["message_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_EncodeListAndWatch)->Arg(16)->Arg(128)->Unit(benchmark::kMillisecond);

// A ListAndWatch stream read as raw bytes (gRPC's generic callback API): the message arrives
// whole, as the kubelet would receive it, but is not parsed.
class RawListAndWatch : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit RawListAndWatch(const std::string& socket_path) {
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(tools::kKubeletMaxReceiveBytes);
    channel_ = grpc::CreateCustomChannel(absl::StrCat("unix://", socket_path),
                                         grpc::InsecureChannelCredentials(), arguments);
    stub_ = std::make_unique<grpc::GenericStub>(channel_);
    stub_->PrepareBidiStreamingCall(&context_, "/v1beta1.DevicePlugin/ListAndWatch",
                                    grpc::StubOptions(), this);
    grpc::Slice empty;
    request_ = grpc::ByteBuffer(&empty, 1);  // v1beta1.Empty encodes to no bytes
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }
  ~RawListAndWatch() override {
    context_.TryCancel();
    absl::MutexLock lock(&mutex_);
    mutex_.Await(absl::Condition(&done_));
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      return;
    }
    {
      absl::MutexLock lock(&mutex_);
      ++received_;
      bytes_ = response_.Length();
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status&) override {
    absl::MutexLock lock(&mutex_);
    done_ = true;
  }
  bool WaitForMessages(size_t count) {
    absl::MutexLock lock(&mutex_);
    auto enough = [this, count]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return received_ >= count || done_; };
    mutex_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return received_ >= count;
  }
  size_t bytes() {
    absl::MutexLock lock(&mutex_);
    return bytes_;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  absl::Mutex mutex_;
  size_t received_ ABSL_GUARDED_BY(mutex_) = 0;
  size_t bytes_ ABSL_GUARDED_BY(mutex_) = 0;
  bool done_ ABSL_GUARDED_BY(mutex_) = false;
};

void BM_PublishAndSendList(benchmark::State& state) {
  EpcServer server(static_cast<uint64_t>(state.range(0)) * kGiB);
  RawListAndWatch stream(server.server->socket_path());
  if (!stream.WaitForMessages(1)) {
    state.SkipWithError("no first list");
    return;
  }
  size_t received = 1;
  bool healthy = true;
  for (auto _ : state) {
    healthy = !healthy;
    server.state.Publish(server.plan.devices, ResourceHealth{healthy, ""}, server.platform);
    if (!stream.WaitForMessages(++received)) {
      state.SkipWithError("list not received");
      return;
    }
  }
  state.counters["devices"] = static_cast<double>(server.plan.devices.size());
  state.counters["message_bytes"] = static_cast<double>(stream.bytes());
}
BENCHMARK(BM_PublishAndSendList)->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PublishAndReceiveList(benchmark::State& state) {
  EpcServer server(static_cast<uint64_t>(state.range(0)) * kGiB);
  tools::PluginClient client(server.server->socket_path());
  auto watch = client.Watch();
  if (!watch->WaitForUpdates(1, absl::Seconds(10))) {
    state.SkipWithError("no first list");
    return;
  }
  size_t received = 1;
  bool healthy = true;
  for (auto _ : state) {
    healthy = !healthy;
    server.state.Publish(server.plan.devices, ResourceHealth{healthy, ""}, server.platform);
    ++received;
    if (!watch->WaitForUpdates(received, absl::Seconds(10))) {
      state.SkipWithError("list not received");
      return;
    }
  }
  state.counters["devices"] = static_cast<double>(watch->Latest().devices_size());
  state.counters["message_bytes"] = static_cast<double>(watch->Latest().ByteSizeLong());
}
BENCHMARK(BM_PublishAndReceiveList)->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PluginPeakRss(benchmark::State& state) {
  for (auto _ : state) {
    testing::TempDir dir;
    std::string root = dir.MakeDirectory("host");
    std::string kubelet_dir = dir.MakeDirectory("kubelet");
    sgx::SimulatedHost host = sgx::TypicalSgx2Host(128 * kGiB);
    host.aesm = true;
    if (!sgx::WriteHostRoot(host, root).ok()) {
      state.SkipWithError("cannot write the host root");
      return;
    }
    dir.WriteFile("cpuid", sgx::EncodeCpuidFile(host));
    auto kubelet = tools::KubeletStandin::Start(kubelet_dir);
    if (!kubelet.ok()) {
      state.SkipWithError("cannot start the kubelet stand-in");
      return;
    }
    PluginProcess plugin(CN_DEVICE_PLUGIN_BINARY,
                         {"--kubelet-dir", kubelet_dir, "--host-root", root, "--cpuid-file",
                          dir.path() + "/cpuid", "--metrics-addr", "127.0.0.1:0"},
                         dir.path() + "/plugin.log");
    if (!(*kubelet)->WaitForRegistrations(3, absl::Seconds(10))) {
      state.SkipWithError("plugin did not register");
      return;
    }
    auto list = tools::PluginClient(kubelet_dir + "/sgx-epc.sock").ListOnce(absl::Seconds(10));
    if (!list.ok()) {
      state.SkipWithError("no EPC list");
      return;
    }
    state.counters["devices"] = static_cast<double>(list->devices_size());
    state.counters["VmHWM_MiB"] =
        static_cast<double>(plugin.StatusKib("VmHWM").value_or(-1)) / 1024;
    state.counters["VmRSS_MiB"] =
        static_cast<double>(plugin.StatusKib("VmRSS").value_or(-1)) / 1024;
  }
}
BENCHMARK(BM_PluginPeakRss)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PluginPeakRssWithAccounting(benchmark::State& state) {
  constexpr int kPods = 100;
  for (auto _ : state) {
    testing::TempDir dir;
    std::string root = dir.MakeDirectory("host");
    std::string kubelet_dir = dir.MakeDirectory("kubelet");
    sgx::SimulatedHost host = sgx::TypicalSgx2Host(128 * kGiB);
    host.aesm = true;
    host.misc_cgroup_epc_bytes = 128 * kGiB;
    if (!sgx::WriteHostRoot(host, root).ok()) {
      state.SkipWithError("cannot write the host root");
      return;
    }
    dir.WriteFile("cpuid", sgx::EncodeCpuidFile(host));
    auto kubelet = tools::KubeletStandin::Start(kubelet_dir);
    auto pod_resources =
        tools::PodResourcesStandin::Start(dir.MakeDirectory("pod-resources") + "/kubelet.sock");
    if (!kubelet.ok() || !pod_resources.ok()) {
      state.SkipWithError("cannot start the stand-ins");
      return;
    }
    // 100 pods share the whole advertised EPC (what fits the message cap), each with its
    // checkpoint entry and cgroup; the checkpoint lists every registered device, as the
    // kubelet's does.
    const uint64_t devices =
        PlanEpcDevices(*InKernelPlatform(128 * kGiB), false, Options().max_list_and_watch_bytes)
            .devices.size();
    // range(1): MiB per pod; 0 shares the whole advertised EPC among the pods.
    const uint64_t per_pod =
        state.range(1) == 0 ? devices / kPods : static_cast<uint64_t>(state.range(1));
    std::string entries;
    std::string registered;
    for (uint64_t i = 0; i < devices; ++i) {
      absl::StrAppend(&registered, i == 0 ? "" : ",", "\"epc-", i, "\"");
    }
    for (int pod = 0; pod < kPods; ++pod) {
      std::vector<std::string> ids;
      for (uint64_t i = pod * per_pod; i < (pod + 1) * per_pod; ++i) {
        ids.push_back(absl::StrCat("epc-", i));
      }
      const std::string name = absl::StrCat("pod-", pod);
      (*pod_resources)->AddPod("bench", name, "app", std::string(kEpcResourceName), ids);
      const std::string uid = absl::StrFormat("%08d-0000-0000-0000-000000000000", pod);
      absl::StrAppend(&entries, pod == 0 ? "" : ",", R"({"PodUID":")", uid,
                      R"(","ContainerName":"app","ResourceName":")", kEpcResourceName,
                      R"(","DeviceIDs":{"-1":[")", absl::StrJoin(ids, "\",\""),
                      R"("]},"AllocResp":"CgQKAggB"})");
      const std::string cgroup = absl::StrCat("host/sys/fs/cgroup/kubepods/pod", uid);
      dir.WriteFile(cgroup + "/misc.max", "sgx_epc max\n");
      dir.WriteFile(cgroup + "/misc.current", "sgx_epc 0\n");
      dir.WriteFile(cgroup + "/misc.events", "sgx_epc.max 0\n");
    }
    dir.WriteFile(
        "kubelet/kubelet_internal_checkpoint",
        absl::StrCat(R"({"Data":{"PodDeviceEntries":[)", entries, R"(],"RegisteredDevices":{")",
                     kEpcResourceName, R"(":[)", registered, R"(]}},"Checksum":1})"));
    PluginProcess plugin(
        CN_DEVICE_PLUGIN_BINARY,
        {"--kubelet-dir", kubelet_dir, "--host-root", root, "--cpuid-file", dir.path() + "/cpuid",
         "--metrics-addr", "127.0.0.1:0", "--pod-resources-socket", (*pod_resources)->socket_path(),
         "--pod-resources-interval", "1",
         state.range(0) == 1 ? "--enforce-epc" : "--enforce-epc=false"},
        dir.path() + "/plugin.log");
    if (!(*kubelet)->WaitForRegistrations(3, absl::Seconds(10))) {
      state.SkipWithError("plugin did not register");
      return;
    }
    auto list = tools::PluginClient(kubelet_dir + "/sgx-epc.sock").ListOnce(absl::Seconds(10));
    if (!list.ok()) {
      state.SkipWithError("no EPC list");
      return;
    }
    // Rounds run one after the other: a third List call means two full rounds are done.
    const bool rounds_done = (*pod_resources)->WaitForListCalls(3, absl::Seconds(30));
    const std::string last_pod = absl::StrFormat("%08d-0000-0000-0000-000000000000", kPods - 1);
    absl::StatusOr<std::string> limit = os::HostFileSystem("/").ReadFile(
        dir.path() + "/host/sys/fs/cgroup/kubepods/pod" + last_pod + "/misc.max");
    const std::string wanted =
        state.range(0) == 1 ? absl::StrCat("sgx_epc ", per_pod * kMiB) : "sgx_epc max\n";
    if (!rounds_done || !limit.ok() || *limit != wanted) {
      state.SkipWithError("the plugin did not account and limit every pod");
      return;
    }
    state.counters["pods"] = kPods;
    state.counters["allocated_devices"] = static_cast<double>(per_pod * kPods);
    state.counters["VmHWM_MiB"] =
        static_cast<double>(plugin.StatusKib("VmHWM").value_or(-1)) / 1024;
    state.counters["VmRSS_MiB"] =
        static_cast<double>(plugin.StatusKib("VmRSS").value_or(-1)) / 1024;
  }
}
// Args: 0 accounting only (every kernel today) or 1 with enforcement (kernels with the EPC
// cgroup); MiB per pod, 0 for all the EPC shared among the 100 pods.
BENCHMARK(BM_PluginPeakRssWithAccounting)
    ->Args({0, 10})
    ->Args({1, 10})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace cn::deviceplugin

BENCHMARK_MAIN();
