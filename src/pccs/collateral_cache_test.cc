#include "src/pccs/collateral_cache.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/check.h"
#include "src/dcap/verifier.h"
#include "src/http/http_client.h"
#include "src/pccs/pcs_client.h"
#include "src/testing/fake_clock.h"
#include "src/testing/pccs_standin.h"
#include "src/testing/quote_builder.h"
#include "src/testing/temp_dir.h"
#include "src/testing/test_pki.h"

namespace cn::pccs {
namespace {

dcap::VerifyOptions At(absl::Time at) {
  dcap::VerifyOptions options;
  options.at = at;
  return options;
}

using ::testing::HasSubstr;

using CollateralPtr = std::shared_ptr<const dcap::Collateral>;

// An upstream whose answer the test sets, which can be made to stall until released (or until
// its deadline, measured on the test's clock and waited for in real time).
class FakeUpstream : public CollateralSource {
 public:
  explicit FakeUpstream(const os::Clock* clock) : clock_(clock) {}

  absl::StatusOr<CollateralPtr> Get(const PlatformId&, absl::Time deadline) override {
    absl::MutexLock lock(&mutex_);
    ++calls_;
    if (stall_) {
      const uint64_t generation = released_;
      auto released = [&]()
                          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return released_ != generation; };
      if (!mutex_.AwaitWithTimeout(absl::Condition(&released), deadline - clock_->Now())) {
        return absl::DeadlineExceededError("fake upstream: stalled past the deadline");
      }
    }
    return answer_;
  }

  void Answer(absl::StatusOr<CollateralPtr> answer) {
    absl::MutexLock lock(&mutex_);
    answer_ = std::move(answer);
  }
  void Stall(bool stall) {
    absl::MutexLock lock(&mutex_);
    stall_ = stall;
  }
  void Release() {
    absl::MutexLock lock(&mutex_);
    ++released_;
  }
  int calls() const {
    absl::MutexLock lock(&mutex_);
    return calls_;
  }
  bool AwaitCalls(int count) const {
    absl::MutexLock lock(&mutex_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return calls_ >= count; };
    return mutex_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(10));
  }

 private:
  const os::Clock* clock_;
  mutable absl::Mutex mutex_;
  absl::StatusOr<CollateralPtr> answer_ ABSL_GUARDED_BY(mutex_) =
      absl::UnavailableError("fake upstream: no answer set");
  bool stall_ ABSL_GUARDED_BY(mutex_) = false;
  uint64_t released_ ABSL_GUARDED_BY(mutex_) = 0;
  int calls_ ABSL_GUARDED_BY(mutex_) = 0;
};

// Counts finished fetches (the on_fetch hook) so tests wait for background work on a condition.
class FetchCounter {
 public:
  void Count() {
    absl::MutexLock lock(&mutex_);
    ++count_;
  }
  bool AwaitCount(int count) {
    absl::MutexLock lock(&mutex_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return count_ >= count; };
    return mutex_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(10));
  }

 private:
  absl::Mutex mutex_;
  int count_ ABSL_GUARDED_BY(mutex_) = 0;
};

class CollateralCacheTest : public ::testing::Test {
 protected:
  CollateralCacheTest() : clock_(testing::TestPkiDefaultAt()), upstream_(&clock_) {
    platform_.fmspc = pki_.pck_extension.fmspc;
    collateral_ = std::make_shared<const dcap::Collateral>(pki_.BuildCollateral());
    upstream_.Answer(collateral_);
    path_ = dir_.path() + "/collateral.db";
  }
  ~CollateralCacheTest() override {
    upstream_.Stall(false);
    upstream_.Release();
  }

  std::unique_ptr<CachingCollateralSource> Open(CollateralSource* upstream = nullptr) {
    absl::StatusOr<std::unique_ptr<CollateralStore>> store = CollateralStore::Open(path_);
    CN_CHECK(store.ok());
    CachingCollateralSource::Options options = options_;
    options.on_fetch = [this](absl::Duration, const absl::Status&) { fetches_.Count(); };
    absl::StatusOr<std::unique_ptr<CachingCollateralSource>> source =
        CachingCollateralSource::Create(options, *std::move(store),
                                        upstream ? upstream : &upstream_, &clock_);
    CN_CHECK(source.ok());
    return *std::move(source);
  }
  absl::Time Deadline(absl::Duration in = absl::Seconds(5)) const { return clock_.Now() + in; }

