#include "src/attestd/service.h"

#include <openssl/rand.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "src/attestd/json_writer.h"
#include "src/attestd/request.h"
#include "src/attestd/token.h"
#include "src/common/check.h"
#include "src/dcap/crypto.h"
#include "src/dcap/quote.h"
#include "src/dcap/tcb_info.h"

namespace cn::attestd {
namespace {

using OrderedJson = nlohmann::ordered_json;

// SGX attributes flags bit 1: DEBUG.
bool IsDebuggable(const dcap::ReportBody& report) { return (report.attributes[0] & 0x02) != 0; }

// What differs between MAA's SGX and TDX calls, besides the claims (TeeClaims).
struct TeeCall {
  absl::Span<const char* const> api_versions;
  absl::string_view name;       // "an SGX enclave quote"
  absl::string_view other_tee;  // where the other TEE's quotes go
};

const TeeCall& CallOf(dcap::Tee tee) {
  static const TeeCall sgx{kApiVersions, "an SGX enclave quote", "TDX quotes go to /attest/TdxVm"};
  static const TeeCall tdx{kTdxApiVersions, "a TDX quote", "SGX quotes go to /attest/SgxEnclave"};
  return tee == dcap::Tee::kSgx ? sgx : tdx;
}

// The 64 bytes of report data the quote signs (the enclave's or the TD's).
const std::array<uint8_t, 64>& ReportData(const dcap::Verdict& verdict) {
  return verdict.tee == dcap::Tee::kTdx ? verdict.td_report->report_data
                                        : verdict.report.report_data;
}

// The quote's own claims in MAA's names: what the policy sees and what every token carries.
// SGX: x-ms-sgx-*; TDX: MAA's TDX EAT profile (tdx_*, hex of the TD report's bytes as they stand).
std::vector<Claim> TeeClaims(const dcap::Verdict& verdict, const AttestRequest& request) {
  const std::string tcb_status(dcap::TcbStatusName(verdict.tcb_status));
  if (verdict.tee == dcap::Tee::kTdx) {
    const dcap::TdReportBody& td = *verdict.td_report;
    std::vector<Claim> claims = {
        {"x-ms-attestation-type", std::string("tdxvm")},
        {"tdx_mrtd", dcap::HexEncode(td.mr_td)},
    };
    for (size_t i = 0; i < td.rtmr.size(); ++i) {
      claims.push_back({absl::StrCat("tdx_rtmr", i), dcap::HexEncode(td.rtmr[i])});
    }
    // TEE_TCB_SVN[0] is the module's ISVSVN, [1] its major version: read as MAA's number, the
    // little-endian 16-bit SEAMSVN.
    const int64_t seam_svn = static_cast<int64_t>(td.tee_tcb_svn[1]) << 8 | td.tee_tcb_svn[0];
    std::vector<Claim> rest = {
        {"tdx_mrconfigid", dcap::HexEncode(td.mr_config_id)},
        {"tdx_mrowner", dcap::HexEncode(td.mr_owner)},
        {"tdx_mrownerconfig", dcap::HexEncode(td.mr_owner_config)},
        {"tdx_mrseam", dcap::HexEncode(td.mr_seam)},
        {"tdx_mrsignerseam", dcap::HexEncode(td.mr_signer_seam)},
        {"tdx_seamsvn", seam_svn},
        {"tdx_td_attributes", dcap::HexEncode(td.td_attributes)},
        {"tdx_xfam", dcap::HexEncode(td.xfam)},
        {"tdx_report_data", dcap::HexEncode(td.report_data)},
        {"tdx_is_debuggable", td.debug()},
        {"attester_tcb_status", tcb_status},
    };
    claims.insert(claims.end(), rest.begin(), rest.end());
    return claims;
  }
  const dcap::ReportBody& report = verdict.report;
  std::vector<Claim> claims = {
      {"x-ms-attestation-type", std::string("sgx")},
      {"x-ms-sgx-is-debuggable", IsDebuggable(report)},
      {"x-ms-sgx-mrenclave", dcap::HexEncode(report.mr_enclave)},
      {"x-ms-sgx-mrsigner", dcap::HexEncode(report.mr_signer)},
      {"x-ms-sgx-product-id", static_cast<int64_t>(report.isv_prod_id)},
      {"x-ms-sgx-svn", static_cast<int64_t>(report.isv_svn)},
      {"x-ms-sgx-report-data", dcap::HexEncode(report.report_data)},
      {"x-ms-sgx-fmspc", dcap::HexEncode(verdict.pck.fmspc)},
      {"x-ms-sgx-pceid", dcap::HexEncode(verdict.pck.pce_id)},
      {"attester_tcb_status", tcb_status},
  };
  if (request.runtime_data.has_value()) {
    claims.push_back({"x-ms-sgx-ehd", EncodeBase64Url(request.runtime_data->data)});
  }
  return claims;
}

void WriteClaim(JsonWriter& writer, const ClaimValue& value) {
  if (const bool* b = std::get_if<bool>(&value)) {
    writer.Bool(*b);
  } else if (const int64_t* i = std::get_if<int64_t>(&value)) {
    writer.Int(*i);
  } else {
    writer.String(std::get<std::string>(value));
  }
}

std::string HexSha256(absl::string_view bytes) { return dcap::HexEncode(dcap::Sha256(bytes)); }

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  CN_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) == 1);
  return dcap::HexEncode(raw);
}

