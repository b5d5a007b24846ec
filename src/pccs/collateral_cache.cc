#include "src/pccs/collateral_cache.h"

#include <sqlite3.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "src/common/status_macros.h"
#include "src/dcap/crypto.h"

namespace cn::pccs {
namespace {

constexpr int kSchemaVersion = 1;

absl::Status SqliteError(sqlite3* db, absl::string_view path, absl::string_view doing) {
  return absl::FailedPreconditionError(absl::StrCat("collateral cache ", path, ": ", doing, ": ",
                                                    db ? sqlite3_errmsg(db) : "out of memory"));
}

absl::Status Exec(sqlite3* db, absl::string_view path, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errmsg(db);
    sqlite3_free(error);
    return absl::FailedPreconditionError(
        absl::StrCat("collateral cache ", path, ": ", message,
                     " (not a usable cache file: delete it or choose another --cache)"));
  }
  return absl::OkStatus();
}

// The single value a query like "PRAGMA quick_check" answers, as text.
absl::StatusOr<std::string> QueryText(sqlite3* db, absl::string_view path, const char* sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) != SQLITE_OK) {
    return SqliteError(db, path, "not a usable cache file (delete it or choose another --cache)");
  }
  absl::Cleanup finalize = [statement] { sqlite3_finalize(statement); };
  if (sqlite3_step(statement) != SQLITE_ROW) {
    return SqliteError(db, path, "not a usable cache file (delete it or choose another --cache)");
  }
  const unsigned char* text = sqlite3_column_text(statement, 0);
  return std::string(text ? reinterpret_cast<const char*>(text) : "");
}

std::string ColumnText(sqlite3_stmt* statement, int column) {
  const unsigned char* text = sqlite3_column_text(statement, column);
  return text ? std::string(reinterpret_cast<const char*>(text),
                            static_cast<size_t>(sqlite3_column_bytes(statement, column)))
              : std::string();
}

absl::StatusOr<PlatformId> PlatformOfColumns(absl::string_view tee, absl::string_view ca,
                                             absl::string_view fmspc_hex) {
  PlatformId platform;
  if (tee == "sgx") {
    platform.tee = Tee::kSgx;
  } else if (tee == "tdx") {
    platform.tee = Tee::kTdx;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("tee \"", tee, "\""));
  }
  if (ca == "processor") {
    platform.ca = PckCa::kProcessor;
  } else if (ca == "platform") {
    platform.ca = PckCa::kPlatform;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("ca \"", ca, "\""));
  }
  absl::StatusOr<std::string> fmspc = dcap::HexDecode(fmspc_hex);
  if (!fmspc.ok() || fmspc->size() != platform.fmspc.size()) {
    return absl::InvalidArgumentError(absl::StrCat("fmspc \"", fmspc_hex, "\""));
  }
  std::copy(fmspc->begin(), fmspc->end(), platform.fmspc.begin());
  return platform;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CollateralStore>> CollateralStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int opened =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (opened != SQLITE_OK) {
    absl::Status status = SqliteError(db, path, "cannot open or create it");
    sqlite3_close(db);
    return status;
  }
  // Until the checks pass, closing on every return path.
  absl::Cleanup close = [db] { sqlite3_close(db); };
  // Another process (sgx-quote beside the service) may hold the write lock for a moment.
  sqlite3_busy_timeout(db, 2000);
  // sqlite3_open_v2 accepts any file; the first read is what finds out what it holds.
  ASSIGN_OR_RETURN(const std::string check, QueryText(db, path, "PRAGMA quick_check"));
  if (check != "ok") {
    return absl::FailedPreconditionError(absl::StrCat("collateral cache ", path,
                                                      ": the database is corrupt (", check,
                                                      "); delete it or choose another --cache"));
  }
  ASSIGN_OR_RETURN(const std::string version_text, QueryText(db, path, "PRAGMA user_version"));
  int64_t version = 0;
  if (!absl::SimpleAtoi(version_text, &version)) {
    return absl::FailedPreconditionError(
        absl::StrCat("collateral cache ", path, ": schema version \"", version_text, "\""));
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("collateral cache ", path, ": schema version ", version,
                     " was written by a newer version of this program"));
  }
  RETURN_IF_ERROR(Exec(db, path,
                       "CREATE TABLE IF NOT EXISTS collateral ("
                       " tee TEXT NOT NULL, ca TEXT NOT NULL, fmspc TEXT NOT NULL,"
                       " collateral TEXT NOT NULL, next_update INTEGER NOT NULL,"
                       " fetched_at INTEGER NOT NULL, PRIMARY KEY (tee, ca, fmspc));"
                       "PRAGMA user_version = 1;"));
  std::move(close).Cancel();
  return std::unique_ptr<CollateralStore>(new CollateralStore(db, path));
}

