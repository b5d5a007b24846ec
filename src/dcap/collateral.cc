#include "src/dcap/collateral.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/status_macros.h"

namespace cn::dcap {
namespace {

using Json = nlohmann::json;

struct Field {
  const char* key;
  std::string CollateralParts::*member;
  bool hex;
};

constexpr Field kFields[] = {
    {"pck_crl_issuer_chain", &CollateralParts::pck_crl_issuer_chain, false},
    {"root_ca_crl", &CollateralParts::root_ca_crl, true},
    {"pck_crl", &CollateralParts::pck_crl, true},
    {"tcb_info_issuer_chain", &CollateralParts::tcb_info_issuer_chain, false},
    {"tcb_info", &CollateralParts::tcb_info, false},
    {"tcb_info_signature", &CollateralParts::tcb_info_signature, true},
    {"qe_identity_issuer_chain", &CollateralParts::qe_identity_issuer_chain, false},
    {"qe_identity", &CollateralParts::qe_identity, false},
    {"qe_identity_signature", &CollateralParts::qe_identity_signature, true},
};

}  // namespace

absl::StatusOr<Collateral> Collateral::FromJson(absl::string_view json) {
  Json parsed;
  // nlohmann reports the syntax error position only through its exception; catch it here, at
  // the one call that throws. Besides parse_error it throws out_of_range for numbers that do
  // not fit (found by fuzz_collateral_parser), so the base class is caught too.
  try {
    parsed = Json::parse(json.begin(), json.end());
  } catch (const Json::parse_error& error) {
    return absl::InvalidArgumentError(
        absl::StrCat("collateral: not valid JSON at byte ", error.byte, ": ", error.what()));
  } catch (const Json::exception& error) {
    return absl::InvalidArgumentError(absl::StrCat("collateral: not valid JSON: ", error.what()));
  }
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError("collateral: the top level is not a JSON object");
  }
  CollateralParts parts;
  for (const Field& field : kFields) {
    auto it = parsed.find(field.key);
    if (it == parsed.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("collateral: key \"", field.key, "\" is missing"));
    }
    if (!it->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("collateral: key \"", field.key, "\" is not a string"));
    }
    const std::string& value = it->get_ref<const std::string&>();
    if (field.hex) {
      absl::StatusOr<std::string> bytes = HexDecode(value);
      if (!bytes.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("collateral: key \"", field.key, "\": ", bytes.status().message()));
      }
      parts.*field.member = *std::move(bytes);
    } else {
      parts.*field.member = value;
    }
  }
  return FromParts(std::move(parts));
}

Collateral Collateral::FromParts(CollateralParts parts) {
  Sha256Hasher hasher;
  for (const Field& field : kFields) {
    hasher.AddField(parts.*field.member);
  }
  const Sha256Digest digest = hasher.Finish();
  return Collateral(std::move(parts), digest);
}

std::string Collateral::ToJson() const {
  Json json = Json::object();
  for (const Field& field : kFields) {
    const std::string& value = parts_.*field.member;
    json[field.key] = field.hex ? HexEncode(value) : value;
  }
  return json.dump(1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace cn::dcap