  testing::TestPki pki_;
  testing::FakeClock clock_;
  FakeUpstream upstream_;
  PlatformId platform_;
  CollateralPtr collateral_;
  testing::TempDir dir_;
  std::string path_;
  CachingCollateralSource::Options options_;
  FetchCounter fetches_;
};

TEST_F(CollateralCacheTest, AMissFetchesOnceAndLaterCallsHit) {
  std::unique_ptr<CachingCollateralSource> cache = Open();
  absl::StatusOr<CollateralPtr> first = cache->Get(platform_, Deadline());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->digest(), collateral_->digest());
  absl::StatusOr<CollateralPtr> second = cache->Get(platform_, Deadline());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(upstream_.calls(), 1);
  const CollateralCacheStats stats = cache->stats();
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.fetches, 1u);
  EXPECT_EQ(stats.refresh_failures, 0u);
}

TEST_F(CollateralCacheTest, PlatformsAreCachedApart) {
  std::unique_ptr<CachingCollateralSource> cache = Open();
  ASSERT_TRUE(cache->Get(platform_, Deadline()).ok());
  PlatformId other_ca = platform_;
  other_ca.ca = PckCa::kPlatform;
  PlatformId tdx = platform_;
  tdx.tee = Tee::kTdx;
  ASSERT_TRUE(cache->Get(other_ca, Deadline()).ok());
  ASSERT_TRUE(cache->Get(tdx, Deadline()).ok());
  EXPECT_EQ(upstream_.calls(), 3);
}

TEST_F(CollateralCacheTest, SurvivesARestart) {
  {
    std::unique_ptr<CachingCollateralSource> cache = Open();
    ASSERT_TRUE(cache->Get(platform_, Deadline()).ok());
  }
  upstream_.Answer(absl::UnavailableError("down"));
  std::unique_ptr<CachingCollateralSource> reopened = Open();
  absl::StatusOr<CollateralPtr> collateral = reopened->Get(platform_, Deadline());
  ASSERT_TRUE(collateral.ok()) << collateral.status();
  EXPECT_EQ((*collateral)->digest(), collateral_->digest());
  EXPECT_EQ(upstream_.calls(), 1);  // the one before the restart
  EXPECT_EQ(reopened->stats().hits, 1u);
}

TEST_F(CollateralCacheTest, AnOutageWithValidCachedCollateralKeepsServingIt) {
  std::unique_ptr<CachingCollateralSource> cache = Open();
  ASSERT_TRUE(cache->Get(platform_, Deadline()).ok());
  upstream_.Answer(absl::UnavailableError("PCCS down"));
  clock_.Advance(absl::Hours(25));  // due for refresh (max_age), still before nextUpdate
  absl::StatusOr<CollateralPtr> during = cache->Get(platform_, Deadline());
  ASSERT_TRUE(during.ok()) << during.status();
  EXPECT_EQ((*during)->digest(), collateral_->digest());
  ASSERT_TRUE(fetches_.AwaitCount(2));  // the background refresh ran, and failed
  EXPECT_EQ(cache->stats().refresh_failures, 1u);
  absl::StatusOr<CollateralPtr> after = cache->Get(platform_, Deadline());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ((*after)->digest(), collateral_->digest());
}

TEST_F(CollateralCacheTest, RefreshesInTheBackgroundBeforeNextUpdate) {
  options_.max_age = absl::Hours(24 * 365);  // only nextUpdate decides here
  std::unique_ptr<CachingCollateralSource> cache = Open();
  ASSERT_TRUE(cache->Get(platform_, Deadline()).ok());
  pki_.tcb_info.next_update = testing::TestTime("2025-08-30T00:00:00Z");
  auto newer = std::make_shared<const dcap::Collateral>(pki_.BuildCollateral());
  upstream_.Answer(newer);

  clock_.Set(testing::TestTime("2025-07-13T00:00:00Z"));  // 2 days before: not yet due
  ASSERT_TRUE(cache->Get(platform_, Deadline()).ok());
  cache->ScheduleDueRefreshes();
  EXPECT_EQ(upstream_.calls(), 1);

  clock_.Set(testing::TestTime("2025-07-14T06:00:00Z"));  // within refresh_before (24 h)
  absl::StatusOr<CollateralPtr> served = cache->Get(platform_, Deadline());
  ASSERT_TRUE(served.ok());
  EXPECT_EQ((*served)->digest(), collateral_->digest());  // the old one, without waiting
  ASSERT_TRUE(fetches_.AwaitCount(2));
  absl::StatusOr<CollateralPtr> refreshed = cache->Get(platform_, Deadline());
  ASSERT_TRUE(refreshed.ok());
  EXPECT_EQ((*refreshed)->digest(), newer->digest());
  EXPECT_EQ(cache->stats().misses, 1u);  // no caller ever waited after the first
}

