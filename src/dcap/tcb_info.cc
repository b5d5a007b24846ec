#include "src/dcap/tcb_info.h"

#include <cstring>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/status_macros.h"
#include "src/dcap/crypto.h"

namespace cn::dcap {
namespace {

using Json = nlohmann::json;

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

// Field accessors: each names the path of the field in its error.
class Fields {
 public:
  Fields(const Json& object, Path path) : object_(object), path_(path) {}

  absl::StatusOr<const Json*> Get(absl::string_view key) const {
    auto it = object_.find(std::string_view(key.data(), key.size()));
    if (it == object_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(path_.Text(), ".", key, " is missing"));
    }
    return &*it;
  }
  bool Has(absl::string_view key) const {
    return object_.contains(std::string_view(key.data(), key.size()));
  }

  absl::StatusOr<int64_t> Integer(absl::string_view key, int64_t min, int64_t max) const {
    ASSIGN_OR_RETURN(const Json* value, Get(key));
    if (!value->is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(path_.Text(), ".", key, " is not an integer"));
    }
    const int64_t number =
        value->is_number_unsigned()
            ? static_cast<int64_t>(std::min<uint64_t>(value->get<uint64_t>(), uint64_t{1} << 62))
            : value->get<int64_t>();
    if (number < min || number > max) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_.Text(), ".", key, " is ", number, ", outside ", min, "..", max));
    }
    return number;
  }

  absl::StatusOr<std::string> String(absl::string_view key) const {
    ASSIGN_OR_RETURN(const Json* value, Get(key));
    if (!value->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(path_.Text(), ".", key, " is not a string"));
    }
    return value->get<std::string>();
  }

  absl::StatusOr<absl::Time> Time(absl::string_view key) const {
    ASSIGN_OR_RETURN(std::string text, String(key));
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
    ASSIGN_OR_RETURN(std::string text, String(key));
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
    ASSIGN_OR_RETURN(std::string text, String(key));
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
    ASSIGN_OR_RETURN(const Json* value, Get(key));
    if (!value->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(path_.Text(), ".", key, " is not an array"));
    }
    for (const Json& item : *value) {
      if (!item.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path_.Text(), ".", key, " holds something other than a string"));
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  absl::StatusOr<const Json*> Array(absl::string_view key) const {
    ASSIGN_OR_RETURN(const Json* value, Get(key));
    if (!value->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(path_.Text(), ".", key, " is not an array"));
    }
    return value;
  }

  absl::StatusOr<Fields> Object(absl::string_view key) const {
    ASSIGN_OR_RETURN(const Json* value, Get(key));
    if (!value->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(path_.Text(), ".", key, " is not an object"));
    }
    return Fields(*value, Path(&path_, key));
  }

  const Path& path() const { return path_; }

 private:
  const Json& object_;
  Path path_;
};

// Element `index` of `array` (at `path`), which must be an object.
absl::StatusOr<Fields> Element(const Json& array, size_t index, const Path& path) {
  const Json& value = array[index];
  if (!value.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(Path(&path, index).Text(), " is not an object"));
  }
  return Fields(value, Path(&path, index));
}

// The 16 {"svn": n} objects of a v3 level's sgxtcbcomponents or tdxtcbcomponents.
absl::StatusOr<std::array<uint8_t, 16>> Components(const Fields& tcb, absl::string_view key) {
  ASSIGN_OR_RETURN(const Json* components, tcb.Array(key));
  const Path path(&tcb.path(), key);
  if (components->size() != 16) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.Text(), " has ", components->size(), " entries, expected 16"));
  }
  std::array<uint8_t, 16> out{};
  for (size_t i = 0; i < 16; ++i) {
    ASSIGN_OR_RETURN(Fields component, Element(*components, i, path));
    ASSIGN_OR_RETURN(int64_t svn, component.Integer("svn", 0, 255));
    out[i] = static_cast<uint8_t>(svn);
  }
  return out;
}

