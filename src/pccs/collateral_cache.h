#pragma once

// The collateral cache: an on-disk store (SQLite) and a CollateralSource in front of an upstream
// (normally a PcsClient) that answers from it.
//
// Caching rules (docs/collateral.md has the operator's view):
//   - Entries are keyed by platform (FMSPC, PCK CA, TEE) and hold one complete set of collateral,
//     in sgx-quote's collateral JSON, with the time it was fetched. They survive restarts.
//   - An entry is *valid* until its earliest nextUpdate (ValidityOf). A valid entry is served at
//     once (a hit); nothing waits for the network.
//   - It is *due* for refresh `refresh_before` ahead of that nextUpdate, or `max_age` after it was
//     fetched (Intel may publish a TCB recovery before nextUpdate), whichever comes first. Due
//     entries are fetched again in the background: when a Get meets one, and every
//     `poll_interval` for all of them. A failed refresh is retried after `retry_after`; the old
//     entry is served meanwhile, as long as it is valid.
//   - A miss (no entry, or one past nextUpdate) asks the upstream and waits for it until the
//     caller's deadline, no longer. One fetch per platform runs at a time; concurrent callers
//     wait for the same one. A fetch the caller stopped waiting for still completes, within
//     `upstream_timeout`, and fills the cache for the next caller.
//   - When the upstream fails or is too slow for the deadline: an entry past nextUpdate is still
//     returned (the freshest to be had; the verifier reports collateral_expired), otherwise the
//     upstream's error (NotFound, Unavailable) or DeadlineExceeded.
//   - A NotFound from the upstream (the PCS answering 404: an FMSPC it does not know) for a
//     platform without an entry is remembered for `not_found_ttl`: until then Get answers that
//     NotFound at once and asks nobody, so quotes of an unknown platform do not each cost an
//     upstream request. Kept in memory only (a restart asks again, once), for at most
//     `max_not_found` platforms. Other failures (Unavailable, DeadlineExceeded) are not
//     remembered: the next miss asks again.
//   - What the upstream answers is kept as it is (the verifier judges it); an answer whose dates
//     cannot be read is refused by PcsClient before it gets here.
//
// Time: `clock` decides validity and schedules refreshes; a Get's deadline is measured against it
// too (its remaining time is waited for in real time). Tests use a fake clock.
//
// Thread safety: Get, stats and ScheduleDueRefreshes may be called from many threads at once.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/os/clock.h"
#include "src/pccs/collateral_source.h"
#include "src/pccs/collateral_validity.h"

struct sqlite3;

namespace cn::pccs {

// The SQLite file behind the cache. One table, `collateral`, keyed by (tee, ca, fmspc).
// Thread-safe (one connection, serialised).
class CollateralStore {
 public:
  // Opens or creates `path`. FailedPrecondition naming the file when it cannot be opened or
  // created, is not an SQLite database or fails SQLite's integrity check ("delete it or choose
  // another --cache"), or holds a schema of a newer version.
  static absl::StatusOr<std::unique_ptr<CollateralStore>> Open(const std::string& path);
  ~CollateralStore();

  struct Row {
    PlatformId platform;
    std::string collateral_json;
    absl::Time fetched_at;
  };
  absl::StatusOr<std::vector<Row>> LoadAll() const;
  absl::Status Put(const PlatformId& platform, const dcap::Collateral& collateral,
                   absl::Time next_update, absl::Time fetched_at);

