#include "src/pccs/collateral_source.h"

#include <openssl/objects.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/dcap/crypto.h"
#include "src/dcap/pck_extension.h"
#include "src/dcap/quote.h"

namespace cn::pccs {
namespace {

// The issuer's common name, or "" when it has none.
std::string IssuerCommonName(X509* cert) {
  const X509_NAME* issuer = X509_get_issuer_name(cert);
  const int index = X509_NAME_get_index_by_NID(issuer, NID_commonName, -1);
  if (index < 0) {
    return "";
  }
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(issuer, index));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<size_t>(ASN1_STRING_length(data)));
}

}  // namespace

absl::string_view PckCaName(PckCa ca) { return ca == PckCa::kProcessor ? "processor" : "platform"; }

absl::string_view TeeName(Tee tee) { return tee == Tee::kSgx ? "sgx" : "tdx"; }

absl::StatusOr<PlatformId> PlatformIdOfQuote(absl::string_view quote_bytes,
                                             absl::string_view pck_chain_pem) {
  ASSIGN_OR_RETURN(const dcap::Quote quote, dcap::ParseQuote(quote_bytes));
  PlatformId platform;
  platform.tee = quote.header.tee_type == dcap::kTeeTypeTdx ? Tee::kTdx : Tee::kSgx;

  absl::string_view chain = pck_chain_pem;
  if (chain.empty()) {
    if (quote.certification_data_type != dcap::kCertificationDataPckChain) {
      return absl::InvalidArgumentError(
          absl::StrCat("quote certification data is type ", quote.certification_data_type,
                       ", which holds no PCK certificate chain; give the chain separately"));
    }
    chain = quote.certification_data;
  }
  ASSIGN_OR_RETURN(std::vector<dcap::X509Ptr> certs,
                   dcap::ParsePemCertificates(chain, "PCK certificate chain"));
  if (certs.empty()) {
    return absl::InvalidArgumentError("PCK certificate chain: no certificate");
  }
  X509* leaf = certs[0].get();
  absl::StatusOr<dcap::PckExtension> extension = dcap::PckExtensionOf(leaf);
  if (!extension.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("PCK certificate: SGX extension: ", extension.status().message()));
  }
  platform.fmspc = extension->fmspc;

  // Intel names its two PCK CAs "Intel SGX PCK Processor CA" and "Intel SGX PCK Platform CA";
  // test roots use other prefixes, so the suffix decides.
  const std::string issuer = IssuerCommonName(leaf);
  if (absl::EndsWith(issuer, "PCK Processor CA")) {
    platform.ca = PckCa::kProcessor;
  } else if (absl::EndsWith(issuer, "PCK Platform CA")) {
    platform.ca = PckCa::kPlatform;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("PCK certificate: issuer common name \"", issuer,
                     "\" names neither the PCK Processor CA nor the PCK Platform CA"));
  }
  return platform;
}

}  // namespace cn::pccs