CollateralStore::~CollateralStore() {
  absl::MutexLock lock(&mutex_);
  sqlite3_close(db_);
}

absl::StatusOr<std::vector<CollateralStore::Row>> CollateralStore::LoadAll() const {
  absl::MutexLock lock(&mutex_);
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT tee, ca, fmspc, collateral, fetched_at FROM collateral", -1,
                         &statement, nullptr) != SQLITE_OK) {
    return SqliteError(db_, path_, "reading entries");
  }
  absl::Cleanup finalize = [statement] { sqlite3_finalize(statement); };
  std::vector<Row> rows;
  int step = SQLITE_ROW;
  while ((step = sqlite3_step(statement)) == SQLITE_ROW) {
    absl::StatusOr<PlatformId> platform = PlatformOfColumns(
        ColumnText(statement, 0), ColumnText(statement, 1), ColumnText(statement, 2));
    if (!platform.ok()) {
      spdlog::warn("collateral cache {}: skipping an entry with {}", path_,
                   std::string(platform.status().message()));
      continue;
    }
    rows.push_back(Row{*platform, ColumnText(statement, 3),
                       absl::FromUnixSeconds(sqlite3_column_int64(statement, 4))});
  }
  if (step != SQLITE_DONE) {
    return SqliteError(db_, path_, "reading entries");
  }
  return rows;
}

absl::Status CollateralStore::Put(const PlatformId& platform, const dcap::Collateral& collateral,
                                  absl::Time next_update, absl::Time fetched_at) {
  absl::MutexLock lock(&mutex_);
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "INSERT OR REPLACE INTO collateral"
                         " (tee, ca, fmspc, collateral, next_update, fetched_at)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                         -1, &statement, nullptr) != SQLITE_OK) {
    return SqliteError(db_, path_, "writing an entry");
  }
  absl::Cleanup finalize = [statement] { sqlite3_finalize(statement); };
  const std::string tee(TeeName(platform.tee));
  const std::string ca(PckCaName(platform.ca));
  const std::string fmspc = dcap::HexEncode(platform.fmspc);
  const std::string json = collateral.ToJson();
  sqlite3_bind_text(statement, 1, tee.data(), static_cast<int>(tee.size()), SQLITE_STATIC);
  sqlite3_bind_text(statement, 2, ca.data(), static_cast<int>(ca.size()), SQLITE_STATIC);
  sqlite3_bind_text(statement, 3, fmspc.data(), static_cast<int>(fmspc.size()), SQLITE_STATIC);
  sqlite3_bind_text(statement, 4, json.data(), static_cast<int>(json.size()), SQLITE_STATIC);
  sqlite3_bind_int64(statement, 5, absl::ToUnixSeconds(next_update));
  sqlite3_bind_int64(statement, 6, absl::ToUnixSeconds(fetched_at));
  if (sqlite3_step(statement) != SQLITE_DONE) {
    return SqliteError(db_, path_, "writing an entry");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CachingCollateralSource>> CachingCollateralSource::Create(
    Options options, std::unique_ptr<CollateralStore> store, CollateralSource* upstream,
    const os::Clock* clock) {
  ASSIGN_OR_RETURN(std::vector<CollateralStore::Row> rows, store->LoadAll());
  std::unique_ptr<CachingCollateralSource> source(
      new CachingCollateralSource(std::move(options), std::move(store), upstream, clock));
  {
    absl::MutexLock lock(&source->mutex_);
    for (CollateralStore::Row& row : rows) {
      absl::StatusOr<dcap::Collateral> collateral = dcap::Collateral::FromJson(row.collateral_json);
      absl::StatusOr<CollateralValidity> validity =
          collateral.ok() ? ValidityOf(*collateral) : collateral.status();
      if (!validity.ok()) {
        spdlog::warn("collateral cache: skipping the stored entry for FMSPC {} ({}): {}",
                     dcap::HexEncode(row.platform.fmspc), std::string(PckCaName(row.platform.ca)),
                     std::string(validity.status().message()));
        continue;
      }
      source->entries_[KeyOf(row.platform)] =
          Entry{row.platform, std::make_shared<const dcap::Collateral>(*std::move(collateral)),
                *validity, row.fetched_at, absl::InfinitePast()};
    }
  }
  for (int i = 0; i < std::max(1, source->options_.fetch_threads); ++i) {
    source->threads_.emplace_back([raw = source.get()] { raw->FetchLoop(); });
  }
  source->threads_.emplace_back([raw = source.get()] { raw->PollLoop(); });
  return source;
}

CachingCollateralSource::CachingCollateralSource(Options options,
                                                 std::unique_ptr<CollateralStore> store,
                                                 CollateralSource* upstream, const os::Clock* clock)
    : options_(std::move(options)), store_(std::move(store)), upstream_(upstream), clock_(clock) {}

CachingCollateralSource::~CachingCollateralSource() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) {
    thread.join();
  }
}