 private:
  CollateralStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  mutable absl::Mutex mutex_;
  sqlite3* db_ ABSL_GUARDED_BY(mutex_);
  std::string path_;
};

// Counters for the service's metrics (cumulative since start).
struct CollateralCacheStats {
  uint64_t hits = 0;              // served a valid entry
  uint64_t misses = 0;            // had no valid entry and asked the upstream
  uint64_t stale_served = 0;      // served an entry past nextUpdate because the upstream failed
  uint64_t fetches = 0;           // upstream fetches that succeeded (misses and refreshes)
  uint64_t refresh_failures = 0;  // upstream fetches that failed
  uint64_t store_failures = 0;    // entries that could not be written to the file
  uint64_t not_found_served = 0;  // NotFound answered from memory, without asking the upstream
  absl::Duration upstream_latency_total;  // summed over every fetch, failed or not
  absl::Duration upstream_latency_max;
};

class CachingCollateralSource : public CollateralSource {
 public:
  struct Options {
    absl::Duration refresh_before = absl::Hours(24);
    absl::Duration max_age = absl::Hours(24);
    absl::Duration retry_after = absl::Minutes(1);
    // Bound on one background or miss fetch (sgx-attestd's --upstream-timeout).
    absl::Duration upstream_timeout = absl::Seconds(5);
    // How long an upstream NotFound for a platform is answered without asking again.
    absl::Duration not_found_ttl = absl::Minutes(1);
    // At most this many platforms are remembered as NotFound (expired ones are dropped first,
    // then the one that expires soonest), so forged FMSPCs cannot grow the map without bound.
    size_t max_not_found = 4096;
    // Real time between background scans for due entries.
    absl::Duration poll_interval = absl::Minutes(1);
    int fetch_threads = 2;
    // Called after every upstream fetch with its latency and outcome, from a fetch thread (for
    // a latency histogram). Must be thread-safe and quick.
    std::function<void(absl::Duration latency, const absl::Status& outcome)> on_fetch;
  };

  // Loads every entry of `store` (entries that no longer parse are skipped and logged) and
  // starts the fetch and poll threads. `upstream` and `clock` must outlive the source.
  static absl::StatusOr<std::unique_ptr<CachingCollateralSource>> Create(
      Options options, std::unique_ptr<CollateralStore> store, CollateralSource* upstream,
      const os::Clock* clock);
  // Stops the threads; a fetch under way is waited for (bounded by upstream_timeout).
  ~CachingCollateralSource() override;

  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> Get(const PlatformId& platform,
                                                              absl::Time deadline) override;

  CollateralCacheStats stats() const;
  // Queues a background fetch for every entry that is due (the poll thread calls this).
  void ScheduleDueRefreshes();

 private:
  struct Entry {
    PlatformId platform;
    std::shared_ptr<const dcap::Collateral> collateral;
    CollateralValidity validity;
    absl::Time fetched_at;
    absl::Time next_attempt;  // no fetch for this entry before this time (after the last one)
  };
  struct NotFound {
    absl::Status status;  // the upstream's NotFound, as it said it
    absl::Time until;     // answered from memory before this time
  };
  struct Flight {
    bool done = false;
    absl::Status status;
    std::shared_ptr<const dcap::Collateral> collateral;
  };

  CachingCollateralSource(Options options, std::unique_ptr<CollateralStore> store,
                          CollateralSource* upstream, const os::Clock* clock);
  static std::string KeyOf(const PlatformId& platform);
  bool DueLocked(const Entry& entry, absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The flight fetching `platform`, started if none is under way.
  std::shared_ptr<Flight> StartFetchLocked(const PlatformId& platform)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void FetchLoop();
  void UpdateAfterFetch(const PlatformId& platform,
                        const absl::StatusOr<std::shared_ptr<const dcap::Collateral>>& fetched,
                        const absl::StatusOr<CollateralValidity>& validity,
                        const absl::Status& stored, absl::Time start, absl::Time end);
  void PollLoop();
  void RememberNotFoundLocked(const std::string& key, const absl::Status& status, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const Options options_;
  const std::unique_ptr<CollateralStore> store_;
  CollateralSource* const upstream_;
  const os::Clock* const clock_;

  mutable absl::Mutex mutex_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, std::shared_ptr<Flight>> flights_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, NotFound> not_found_ ABSL_GUARDED_BY(mutex_);
  std::deque<PlatformId> queue_ ABSL_GUARDED_BY(mutex_);
  CollateralCacheStats stats_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace cn::pccs
