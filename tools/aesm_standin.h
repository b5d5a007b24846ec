#pragma once

// AesmStandin: something that serves AESM's socket, for clusters and tests without SGX.
//
// The device plugin and the node agent only look for DIR/aesm.socket (a socket file); a
// workload that really asks AESM for a quote needs the real service. The stand-in therefore
// listens on the socket and answers nothing: every connection is accepted and closed at once,
// so a client sees the connection end (an error it reports) instead of waiting for an answer
// that never comes. It never reads or writes anything else.
//
// Listen() creates DIR when it is missing and takes over a stale socket file (one that no
// process listens on any more, as a killed AESM leaves it); it refuses a path where another
// process still listens, or one that is not a socket, naming the path. The socket is made
// connectable by every user (mode 0666), as AESM's is, because enclave containers run as
// any user.
//
// Thread safety: Serve() runs on one thread; Stop() and connections() are safe from any thread.
// The destructor removes the socket file (if it is still the one Listen created).

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cn::tools {

inline constexpr char kAesmSocketName[] = "aesm.socket";

class AesmStandin {
 public:
  static absl::StatusOr<std::unique_ptr<AesmStandin>> Listen(const std::string& socket_dir);
  ~AesmStandin();
  AesmStandin(const AesmStandin&) = delete;
  AesmStandin& operator=(const AesmStandin&) = delete;

  // Accepts and closes connections until Stop(). Returns an error only when accepting fails
  // for a reason other than a client that went away.
  absl::Status Serve();
  void Stop();

  const std::string& socket_path() const { return socket_path_; }
  uint64_t connections() const { return connections_.load(); }

 private:
  AesmStandin(std::string socket_path, int listen_fd, int wake_fd, dev_t device, ino_t inode);

  const std::string socket_path_;
  const int listen_fd_;
  const int wake_fd_;  // eventfd: Stop() makes it readable
  const dev_t device_;
  const ino_t inode_;
  std::atomic<uint64_t> connections_{0};
};

}  // namespace cn::tools