std::string CachingCollateralSource::KeyOf(const PlatformId& platform) {
  return absl::StrCat(TeeName(platform.tee), "/", PckCaName(platform.ca), "/",
                      dcap::HexEncode(platform.fmspc));
}

bool CachingCollateralSource::DueLocked(const Entry& entry, absl::Time now) const {
  const absl::Time refresh_at = std::min(entry.validity.next_update - options_.refresh_before,
                                         entry.fetched_at + options_.max_age);
  return now >= refresh_at && now >= entry.next_attempt;
}

std::shared_ptr<CachingCollateralSource::Flight> CachingCollateralSource::StartFetchLocked(
    const PlatformId& platform) {
  std::shared_ptr<Flight>& flight = flights_[KeyOf(platform)];
  if (flight == nullptr) {
    flight = std::make_shared<Flight>();
    queue_.push_back(platform);
  }
  return flight;
}

absl::StatusOr<std::shared_ptr<const dcap::Collateral>> CachingCollateralSource::Get(
    const PlatformId& platform, absl::Time deadline) {
  absl::MutexLock lock(&mutex_);
  const absl::Time now = clock_->Now();
  const std::string key = KeyOf(platform);
  auto entry = entries_.find(key);
  if (entry != entries_.end() && now < entry->second.validity.next_update) {
    ++stats_.hits;
    if (DueLocked(entry->second, now)) {
      StartFetchLocked(platform);
    }
    return entry->second.collateral;
  }
  if (entry != entries_.end() && now < entry->second.next_attempt &&
      flights_.find(key) == flights_.end()) {
    // Expired, and the upstream was asked a moment ago: do not make every caller wait for an
    // upstream that just failed; the next attempt comes after retry_after.
    ++stats_.stale_served;
    return entry->second.collateral;
  }
  if (entry == entries_.end()) {
    auto not_found = not_found_.find(key);
    if (not_found != not_found_.end() && now < not_found->second.until) {
      ++stats_.not_found_served;
      return absl::NotFoundError(absl::StrCat(
          not_found->second.status.message(), " (remembered; the upstream is asked again after ",
          absl::FormatTime(absl::RFC3339_sec, not_found->second.until, absl::UTCTimeZone()), ")"));
    }
  }
  ++stats_.misses;
  std::shared_ptr<Flight> flight = StartFetchLocked(platform);
  auto landed = [&flight]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return flight->done; };
  mutex_.AwaitWithTimeout(absl::Condition(&landed), deadline - now);
  if (flight->done && flight->status.ok()) {
    return flight->collateral;
  }
  entry = entries_.find(key);  // the map may have changed while waiting
  if (entry != entries_.end()) {
    ++stats_.stale_served;
    return entry->second.collateral;
  }
  if (flight->done) {
    return flight->status;
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no collateral cached for FMSPC ", dcap::HexEncode(platform.fmspc), " (",
                   PckCaName(platform.ca), " CA, ", TeeName(platform.tee),
                   ") and the PCCS did not answer before the deadline"));
}

void CachingCollateralSource::ScheduleDueRefreshes() {
  absl::MutexLock lock(&mutex_);
  const absl::Time now = clock_->Now();
  for (const auto& [key, entry] : entries_) {
    if (DueLocked(entry, now)) {
      StartFetchLocked(entry.platform);
    }
  }
}