// Rejections that the verifier reaches before it looks at collateral (steps 1-5 of verifier.h):
// the same verdict as sgx-quote's for a quote whose platform cannot even be looked up.
bool IsQuoteOnlyRejection(dcap::ErrorCode code) {
  switch (code) {
    case dcap::ErrorCode::kUnsupportedQuoteFormat:
    case dcap::ErrorCode::kInvalidQuoteSignature:
    case dcap::ErrorCode::kQeReportDataMismatch:
    case dcap::ErrorCode::kInvalidQeReportSignature:
    case dcap::ErrorCode::kUntrustedPckChain:
      return true;
    default:
      return false;
  }
}

const std::vector<std::string>& ClaimsSupported() {
  static const auto* claims = new std::vector<std::string>{
      "iss",
      "iat",
      "nbf",
      "exp",
      "jti",
      "nonce",
      "x-ms-ver",
      "x-ms-attestation-type",
      "x-ms-policy-hash",
      "x-ms-sgx-is-debuggable",
      "x-ms-sgx-mrenclave",
      "x-ms-sgx-mrsigner",
      "x-ms-sgx-product-id",
      "x-ms-sgx-svn",
      "x-ms-sgx-report-data",
      "x-ms-sgx-ehd",
      "x-ms-runtime",
      "x-ms-inittime",
      "x-ms-sgx-collateral",
      "x-ms-sgx-fmspc",
      "x-ms-sgx-pceid",
      "attester_tcb_status",
      "attester_advisory_ids",
      "tdx_mrtd",
      "tdx_rtmr0",
      "tdx_rtmr1",
      "tdx_rtmr2",
      "tdx_rtmr3",
      "tdx_mrconfigid",
      "tdx_mrowner",
      "tdx_mrownerconfig",
      "tdx_mrseam",
      "tdx_mrsignerseam",
      "tdx_seamsvn",
      "tdx_td_attributes",
      "tdx_xfam",
      "tdx_report_data",
      "tdx_is_debuggable",
  };
  return *claims;
}

}  // namespace

