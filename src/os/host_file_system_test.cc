#include "src/os/host_file_system.h"

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/testing/temp_dir.h"

namespace cn::os {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(HostFileSystem, ReadsHostPathsUnderTheRoot) {
  testing::TempDir root;
  root.WriteFile("sys/devices/system/node/node0/x86/sgx_total_bytes", "1024\n");
  HostFileSystem file_system(root.path());
  auto content = file_system.ReadFile("/sys/devices/system/node/node0/x86/sgx_total_bytes");
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, "1024\n");
  EXPECT_EQ(file_system.LocalPath("/dev/sgx_enclave"), root.path() + "/dev/sgx_enclave");
}

TEST(HostFileSystem, MissingFileIsNotFoundAndNamesHostPathAndRoot) {
  testing::TempDir root;
  HostFileSystem file_system(root.path());
  auto content = file_system.ReadFile("/dev/nothing");
  EXPECT_EQ(content.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(content.status().message(), HasSubstr("/dev/nothing"));
  EXPECT_THAT(content.status().message(), HasSubstr(root.path()));
}

TEST(HostFileSystem, StatTellsFileTypes) {
  testing::TempDir root;
  root.WriteFile("dev/sgx_enclave", "");
  root.MakeSocketFile("var/run/aesmd/aesm.socket");
  HostFileSystem file_system(root.path());
  EXPECT_EQ(*file_system.Stat("/dev/sgx_enclave"), FileType::kRegular);
  EXPECT_EQ(*file_system.Stat("/dev"), FileType::kDirectory);
  EXPECT_EQ(*file_system.Stat("/var/run/aesmd/aesm.socket"), FileType::kSocket);
  EXPECT_EQ(file_system.Stat("/dev/isgx").status().code(), absl::StatusCode::kNotFound);
}

TEST(HostFileSystem, RealRootSeesRealCharacterDevices) {
  HostFileSystem file_system("/");
  EXPECT_EQ(*file_system.Stat("/dev/null"), FileType::kCharacterDevice);
  EXPECT_EQ(file_system.LocalPath("/dev/null"), "/dev/null");
}

TEST(HostFileSystem, ListsDirectoriesSorted) {
  testing::TempDir root;
  root.WriteFile("sys/devices/system/node/node1/x86/sgx_total_bytes", "1");
  root.WriteFile("sys/devices/system/node/node0/x86/sgx_total_bytes", "1");
  root.WriteFile("sys/devices/system/node/possible", "0-1");
  HostFileSystem file_system(root.path());
  EXPECT_THAT(*file_system.ListDirectory("/sys/devices/system/node"),
              ElementsAre("node0", "node1", "possible"));
}

TEST(HostFileSystem, AbsoluteSymlinksResolveUnderTheRoot) {
  // udev rules or an operator may link /dev/sgx/enclave -> /dev/sgx_enclave; under a host root
  // that target must be the root's /dev/sgx_enclave, not this machine's (which has none).
  testing::TempDir root;
  root.MakeSocketFile("dev/sgx_enclave");
  root.MakeSymlink("dev/sgx/enclave", "/dev/sgx_enclave");
  root.WriteFile("sys/x86/total", "42");
  root.MakeSymlink("sys/link", "/sys/x86");
  HostFileSystem file_system(root.path());
  auto type = file_system.Stat("/dev/sgx/enclave");
  ASSERT_TRUE(type.ok()) << type.status();
  EXPECT_EQ(*type, FileType::kSocket);
  EXPECT_EQ(*file_system.ReadFile("/sys/link/total"), "42");
  EXPECT_THAT(*file_system.ListDirectory("/sys/link"), ElementsAre("total"));
}

TEST(HostFileSystem, SymlinksCannotLeaveTheRoot) {
  // /etc/passwd exists on every Debian machine; links aiming at it must not reach it.
  testing::TempDir root;
  root.MakeSymlink("dev/up", "../../../../../../../../etc/passwd");
  root.MakeSymlink("dev/abs", "/etc/passwd");
  HostFileSystem file_system(root.path());
  EXPECT_EQ(file_system.ReadFile("/dev/up").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(file_system.Stat("/dev/abs").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(file_system.ReadFile("/../../etc/passwd").status().code(), absl::StatusCode::kNotFound);
  root.WriteFile("etc/passwd", "fixture\n");
  EXPECT_EQ(*file_system.ReadFile("/dev/up"), "fixture\n");
}

TEST(HostFileSystem, WriteFileReplacesAnExistingFileAndNeverCreatesOne) {
  testing::TempDir root;
  root.WriteFile("sys/fs/cgroup/pod/misc.max", "sgx_epc max\n");
  HostFileSystem file_system(root.path());
  ASSERT_TRUE(file_system.WriteFile("/sys/fs/cgroup/pod/misc.max", "sgx_epc 1048576").ok());
  EXPECT_EQ(*file_system.ReadFile("/sys/fs/cgroup/pod/misc.max"), "sgx_epc 1048576");
  absl::Status missing = file_system.WriteFile("/sys/fs/cgroup/pod/other", "x");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()), ::testing::HasSubstr("/sys/fs/cgroup/pod/other"));
  EXPECT_FALSE(std::filesystem::exists(root.path() + "/sys/fs/cgroup/pod/other"));
  // A directory where a file should be is refused, not a crash.
  EXPECT_FALSE(file_system.WriteFile("/sys/fs/cgroup/pod", "x").ok());
}

TEST(HostFileSystem, ReadFileRangeReadsPiecesAndNothingPastTheEnd) {
  testing::TempDir root;
  root.WriteFile("var/lib/checkpoint", "0123456789");
  HostFileSystem file_system(root.path());
  EXPECT_EQ(*file_system.ReadFileRange("/var/lib/checkpoint", 0, 4), "0123");
  EXPECT_EQ(*file_system.ReadFileRange("/var/lib/checkpoint", 8, 4), "89");
  EXPECT_EQ(*file_system.ReadFileRange("/var/lib/checkpoint", 20, 4), "");
  EXPECT_EQ(file_system.ReadFileRange("/var/lib/none", 0, 4).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(FileSystem, DefaultWriteFileRefuses) {
  struct ReadOnly : FileSystem {
    absl::StatusOr<std::string> ReadFile(absl::string_view) const override { return ""; }
    absl::StatusOr<FileType> Stat(absl::string_view) const override { return FileType::kOther; }
    absl::StatusOr<std::vector<std::string>> ListDirectory(absl::string_view) const override {
      return std::vector<std::string>();
    }
    std::string LocalPath(absl::string_view path) const override { return std::string(path); }
  } read_only;
  EXPECT_EQ(read_only.WriteFile("/x", "y").code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(*read_only.ReadFileRange("/x", 0, 4), "");
}

TEST(JoinPath, UsesExactlyOneSlash) {
  EXPECT_EQ(JoinPath("/a/", "/b"), "/a/b");
  EXPECT_EQ(JoinPath("/a", "b"), "/a/b");
}

}  // namespace
}  // namespace cn::os
