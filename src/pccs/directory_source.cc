#include "src/pccs/directory_source.h"

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/status_macros.h"
#include "src/dcap/crypto.h"

namespace cn::pccs {
namespace {

std::string CommonName(const X509_NAME* name) {
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) {
    return "";
  }
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<size_t>(ASN1_STRING_length(data)));
}

std::string FmspcHex(const std::array<uint8_t, 6>& fmspc) { return dcap::HexEncode(fmspc); }

}  // namespace

absl::StatusOr<std::unique_ptr<DirectoryCollateralSource>> DirectoryCollateralSource::Load(
    const os::FileSystem& files, absl::string_view directory) {
  absl::StatusOr<std::vector<std::string>> names = files.ListDirectory(directory);
  if (!names.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--collateral-dir ", directory, ": ", names.status().message()));
  }
  auto source = std::unique_ptr<DirectoryCollateralSource>(new DirectoryCollateralSource());
  source->directory_ = std::string(directory);
  for (const std::string& name : *names) {
    if (!absl::EndsWith(name, ".json")) {
      continue;
    }
    const std::string path = os::JoinPath(directory, name);
    auto fail = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
    };
    ASSIGN_OR_RETURN(const std::string text, files.ReadFile(path));
    absl::StatusOr<dcap::Collateral> collateral = dcap::Collateral::FromJson(text);
    if (!collateral.ok()) {
      return fail(collateral.status().message());
    }
    const nlohmann::json tcb_info =
        nlohmann::json::parse(collateral->parts().tcb_info, nullptr, false);
    if (!tcb_info.is_object() || !tcb_info.contains("fmspc") || !tcb_info["fmspc"].is_string()) {
      return fail("tcb_info: not a JSON object with an fmspc string");
    }
    absl::StatusOr<std::string> fmspc = dcap::HexDecode(tcb_info["fmspc"].get<std::string>());
    if (!fmspc.ok() || fmspc->size() != 6) {
      return fail("tcb_info: fmspc is not 6 bytes of hex");
    }
    Key key;
    std::copy(fmspc->begin(), fmspc->end(), std::get<0>(key).begin());
    const std::string id = tcb_info.value("id", std::string("SGX"));
    if (id == "TDX") {
      std::get<2>(key) = Tee::kTdx;
    } else if (id == "SGX") {
      std::get<2>(key) = Tee::kSgx;
    } else {
      return fail(absl::StrCat("tcb_info: id \"", id, "\" is neither SGX nor TDX"));
    }
    absl::StatusOr<dcap::X509CrlPtr> crl =
        dcap::ParseDerCrl(collateral->parts().pck_crl, "pck_crl");
    if (!crl.ok()) {
      return fail(crl.status().message());
    }
    const std::string issuer = CommonName(X509_CRL_get_issuer(crl->get()));
    if (absl::EndsWith(issuer, "PCK Processor CA")) {
      std::get<1>(key) = PckCa::kProcessor;
    } else if (absl::EndsWith(issuer, "PCK Platform CA")) {
      std::get<1>(key) = PckCa::kPlatform;
    } else {
      return fail(absl::StrCat("pck_crl: issuer \"", issuer,
                               "\" names neither the PCK Processor CA nor the PCK Platform CA"));
    }
    Entry entry{std::make_shared<const dcap::Collateral>(*std::move(collateral)),
                tcb_info.value("nextUpdate", std::string()), path};
    auto [it, inserted] = source->index_.try_emplace(key, entry);
    if (!inserted && entry.next_update > it->second.next_update) {
      it->second = std::move(entry);
    }
  }
  return source;
}

absl::StatusOr<std::shared_ptr<const dcap::Collateral>> DirectoryCollateralSource::Get(
    const PlatformId& platform, absl::Time /*deadline*/) {
  auto it = index_.find(Key{platform.fmspc, platform.ca, platform.tee});
  if (it == index_.end()) {
    return absl::NotFoundError(absl::StrCat("no collateral in ", directory_, " for FMSPC ",
                                            FmspcHex(platform.fmspc), " (", TeeName(platform.tee),
                                            ", PCK ", PckCaName(platform.ca), " CA)"));
  }
  return it->second.collateral;
}

}  // namespace cn::pccs
