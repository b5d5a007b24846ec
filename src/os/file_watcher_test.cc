#include "src/os/file_watcher.h"

#include <thread>

#include "gtest/gtest.h"
#include "src/testing/temp_dir.h"

namespace cn::os {
namespace {

// Collects events until one matches or the deadline passes (a bounded wait, not a sleep).
bool WaitForEvent(FileWatcher& watcher, FileEvent::Kind kind, absl::string_view name) {
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    auto events = watcher.Wait(deadline - absl::Now());
    if (!events.ok()) {
      return false;
    }
    for (const FileEvent& event : *events) {
      if (event.kind == kind && event.name == name) {
        return true;
      }
    }
  }
  return false;
}

TEST(InotifyFileWatcherTest, ReportsEntriesCreatedAndDeleted) {
  testing::TempDir dir;
  auto watcher = NewInotifyFileWatcher();
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  ASSERT_TRUE((*watcher)->Watch(dir.path()).ok());

  dir.WriteFile("sgx_enclave", "");
  EXPECT_TRUE(WaitForEvent(**watcher, FileEvent::Kind::kCreated, "sgx_enclave"));
  dir.Remove("sgx_enclave");
  EXPECT_TRUE(WaitForEvent(**watcher, FileEvent::Kind::kDeleted, "sgx_enclave"));
}

TEST(InotifyFileWatcherTest, ReportsLostWatchWhenDirectoryIsRemovedAndCanWatchItAgain) {
  testing::TempDir dir;
  std::string sub = dir.MakeDirectory("sgx");
  auto watcher = NewInotifyFileWatcher();
  ASSERT_TRUE(watcher.ok());
  ASSERT_TRUE((*watcher)->Watch(sub).ok());
  dir.Remove("sgx");
  EXPECT_TRUE(WaitForEvent(**watcher, FileEvent::Kind::kWatchLost, ""));

  dir.MakeDirectory("sgx");
  ASSERT_TRUE((*watcher)->Watch(sub).ok());
  dir.WriteFile("sgx/enclave", "");
  EXPECT_TRUE(WaitForEvent(**watcher, FileEvent::Kind::kCreated, "enclave"));
}

TEST(InotifyFileWatcherTest, WatchingAMissingDirectoryIsNotFound) {
  testing::TempDir dir;
  auto watcher = NewInotifyFileWatcher();
  ASSERT_TRUE(watcher.ok());
  absl::Status status = (*watcher)->Watch(dir.path() + "/absent");
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_NE(status.message().find("absent"), std::string::npos);
}

TEST(InotifyFileWatcherTest, WakeEndsAWaitEarly) {
  auto watcher = NewInotifyFileWatcher();
  ASSERT_TRUE(watcher.ok());
  std::thread waker([&] { (*watcher)->Wake(); });
  absl::Time start = absl::Now();
  auto events = (*watcher)->Wait(absl::Seconds(30));
  waker.join();
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

}  // namespace
}  // namespace cn::os
