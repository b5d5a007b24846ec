#include "src/dcap/tcb_info.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"
#include "src/common/status_macros.h"
#include "src/dcap/crypto.h"

namespace cn::dcap {
namespace {

using Json = nlohmann::json;
using simdjson::dom::element_type;

absl::StatusOr<Json> ParseJsonObject(absl::string_view text, absl::string_view what) {
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not valid JSON"));
  }
  if (!json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not a JSON object"));
  }
  return json;
}

// The values of an array, each as the View over it.
template <typename Iterator, typename View>
class Items {
 public:
  class iterator {
   public:
    explicit iterator(Iterator it) : it_(it) {}
    View operator*() const { return View(*it_); }
    iterator& operator++() {
      ++it_;
      return *this;
    }
    bool operator!=(const iterator& other) const { return it_ != other.it_; }

   private:
    Iterator it_;
  };
  Items(Iterator begin, Iterator end) : begin_(begin), end_(end) {}
  iterator begin() const { return iterator(begin_); }
  iterator end() const { return iterator(end_); }

 private:
  Iterator begin_;
  Iterator end_;
};

// The two DOMs the field rules below read, each behind the same few questions, so that the rules
// exist once. NlohmannView is the reference: whatever it accepts or refuses, and how, is what
// these parsers have always answered. SimdView reads simdjson's tape, several times faster, and
// is only trusted when the rules accept the document through it (ParseWithSimdjson).
class NlohmannView {
 public:
  explicit NlohmannView(const Json& json) : json_(&json) {}

  bool IsObject() const { return json_->is_object(); }
  bool IsArray() const { return json_->is_array(); }
  bool IsString() const { return json_->is_string(); }
  bool IsInteger() const { return json_->is_number_integer(); }
  bool IsUnsigned() const { return json_->is_number_unsigned(); }
  uint64_t Unsigned() const { return json_->get<uint64_t>(); }
  int64_t Signed() const { return json_->get<int64_t>(); }
  absl::string_view String() const { return json_->get_ref<const std::string&>(); }
  size_t Size() const { return json_->size(); }
  Items<Json::const_iterator, NlohmannView> Elements() const {
    return {json_->begin(), json_->end()};
  }
  // The member `key` of an object. nlohmann's DOM holds one value per key (the last in the text),
  // so `duplicated` is never set.
  std::optional<NlohmannView> Find(absl::string_view key, bool* /*duplicated*/) const {
    auto it = json_->find(std::string_view(key.data(), key.size()));
    if (it == json_->end()) {
      return std::nullopt;
    }
    return NlohmannView(*it);
  }

 private:
  const Json* json_;
};

class SimdView {
 public:
  explicit SimdView(simdjson::dom::element element) : element_(element) {}

  bool IsObject() const { return element_.type() == element_type::OBJECT; }
  bool IsArray() const { return element_.type() == element_type::ARRAY; }
  bool IsString() const { return element_.type() == element_type::STRING; }
  // simdjson refuses integers beyond 64 bits, which nlohmann reads as doubles (so the text falls
  // back). Both read -0 as the integer 0 (simdjson 3.0.1; one that read a double -0.0 would be
  // refused here and fall back too).
  bool IsInteger() const {
    return element_.type() == element_type::INT64 || element_.type() == element_type::UINT64;
  }
  // nlohmann's unsigned: every integer of at least 0.
  bool IsUnsigned() const {
    return element_.type() == element_type::UINT64 ||
           (element_.type() == element_type::INT64 && element_.get_int64().value_unsafe() >= 0);
  }
  uint64_t Unsigned() const {
    return element_.type() == element_type::UINT64
               ? element_.get_uint64().value_unsafe()
               : static_cast<uint64_t>(element_.get_int64().value_unsafe());
  }
  int64_t Signed() const { return element_.get_int64().value_unsafe(); }
  absl::string_view String() const {
    const std::string_view view = element_.get_string().value_unsafe();
    return absl::string_view(view.data(), view.size());
  }
  // The tape's count saturates at 2^24 - 1 elements: still not 0 or 16, the only sizes the rules
  // accept, and the elements themselves are walked, not counted.
  size_t Size() const { return element_.get_array().value_unsafe().size(); }
  Items<simdjson::dom::array::iterator, SimdView> Elements() const {
    const simdjson::dom::array array = element_.get_array().value_unsafe();
    return {array.begin(), array.end()};
  }
  // The member `key` of an object, and whether `key` appears more than once (JSON leaves which
  // one counts undefined; nlohmann keeps the last): the fast path then leaves the document to
  // nlohmann rather than guess. Walks every member for that.
  std::optional<SimdView> Find(absl::string_view key, bool* duplicated) const {
    const std::string_view wanted(key.data(), key.size());
    std::optional<SimdView> found;
    const simdjson::dom::object object = element_.get_object().value_unsafe();
    for (simdjson::dom::key_value_pair member : object) {
      if (member.key == wanted) {
        if (found.has_value()) {
          *duplicated = true;
        }
        found.emplace(member.value);
      }
    }
    return found;
  }

