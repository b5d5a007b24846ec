#include "src/deviceplugin/kubelet_checkpoint.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace cn::deviceplugin {
namespace {

// Walks the document keeping only the path of container keys, so that the (large) parts the
// plugin does not need are never held in memory.
class EntryCollector : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::vector<CheckpointEntry> entries;
  std::string error;

  bool null() override { return Scalar(); }
  bool boolean(bool) override { return Scalar(); }
  bool number_integer(number_integer_t) override { return Scalar(); }
  bool number_unsigned(number_unsigned_t) override { return Scalar(); }
  bool number_float(number_float_t, const string_t&) override { return Scalar(); }
  bool binary(binary_t&) override { return Scalar(); }

  bool string(string_t& value) override {
    if (InEntry()) {
      std::string* field = nullptr;
      if (key_ == "PodUID") {
        field = &entry_.pod_uid;
      } else if (key_ == "ContainerName") {
        field = &entry_.container;
      } else if (key_ == "ResourceName") {
        field = &entry_.resource;
      } else if (key_ == "DeviceIDs") {
        return Fail("DeviceIDs is a string, not a list or a map of lists");
      }
      if (field != nullptr) {
        *field = std::move(value);
      }
      return true;
    }
    if (InDeviceList()) {
      if (entry_.devices == 0 || value < entry_.first_device) {
        entry_.first_device = value;
      }
      ++entry_.devices;
    }
    return true;
  }

  bool start_object(std::size_t) override {
    if (InDeviceList()) {
      return Fail("a device ID is an object, not a string");
    }
    Push(Container::kObject);
    if (InEntry()) {
      entry_ = CheckpointEntry();
    }
    return true;
  }
  bool end_object() override {
    const bool was_entry = InEntry();
    Pop();
    if (was_entry) {
      entries.push_back(std::move(entry_));
      entry_ = CheckpointEntry();
    }
    return true;
  }
  bool start_array(std::size_t) override {
    if (InDeviceList()) {
      return Fail("a device ID is a list, not a string");
    }
    Push(Container::kArray);
    return true;
  }
  bool end_array() override {
    Pop();
    return true;
  }
  bool key(string_t& value) override {
    key_ = std::move(value);
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& exception) override {
    error = absl::StrCat("not JSON at byte ", position, ": ", exception.what());
    return false;
  }

 private:
  enum class Container { kObject, kArray };
  struct Level {
    Container container;
    std::string key;  // the key under which this container sits; empty in arrays and at the top
  };

  bool Scalar() {
    if (InDeviceList()) {
      return Fail("a device ID is not a string");
    }
    return true;
  }
  bool Fail(absl::string_view what) {
    error = absl::StrCat("entry ", entries.size(), ": ", what);
    return false;
  }
  void Push(Container container) {
    const bool in_array = !stack_.empty() && stack_.back().container == Container::kArray;
    stack_.push_back(Level{container, in_array ? std::string() : key_});
    key_.clear();
  }
  void Pop() {
    if (!stack_.empty()) {
      stack_.pop_back();
    }
    key_.clear();
  }
  // Depth 4: top object / "Data" object / "PodDeviceEntries" array / an entry object.
  bool InEntry() const {
    return stack_.size() == 4 && stack_[1].key == "Data" && stack_[2].key == "PodDeviceEntries" &&
           stack_[2].container == Container::kArray && stack_[3].container == Container::kObject;
  }
  // A list of IDs under an entry's DeviceIDs: directly (before 1.20) or under a NUMA key.
  bool InDeviceList() const {
    if (stack_.size() < 5 || stack_[4].key != "DeviceIDs" || stack_[1].key != "Data" ||
        stack_[2].key != "PodDeviceEntries") {
      return false;
    }
    if (stack_.size() == 5) {
      return stack_[4].container == Container::kArray;
    }
    return stack_.size() == 6 && stack_[4].container == Container::kObject &&
           stack_[5].container == Container::kArray;
  }

  std::vector<Level> stack_;
  std::string key_;
  CheckpointEntry entry_;
};

}  // namespace

absl::StatusOr<std::vector<CheckpointEntry>> ParseKubeletCheckpoint(absl::string_view text,
                                                                    absl::string_view source) {
  EntryCollector collector;
  bool parsed = false;
  try {
    parsed = nlohmann::json::sax_parse(text.begin(), text.end(), &collector);
  } catch (const std::exception& exception) {  // nlohmann throws only on misuse; be safe
    collector.error = exception.what();
  }
  if (!parsed) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": ", collector.error.empty() ? "not a kubelet checkpoint" : collector.error));
  }
  return std::move(collector.entries);
}

}  // namespace cn::deviceplugin