AttestationService::AttestationService(ServiceOptions options, std::vector<SigningKey> keys,
                                       const dcap::Verifier& verifier,
                                       pccs::CollateralSource& collateral, const os::Clock& clock,
                                       std::shared_ptr<const Policy> policy,
                                       prometheus::Registry& registry)
    : options_(std::move(options)),
      keys_(std::move(keys)),
      verifier_(verifier),
      collateral_(collateral),
      clock_(clock),
      policy_(std::move(policy)) {
  CN_CHECK(!keys_.empty());
  OrderedJson jwks = {{"keys", OrderedJson::array()}};
  std::vector<std::string> algs;
  for (const SigningKey& key : keys_) {
    jwks["keys"].push_back(key.jwk());
    if (std::find(algs.begin(), algs.end(), key.alg()) == algs.end()) {
      algs.push_back(key.alg());
    }
  }
  certs_body_ = jwks.dump();
  OrderedJson openid = {{"issuer", options_.issuer},
                        {"jwks_uri", absl::StrCat(options_.issuer, "/certs")},
                        {"id_token_signing_alg_values_supported", algs},
                        {"response_types_supported", {"token"}},
                        {"claims_supported", ClaimsSupported()}};
  openid_body_ = openid.dump();

  attestations_ = &prometheus::BuildCounter()
                       .Name("cn_attestd_attestations_total")
                       .Help(
                           "Attestation requests by result (issued or refused), error code and "
                           "TCB status")
                       .Register(registry);
  attestation_counts_.emplace(*attestations_,
                              std::vector<std::string>{"result", "code", "tcb_status"});
  signed_header_ = OrderedJson{
      {"alg", keys_.front().alg()},
      {"jku", absl::StrCat(options_.issuer, "/certs")},
      {"kid", keys_.front().kid()},
      {"typ", "JWT"}}.dump();
  unsigned_header_ = OrderedJson{{"alg", "none"}, {"typ", "JWT"}}.dump();
  collateral_latency_ = &prometheus::BuildHistogram()
                             .Name("cn_attestd_collateral_fetch_seconds")
                             .Help("Time to get a quote's collateral from the collateral source")
                             .Register(registry)
                             .Add({}, prometheus::Histogram::BucketBoundaries{
                                          0.0001, 0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10});
  collateral_failures_ = &prometheus::BuildCounter()
                              .Name("cn_attestd_collateral_failures_total")
                              .Help("Collateral lookups that failed, by reason")
                              .Register(registry);
  policy_reloads_ = &prometheus::BuildCounter()
                         .Name("cn_attestd_policy_updates_total")
                         .Help("Policies installed after start (reloads)")
                         .Register(registry)
                         .Add({});
}

absl::Status AttestationService::Ready() const {
  // Keys and the trust anchor are loaded before the service exists; the policy too.
  return policy() == nullptr ? absl::UnavailableError("no policy") : absl::OkStatus();
}

void AttestationService::SetPolicy(std::shared_ptr<const Policy> policy) {
  absl::MutexLock lock(&mu_);
  policy_ = std::move(policy);
  policy_reloads_->Increment();
}

std::shared_ptr<const Policy> AttestationService::policy() const {
  absl::MutexLock lock(&mu_);
  return policy_;
}

http::Response AttestationService::Certs() const {
  return http::Response{
      .status = 200, .content_type = "application/json", .body = certs_body_, .headers = {}};
}

http::Response AttestationService::OpenIdConfiguration() const {
  return http::Response{
      .status = 200, .content_type = "application/json", .body = openid_body_, .headers = {}};
}

http::Response AttestationService::Refuse(int status, absl::string_view code,
                                          absl::string_view message,
                                          absl::string_view tcb_status) const {
  attestation_counts_->Get({"refused", code, tcb_status.empty() ? "none" : tcb_status}).Increment();
  return http::ErrorResponse(status, code, message);
}

