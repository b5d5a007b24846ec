#include "src/nodeagent/agent.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/testing/fake_clock.h"
#include "src/testing/fake_file_system.h"
#include "src/testing/fake_file_watcher.h"

namespace cn::nodeagent {
namespace {

using ::testing::ElementsAre;

// Records when it was asked to publish what; fails while `fail` says so; runs `after` after
// each call (to stop the agent or change the host).
class RecordingPublisher : public Publisher {
 public:
  explicit RecordingPublisher(const os::Clock& clock) : clock_(clock) {}
  absl::StatusOr<bool> Publish(const Labels& desired) override {
    times.push_back(clock_.Now());
    published.push_back(desired);
    const bool failing = fail(static_cast<int>(times.size()));
    if (after) {
      after(static_cast<int>(times.size()));
    }
    if (failing) {
      return absl::UnavailableError("API server down");
    }
    return true;
  }
  std::string Describe() const override { return "recorder"; }

  std::function<bool(int call)> fail = [](int) { return false; };
  std::function<void(int call)> after;
  std::vector<absl::Time> times;
  std::vector<Labels> published;

 private:
  const os::Clock& clock_;
};

class AgentTest : public ::testing::Test {
 protected:
  AgentTest() { ready_.ready = true; }
  Agent MakeAgent(AgentOptions options = {}) {
    return Agent(options, host_, cpuid_, watcher_, clock_, publisher_, metrics_,
                 [this](const os::FileSystem&, const os::Cpuid&) -> absl::StatusOr<sgx::Platform> {
                   ++probes_;
                   return platform_;
                 });
  }
  std::vector<absl::Duration> Gaps() const {
    std::vector<absl::Duration> gaps;
    for (size_t i = 1; i < publisher_.times.size(); ++i) {
      gaps.push_back(publisher_.times[i] - publisher_.times[i - 1]);
    }
    return gaps;
  }

  testing::FakeClock clock_;
  testing::FakeFileWatcher watcher_{&clock_};
  testing::FakeFileSystem host_;
  os::TableCpuid cpuid_;
  Metrics metrics_;
  RecordingPublisher publisher_{clock_};
  sgx::Platform platform_;  // not ready: enabled=false
  sgx::Platform ready_;
  int probes_ = 0;
};

TEST_F(AgentTest, RetriesAFailingPublisherWithDoublingBackoffCappedAt30Seconds) {
  Agent agent = MakeAgent();
  publisher_.fail = [](int) { return true; };
  publisher_.after = [&agent](int call) {
    if (call == 9) agent.Stop();
  };
  ASSERT_TRUE(agent.Run().ok());
  EXPECT_THAT(Gaps(), ElementsAre(absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                  absl::Seconds(8), absl::Seconds(16), absl::Seconds(30),
                                  absl::Seconds(30), absl::Seconds(30)));
  EXPECT_EQ(metrics_.errors().Value(), 9);
  EXPECT_FALSE(agent.Ready().ok());
  EXPECT_THAT(std::string(agent.Ready().message()), ::testing::HasSubstr("API server down"));
}

TEST_F(AgentTest, BackoffNeverExceedsTheResyncIntervalSoARecreatedNodeIsLabelledInOne) {
  Agent agent = MakeAgent({.resync_interval = absl::Seconds(5)});
  publisher_.fail = [](int call) { return call <= 5; };  // the Node is gone for a while
  publisher_.after = [&agent](int call) {
    if (call == 6) agent.Stop();
  };
  ASSERT_TRUE(agent.Run().ok());
  EXPECT_THAT(Gaps(), ElementsAre(absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                  absl::Seconds(5), absl::Seconds(5)));
  EXPECT_TRUE(agent.Ready().ok());
}

TEST_F(AgentTest, ResyncsEveryIntervalWhenNothingChanges) {
  Agent agent = MakeAgent({.resync_interval = absl::Seconds(60)});
  publisher_.after = [&agent](int call) {
    if (call == 3) agent.Stop();
  };
  ASSERT_TRUE(agent.Run().ok());
  EXPECT_THAT(Gaps(), ElementsAre(absl::Seconds(60), absl::Seconds(60)));
  EXPECT_EQ(metrics_.publishes().Value(), 3);
  // Re-probed every 5 s in between, without publishing the same labels again.
  EXPECT_GE(probes_, 24);
}

TEST_F(AgentTest, AHostChangeSeenByAFileEventIsPublishedAtOnce) {
  Agent agent = MakeAgent();
  publisher_.after = [&](int call) {
    if (call == 1) {
      // A tty appearing in /dev is noise; the enclave device appearing is not.
      watcher_.Push({os::FileEvent::Kind::kCreated, "/dev", "tty9"});
      platform_ = ready_;
      watcher_.Push({os::FileEvent::Kind::kCreated, "/dev", "sgx_enclave"});
    } else {
      agent.Stop();
    }
  };
  ASSERT_TRUE(agent.Run().ok());
  ASSERT_EQ(publisher_.times.size(), 2u);
  EXPECT_EQ(publisher_.times[1], publisher_.times[0]);  // no timer involved
  EXPECT_EQ(publisher_.published[0].at("sgx.confidential-nodes.io/enabled"), "false");
  EXPECT_EQ(publisher_.published[1].at("sgx.confidential-nodes.io/enabled"), "true");
  EXPECT_EQ(probes_, 2);
}

TEST_F(AgentTest, AHostChangeSeenByThePeriodicProbeIsPublishedWithinFiveSeconds) {
  const absl::Time start = clock_.Now();
  // The host changes 12 s in, with no file event (a change inside sysfs, say).
  Agent agent(AgentOptions{}, host_, cpuid_, watcher_, clock_, publisher_, metrics_,
              [&](const os::FileSystem&, const os::Cpuid&) -> absl::StatusOr<sgx::Platform> {
                return clock_.Now() - start >= absl::Seconds(12) ? ready_ : platform_;
              });
  publisher_.after = [&agent](int call) {
    if (call == 2) agent.Stop();
  };
  ASSERT_TRUE(agent.Run().ok());
  ASSERT_EQ(publisher_.times.size(), 2u);
  EXPECT_GE(publisher_.times[1] - start, absl::Seconds(12));
  EXPECT_LE(publisher_.times[1] - start, absl::Seconds(12) + absl::Seconds(5));
  EXPECT_EQ(publisher_.published[1].at("sgx.confidential-nodes.io/enabled"), "true");
}

TEST_F(AgentTest, AFailedProbePublishesNotEnabled) {
  Agent agent(AgentOptions{}, host_, cpuid_, watcher_, clock_, publisher_, metrics_,
              [](const os::FileSystem&, const os::Cpuid&) -> absl::StatusOr<sgx::Platform> {
                return absl::InvalidArgumentError("sgx_total_bytes: not a number");
              });
  ASSERT_TRUE(agent.PublishOnce().ok());
  EXPECT_EQ(publisher_.published.at(0), NotEnabledLabels());
}

}  // namespace
}  // namespace cn::nodeagent
