// sgx-aesm-standin: serves AESM's socket without being AESM (tools/aesm_standin.h), so that the
// quote helper's DaemonSet, the device plugin's AESM mount and the node agent's aesm label can
// be exercised on clusters without SGX. It answers no request. SIGTERM or SIGINT removes the
// socket and exits 0.

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "src/common/stop_signals.h"
#include "tools/aesm_standin.h"

int main(int argc, char** argv) {
  const sigset_t signals = cn::common::BlockStopSignals();  // before any thread exists
  std::string socket_dir = "/var/run/aesmd";
  CLI::App app(
      "Stand-in for AESM on machines without SGX: listens on DIR/aesm.socket, accepts and "
      "closes every connection without answering, removes the socket on SIGTERM/SIGINT.",
      "sgx-aesm-standin");
  app.add_option("--socket-dir", socket_dir, "directory of aesm.socket (created if missing)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  auto standin = cn::tools::AesmStandin::Listen(socket_dir);
  if (!standin.ok()) {
    std::fprintf(stderr, "sgx-aesm-standin: %s\n", std::string(standin.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "sgx-aesm-standin: serving %s (a stand-in: no request is answered)\n",
               (*standin)->socket_path().c_str());
  int stop_signal = 0;
  absl::Status served;
  {
    cn::common::StopSignalThread stopper(signals, [&](int signal_number) {
      stop_signal = signal_number;
      (*standin)->Stop();
    });
    served = (*standin)->Serve();
  }
  const uint64_t connections = (*standin)->connections();
  standin->reset();  // removes the socket
  if (!served.ok()) {
    std::fprintf(stderr, "sgx-aesm-standin: %s\n", std::string(served.message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "sgx-aesm-standin: %s: socket removed after %llu connection(s), exiting\n",
               cn::common::StopSignalName(stop_signal),
               static_cast<unsigned long long>(connections));
  return 0;
}