void CachingCollateralSource::FetchLoop() {
  while (true) {
    PlatformId platform;
    {
      absl::MutexLock lock(&mutex_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
        return stopping_ || !queue_.empty();
      };
      mutex_.Await(absl::Condition(&ready));
      if (stopping_) {
        return;
      }
      platform = queue_.front();
      queue_.pop_front();
    }
    const absl::Time start = clock_->Now();
    absl::StatusOr<std::shared_ptr<const dcap::Collateral>> fetched =
        upstream_->Get(platform, start + options_.upstream_timeout);
    absl::StatusOr<CollateralValidity> validity =
        fetched.ok() ? ValidityOf(**fetched) : fetched.status();
    const absl::Time end = clock_->Now();
    const absl::Duration latency = end - start;
    absl::Status stored = absl::OkStatus();
    if (validity.ok()) {
      stored = store_->Put(platform, **fetched, validity->next_update, end);
      if (!stored.ok()) {
        spdlog::warn("{}", std::string(stored.message()));
      }
    } else {
      spdlog::warn("collateral for FMSPC {} ({} CA, {}): fetch failed: {}",
                   dcap::HexEncode(platform.fmspc), std::string(PckCaName(platform.ca)),
                   std::string(TeeName(platform.tee)), std::string(validity.status().message()));
    }
    UpdateAfterFetch(platform, fetched, validity, stored, start, end);
    // After the update, so that whoever the hook wakes sees its effect.
    if (options_.on_fetch) {
      options_.on_fetch(latency, validity.status());
    }
  }
}

void CachingCollateralSource::UpdateAfterFetch(
    const PlatformId& platform,
    const absl::StatusOr<std::shared_ptr<const dcap::Collateral>>& fetched,
    const absl::StatusOr<CollateralValidity>& validity, const absl::Status& stored,
    absl::Time start, absl::Time end) {
  {
    const absl::Duration latency = end - start;
    absl::MutexLock lock(&mutex_);
    const std::string key = KeyOf(platform);
    stats_.upstream_latency_total += latency;
    stats_.upstream_latency_max = std::max(stats_.upstream_latency_max, latency);
    if (!stored.ok()) {
      ++stats_.store_failures;
    }
    std::shared_ptr<Flight> flight = flights_[key];
    flights_.erase(key);
    if (validity.ok()) {
      ++stats_.fetches;
      entries_[key] = Entry{platform, *fetched, *validity, end, end + options_.retry_after};
      not_found_.erase(key);
      flight->collateral = *fetched;
    } else {
      ++stats_.refresh_failures;
      auto entry = entries_.find(key);
      if (entry != entries_.end()) {
        entry->second.next_attempt = end + options_.retry_after;
      } else if (validity.status().code() == absl::StatusCode::kNotFound) {
        RememberNotFoundLocked(key, validity.status(), end);
      }
      flight->status = validity.status();
    }
    flight->done = true;
  }
}

void CachingCollateralSource::RememberNotFoundLocked(const std::string& key,
                                                     const absl::Status& status, absl::Time now) {
  if (options_.not_found_ttl <= absl::ZeroDuration() || options_.max_not_found == 0) {
    return;
  }
  if (not_found_.size() >= options_.max_not_found && not_found_.find(key) == not_found_.end()) {
    for (auto it = not_found_.begin(); it != not_found_.end();) {
      it = now >= it->second.until ? not_found_.erase(it) : std::next(it);
    }
    if (not_found_.size() >= options_.max_not_found) {
      not_found_.erase(std::min_element(
          not_found_.begin(), not_found_.end(),
          [](const auto& a, const auto& b) { return a.second.until < b.second.until; }));
    }
  }
  not_found_[key] = NotFound{status, now + options_.not_found_ttl};
}

void CachingCollateralSource::PollLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mutex_);
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return stopping_; };
      if (mutex_.AwaitWithTimeout(absl::Condition(&stopping), options_.poll_interval)) {
        return;
      }
    }
    ScheduleDueRefreshes();
  }
}

CollateralCacheStats CachingCollateralSource::stats() const {
  absl::MutexLock lock(&mutex_);
  return stats_;
}

}  // namespace cn::pccs
