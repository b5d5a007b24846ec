#include "src/common/stop_signals.h"

#include <pthread.h>

#include <utility>

namespace cn::common {

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

const char* StopSignalName(int signal_number) {
  switch (signal_number) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    default:
      return "another signal";
  }
}

StopSignalThread::StopSignalThread(const sigset_t& signals, std::function<void(int)> on_stop)
    : thread_([signals, on_stop = std::move(on_stop)] {
        int received = 0;
        sigwait(&signals, &received);
        if (received != SIGUSR1) {
          on_stop(received);
        }
      }) {}

StopSignalThread::~StopSignalThread() {
  // A thread that already returned ignores the blocked, pending SIGUSR1.
  pthread_kill(thread_.native_handle(), SIGUSR1);
  thread_.join();
}

}  // namespace cn::common
