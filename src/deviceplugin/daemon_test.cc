// The daemon's loop with fakes: which file events lead to a probe, and the periodic re-probe in
// simulated time. The socket and registration paths are covered over real sockets in
// tests/integration/deviceplugin.

#include "src/deviceplugin/daemon.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/testing/fake_clock.h"
#include "src/testing/fake_file_system.h"
#include "src/testing/fake_file_watcher.h"

namespace cn::deviceplugin {
namespace {

using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

sgx::Platform NotReady() {
  sgx::Platform platform;
  platform.problems = {{sgx::Check::kEnclaveDevice, "no SGX enclave device"}};
  return platform;
}

Options TestOptions() {
  Options options;
  options.kubelet_dir = "/kubelet";
  options.reprobe_interval = absl::Seconds(5);
  return options;
}

TEST(DaemonTest, ReprobesOnItsTimerWhenNoFileEventArrives) {
  testing::FakeFileSystem host;
  testing::FakeFileSystem local;
  os::TableCpuid cpuid;
  testing::FakeClock clock;
  testing::FakeFileWatcher watcher(&clock);
  Metrics metrics;
  const absl::Time start = clock.Now();
  std::atomic<int> probes{0};
  Daemon* daemon_pointer = nullptr;
  Daemon daemon(TestOptions(), host, local, cpuid, watcher, clock, metrics,
                [&](const os::FileSystem&, const os::Cpuid&) -> absl::StatusOr<sgx::Platform> {
                  if (++probes == 4) {
                    daemon_pointer->Stop();
                  }
                  return NotReady();
                });
  daemon_pointer = &daemon;
  ASSERT_TRUE(daemon.Run().ok());
  EXPECT_EQ(probes, 4);
  // Probes at 0, 5, 10 and 15 s of simulated time.
  EXPECT_EQ(clock.Now() - start, absl::Seconds(15));
  EXPECT_THAT(watcher.watched(), IsSupersetOf({"/dev", "/dev/sgx", "/var/run/aesmd", "/kubelet"}));
  EXPECT_THAT(daemon.Status().not_ready_reason, HasSubstr("no SGX enclave device"));
  EXPECT_THAT(std::string(daemon.Ready().message()), HasSubstr("no SGX enclave device"));
  EXPECT_EQ(metrics.platform_ready().Value(), 0);
}

TEST(DaemonTest, ProbesAgainOnSgxDeviceEventsButNotOnOtherDevEntries) {
  testing::FakeFileSystem host;
  testing::FakeFileSystem local;
  os::TableCpuid cpuid;
  testing::FakeClock clock;
  testing::FakeFileWatcher watcher;  // real-time waits; the re-probe timer is an hour
  Metrics metrics;
  Options options = TestOptions();
  options.reprobe_interval = absl::Hours(1);
  std::atomic<int> probes{0};
  Daemon daemon(options, host, local, cpuid, watcher, clock, metrics,
                [&](const os::FileSystem&, const os::Cpuid&) -> absl::StatusOr<sgx::Platform> {
                  ++probes;
                  return NotReady();
                });
  absl::Status run_status;
  std::thread loop([&] { run_status = daemon.Run(); });
  const absl::Duration patience = absl::Seconds(10);

  ASSERT_TRUE(watcher.WaitForWaitCalls(1, patience));
  EXPECT_EQ(probes, 1);
  // Each event batch is handled before the loop waits again, so counting Wait calls tells
  // when an event has been fully handled.
  watcher.Push({os::FileEvent::Kind::kCreated, "/dev", "tty7"});
  ASSERT_TRUE(watcher.WaitForWaitCalls(2, patience));
  EXPECT_EQ(probes, 1);
  watcher.Push({os::FileEvent::Kind::kCreated, "/kubelet", "other-plugin.sock"});
  ASSERT_TRUE(watcher.WaitForWaitCalls(3, patience));
  EXPECT_EQ(probes, 1);
  watcher.Push({os::FileEvent::Kind::kCreated, "/dev", "sgx_enclave"});
  ASSERT_TRUE(watcher.WaitForWaitCalls(4, patience));
  EXPECT_EQ(probes, 2);
  watcher.Push({os::FileEvent::Kind::kDeleted, "/dev/sgx", "enclave"});
  ASSERT_TRUE(watcher.WaitForWaitCalls(5, patience));
  EXPECT_EQ(probes, 3);
  watcher.Push({os::FileEvent::Kind::kWatchLost, "/dev", ""});
  ASSERT_TRUE(watcher.WaitForWaitCalls(6, patience));
  EXPECT_EQ(probes, 4);

  daemon.Stop();
  loop.join();
  EXPECT_TRUE(run_status.ok());
  EXPECT_TRUE(daemon.Status().stopped);
}

TEST(DaemonTest, AProbeErrorIsNotReadyWithTheErrorAsReason) {
  testing::FakeFileSystem host;
  testing::FakeFileSystem local;
  os::TableCpuid cpuid;
  testing::FakeClock clock;
  testing::FakeFileWatcher watcher(&clock);
  Metrics metrics;
  Daemon* daemon_pointer = nullptr;
  Daemon daemon(TestOptions(), host, local, cpuid, watcher, clock, metrics,
                [&](const os::FileSystem&, const os::Cpuid&) -> absl::StatusOr<sgx::Platform> {
                  daemon_pointer->Stop();
                  return absl::InvalidArgumentError("sgx_total_bytes: expected a byte count");
                });
  daemon_pointer = &daemon;
  ASSERT_TRUE(daemon.Run().ok());
  EXPECT_THAT(daemon.Status().not_ready_reason, HasSubstr("probing the host failed"));
  EXPECT_THAT(daemon.Status().not_ready_reason, HasSubstr("sgx_total_bytes"));
  EXPECT_FALSE(daemon.Status().platform_ready);
}

}  // namespace
}  // namespace cn::deviceplugin
