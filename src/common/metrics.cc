#include "src/common/metrics.h"

#include <map>

#include "src/common/check.h"

namespace cn::common {

prometheus::Counter& AddCounter(prometheus::Registry& registry, const std::string& name,
                                const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Gauge& AddGauge(prometheus::Registry& registry, const std::string& name,
                            const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Gauge& AddPlatformReadyGauge(prometheus::Registry& registry) {
  return AddGauge(registry, "cn_sgx_platform_ready",
                  "1 when the host can run enclaves (SGX1, EPC and an enclave device)");
}

CounterCache::CounterCache(prometheus::Family<prometheus::Counter>& family,
                           std::vector<std::string> label_names)
    : family_(family), label_names_(std::move(label_names)) {}

prometheus::Counter& CounterCache::Get(std::initializer_list<absl::string_view> values) const {
  CN_CHECK(values.size() == label_names_.size());
  // One buffer per thread: the key costs no allocation once it has grown to the longest.
  thread_local std::string key;
  key.clear();
  for (absl::string_view value : values) {
    key.append(value.data(), value.size());
    key.push_back('\0');
  }
  {
    absl::ReaderMutexLock lock(&mu_);
    if (auto it = series_.find(key); it != series_.end()) {
      return *it->second;
    }
  }
  std::map<std::string, std::string> labels;
  size_t i = 0;
  for (absl::string_view value : values) {
    labels.emplace(label_names_[i++], std::string(value));
  }
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = series_.try_emplace(key, nullptr);
  if (inserted) {
    it->second = &family_.Add(labels);  // the same series Add returns for these labels
  }
  return *it->second;
}

}  // namespace cn::common
