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
  bool entries_done = false;  // the PodDeviceEntries list ended: the parse was stopped on purpose

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
    const bool was_entries =
        stack_.size() == 3 && stack_[1].key == "Data" && stack_[2].key == "PodDeviceEntries";
    Pop();
    if (was_entries) {
      entries_done = true;
      return false;  // stops the parse: nothing after the entries is needed
    }
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

// Characters of a file, fetched in pieces as the parser asks for them. Copies share the reader,
// as nlohmann's iterator adapter copies its iterators.
class PieceReader {
 public:
  static constexpr size_t kPiece = 64 * 1024;
  PieceReader(const os::FileSystem& file_system, absl::string_view path)
      : file_system_(file_system), path_(path) {}

  // The character at the current position; -1 at the end or after an error.
  int Peek() {
    if (position_ == piece_.size() && !Refill()) {
      return -1;
    }
    return static_cast<unsigned char>(piece_[position_]);
  }
  void Next() { ++position_; }
  const absl::Status& status() const { return status_; }

 private:
  bool Refill() {
    if (ended_) {
      return false;
    }
    absl::StatusOr<std::string> piece = file_system_.ReadFileRange(path_, offset_, kPiece);
    if (!piece.ok()) {
      status_ = piece.status();
      ended_ = true;
      return false;
    }
    offset_ += piece->size();
    piece_ = *std::move(piece);
    position_ = 0;
    ended_ = piece_.empty();
    return !ended_;
  }

  const os::FileSystem& file_system_;
  const std::string path_;
  std::string piece_;
  size_t position_ = 0;
  uint64_t offset_ = 0;
  bool ended_ = false;
  absl::Status status_;
};

// An input iterator over a PieceReader; the default-constructed one is the end.
class PieceIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = char;

  PieceIterator() = default;
  explicit PieceIterator(PieceReader* reader) : reader_(reader) {}
  char operator*() const { return static_cast<char>(reader_->Peek()); }
  PieceIterator& operator++() {
    reader_->Next();
    return *this;
  }
  bool operator==(const PieceIterator& other) const { return AtEnd() == other.AtEnd(); }
  bool operator!=(const PieceIterator& other) const { return !(*this == other); }

 private:
  bool AtEnd() const { return reader_ == nullptr || reader_->Peek() < 0; }
  PieceReader* reader_ = nullptr;
};

template <typename Iterator>
absl::StatusOr<std::vector<CheckpointEntry>> Parse(Iterator first, Iterator last,
                                                   absl::string_view source) {
  EntryCollector collector;
  bool parsed = false;
  try {
    parsed = nlohmann::json::sax_parse(first, last, &collector);
  } catch (const std::exception& exception) {  // nlohmann throws only on misuse; be safe
    collector.error = exception.what();
  }
  if (!parsed && collector.entries_done) {
    return std::move(collector.entries);
  }
  if (!parsed) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": ", collector.error.empty() ? "not a kubelet checkpoint" : collector.error));
  }
  return std::move(collector.entries);
}

}  // namespace

absl::StatusOr<std::vector<CheckpointEntry>> ParseKubeletCheckpoint(absl::string_view text,
                                                                    absl::string_view source) {
  return Parse(text.begin(), text.end(), source);
}

absl::StatusOr<std::vector<CheckpointEntry>> ReadKubeletCheckpoint(
    const os::FileSystem& file_system, absl::string_view path) {
  PieceReader reader(file_system, path);
  absl::StatusOr<std::vector<CheckpointEntry>> entries =
      Parse(PieceIterator(&reader), PieceIterator(), path);
  if (!reader.status().ok()) {
    return reader.status();
  }
  return entries;
}

}  // namespace cn::deviceplugin
