// The reloader over real files and inotify in a temporary directory, with a stand-in parser
// (texts starting "ok" parse) so that the file handling is tested on its own.

#include "src/attestd/policy_reloader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/synchronization/mutex.h"
#include "src/os/host_file_system.h"
#include "src/testing/temp_dir.h"

namespace cn::attestd {
namespace {

using ::testing::HasSubstr;

class PolicyReloaderTest : public ::testing::Test {
 protected:
  void StartReloader(const std::string& path, const std::string& initial) {
    auto watcher = os::NewInotifyFileWatcher();
    ASSERT_TRUE(watcher.ok());
    reloader_ = std::make_unique<PolicyReloader>(
        files_, *std::move(watcher), path, initial,
        [](absl::string_view text) -> absl::StatusOr<std::shared_ptr<const Policy>> {
          if (text.substr(0, 2) != "ok") {
            return absl::InvalidArgumentError("line 1, column 1: expected version");
          }
          return std::shared_ptr<const Policy>();
        },
        [this](std::shared_ptr<const Policy>) {
          absl::MutexLock lock(&mu_);
          ++installs_;
        },
        [this](const absl::Status& status) {
          absl::MutexLock lock(&mu_);
          errors_.push_back(std::string(status.message()));
        },
        absl::Milliseconds(200));
    reloader_->Start();
  }

  // Waits (at most 5 s, the bound) for `count` installs.
  bool WaitForInstalls(int count) {
    absl::MutexLock lock(&mu_);
    auto done = [&] { return installs_ >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(5));
  }
  bool WaitForErrors(size_t count) {
    absl::MutexLock lock(&mu_);
    auto done = [&] { return errors_.size() >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(5));
  }
  std::vector<std::string> errors() {
    absl::MutexLock lock(&mu_);
    return errors_;
  }
  int installs() {
    absl::MutexLock lock(&mu_);
    return installs_;
  }

  testing::TempDir dir_;
  os::HostFileSystem files_{"/"};
  absl::Mutex mu_;
  int installs_ = 0;
  std::vector<std::string> errors_;
  std::unique_ptr<PolicyReloader> reloader_;
};

TEST_F(PolicyReloaderTest, InPlaceEditAndRenameOverAreNoticed) {
  const std::string path = dir_.path() + "/policy.txt";
  std::ofstream(path) << "ok 1";
  StartReloader(path, "ok 1");
  std::ofstream(path, std::ios::trunc) << "ok 2";  // edited in place
  ASSERT_TRUE(WaitForInstalls(1));
  std::ofstream(dir_.path() + "/new.txt") << "ok 3";
  ASSERT_EQ(std::rename((dir_.path() + "/new.txt").c_str(), path.c_str()), 0);
  ASSERT_TRUE(WaitForInstalls(2));
}

TEST_F(PolicyReloaderTest, ConfigMapDataSymlinkSwapIsNoticed) {
  const std::string d = dir_.path();
  dir_.WriteFile("..2026_01_01_a/policy.txt", "ok a");
  ASSERT_EQ(symlink("..2026_01_01_a", (d + "/..data").c_str()), 0);
  ASSERT_EQ(symlink("..data/policy.txt", (d + "/policy.txt").c_str()), 0);
  StartReloader(d + "/policy.txt", "ok a");
  dir_.WriteFile("..2026_01_01_b/policy.txt", "ok b");
  ASSERT_EQ(symlink("..2026_01_01_b", (d + "/..data_tmp").c_str()), 0);
  ASSERT_EQ(std::rename((d + "/..data_tmp").c_str(), (d + "/..data").c_str()), 0);
  ASSERT_TRUE(WaitForInstalls(1));
}

TEST_F(PolicyReloaderTest, ABrokenPolicyIsReportedOnceAndTheOldOneStays) {
  const std::string path = dir_.path() + "/policy.txt";
  std::ofstream(path) << "ok 1";
  StartReloader(path, "ok 1");
  std::ofstream(path, std::ios::trunc) << "broken";
  ASSERT_TRUE(WaitForErrors(1));
  EXPECT_THAT(errors()[0], HasSubstr("line 1, column 1"));
  EXPECT_EQ(installs(), 0);
  EXPECT_FALSE(reloader_->CheckOnce());  // the same broken text is not reported again
  EXPECT_EQ(errors().size(), 1u);
  std::ofstream(path, std::ios::trunc) << "ok fixed";
  ASSERT_TRUE(WaitForInstalls(1));
}

}  // namespace
}  // namespace cn::attestd
