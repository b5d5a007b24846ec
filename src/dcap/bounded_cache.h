#pragma once

// BoundedCache: a thread-safe map from exact bytes (usually a SHA-256 digest of the input they
// describe) to immutable values, holding at most `capacity` entries and evicting the oldest
// insertion first. Values are shared_ptr<const V> so a reader keeps an entry alive after it is
// evicted. It never decides anything: callers store only facts that do not depend on time.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace cn::dcap {

template <typename V>
class BoundedCache {
 public:
  explicit BoundedCache(size_t capacity) : capacity_(capacity) {}

  std::shared_ptr<const V> Find(const std::string& key) const {
    absl::MutexLock lock(&mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      ++misses_;
      return nullptr;
    }
    ++hits_;
    return it->second;
  }

  // Stores `value` under `key` unless the key is already present (then the stored value wins
  // and is returned, so concurrent builders agree on one object).
  std::shared_ptr<const V> Insert(const std::string& key, std::shared_ptr<const V> value) {
    absl::MutexLock lock(&mutex_);
    if (capacity_ == 0) {
      return value;
    }
    auto [it, inserted] = entries_.emplace(key, value);
    if (!inserted) {
      return it->second;
    }
    order_.push_back(key);
    while (order_.size() > capacity_) {
      entries_.erase(order_.front());
      order_.pop_front();
    }
    return value;
  }

  void Clear() {
    absl::MutexLock lock(&mutex_);
    entries_.clear();
    order_.clear();
  }

  size_t size() const {
    absl::MutexLock lock(&mutex_);
    return entries_.size();
  }
  uint64_t hits() const {
    absl::MutexLock lock(&mutex_);
    return hits_;
  }
  uint64_t misses() const {
    absl::MutexLock lock(&mutex_);
    return misses_;
  }

 private:
  const size_t capacity_;
  mutable absl::Mutex mutex_;
  absl::flat_hash_map<std::string, std::shared_ptr<const V>> entries_ ABSL_GUARDED_BY(mutex_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mutex_);
  mutable uint64_t hits_ ABSL_GUARDED_BY(mutex_) = 0;
  mutable uint64_t misses_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace cn::dcap
