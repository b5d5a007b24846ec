#pragma once

// Stop signals for every daemon: SIGTERM and SIGINT are taken synchronously by one thread
// (sigwait), never in a handler, so that stopping is ordinary code with locks and logging.
//
// BlockStopSignals() must be called first thing in main, before any thread exists, so that every
// thread inherits the mask and no thread is killed by the default action. It blocks SIGTERM,
// SIGINT and SIGUSR1; SIGUSR1 is internal: StopSignalThread sends it to its own thread to end
// the wait when the daemon stopped by itself.
//
// StopSignalThread waits on its own thread and calls `on_stop` with SIGTERM or SIGINT, once; the
// destructor ends the wait (if no signal came) and joins. The callback runs on that thread and
// must be thread-safe with respect to the daemon it stops.

#include <signal.h>

#include <functional>
#include <thread>

namespace cn::common {

sigset_t BlockStopSignals();

// "SIGTERM", "SIGINT" or "another signal", for log lines.
const char* StopSignalName(int signal_number);

class StopSignalThread {
 public:
  StopSignalThread(const sigset_t& signals, std::function<void(int)> on_stop);
  ~StopSignalThread();
  StopSignalThread(const StopSignalThread&) = delete;
  StopSignalThread& operator=(const StopSignalThread&) = delete;

 private:
  std::thread thread_;
};

}  // namespace cn::common