 private:
  simdjson::dom::element element_;
};

// Where a value sits in the document ("tcbInfo.tcbLevels[3].tcb"), composed into text only
// when an error names it: building every path eagerly cost a sixth of parsing a TCB Info. A Path
// points to its parent's, which must outlive it (each is a local of the enclosing parse step).
class Path {
 public:
  explicit Path(absl::string_view root) : key_(root) {}
  Path(const Path* parent, absl::string_view key) : parent_(parent), key_(key) {}
  Path(const Path* parent, size_t index) : parent_(parent), index_(index) {}

  std::string Text() const {
    std::string text = parent_ != nullptr ? parent_->Text() : "";
    if (index_ != kNoIndex) {
      absl::StrAppend(&text, "[", index_, "]");
    } else {
      absl::StrAppend(&text, parent_ != nullptr ? "." : "", key_);
    }
    return text;
  }

 private:
  static constexpr size_t kNoIndex = ~size_t{0};
  const Path* parent_ = nullptr;
  absl::string_view key_;
  size_t index_ = kNoIndex;
};

// Field accessors over an object of either DOM: each names the path of the field in its error.
template <typename View>
class Fields {
 public:
  Fields(View object, Path path) : object_(object), path_(path) {}

  absl::StatusOr<View> Get(absl::string_view key) const {
    bool duplicated = false;
    std::optional<View> value = object_.Find(key, &duplicated);
    if (!value.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(path_.Text(), ".", key, " is missing"));
    }
    if (duplicated) {
      // Only SimdView reports this, and its errors are never shown: nlohmann reads the document.
      return absl::InvalidArgumentError(absl::StrCat(path_.Text(), ".", key, " is duplicated"));
    }
    return *value;
  }
  bool Has(absl::string_view key) const {
    bool duplicated = false;
    return object_.Find(key, &duplicated).has_value();
  }

  absl::StatusOr<int64_t> Integer(absl::string_view key, int64_t min, int64_t max) const {
    ASSIGN_OR_RETURN(const View value, Get(key));
    if (!value.IsInteger()) {
      return absl::InvalidArgumentError(absl::StrCat(path_.Text(), ".", key, " is not an integer"));
    }
    const int64_t number =
        value.IsUnsigned()
            ? static_cast<int64_t>(std::min<uint64_t>(value.Unsigned(), uint64_t{1} << 62))
            : value.Signed();
    if (number < min || number > max) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_.Text(), ".", key, " is ", number, ", outside ", min, "..", max));
    }
    return number;
  }

  // A view of the string in the DOM, which must outlive it.
  absl::StatusOr<absl::string_view> String(absl::string_view key) const {
    ASSIGN_OR_RETURN(const View value, Get(key));
    if (!value.IsString()) {
      return absl::InvalidArgumentError(absl::StrCat(path_.Text(), ".", key, " is not a string"));
    }
    return value.String();
  }

  absl::StatusOr<absl::Time> Time(absl::string_view key) const {
    ASSIGN_OR_RETURN(absl::string_view text, String(key));
    absl::Time time;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_.Text(), ".", key, " is not an RFC 3339 time: ", text));
    }
    return time;
  }

  template <size_t N>
  absl::StatusOr<std::array<uint8_t, N>> HexBytes(absl::string_view key) const {
    ASSIGN_OR_RETURN(absl::string_view text, String(key));
    absl::StatusOr<std::string> bytes = HexDecode(text);
    if (!bytes.ok() || bytes->size() != N) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_.Text(), ".", key, " is not ", N, " bytes of hex: \"", text, "\""));
    }
    std::array<uint8_t, N> out;
    std::memcpy(out.data(), bytes->data(), N);
    return out;
  }

  absl::StatusOr<TcbStatus> Status(absl::string_view key) const {
    ASSIGN_OR_RETURN(absl::string_view text, String(key));
    absl::StatusOr<TcbStatus> status = ParseTcbStatus(text);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_.Text(), ".", key, " is an unknown TCB status \"", text, "\""));
    }
    return status;
  }

  // Optional array of strings; absent means empty.
  absl::StatusOr<std::vector<std::string>> Advisories(absl::string_view key) const {
    std::vector<std::string> out;
    if (!Has(key)) {
      return out;
    }
    ASSIGN_OR_RETURN(const View value, Array(key));
    for (const View item : value.Elements()) {
      if (!item.IsString()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path_.Text(), ".", key, " holds something other than a string"));
      }
      out.emplace_back(item.String().data(), item.String().size());
    }
    return out;
  }

  absl::StatusOr<View> Array(absl::string_view key) const {
    ASSIGN_OR_RETURN(const View value, Get(key));
    if (!value.IsArray()) {
      return absl::InvalidArgumentError(absl::StrCat(path_.Text(), ".", key, " is not an array"));
    }
    return value;
  }

  absl::StatusOr<Fields> Object(absl::string_view key) const {
    ASSIGN_OR_RETURN(const View value, Get(key));
    if (!value.IsObject()) {
      return absl::InvalidArgumentError(absl::StrCat(path_.Text(), ".", key, " is not an object"));
    }
    return Fields(value, Path(&path_, key));
  }

  const Path& path() const { return path_; }

 private:
  View object_;
  Path path_;
};