// A non-empty tcbLevels array of {"tcb": {"isvsvn"}, "tcbStatus", "advisoryIDs"?} whose statuses
// are those an ISVSVN level may have (QE Identity, TDX module identities).
absl::StatusOr<std::vector<QeTcbLevel>> ParseIsvLevels(const Fields& fields) {
  ASSIGN_OR_RETURN(const Json* levels, fields.Array("tcbLevels"));
  const Path path(&fields.path(), "tcbLevels");
  if (levels->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path.Text(), " is empty"));
  }
  std::vector<QeTcbLevel> out;
  for (size_t i = 0; i < levels->size(); ++i) {
    ASSIGN_OR_RETURN(Fields level, Element(*levels, i, path));
    QeTcbLevel parsed;
    ASSIGN_OR_RETURN(Fields tcb, level.Object("tcb"));
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
absl::StatusOr<TdxModule> ParseTdxModule(const Fields& fields) {
  TdxModule out;
  ASSIGN_OR_RETURN(out.mrsigner, fields.HexBytes<48>("mrsigner"));
  ASSIGN_OR_RETURN(out.attributes, fields.HexBytes<8>("attributes"));
  ASSIGN_OR_RETURN(out.attributes_mask, fields.HexBytes<8>("attributesMask"));
  return out;
}

absl::StatusOr<TcbLevel> ParseTcbLevel(const Fields& level, int version, bool tdx) {
  TcbLevel out;
  ASSIGN_OR_RETURN(Fields tcb, level.Object("tcb"));
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

absl::StatusOr<TcbInfo> ParseTcbInfo(absl::string_view json_text) {
  ASSIGN_OR_RETURN(Json json, ParseJsonObject(json_text, "tcbInfo"));
  Fields fields(json, Path("tcbInfo"));
  TcbInfo out;
  ASSIGN_OR_RETURN(int64_t version, fields.Integer("version", 0, 1000));
  if (version != 2 && version != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("tcbInfo.version ", version, " is not supported (only 2 and 3)"));
  }
  out.version = static_cast<int>(version);
  if (version == 3) {
    ASSIGN_OR_RETURN(out.id, fields.String("id"));
    if (out.id != "SGX" && out.id != "TDX") {
      return absl::InvalidArgumentError(
          absl::StrCat("tcbInfo.id is \"", out.id, "\": only SGX and TDX TCB Info exist"));
    }
  }
  ASSIGN_OR_RETURN(out.issue_date, fields.Time("issueDate"));
  ASSIGN_OR_RETURN(out.next_update, fields.Time("nextUpdate"));
  ASSIGN_OR_RETURN(out.fmspc, fields.HexBytes<6>("fmspc"));
  ASSIGN_OR_RETURN(out.pce_id, fields.HexBytes<2>("pceId"));
  ASSIGN_OR_RETURN(int64_t tcb_type, fields.Integer("tcbType", 0, 1000));
  if (tcb_type != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tcbInfo.tcbType ", tcb_type, " is not supported (only 0)"));
  }
  ASSIGN_OR_RETURN(int64_t evaluation, fields.Integer("tcbEvaluationDataNumber", 0, 1 << 30));
  out.tcb_evaluation_data_number = static_cast<int>(evaluation);
  if (out.is_tdx()) {
    ASSIGN_OR_RETURN(Fields module, fields.Object("tdxModule"));
    ASSIGN_OR_RETURN(out.tdx_module, ParseTdxModule(module));
    if (fields.Has("tdxModuleIdentities")) {
      ASSIGN_OR_RETURN(const Json* identities, fields.Array("tdxModuleIdentities"));
      const Path identities_path(&fields.path(), "tdxModuleIdentities");
      for (size_t i = 0; i < identities->size(); ++i) {
        ASSIGN_OR_RETURN(Fields entry, Element(*identities, i, identities_path));
        TdxModuleIdentity identity;
        ASSIGN_OR_RETURN(identity.id, entry.String("id"));
        ASSIGN_OR_RETURN(identity.module, ParseTdxModule(entry));
        ASSIGN_OR_RETURN(identity.levels, ParseIsvLevels(entry));
        out.tdx_module_identities.push_back(std::move(identity));
      }
    }
  }
  ASSIGN_OR_RETURN(const Json* levels, fields.Array("tcbLevels"));
  if (levels->empty()) {
    return absl::InvalidArgumentError("tcbInfo.tcbLevels is empty");
  }
  const Path levels_path(&fields.path(), "tcbLevels");
  for (size_t i = 0; i < levels->size(); ++i) {
    ASSIGN_OR_RETURN(Fields level, Element(*levels, i, levels_path));
    ASSIGN_OR_RETURN(TcbLevel parsed, ParseTcbLevel(level, out.version, out.is_tdx()));
    out.levels.push_back(std::move(parsed));
  }
  return out;
}

absl::StatusOr<QeIdentity> ParseQeIdentity(absl::string_view json_text) {
  ASSIGN_OR_RETURN(Json json, ParseJsonObject(json_text, "enclaveIdentity"));
  Fields fields(json, Path("enclaveIdentity"));
  QeIdentity out;
  ASSIGN_OR_RETURN(int64_t version, fields.Integer("version", 0, 1000));
  if (version != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("enclaveIdentity.version ", version, " is not supported (only 2)"));
  }
  out.version = static_cast<int>(version);
  ASSIGN_OR_RETURN(out.id, fields.String("id"));
  ASSIGN_OR_RETURN(out.issue_date, fields.Time("issueDate"));
  ASSIGN_OR_RETURN(out.next_update, fields.Time("nextUpdate"));
  ASSIGN_OR_RETURN(auto miscselect, fields.HexBytes<4>("miscselect"));
  ASSIGN_OR_RETURN(auto miscselect_mask, fields.HexBytes<4>("miscselectMask"));
  // The hex gives the bytes in the order the report stores them (Intel's synthetic sample shows
  // "D182B18C" for report bytes d1 82 b1 8c), so read them as the report's little-endian u32.
  for (int i = 0; i < 4; ++i) {
    out.miscselect |= static_cast<uint32_t>(miscselect[i]) << (8 * i);
    out.miscselect_mask |= static_cast<uint32_t>(miscselect_mask[i]) << (8 * i);
  }
  ASSIGN_OR_RETURN(out.attributes, fields.HexBytes<16>("attributes"));
  ASSIGN_OR_RETURN(out.attributes_mask, fields.HexBytes<16>("attributesMask"));
  ASSIGN_OR_RETURN(out.mrsigner, fields.HexBytes<32>("mrsigner"));
  ASSIGN_OR_RETURN(int64_t isvprodid, fields.Integer("isvprodid", 0, 65535));
  out.isvprodid = static_cast<uint16_t>(isvprodid);
  ASSIGN_OR_RETURN(out.levels, ParseIsvLevels(fields));
  return out;
}

}  // namespace cn::dcap
