#include "tools/aesm_standin.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/testing/temp_dir.h"

namespace cn::tools {
namespace {

using ::testing::HasSubstr;

// Connects to `path`; -1 when nothing accepts.
int Connect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// What a client that sent a request sees: true when the connection ends (EOF or reset) within
// five seconds without a single byte of answer.
bool EndsWithoutAnswer(int fd) {
  const char request[] = "\x04\x00\x00\x00ping";
  // The stand-in may already have closed its end: a failed send is part of "no answer".
  [[maybe_unused]] ssize_t sent = ::send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL);
  pollfd wait = {fd, POLLIN, 0};
  if (::poll(&wait, 1, 5000) != 1) {
    return false;
  }
  char byte;
  return ::recv(fd, &byte, 1, 0) <= 0;
}

bool IsSocket(const std::string& path) {
  struct stat info;
  return ::lstat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode);
}

class Serving {
 public:
  explicit Serving(AesmStandin& standin)
      : standin_(standin), thread_([this] { result_ = standin_.Serve(); }) {}
  ~Serving() { Join().IgnoreError(); }
  absl::Status Join() {
    if (thread_.joinable()) {
      standin_.Stop();
      thread_.join();
    }
    return result_;
  }

 private:
  AesmStandin& standin_;
  absl::Status result_;
  std::thread thread_;
};

TEST(AesmStandinTest, CreatesTheDirectoryAndAWorldConnectableSocket) {
  testing::TempDir dir;
  const std::string socket_dir = dir.path() + "/var/run/aesmd";
  auto standin = AesmStandin::Listen(socket_dir);
  ASSERT_TRUE(standin.ok()) << standin.status();
  EXPECT_EQ((*standin)->socket_path(), socket_dir + "/aesm.socket");
  struct stat info;
  ASSERT_EQ(::stat((*standin)->socket_path().c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 0777, 0666u);
}

TEST(AesmStandinTest, AcceptsEveryConnectionAndAnswersNothing) {
  testing::TempDir dir;
  auto standin = AesmStandin::Listen(dir.path());
  ASSERT_TRUE(standin.ok()) << standin.status();
  Serving serving(**standin);
  for (int i = 0; i < 3; ++i) {
    int fd = Connect((*standin)->socket_path());
    ASSERT_GE(fd, 0);
    EXPECT_TRUE(EndsWithoutAnswer(fd)) << "connection " << i;
    ::close(fd);
  }
  EXPECT_TRUE(serving.Join().ok());
  EXPECT_EQ((*standin)->connections(), 3u);
}

TEST(AesmStandinTest, StopEndsServeAndTheSocketIsRemoved) {
  testing::TempDir dir;
  auto standin = AesmStandin::Listen(dir.path());
  ASSERT_TRUE(standin.ok()) << standin.status();
  const std::string path = (*standin)->socket_path();
  {
    Serving serving(**standin);
    EXPECT_TRUE(serving.Join().ok());
  }
  EXPECT_TRUE(IsSocket(path));  // still there until the stand-in is destroyed
  standin->reset();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(Connect(path), -1);
}

TEST(AesmStandinTest, TakesOverAStaleSocketThatNobodyServes) {
  testing::TempDir dir;
  const std::string stale = dir.MakeSocketFile("aesm.socket");  // bound, then closed
  ASSERT_EQ(Connect(stale), -1);
  auto standin = AesmStandin::Listen(dir.path());
  ASSERT_TRUE(standin.ok()) << standin.status();
  Serving serving(**standin);
  int fd = Connect(stale);
  EXPECT_GE(fd, 0);
  ::close(fd);
}

TEST(AesmStandinTest, RefusesASocketAnotherProcessServesAndLeavesItAlone) {
  testing::TempDir dir;
  auto first = AesmStandin::Listen(dir.path());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = AesmStandin::Listen(dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("already serves"));
  EXPECT_THAT(second.status().message(), HasSubstr((*first)->socket_path()));
  Serving serving(**first);
  int fd = Connect((*first)->socket_path());
  EXPECT_GE(fd, 0);
  ::close(fd);
}

TEST(AesmStandinTest, RefusesAPathThatIsNotASocket) {
  testing::TempDir dir;
  const std::string file = dir.WriteFile("aesm.socket", "not a socket");
  auto standin = AesmStandin::Listen(dir.path());
  ASSERT_FALSE(standin.ok());
  EXPECT_THAT(standin.status().message(), HasSubstr(file + " exists and is not a socket"));
  EXPECT_TRUE(std::filesystem::is_regular_file(file));
}

TEST(AesmStandinTest, DoesNotRemoveASocketThatReplacedItsOwn) {
  testing::TempDir dir;
  auto standin = AesmStandin::Listen(dir.path());
  ASSERT_TRUE(standin.ok()) << standin.status();
  const std::string path = (*standin)->socket_path();
  dir.Remove("aesm.socket");
  dir.MakeSocketFile("aesm.socket");  // a successor's
  standin->reset();
  EXPECT_TRUE(IsSocket(path));
}

TEST(AesmStandinTest, RejectsAnEmptyOrOverlongDirectory) {
  EXPECT_EQ(AesmStandin::Listen("").status().code(), absl::StatusCode::kInvalidArgument);
  testing::TempDir dir;
  auto standin = AesmStandin::Listen(dir.path() + "/" + std::string(120, 'd'));
  ASSERT_FALSE(standin.ok());
  EXPECT_THAT(standin.status().message(), HasSubstr("too long for a Unix socket path"));
}

}  // namespace
}  // namespace cn::tools
