#include "src/pccs/pcs_client.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <future>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "src/common/status_macros.h"
#include "src/dcap/crypto.h"
#include "src/pccs/collateral_validity.h"

namespace cn::pccs {
namespace {

using Json = nlohmann::json;

// A scanner over JSON text that nlohmann has already accepted, so every construct is well
// formed here; it only finds where values start and end. nlohmann keeps no source positions,
// and the signature covers the service's exact bytes, which is why this exists.
class JsonSpans {
 public:
  explicit JsonSpans(absl::string_view text) : text_(text) {}

  size_t SkipSpace(size_t i) const {
    while (i < text_.size() &&
           (text_[i] == ' ' || text_[i] == '\t' || text_[i] == '\n' || text_[i] == '\r')) {
      ++i;
    }
    return i;
  }
  // `i` at the opening quote; returns the index after the closing quote.
  size_t SkipString(size_t i) const {
    for (++i; i < text_.size(); ++i) {
      if (text_[i] == '\\') {
        ++i;
      } else if (text_[i] == '"') {
        return i + 1;
      }
    }
    return text_.size();
  }
  // `i` at the first character of a value; returns the index after it.
  size_t SkipValue(size_t i) const {
    if (i >= text_.size()) {
      return i;
    }
    if (text_[i] == '"') {
      return SkipString(i);
    }
    if (text_[i] == '{' || text_[i] == '[') {
      int depth = 0;
      while (i < text_.size()) {
        const char c = text_[i];
        if (c == '"') {
          i = SkipString(i);
          continue;
        }
        if (c == '{' || c == '[') {
          ++depth;
        } else if (c == '}' || c == ']') {
          if (--depth == 0) {
            return i + 1;
          }
        }
        ++i;
      }
      return i;
    }
    while (i < text_.size() && text_[i] != ',' && text_[i] != '}' && text_[i] != ']' &&
           text_[i] != ' ' && text_[i] != '\t' && text_[i] != '\n' && text_[i] != '\r') {
      ++i;
    }
    return i;
  }

 private:
  absl::string_view text_;
};

std::string TrimmedBaseUrl(absl::string_view url) {
  absl::string_view base = url;
  while (absl::ConsumeSuffix(&base, "/")) {
  }
  absl::ConsumeSuffix(&base, "/sgx/certification/v4");
  while (absl::ConsumeSuffix(&base, "/")) {
  }
  return std::string(base);
}

absl::string_view TeePath(Tee tee) { return tee == Tee::kTdx ? "/tdx" : "/sgx"; }

}  // namespace

absl::StatusOr<SignedJson> ExtractSignedJson(absl::string_view body, absl::string_view key) {
  const Json parsed = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InvalidArgumentError("the body is not JSON");
  }
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError("the body is not a JSON object");
  }
  auto inner = parsed.find(std::string(key));
  if (inner == parsed.end() || !inner->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("the body has no \"", key, "\" object"));
  }
  auto signature = parsed.find("signature");
  if (signature == parsed.end() || !signature->is_string()) {
    return absl::InvalidArgumentError("the body has no \"signature\" string");
  }
  SignedJson result;
  absl::StatusOr<std::string> signature_bytes = dcap::HexDecode(signature->get<std::string>());
  if (!signature_bytes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"signature\" is not hex: ", signature_bytes.status().message()));
  }
  result.signature = *std::move(signature_bytes);

  // Walk the top-level members to find the raw bytes of `key`'s value.
  const JsonSpans spans(body);
  size_t i = spans.SkipSpace(0);
  if (i >= body.size() || body[i] != '{') {
    // nlohmann skips a byte order mark that this scan does not; such a body is refused.
    return absl::InvalidArgumentError("the body does not start with a JSON object");
  }
  ++i;
  int found = 0;
  while (true) {
    i = spans.SkipSpace(i);
    if (i >= body.size() || body[i] == '}') {
      break;
    }
    const size_t key_start = i;
    i = spans.SkipString(i);
    const Json name = Json::parse(body.substr(key_start, i - key_start), nullptr, false);
    i = spans.SkipSpace(i) + 1;  // ':'
    const size_t value_start = spans.SkipSpace(i);
    i = spans.SkipValue(value_start);
    if (name.is_string() && name.get<std::string>() == key) {
      result.text = std::string(body.substr(value_start, i - value_start));
      ++found;
    }
    i = spans.SkipSpace(i);
    if (i < body.size() && body[i] == ',') {
      ++i;
    }
  }
  if (found != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the body has \"", key, "\" ", found, " times; the signed text is ambiguous"));
  }
  return result;
}