std::shared_ptr<const AttestationService::CollateralHashes> AttestationService::HashesOf(
    const std::shared_ptr<const dcap::Collateral>& collateral) const {
  // Keyed by the object's address; the entry holds the object, so the address cannot be reused
  // by another collateral while the entry exists, and a hit is checked against it.
  const std::string address = absl::StrCat(reinterpret_cast<uintptr_t>(collateral.get()));
  if (std::shared_ptr<const CollateralHashes> cached = collateral_hashes_.Find(address);
      cached != nullptr && cached->collateral == collateral) {
    return cached;
  }
  const dcap::CollateralParts& parts = collateral->parts();
  auto hashes = std::make_shared<CollateralHashes>(
      CollateralHashes{.collateral = collateral,
                       .qe_identity = HexSha256(parts.qe_identity),
                       .qe_identity_issuer_chain = HexSha256(parts.qe_identity_issuer_chain),
                       .tcb_info = HexSha256(parts.tcb_info),
                       .tcb_info_issuer_chain = HexSha256(parts.tcb_info_issuer_chain),
                       .root_ca_crl = HexSha256(parts.root_ca_crl)});
  std::shared_ptr<const CollateralHashes> stored = collateral_hashes_.Insert(address, hashes);
  return stored->collateral == collateral ? stored : hashes;
}

http::Response AttestationService::Attest(const http::Request& request) const {
  return Attest(request, dcap::Tee::kSgx);
}

http::Response AttestationService::AttestTdxVm(const http::Request& request) const {
  return Attest(request, dcap::Tee::kTdx);
}