// Element `index` of the array at `path`, `value`, which must be an object.
template <typename View>
absl::StatusOr<Fields<View>> Element(View value, size_t index, const Path& path) {
  if (!value.IsObject()) {
    return absl::InvalidArgumentError(absl::StrCat(Path(&path, index).Text(), " is not an object"));
  }
  return Fields<View>(value, Path(&path, index));
}

// The 16 {"svn": n} objects of a v3 level's sgxtcbcomponents or tdxtcbcomponents.
template <typename View>
absl::StatusOr<std::array<uint8_t, 16>> Components(const Fields<View>& tcb, absl::string_view key) {
  ASSIGN_OR_RETURN(const View components, tcb.Array(key));
  const Path path(&tcb.path(), key);
  if (components.Size() != 16) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.Text(), " has ", components.Size(), " entries, expected 16"));
  }
  std::array<uint8_t, 16> out{};
  size_t i = 0;
  for (const View item : components.Elements()) {
    ASSIGN_OR_RETURN(const Fields<View> component, Element(item, i, path));
    ASSIGN_OR_RETURN(int64_t svn, component.Integer("svn", 0, 255));
    out[i++] = static_cast<uint8_t>(svn);
  }
  return out;
}

// A non-empty tcbLevels array of {"tcb": {"isvsvn"}, "tcbStatus", "advisoryIDs"?} whose statuses
// are those an ISVSVN level may have (QE Identity, TDX module identities).
template <typename View>
absl::StatusOr<std::vector<QeTcbLevel>> ParseIsvLevels(const Fields<View>& fields) {
  ASSIGN_OR_RETURN(const View levels, fields.Array("tcbLevels"));
  const Path path(&fields.path(), "tcbLevels");
  if (levels.Size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path.Text(), " is empty"));
  }
  std::vector<QeTcbLevel> out;
  size_t i = 0;
  for (const View item : levels.Elements()) {
    ASSIGN_OR_RETURN(const Fields<View> level, Element(item, i++, path));
    QeTcbLevel parsed;
    ASSIGN_OR_RETURN(const Fields<View> tcb, level.Object("tcb"));
    ASSIGN_OR_RETURN(int64_t isvsvn, tcb.Integer("isvsvn", 0, 65535));
    parsed.isvsvn = static_cast<uint16_t>(isvsvn);
    ASSIGN_OR_RETURN(parsed.status, level.Status("tcbStatus"));
    if (parsed.status != TcbStatus::kUpToDate && parsed.status != TcbStatus::kOutOfDate &&
        parsed.status != TcbStatus::kRevoked) {
      return absl::InvalidArgumentError(
          absl::StrCat(level.path().Text(), ".tcbStatus ", TcbStatusName(parsed.status),
                       " is not an ISVSVN level status (UpToDate, OutOfDate or Revoked)"));
    }
    ASSIGN_OR_RETURN(parsed.advisory_ids, level.Advisories("advisoryIDs"));
    out.push_back(std::move(parsed));
  }
  return out;
}

