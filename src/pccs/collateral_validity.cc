#include "src/pccs/collateral_validity.h"

#include <openssl/x509.h>

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/status_macros.h"
#include "src/dcap/crypto.h"

namespace cn::pccs {
namespace {

absl::StatusOr<CollateralValidity> CrlValidity(absl::string_view der, absl::string_view what) {
  ASSIGN_OR_RETURN(dcap::X509CrlPtr crl, dcap::ParseDerCrl(der, what));
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get());
  if (next == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": no nextUpdate"));
  }
  CollateralValidity validity;
  ASSIGN_OR_RETURN(validity.not_before, dcap::ToTime(X509_CRL_get0_lastUpdate(crl.get())));
  ASSIGN_OR_RETURN(validity.next_update, dcap::ToTime(next));
  return validity;
}

absl::StatusOr<absl::Time> JsonTime(const nlohmann::json& object, const char* key,
                                    absl::string_view what) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": no string \"", key, "\""));
  }
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, it->get<std::string>(), &time, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", key, " \"", it->get<std::string>(), "\" is not RFC 3339"));
  }
  return time;
}

absl::StatusOr<CollateralValidity> JsonValidity(absl::string_view text, absl::string_view what) {
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not a JSON object"));
  }
  CollateralValidity validity;
  ASSIGN_OR_RETURN(validity.not_before, JsonTime(parsed, "issueDate", what));
  ASSIGN_OR_RETURN(validity.next_update, JsonTime(parsed, "nextUpdate", what));
  return validity;
}

}  // namespace

absl::StatusOr<CollateralValidity> ValidityOf(const dcap::Collateral& collateral) {
  const dcap::CollateralParts& parts = collateral.parts();
  CollateralValidity items[4];
  ASSIGN_OR_RETURN(items[0], CrlValidity(parts.root_ca_crl, "root CA CRL"));
  ASSIGN_OR_RETURN(items[1], CrlValidity(parts.pck_crl, "PCK CRL"));
  ASSIGN_OR_RETURN(items[2], JsonValidity(parts.tcb_info, "TCB Info"));
  ASSIGN_OR_RETURN(items[3], JsonValidity(parts.qe_identity, "QE Identity"));
  CollateralValidity result = items[0];
  for (const CollateralValidity& item : items) {
    result.not_before = std::max(result.not_before, item.not_before);
    result.next_update = std::min(result.next_update, item.next_update);
  }
  return result;
}

}  // namespace cn::pccs