http::Response AttestationService::Attest(const http::Request& http_request, dcap::Tee tee) const {
  const TeeCall& call = CallOf(tee);
  const std::string* version = http_request.Param("api-version");
  const std::string supported = absl::StrJoin(call.api_versions, ", ");
  const char* supported_are = call.api_versions.size() == 1 ? "supported is " : "supported are ";
  if (version == nullptr) {
    return Refuse(400, "unsupported_api_version",
                  absl::StrCat("api-version: missing; ", supported_are, supported));
  }
  if (std::find(call.api_versions.begin(), call.api_versions.end(), *version) ==
      call.api_versions.end()) {
    return Refuse(400, "unsupported_api_version",
                  absl::StrCat("api-version: \"", *version, "\" is not supported; ", supported_are,
                               supported));
  }
  absl::StatusOr<AttestRequest> parsed = ParseAttestRequest(http_request.body);
  if (!parsed.ok()) {
    return Refuse(400, "invalid_request", parsed.status().message());
  }
  const AttestRequest& request = *parsed;

  // A draft policy is parsed before anything costly, so its errors come first.
  std::shared_ptr<const Policy> policy;
  if (request.draft_policy.has_value()) {
    absl::StatusOr<Policy> draft = Policy::Parse(*request.draft_policy);
    if (!draft.ok()) {
      return Refuse(400, "invalid_policy",
                    absl::StrCat("draftPolicyForAttestation: ", draft.status().message()));
    }
    policy = std::make_shared<const Policy>(*std::move(draft));
  } else {
    policy = this->policy();
  }

  const absl::Time now = clock_.Now();
  dcap::VerifyOptions verify_options;
  verify_options.at = now;
  absl::StatusOr<dcap::Quote> quote = dcap::ParseQuote(request.quote);
  if (!quote.ok()) {
    return Refuse(400, "unsupported_quote_format",
                  absl::StrCat("quote: ", quote.status().message()));
  }
  const bool quote_is_tdx = quote->td_report.has_value();
  if (quote_is_tdx != (tee == dcap::Tee::kTdx)) {
    return Refuse(400, "unsupported_quote_format",
                  absl::StrCat("quote: not ", call.name, " (", call.other_tee, ")"));
  }

  // When the quote's platform cannot be read or no collateral is known for it, the checks that
  // need no collateral still decide first, so a forged quote always gets its own code.
  auto quote_only_rejection = [&]() -> std::optional<dcap::Rejection> {
    const dcap::VerificationResult result =
        verifier_.Verify(request.quote, dcap::Collateral::FromParts({}), verify_options);
    if (!result.verified() && IsQuoteOnlyRejection(result.rejection().code)) {
      return result.rejection();
    }
    return std::nullopt;
  };
  const dcap::Sha256Digest chain_digest = dcap::Sha256(quote->certification_data);
  // One platform's PCK certificate serves its SGX and its TDX quotes, whose collateral differs:
  // the TEE is part of the key.
  const std::string chain_key =
      absl::StrCat(dcap::AsView(chain_digest), quote_is_tdx ? "tdx" : "sgx");
  absl::StatusOr<pccs::PlatformId> platform;
  if (std::shared_ptr<const pccs::PlatformId> cached = platforms_.Find(chain_key)) {
    platform = *cached;
  } else {
    // A platform not seen before names its FMSPC in a PCK certificate nobody has checked yet.
    // The chain must lead to the trust anchor before that FMSPC is looked up: otherwise every
    // forged quote with a made-up FMSPC would cost a request to the PCCS (and a slot in the 404
    // memory). The chain's verdict is cached by the verifier, so the full verification below
    // does not check it again.
    if (auto rejection = quote_only_rejection()) {
      return Refuse(400, dcap::ErrorCodeName(rejection->code), rejection->message);
    }
    platform = pccs::PlatformIdOfQuote(request.quote);
    if (platform.ok()) {
      platforms_.Insert(chain_key, std::make_shared<const pccs::PlatformId>(*platform));
    }
  }
  if (!platform.ok()) {
    if (auto rejection = quote_only_rejection()) {
      return Refuse(400, dcap::ErrorCodeName(rejection->code), rejection->message);
    }
    return Refuse(400, "untrusted_pck_chain", platform.status().message());
  }
  const absl::Time fetch_start = absl::Now();
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> collateral =
      collateral_.Get(*platform, now + options_.upstream_timeout);
  collateral_latency_->Observe(absl::ToDoubleSeconds(absl::Now() - fetch_start));
  if (!collateral.ok()) {
    collateral_failures_->Add({{"reason", absl::StatusCodeToString(collateral.status().code())}})
        .Increment();
    if (auto rejection = quote_only_rejection()) {
      return Refuse(400, dcap::ErrorCodeName(rejection->code), rejection->message);
    }
    // Unknown platform: the client's problem; no answer in time: ours.
    const int status = collateral.status().code() == absl::StatusCode::kNotFound ? 400 : 503;
    return Refuse(status, "collateral_unavailable", collateral.status().message());
  }

  const dcap::VerificationResult result =
      verifier_.Verify(request.quote, **collateral, verify_options);
  if (!result.verified()) {
    return Refuse(400, dcap::ErrorCodeName(result.rejection().code), result.rejection().message);
  }
  const dcap::Verdict& verdict = result.verdict();
  const std::array<uint8_t, 64>& report_data = ReportData(verdict);
  const std::string tcb_status(dcap::TcbStatusName(verdict.tcb_status));

  if (request.runtime_data.has_value()) {
    const dcap::Sha256Digest digest = dcap::Sha256(request.runtime_data->data);
    if (!std::equal(digest.begin(), digest.end(), report_data.begin())) {
      return Refuse(400, "runtime_data_mismatch",
                    absl::StrCat("runtimeData.data: its SHA-256 ", dcap::HexEncode(digest),
                                 " is not the quote's report_data[0:32] ",
                                 dcap::HexEncode(absl::string_view(
                                     reinterpret_cast<const char*>(report_data.data()), 32))),
                    tcb_status);
    }
  }

  const std::vector<Claim> incoming = TeeClaims(verdict, request);
  const PolicyDecision decision = policy->Evaluate(incoming);
  if (!decision.permitted) {
    return Refuse(403, "policy_denied", absl::StrCat("policy: ", decision.reason), tcb_status);
  }

  const SigningKey* key = request.draft_policy.has_value() ? nullptr : &keys_.front();
  const int64_t iat = absl::ToUnixSeconds(now);
  // The claims in their fixed order (docs/attestd.md); the service's own names first, so
  // policy-issued claims cannot replace them.
  JsonWriter payload(2048);
  std::vector<absl::string_view> own = {
      "iss", "iat", "nbf", "exp", "jti", "x-ms-ver", "x-ms-policy-hash", "attester_advisory_ids"};
  payload.BeginObject()
      .Key("iss")
      .String(options_.issuer)
      .Key("iat")
      .Int(iat)
      .Key("nbf")
      .Int(iat)
      .Key("exp")
      .Int(absl::ToUnixSeconds(now + options_.token_lifetime))
      .Key("jti")
      .String(RandomHex(32));
  if (request.nonce.has_value()) {
    payload.Key("nonce").String(*request.nonce);
    own.push_back("nonce");
  }
  payload.Key("x-ms-ver").String("1.0").Key("x-ms-policy-hash").String(PolicyHash(policy->text()));
  for (const Claim& claim : incoming) {
    WriteClaim(payload.Key(claim.type), claim.value);
    own.push_back(claim.type);
  }
  // JSON runtime data is embedded as nlohmann reads it (ParseAttestRequest checked it with the
  // same parser).
  if (request.runtime_data.has_value() && request.runtime_data->is_json) {
    payload.Key("x-ms-runtime").Raw(OrderedJson::parse(request.runtime_data->data).dump());
    own.push_back("x-ms-runtime");
  }
  if (request.init_time_data.has_value() && request.init_time_data->is_json) {
    payload.Key("x-ms-inittime").Raw(OrderedJson::parse(request.init_time_data->data).dump());
    own.push_back("x-ms-inittime");
  }
  if (tee == dcap::Tee::kSgx) {  // MAA's TDX token has no collateral claim
    const std::shared_ptr<const CollateralHashes> hashes = HashesOf(*collateral);
    own.push_back("x-ms-sgx-collateral");
    payload.Key("x-ms-sgx-collateral")
        .BeginObject()
        .Key("qeidcertshash")
        .String(hashes->qe_identity_issuer_chain)
        .Key("qeidcrlhash")
        .String(hashes->root_ca_crl)
        .Key("qeidhash")
        .String(hashes->qe_identity)
        .Key("quotehash")
        .String(HexSha256(request.quote))
        .Key("tcbinfocertshash")
        .String(hashes->tcb_info_issuer_chain)
        .Key("tcbinfocrlhash")
        .String(hashes->root_ca_crl)
        .Key("tcbinfohash")
        .String(hashes->tcb_info)
        .EndObject();
  }
  payload.Key("attester_advisory_ids").BeginArray();
  for (const std::string& id : verdict.advisory_ids) {
    payload.String(id);
  }
  payload.EndArray();
  // issue()d claims: the service's own claims cannot be replaced; a type issued twice becomes an
  // array of its values in the order issued, at the place of its first issue (as in MAA).
  std::vector<std::pair<absl::string_view, std::vector<const ClaimValue*>>> issued;
  for (const Claim& claim : decision.issued) {
    if (std::find(own.begin(), own.end(), claim.type) != own.end()) {
      continue;
    }
    auto same = std::find_if(issued.begin(), issued.end(),
                             [&](const auto& entry) { return entry.first == claim.type; });
    if (same == issued.end()) {
      issued.push_back({claim.type, {&claim.value}});
    } else {
      same->second.push_back(&claim.value);
    }
  }
  for (const auto& [type, values] : issued) {
    payload.Key(type);
    if (values.size() == 1) {
      WriteClaim(payload, *values.front());
      continue;
    }
    payload.BeginArray();
    for (const ClaimValue* value : values) {
      WriteClaim(payload, *value);
    }
    payload.EndArray();
  }
  payload.EndObject();
  absl::StatusOr<std::string> payload_json = std::move(payload).Finish();
  if (!payload_json.ok()) {  // a policy issued a claim that is not UTF-8: refused, not signed
    return Refuse(500, "internal", absl::StrCat("token: ", payload_json.status().message()),
                  tcb_status);
  }
  attestation_counts_->Get({"issued", "none", tcb_status}).Increment();
  const std::string token =
      EncodeJwsOfText(key == nullptr ? unsigned_header_ : signed_header_, *payload_json, key);
  return http::Response{.status = 200,
                        .content_type = "application/json",
                        .body = absl::StrCat("{\"token\":\"", token, "\"}"),
                        .headers = {}};
}

}  // namespace cn::attestd