// tdxModule, or one entry of tdxModuleIdentities: mrsigner (48), attributes and mask (8 each).
template <typename View>
absl::StatusOr<TdxModule> ParseTdxModule(const Fields<View>& fields) {
  TdxModule out;
  ASSIGN_OR_RETURN(out.mrsigner, fields.template HexBytes<48>("mrsigner"));
  ASSIGN_OR_RETURN(out.attributes, fields.template HexBytes<8>("attributes"));
  ASSIGN_OR_RETURN(out.attributes_mask, fields.template HexBytes<8>("attributesMask"));
  return out;
}

template <typename View>
absl::StatusOr<TcbLevel> ParseTcbLevel(const Fields<View>& level, int version, bool tdx) {
  TcbLevel out;
  ASSIGN_OR_RETURN(const Fields<View> tcb, level.Object("tcb"));
  if (version == 2) {
    for (int i = 0; i < 16; ++i) {
      const std::string key = absl::StrCat("sgxtcbcomp", i < 9 ? "0" : "", i + 1, "svn");
      ASSIGN_OR_RETURN(int64_t svn, tcb.Integer(key, 0, 255));
      out.components[i] = static_cast<uint8_t>(svn);
    }
  } else {
    ASSIGN_OR_RETURN(out.components, Components(tcb, "sgxtcbcomponents"));
  }
  if (tdx) {
    ASSIGN_OR_RETURN(out.tdx_components, Components(tcb, "tdxtcbcomponents"));
  }
  ASSIGN_OR_RETURN(int64_t pcesvn, tcb.Integer("pcesvn", 0, 65535));
  out.pcesvn = static_cast<uint16_t>(pcesvn);
  ASSIGN_OR_RETURN(out.status, level.Status("tcbStatus"));
  ASSIGN_OR_RETURN(out.advisory_ids, level.Advisories("advisoryIDs"));
  return out;
}

}  // namespace

absl::string_view TcbStatusName(TcbStatus status) {
  switch (status) {
    case TcbStatus::kUpToDate:
      return "UpToDate";
    case TcbStatus::kSwHardeningNeeded:
      return "SWHardeningNeeded";
    case TcbStatus::kConfigurationNeeded:
      return "ConfigurationNeeded";
    case TcbStatus::kConfigurationAndSwHardeningNeeded:
      return "ConfigurationAndSWHardeningNeeded";
    case TcbStatus::kOutOfDate:
      return "OutOfDate";
    case TcbStatus::kOutOfDateConfigurationNeeded:
      return "OutOfDateConfigurationNeeded";
    case TcbStatus::kRevoked:
      return "Revoked";
    case TcbStatus::kTdRelaunchAdvised:
      return "TDRelaunchAdvised";
    case TcbStatus::kTdRelaunchAdvisedConfigurationNeeded:
      return "TDRelaunchAdvisedConfigurationNeeded";
  }
  return "Unknown";
}