TEST_F(CollateralCacheTest, ThePollThreadRefreshesWithoutRequests) {
  options_.poll_interval = absl::Milliseconds(10);
  std::unique_ptr<CachingCollateralSource> cache = Open();
  ASSERT_TRUE(cache->Get(platform_, Deadline()).ok());
  clock_.Advance(absl::Hours(25));
  ASSERT_TRUE(fetches_.AwaitCount(2));
  EXPECT_EQ(upstream_.calls(), 2);
  EXPECT_EQ(cache->stats().fetches, 2u);
}

TEST_F(CollateralCacheTest, AFailedRefreshIsRetriedOnlyAfterRetryAfter) {
  options_.retry_after = absl::Minutes(10);
  std::unique_ptr<CachingCollateralSource> cache = Open();
  ASSERT_TRUE(cache->Get(platform_, Deadline()).ok());
  upstream_.Answer(absl::UnavailableError("down"));
  clock_.Advance(absl::Hours(25));
  ASSERT_TRUE(cache->Get(platform_, Deadline()).ok());
  ASSERT_TRUE(fetches_.AwaitCount(2));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(cache->Get(platform_, Deadline()).ok());
  }
  cache->ScheduleDueRefreshes();
  EXPECT_EQ(upstream_.calls(), 2);
  clock_.Advance(absl::Minutes(11));
  ASSERT_TRUE(cache->Get(platform_, Deadline()).ok());
  ASSERT_TRUE(fetches_.AwaitCount(3));
  EXPECT_EQ(upstream_.calls(), 3);
}

