#include "src/attestd/policy_reloader.h"

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace cn::attestd {

PolicyReloader::PolicyReloader(const os::FileSystem& files,
                               std::unique_ptr<os::FileWatcher> watcher, std::string path,
                               std::string current_text, Parse parse, Install install,
                               Report report, absl::Duration interval)
    : files_(files),
      watcher_(std::move(watcher)),
      path_(std::move(path)),
      installed_text_(std::move(current_text)),
      parse_(std::move(parse)),
      install_(std::move(install)),
      report_(std::move(report)),
      interval_(interval) {}

PolicyReloader::~PolicyReloader() { Stop(); }

void PolicyReloader::Start() {
  if (watcher_ != nullptr) {
    const std::string directory = std::filesystem::path(path_).parent_path().string();
    // A failure only costs the early wake-up; the periodic re-read still finds every change.
    watcher_->Watch(directory.empty() ? "." : directory).IgnoreError();
  }
  thread_ = std::thread([this] { Run(); });
}

void PolicyReloader::Stop() {
  stop_ = true;
  if (watcher_ != nullptr) {
    watcher_->Wake();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool PolicyReloader::CheckOnce() {
  absl::StatusOr<std::string> text = files_.ReadFile(path_);
  // A file briefly missing (between a delete and a create) keeps the installed policy.
  if (!text.ok() || *text == installed_text_ || *text == refused_text_) {
    return false;
  }
  absl::StatusOr<std::shared_ptr<const Policy>> policy = parse_(*text);
  if (!policy.ok()) {
    refused_text_ = *text;
    report_(policy.status());
    return false;
  }
  installed_text_ = *text;
  refused_text_.clear();
  install_(*std::move(policy));
  return true;
}

void PolicyReloader::Run() {
  while (!stop_) {
    if (watcher_ != nullptr) {
      absl::StatusOr<std::vector<os::FileEvent>> events = watcher_->Wait(interval_);
      if (!events.ok()) {
        absl::SleepFor(interval_);  // a broken watcher: pace the re-reads instead
      } else {
        for (const os::FileEvent& event : *events) {
          if (event.kind == os::FileEvent::Kind::kWatchLost) {
            watcher_->Watch(event.directory).IgnoreError();
          }
        }
      }
    } else {
      // Without a watcher the loop sleeps in steps so that Stop stays prompt.
      const absl::Time until = absl::Now() + interval_;
      while (!stop_ && absl::Now() < until) {
        absl::SleepFor(absl::Milliseconds(20));
      }
    }
    if (!stop_) {
      CheckOnce();
    }
  }
}

PolicyReloader::Parse ParsePolicyFile(std::string path) {
  return [path = std::move(path)](
             absl::string_view text) -> absl::StatusOr<std::shared_ptr<const Policy>> {
    absl::StatusOr<Policy> policy = Policy::Parse(text);
    if (!policy.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", policy.status().message()));
    }
    return std::make_shared<const Policy>(*std::move(policy));
  };
}

}  // namespace cn::attestd