bool TcbStatusNeedsConfiguration(TcbStatus status) {
  switch (status) {
    case TcbStatus::kConfigurationNeeded:
    case TcbStatus::kConfigurationAndSwHardeningNeeded:
    case TcbStatus::kOutOfDateConfigurationNeeded:
    case TcbStatus::kTdRelaunchAdvisedConfigurationNeeded:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<TcbStatus> ParseTcbStatus(absl::string_view name) {
  for (TcbStatus status :
       {TcbStatus::kUpToDate, TcbStatus::kSwHardeningNeeded, TcbStatus::kConfigurationNeeded,
        TcbStatus::kConfigurationAndSwHardeningNeeded, TcbStatus::kOutOfDate,
        TcbStatus::kOutOfDateConfigurationNeeded, TcbStatus::kRevoked}) {
    if (TcbStatusName(status) == name) {
      return status;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown TCB status \"", name, "\""));
}

namespace {

// The inner tcbInfo object.
template <typename View>
absl::StatusOr<TcbInfo> ReadTcbInfo(const Fields<View>& fields) {
  TcbInfo out;
  ASSIGN_OR_RETURN(int64_t version, fields.Integer("version", 0, 1000));
  if (version != 2 && version != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("tcbInfo.version ", version, " is not supported (only 2 and 3)"));
  }
  out.version = static_cast<int>(version);
  if (version == 3) {
    ASSIGN_OR_RETURN(const absl::string_view id, fields.String("id"));
    out.id = std::string(id);
    if (out.id != "SGX" && out.id != "TDX") {
      return absl::InvalidArgumentError(
          absl::StrCat("tcbInfo.id is \"", out.id, "\": only SGX and TDX TCB Info exist"));
    }
  }
  ASSIGN_OR_RETURN(out.issue_date, fields.Time("issueDate"));
  ASSIGN_OR_RETURN(out.next_update, fields.Time("nextUpdate"));
  ASSIGN_OR_RETURN(out.fmspc, fields.template HexBytes<6>("fmspc"));
  ASSIGN_OR_RETURN(out.pce_id, fields.template HexBytes<2>("pceId"));
  ASSIGN_OR_RETURN(int64_t tcb_type, fields.Integer("tcbType", 0, 1000));
  if (tcb_type != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tcbInfo.tcbType ", tcb_type, " is not supported (only 0)"));
  }
  ASSIGN_OR_RETURN(int64_t evaluation, fields.Integer("tcbEvaluationDataNumber", 0, 1 << 30));
  out.tcb_evaluation_data_number = static_cast<int>(evaluation);
  if (out.is_tdx()) {
    ASSIGN_OR_RETURN(const Fields<View> module, fields.Object("tdxModule"));
    ASSIGN_OR_RETURN(out.tdx_module, ParseTdxModule(module));
    if (fields.Has("tdxModuleIdentities")) {
      ASSIGN_OR_RETURN(const View identities, fields.Array("tdxModuleIdentities"));
      const Path identities_path(&fields.path(), "tdxModuleIdentities");
      size_t i = 0;
      for (const View item : identities.Elements()) {
        ASSIGN_OR_RETURN(const Fields<View> entry, Element(item, i++, identities_path));
        TdxModuleIdentity identity;
        ASSIGN_OR_RETURN(const absl::string_view id, entry.String("id"));
        identity.id = std::string(id);
        ASSIGN_OR_RETURN(identity.module, ParseTdxModule(entry));
        ASSIGN_OR_RETURN(identity.levels, ParseIsvLevels(entry));
        out.tdx_module_identities.push_back(std::move(identity));
      }
    }
  }
  ASSIGN_OR_RETURN(const View levels, fields.Array("tcbLevels"));
  if (levels.Size() == 0) {
    return absl::InvalidArgumentError("tcbInfo.tcbLevels is empty");
  }
  const Path levels_path(&fields.path(), "tcbLevels");
  size_t i = 0;
  for (const View item : levels.Elements()) {
    ASSIGN_OR_RETURN(const Fields<View> level, Element(item, i++, levels_path));
    ASSIGN_OR_RETURN(TcbLevel parsed, ParseTcbLevel(level, out.version, out.is_tdx()));
    out.levels.push_back(std::move(parsed));
  }
  return out;
}

// The inner enclaveIdentity object.
template <typename View>
absl::StatusOr<QeIdentity> ReadQeIdentity(const Fields<View>& fields) {
  QeIdentity out;
  ASSIGN_OR_RETURN(int64_t version, fields.Integer("version", 0, 1000));
  if (version != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("enclaveIdentity.version ", version, " is not supported (only 2)"));
  }
  out.version = static_cast<int>(version);
  ASSIGN_OR_RETURN(const absl::string_view id, fields.String("id"));
  out.id = std::string(id);
  ASSIGN_OR_RETURN(out.issue_date, fields.Time("issueDate"));
  ASSIGN_OR_RETURN(out.next_update, fields.Time("nextUpdate"));
  ASSIGN_OR_RETURN(auto miscselect, fields.template HexBytes<4>("miscselect"));
  ASSIGN_OR_RETURN(auto miscselect_mask, fields.template HexBytes<4>("miscselectMask"));
  // The hex gives the bytes in the order the report stores them (Intel's synthetic sample shows
  // "D182B18C" for report bytes d1 82 b1 8c), so read them as the report's little-endian u32.
  for (int i = 0; i < 4; ++i) {
    out.miscselect |= static_cast<uint32_t>(miscselect[i]) << (8 * i);
    out.miscselect_mask |= static_cast<uint32_t>(miscselect_mask[i]) << (8 * i);
  }
  ASSIGN_OR_RETURN(out.attributes, fields.template HexBytes<16>("attributes"));
  ASSIGN_OR_RETURN(out.attributes_mask, fields.template HexBytes<16>("attributesMask"));
  ASSIGN_OR_RETURN(out.mrsigner, fields.template HexBytes<32>("mrsigner"));
  ASSIGN_OR_RETURN(int64_t isvprodid, fields.Integer("isvprodid", 0, 65535));
  out.isvprodid = static_cast<uint16_t>(isvprodid);
  ASSIGN_OR_RETURN(out.levels, ParseIsvLevels(fields));
  return out;
}

// The reference reading: nlohmann's DOM, every error as these parsers have always named it.
template <typename Result>
absl::StatusOr<Result> ParseWithNlohmann(
    absl::string_view text, absl::string_view root,
    absl::StatusOr<Result> (*read)(const Fields<NlohmannView>&)) {
  ASSIGN_OR_RETURN(const Json json, ParseJsonObject(text, root));
  return read(Fields<NlohmannView>(NlohmannView(json), Path(root)));
}

// Documents up to this size are parsed by one parser per thread, whose buffers (about 14 bytes
// per byte of the largest document it has seen) are kept for the next; a larger one gets a parser
// of its own, freed with it (as src/attestd/request.cc does for request bodies).
constexpr size_t kReusedParserBytes = 64 << 10;

thread_local uint64_t fast_path_answers = 0;

// The simdjson DOM of `text` if it is an object, in this thread's parser or in `own`.
std::optional<simdjson::dom::element> SimdjsonObject(absl::string_view text,
                                                     std::optional<simdjson::dom::parser>& own) {
  thread_local simdjson::dom::parser reused;
  simdjson::dom::parser& parser = text.size() <= kReusedParserBytes ? reused : own.emplace();
  // Copies the text into the parser's padded buffer (simdjson reads ahead in 64-byte blocks).
  simdjson::dom::element json;
  if (parser.parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(json) !=
          simdjson::SUCCESS ||
      json.type() != element_type::OBJECT) {
    return std::nullopt;
  }
  return json;
}

// The fast reading: the same rules over simdjson's DOM, answering only when they accept the
// document. Anything else (text simdjson refuses, a double where an integer is due, a duplicated
// key, any rule's error) is nullopt: nlohmann then reads the text and decides.
template <typename Result>
std::optional<Result> ParseWithSimdjson(absl::string_view text, absl::string_view root,
                                        absl::StatusOr<Result> (*read)(const Fields<SimdView>&)) {
  std::optional<simdjson::dom::parser> own;  // outlives the elements read from it
  const std::optional<simdjson::dom::element> json = SimdjsonObject(text, own);
  if (!json.has_value()) {
    return std::nullopt;
  }
  absl::StatusOr<Result> result = read(Fields<SimdView>(SimdView(*json), Path(root)));
  if (!result.ok()) {
    return std::nullopt;
  }
  ++fast_path_answers;
  return *std::move(result);
}

template <typename Result>
absl::StatusOr<Result> Parse(absl::string_view text, absl::string_view root,
                             absl::StatusOr<Result> (*read_simd)(const Fields<SimdView>&),
                             absl::StatusOr<Result> (*read_nlohmann)(const Fields<NlohmannView>&)) {
  if (std::optional<Result> fast = ParseWithSimdjson(text, root, read_simd)) {
    return *std::move(fast);
  }
  return ParseWithNlohmann(text, root, read_nlohmann);
}

}  // namespace

absl::StatusOr<TcbInfo> ParseTcbInfo(absl::string_view json_text) {
  return Parse<TcbInfo>(json_text, "tcbInfo", ReadTcbInfo, ReadTcbInfo);
}

absl::StatusOr<QeIdentity> ParseQeIdentity(absl::string_view json_text) {
  return Parse<QeIdentity>(json_text, "enclaveIdentity", ReadQeIdentity, ReadQeIdentity);
}

namespace internal {

absl::StatusOr<TcbInfo> ParseTcbInfoWithNlohmann(absl::string_view json_text) {
  return ParseWithNlohmann<TcbInfo>(json_text, "tcbInfo", ReadTcbInfo);
}

absl::StatusOr<QeIdentity> ParseQeIdentityWithNlohmann(absl::string_view json_text) {
  return ParseWithNlohmann<QeIdentity>(json_text, "enclaveIdentity", ReadQeIdentity);
}

uint64_t FastPathAnswers() { return fast_path_answers; }

}  // namespace internal
}  // namespace cn::dcap
