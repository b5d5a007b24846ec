#pragma once

// PolicyReloader: notices that the --policy file changed and installs the new policy, within
// `interval` (1 s in the binary, well inside the 5 s).
//
// Every way a policy file changes is covered by one rule: re-read the path (following symbolic
// links) and compare the text with the installed one. Edited in place, renamed over, or swapped
// the way Kubernetes updates a ConfigMap volume (the file is a link through `..data`, which is
// re-pointed at a new directory): in each case the text read through the path changes. The
// FileWatcher wakes the loop at once for renames and link swaps (entry events in the file's
// directory); in-place edits raise no entry event and are found by the periodic re-read, which is
// one small read per interval.
//
// A new text that does not parse is refused with the parser's line and column, logged, and the
// installed policy stays; the same broken text is not reported again until it changes.
//
// Thread safety: Start/Stop from the owner's thread; `install` is called on the reloader's thread.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/attestd/policy.h"
#include "src/os/file_system.h"
#include "src/os/file_watcher.h"

namespace cn::attestd {

class PolicyReloader {
 public:
  using Parse = std::function<absl::StatusOr<std::shared_ptr<const Policy>>(absl::string_view)>;
  using Install = std::function<void(std::shared_ptr<const Policy>)>;
  // Called for each refused text with the error (file name, line and column).
  using Report = std::function<void(const absl::Status&)>;

  // `watcher` may be null (periodic re-reads only). `current_text` is the installed policy's.
  PolicyReloader(const os::FileSystem& files, std::unique_ptr<os::FileWatcher> watcher,
                 std::string path, std::string current_text, Parse parse, Install install,
                 Report report, absl::Duration interval = absl::Seconds(1));
  ~PolicyReloader();  // Stop()

  void Start();
  void Stop();

  // One check, as the loop does it (exposed for tests): true when a new policy was installed.
  bool CheckOnce();

 private:
  void Run();

  const os::FileSystem& files_;
  std::unique_ptr<os::FileWatcher> watcher_;
  const std::string path_;
  std::string installed_text_;
  std::string refused_text_;
  Parse parse_;
  Install install_;
  Report report_;
  const absl::Duration interval_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The real parser for PolicyReloader: Policy::Parse, errors prefixed with the file name.
PolicyReloader::Parse ParsePolicyFile(std::string path);

}  // namespace cn::attestd