TEST_F(CollateralCacheTest, ASlowUpstreamDoesNotHoldAMissPastItsDeadline) {
  std::unique_ptr<CachingCollateralSource> cache = Open();
  upstream_.Stall(true);
  const absl::Time start = absl::Now();
  absl::StatusOr<CollateralPtr> collateral =
      cache->Get(platform_, Deadline(absl::Milliseconds(200)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(collateral.status().code(), absl::StatusCode::kDeadlineExceeded) << collateral.status();
  EXPECT_THAT(collateral.status().message(), HasSubstr("did not answer before the deadline"));
  EXPECT_GE(took, absl::Milliseconds(190));
  EXPECT_LT(took, absl::Seconds(2));

  // The fetch the caller gave up on still lands, for the next caller.
  upstream_.Release();
  ASSERT_TRUE(fetches_.AwaitCount(1));
  upstream_.Stall(false);
  absl::StatusOr<CollateralPtr> later = cache->Get(platform_, Deadline(absl::Milliseconds(1)));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(upstream_.calls(), 1);
}

TEST_F(CollateralCacheTest, ASlowUpstreamWithExpiredCacheServesTheExpiredCopyAtTheDeadline) {
  options_.retry_after = absl::ZeroDuration();
  std::unique_ptr<CachingCollateralSource> cache = Open();
  ASSERT_TRUE(cache->Get(platform_, Deadline()).ok());
  clock_.Set(testing::TestTime("2025-07-16T00:00:00Z"));  // past the QE Identity's nextUpdate
  upstream_.Stall(true);
  const absl::Time start = absl::Now();
  absl::StatusOr<CollateralPtr> collateral =
      cache->Get(platform_, Deadline(absl::Milliseconds(200)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  ASSERT_TRUE(collateral.ok()) << collateral.status();
  EXPECT_EQ((*collateral)->digest(), collateral_->digest());
  EXPECT_EQ(cache->stats().stale_served, 1u);
  upstream_.Release();  // so that the cache's fetch thread ends now
}

TEST_F(CollateralCacheTest, ExpiredCollateralIsReturnedSoTheVerifierSaysCollateralExpired) {
  // The upstream itself serves items whose nextUpdate has passed.
  clock_.Set(testing::TestTime("2025-09-01T00:00:00Z"));
  std::unique_ptr<CachingCollateralSource> cache = Open();
  absl::StatusOr<CollateralPtr> collateral = cache->Get(platform_, Deadline());
  ASSERT_TRUE(collateral.ok()) << collateral.status();
  testing::QuoteBuilder builder(pki_);
  dcap::Verifier verifier(pki_.Anchor());
  dcap::VerificationResult result =
      verifier.Verify(builder.Build(), **collateral, At(clock_.Now()));
  ASSERT_FALSE(result.verified());
  EXPECT_EQ(dcap::ErrorCodeName(result.rejection().code), "collateral_expired");
  // Asked again right away, the cache does not hammer the upstream (retry_after).
  ASSERT_TRUE(cache->Get(platform_, Deadline()).ok());
  EXPECT_EQ(upstream_.calls(), 1);
}

TEST_F(CollateralCacheTest, NotFoundFromTheUpstreamPassesThrough) {
  upstream_.Answer(absl::NotFoundError("PCCS: 404 for fmspc"));
  std::unique_ptr<CachingCollateralSource> cache = Open();
  absl::StatusOr<CollateralPtr> collateral = cache->Get(platform_, Deadline());
  EXPECT_EQ(collateral.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache->stats().refresh_failures, 1u);
}

TEST_F(CollateralCacheTest, AnUnknownFmspcCostsOneRequestPerNotFoundTtl) {
  // Over real sockets: the stand-in counts what it is asked. It serves nothing, so every
  // platform is an FMSPC it does not know (404).
  testing::PccsStandin standin;
  http::HttpClient http({}, &clock_);
  PcsClient pcs({.base_url = standin.url(), .request_timeout = absl::Seconds(2)}, &http, &clock_);
  options_.not_found_ttl = absl::Minutes(1);
  std::unique_ptr<CachingCollateralSource> cache = Open(&pcs);
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<CollateralPtr> collateral = cache->Get(platform_, Deadline());
    ASSERT_EQ(collateral.status().code(), absl::StatusCode::kNotFound) << collateral.status();
    EXPECT_THAT(collateral.status().message(), HasSubstr("404"));
  }
  EXPECT_EQ(standin.request_count(), 1);  // the TCB Info's 404 ends the fetch
  EXPECT_EQ(cache->stats().misses, 1u);
  EXPECT_EQ(cache->stats().not_found_served, 19u);
  // Another platform is asked for on its own.
  PlatformId other = platform_;
  other.fmspc[0] ^= 1;
  EXPECT_EQ(cache->Get(other, Deadline()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(standin.request_count(), 2);

  // Just before the minute is up the answer still comes from memory; after it, the service is
  // asked again (once), and once it serves the platform the collateral is fetched and cached.
  clock_.Advance(absl::Seconds(59));
  EXPECT_EQ(cache->Get(platform_, Deadline()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(standin.request_count(), 2);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(cache->Get(platform_, Deadline()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(standin.request_count(), 3);
  standin.Serve(platform_, *collateral_);
  EXPECT_EQ(cache->Get(platform_, Deadline()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(standin.request_count(), 3);
  clock_.Advance(absl::Minutes(1));
  absl::StatusOr<CollateralPtr> served = cache->Get(platform_, Deadline());
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ((*served)->digest(), collateral_->digest());
  EXPECT_EQ(standin.request_count(), 7);  // the four items
  ASSERT_TRUE(cache->Get(platform_, Deadline()).ok());
  EXPECT_EQ(standin.request_count(), 7);
}

TEST_F(CollateralCacheTest, OnlyNotFoundIsRemembered) {
  upstream_.Answer(absl::UnavailableError("fake upstream: HTTP 503"));
  std::unique_ptr<CachingCollateralSource> cache = Open();
  EXPECT_EQ(cache->Get(platform_, Deadline()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(cache->Get(platform_, Deadline()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(upstream_.calls(), 2);
  EXPECT_EQ(cache->stats().not_found_served, 0u);
}

TEST_F(CollateralCacheTest, ANotFoundIsNotRememberedAcrossARestart) {
  upstream_.Answer(absl::NotFoundError("fake upstream: HTTP 404"));
  {
    std::unique_ptr<CachingCollateralSource> cache = Open();
    EXPECT_EQ(cache->Get(platform_, Deadline()).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(cache->Get(platform_, Deadline()).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(upstream_.calls(), 1);
  }
  std::unique_ptr<CachingCollateralSource> cache = Open();
  EXPECT_EQ(cache->Get(platform_, Deadline()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(upstream_.calls(), 2);
}

TEST_F(CollateralCacheTest, RememberedNotFoundsAreBounded) {
  upstream_.Answer(absl::NotFoundError("fake upstream: HTTP 404"));
  options_.max_not_found = 2;
  std::unique_ptr<CachingCollateralSource> cache = Open();
  std::vector<PlatformId> platforms(3, platform_);
  for (int i = 0; i < 3; ++i) {
    platforms[i].fmspc[5] = static_cast<uint8_t>(i);
    EXPECT_EQ(cache->Get(platforms[i], Deadline()).status().code(), absl::StatusCode::kNotFound);
    clock_.Advance(absl::Seconds(1));  // each expires a second after the one before
  }
  EXPECT_EQ(upstream_.calls(), 3);
  // The third pushed out the first (the one expiring soonest); the other two are remembered.
  EXPECT_EQ(cache->Get(platforms[1], Deadline()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache->Get(platforms[2], Deadline()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(upstream_.calls(), 3);
  EXPECT_EQ(cache->Get(platforms[0], Deadline()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(upstream_.calls(), 4);
}

TEST_F(CollateralCacheTest, AnAnswerWithoutDatesIsNotCached) {
  pki_.tcb_info_text_override = "{\"id\":\"SGX\"}";
  upstream_.Answer(std::make_shared<const dcap::Collateral>(pki_.BuildCollateral()));
  std::unique_ptr<CachingCollateralSource> cache = Open();
  absl::StatusOr<CollateralPtr> collateral = cache->Get(platform_, Deadline());
  EXPECT_EQ(collateral.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(collateral.status().message(), HasSubstr("TCB Info"));
}

TEST_F(CollateralCacheTest, ConcurrentMissesShareOneFetch) {
  std::unique_ptr<CachingCollateralSource> cache = Open();
  upstream_.Stall(true);
  std::vector<std::thread> callers;
  std::vector<absl::Status> results(4);
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back(
        [&, i] { results[i] = cache->Get(platform_, Deadline(absl::Seconds(10))).status(); });
  }
  ASSERT_TRUE(upstream_.AwaitCalls(1));
  upstream_.Release();
  for (std::thread& caller : callers) {
    caller.join();
  }
  for (const absl::Status& status : results) {
    EXPECT_TRUE(status.ok()) << status;
  }
  EXPECT_EQ(upstream_.calls(), 1);
}

TEST_F(CollateralCacheTest, ACorruptFileIsAClearErrorAtOpen) {
  const std::string path = dir_.WriteFile("broken.db", std::string(4096, 'x'));
  absl::StatusOr<std::unique_ptr<CollateralStore>> store = CollateralStore::Open(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  EXPECT_THAT(store.status().message(), HasSubstr("choose another --cache"));
}

TEST_F(CollateralCacheTest, AnUncreatableFileIsAClearErrorAtOpen) {
  const std::string path = dir_.path() + "/no/such/dir/collateral.db";
  absl::StatusOr<std::unique_ptr<CollateralStore>> store = CollateralStore::Open(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
}

// Over real sockets: a PcsClient behind the cache, the stand-in going away.
TEST_F(CollateralCacheTest, KeepsVerifyingThroughAPccsOutage) {
  auto standin = std::make_unique<testing::PccsStandin>();
  standin->Serve(platform_, *collateral_);
  http::HttpClient http({}, &clock_);
  PcsClient pcs({.base_url = standin->url(), .request_timeout = absl::Seconds(2)}, &http, &clock_);
  std::unique_ptr<CachingCollateralSource> cache = Open(&pcs);
  testing::QuoteBuilder builder(pki_);
  const std::string quote = builder.Build();
  dcap::Verifier verifier(pki_.Anchor());

  absl::StatusOr<CollateralPtr> before = cache->Get(platform_, Deadline());
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_TRUE(verifier.Verify(quote, **before, At(clock_.Now())).verified());

  standin.reset();  // the PCCS is gone
  clock_.Advance(absl::Hours(25));
  absl::StatusOr<CollateralPtr> during = cache->Get(platform_, Deadline());
  ASSERT_TRUE(during.ok()) << during.status();
  EXPECT_TRUE(verifier.Verify(quote, **during, At(clock_.Now())).verified());
  ASSERT_TRUE(fetches_.AwaitCount(2));
  EXPECT_EQ(cache->stats().refresh_failures, 1u);
}

}  // namespace
}  // namespace cn::pccs