namespace {

absl::StatusOr<std::string> CrlBodyBytes(absl::string_view body) {
  if (!body.empty() && static_cast<unsigned char>(body[0]) == 0x30) {
    return std::string(body);  // DER: a SEQUENCE
  }
  const absl::string_view text = absl::StripAsciiWhitespace(body);
  if (absl::StartsWith(text, "-----BEGIN X509 CRL-----")) {
    BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
    X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (crl == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("a PEM CRL that does not parse: ", dcap::TakeOpenSslErrors()));
    }
    unsigned char* der = nullptr;
    const int length = i2d_X509_CRL(crl, &der);
    X509_CRL_free(crl);
    if (length <= 0) {
      return absl::InvalidArgumentError("a PEM CRL that cannot be encoded as DER");
    }
    std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
    OPENSSL_free(der);
    return out;
  }
  absl::StatusOr<std::string> decoded = dcap::HexDecode(text);
  if (!decoded.ok() || decoded->empty()) {
    return absl::InvalidArgumentError("a CRL that is neither DER, PEM nor hex of DER");
  }
  return decoded;
}

}  // namespace

absl::StatusOr<std::string> CrlBodyToDer(absl::string_view body) {
  ASSIGN_OR_RETURN(std::string der, CrlBodyBytes(body));
  // The whole CRL must be there: a truncated answer can still be hex or start like DER.
  absl::Status parsed = dcap::ParseDerCrl(der, "CRL").status();
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(parsed.message());
  }
  return der;
}

PcsClient::PcsClient(Options options, const http::HttpClient* http, const os::Clock* clock)
    : options_(std::move(options)),
      base_url_(TrimmedBaseUrl(options_.base_url)),
      http_(http),
      clock_(clock) {}

absl::StatusOr<http::HttpResponse> PcsClient::Fetch(absl::string_view path,
                                                    absl::Time deadline) const {
  return FetchUrl(absl::StrCat(base_url_, path), deadline);
}

absl::StatusOr<http::HttpResponse> PcsClient::FetchUrl(const std::string& url,
                                                       absl::Time deadline) const {
  absl::StatusOr<http::HttpResponse> response =
      http_->Get(url, {.timeout = options_.request_timeout,
                       .deadline = deadline,
                       .max_body_bytes = options_.max_body_bytes});
  if (!response.ok()) {
    if (response.status().code() == absl::StatusCode::kDeadlineExceeded) {
      return absl::DeadlineExceededError(absl::StrCat("PCCS: ", response.status().message()));
    }
    return absl::UnavailableError(absl::StrCat("PCCS: ", response.status().message()));
  }
  if (response->status == 200) {
    return response;
  }
  // PCS explains refusals in Error-Code / Error-Message headers.
  std::string detail;
  if (const std::string* code = response->Header("Error-Code")) {
    absl::StrAppend(&detail, " ", *code);
  }
  if (const std::string* message = response->Header("Error-Message")) {
    absl::StrAppend(&detail, ": ", *message);
  }
  const std::string message =
      absl::StrCat("PCCS: GET ", url, " answered HTTP ", response->status, detail);
  if (response->status == 404) {
    return absl::NotFoundError(message);
  }
  return absl::UnavailableError(message);
}

absl::StatusOr<std::string> PcsClient::IssuerChain(
    const http::HttpResponse& response, absl::string_view url,
    std::initializer_list<absl::string_view> names) const {
  for (absl::string_view name : names) {
    if (const std::string* value = response.Header(name)) {
      absl::StatusOr<std::string> pem = http::PercentDecode(*value);
      if (!pem.ok()) {
        return absl::UnavailableError(
            absl::StrCat("PCCS: GET ", url, ": header ", name, ": ", pem.status().message()));
      }
      if (!dcap::ParsePemCertificates(*pem, name).ok()) {
        return absl::UnavailableError(
            absl::StrCat("PCCS: GET ", url, ": header ", name, " holds no PEM certificate"));
      }
      return pem;
    }
  }
  return std::string();
}

absl::StatusOr<PcsClient::Crl> PcsClient::FetchPckCrl(PckCa ca, absl::Time deadline) const {
  const std::string path =
      absl::StrCat("/sgx/certification/v4/pckcrl?ca=", PckCaName(ca), "&encoding=der");
  ASSIGN_OR_RETURN(http::HttpResponse response, Fetch(path, deadline));
  Crl crl;
  absl::StatusOr<std::string> der = CrlBodyToDer(response.body);
  if (!der.ok()) {
    return absl::UnavailableError(
        absl::StrCat("PCCS: GET ", base_url_, path, ": ", der.status().message()));
  }
  crl.der = *std::move(der);
  ASSIGN_OR_RETURN(crl.issuer_chain, IssuerChain(response, absl::StrCat(base_url_, path),
                                                 {"SGX-PCK-CRL-Issuer-Chain"}));
  return crl;
}

absl::StatusOr<std::string> PcsClient::FetchRootCaCrl(absl::Time deadline) const {
  const std::string path = "/sgx/certification/v4/rootcacrl";
  std::string url = absl::StrCat(base_url_, path);
  absl::StatusOr<http::HttpResponse> response = Fetch(path, deadline);
  if (response.status().code() == absl::StatusCode::kNotFound &&
      !options_.root_ca_crl_fallback_url.empty()) {
    url = options_.root_ca_crl_fallback_url;
    response = FetchUrl(url, deadline);
  }
  if (!response.ok()) {
    return response.status();
  }
  absl::StatusOr<std::string> der = CrlBodyToDer(response->body);
  if (!der.ok()) {
    return absl::UnavailableError(absl::StrCat("PCCS: GET ", url, ": ", der.status().message()));
  }
  return der;
}

absl::StatusOr<PcsClient::SignedItem> PcsClient::FetchSigned(
    absl::string_view path, absl::string_view key,
    std::initializer_list<absl::string_view> chain_headers, absl::Time deadline) const {
  const std::string url = absl::StrCat(base_url_, path);
  ASSIGN_OR_RETURN(http::HttpResponse response, Fetch(path, deadline));
  absl::StatusOr<SignedJson> json = ExtractSignedJson(response.body, key);
  if (!json.ok()) {
    return absl::UnavailableError(absl::StrCat("PCCS: GET ", url, ": ", json.status().message()));
  }
  SignedItem item{.json = *std::move(json), .issuer_chain = ""};
  ASSIGN_OR_RETURN(item.issuer_chain, IssuerChain(response, url, chain_headers));
  if (item.issuer_chain.empty()) {
    return absl::UnavailableError(
        absl::StrCat("PCCS: GET ", url, ": no ", *chain_headers.begin(), " header"));
  }
  return item;
}

absl::StatusOr<PcsClient::SignedItem> PcsClient::FetchTcbInfo(Tee tee,
                                                              const std::array<uint8_t, 6>& fmspc,
                                                              absl::Time deadline) const {
  return FetchSigned(
      absl::StrCat(TeePath(tee), "/certification/v4/tcb?fmspc=", dcap::HexEncode(fmspc)), "tcbInfo",
      {"TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"}, deadline);
}

absl::StatusOr<PcsClient::SignedItem> PcsClient::FetchQeIdentity(Tee tee,
                                                                 absl::Time deadline) const {
  return FetchSigned(absl::StrCat(TeePath(tee), "/certification/v4/qe/identity"), "enclaveIdentity",
                     {"SGX-Enclave-Identity-Issuer-Chain", "Enclave-Identity-Issuer-Chain"},
                     deadline);
}

absl::StatusOr<std::shared_ptr<const dcap::Collateral>> PcsClient::Get(const PlatformId& platform,
                                                                       absl::Time deadline) {
  // The TCB Info first: it is the platform-specific item, and a 404 for an unknown FMSPC should
  // cost one request. The other three then go out at once, so that a distant service costs two
  // round trips of the deadline rather than four.
  ASSIGN_OR_RETURN(SignedItem tcb_info, FetchTcbInfo(platform.tee, platform.fmspc, deadline));
  std::future<absl::StatusOr<SignedItem>> qe_identity_future =
      std::async(std::launch::async, [&] { return FetchQeIdentity(platform.tee, deadline); });
  std::future<absl::StatusOr<Crl>> pck_crl_future =
      std::async(std::launch::async, [&] { return FetchPckCrl(platform.ca, deadline); });
  absl::StatusOr<std::string> root_ca_crl_result = FetchRootCaCrl(deadline);
  absl::StatusOr<SignedItem> qe_identity_result = qe_identity_future.get();
  absl::StatusOr<Crl> pck_crl_result = pck_crl_future.get();
  ASSIGN_OR_RETURN(SignedItem qe_identity, std::move(qe_identity_result));
  ASSIGN_OR_RETURN(Crl pck_crl, std::move(pck_crl_result));
  ASSIGN_OR_RETURN(std::string root_ca_crl, std::move(root_ca_crl_result));

  dcap::CollateralParts parts;
  parts.pck_crl_issuer_chain = std::move(pck_crl.issuer_chain);
  parts.root_ca_crl = std::move(root_ca_crl);
  parts.pck_crl = std::move(pck_crl.der);
  parts.tcb_info_issuer_chain = std::move(tcb_info.issuer_chain);
  parts.tcb_info = std::move(tcb_info.json.text);
  parts.tcb_info_signature = std::move(tcb_info.json.signature);
  parts.qe_identity_issuer_chain = std::move(qe_identity.issuer_chain);
  parts.qe_identity = std::move(qe_identity.json.text);
  parts.qe_identity_signature = std::move(qe_identity.json.signature);
  auto collateral =
      std::make_shared<const dcap::Collateral>(dcap::Collateral::FromParts(std::move(parts)));
  // Dates that do not parse mean the answers are not collateral: refuse them here, before a
  // cache could keep them.
  absl::Status dated = ValidityOf(*collateral).status();
  if (!dated.ok()) {
    return absl::UnavailableError(
        absl::StrCat("PCCS ", base_url_, ": the collateral is malformed: ", dated.message()));
  }
  return collateral;
}

}  // namespace cn::pccs
