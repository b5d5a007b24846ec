#pragma once

// PcsClient: fetches collateral from Intel's Provisioning Certification Service or a caching
// service with the same v4 API (Intel's PCCS, Azure's THIM-backed caches), as a CollateralSource.
//
// What it asks for, relative to the base URL (`--pccs-url`; a trailing "/sgx/certification/v4",
// as Intel's QCNL configuration spells it, is accepted and dropped):
//   GET /sgx/certification/v4/pckcrl?ca=processor|platform&encoding=der
//         body: the PCK CRL (DER asked for; PEM or hex of DER accepted too);
//         header SGX-PCK-CRL-Issuer-Chain: URL-encoded PEM (optional: the verifier takes the
//         issuer from the quote's own PCK chain)
//   GET /sgx/certification/v4/tcb?fmspc=<12 hex>    (TDX: /tdx/certification/v4/tcb?fmspc=)
//         body: {"tcbInfo": {...}, "signature": "<hex r||s>"}
//         header TCB-Info-Issuer-Chain (v4), or SGX-TCB-Info-Issuer-Chain (v3 and some caches)
//   GET /sgx/certification/v4/qe/identity           (TDX: /tdx/certification/v4/qe/identity)
//         body: {"enclaveIdentity": {...}, "signature": "<hex>"}
//         header SGX-Enclave-Identity-Issuer-Chain (or Enclave-Identity-Issuer-Chain)
//   GET /sgx/certification/v4/rootcacrl
//         body: the root CA CRL, as hex of DER (PCCS) or DER (accepted either way, or PEM).
//         Intel's PCS itself has no such endpoint (PCCS fetches the CRL from the root
//         certificate's distribution point): on a 404 the client asks
//         Options::root_ca_crl_fallback_url, Intel's published location by default.
//
// The TCB Info and QE Identity signatures are over the exact bytes of the inner object as the
// service sent them, so the client cuts those bytes out of the body; it never re-serialises.
// Each answer is checked for shape (CRLs parse, the signed objects carry issueDate and
// nextUpdate: ValidityOf), so garbage is an error here and never reaches a cache; what the
// collateral says is left to the verifier.
//
// Errors of Get (the CollateralSource contract):
//   NotFound          the service answered 404 for the TCB Info (an FMSPC it does not know) or
//                     any other item;
//   DeadlineExceeded  the deadline (or the per-request timeout) ran out;
//   Unavailable       connection failures, any other non-200 status, a body over the size cap,
//                     or an answer that is not what the API documents; the message names the URL.
//
// Thread safety: Get and the Fetch* methods may be called from many threads at once.

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/http/http_client.h"
#include "src/os/clock.h"
#include "src/pccs/collateral_source.h"

namespace cn::pccs {

// One signed JSON item: the exact text of the inner object and its raw r||s signature.
struct SignedJson {
  std::string text;
  std::string signature;
};

// Cuts the value of top-level member `key` (an object) out of `body` byte for byte, and decodes
// the hex of the top-level "signature". InvalidArgument naming what is wrong when the body is
// not JSON, not an object, lacks either member, repeats `key` (which copy would the signature
// cover?), or the signature is not hex.
absl::StatusOr<SignedJson> ExtractSignedJson(absl::string_view body, absl::string_view key);

// A CRL body as DER: DER as is, a PEM "X509 CRL" block, or hex of DER (surrounding whitespace
// allowed), that parses as a CRL. InvalidArgument when it is none of these.
absl::StatusOr<std::string> CrlBodyToDer(absl::string_view body);

class PcsClient : public CollateralSource {
 public:
  struct Options {
    std::string base_url;
    // Bound on each request; the caller's deadline bounds them too.
    absl::Duration request_timeout = absl::Seconds(5);
    // Real answers are a few kilobytes (a TCB Info with many levels, a CRL of a few thousand
    // serials stays under 1 MiB).
    size_t max_body_bytes = 4 << 20;
    // Where the root CA CRL comes from when the service answers 404 for rootcacrl (Intel's PCS);
    // empty: no fallback. The CRL is signed by the root, so its source needs no trust.
    std::string root_ca_crl_fallback_url =
        "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";
  };

  // `http` and `clock` must outlive the client.
  PcsClient(Options options, const http::HttpClient* http, const os::Clock* clock);

  // Fetches the four items for `platform` within `deadline`: the TCB Info, then the other three
  // at once (on two short-lived threads).
  absl::StatusOr<std::shared_ptr<const dcap::Collateral>> Get(const PlatformId& platform,
                                                              absl::Time deadline) override;

  struct Crl {
    std::string der;
    std::string issuer_chain;  // PEM; empty when the service sent none
  };
  struct SignedItem {
    SignedJson json;
    std::string issuer_chain;  // PEM
  };
  absl::StatusOr<Crl> FetchPckCrl(PckCa ca, absl::Time deadline) const;
  absl::StatusOr<std::string> FetchRootCaCrl(absl::Time deadline) const;
  absl::StatusOr<SignedItem> FetchTcbInfo(Tee tee, const std::array<uint8_t, 6>& fmspc,
                                          absl::Time deadline) const;
  absl::StatusOr<SignedItem> FetchQeIdentity(Tee tee, absl::Time deadline) const;

  const std::string& base_url() const { return base_url_; }

 private:
  // GETs base_url_ + path; a 200 answer, or the error the header describes.
  absl::StatusOr<http::HttpResponse> Fetch(absl::string_view path, absl::Time deadline) const;
  absl::StatusOr<http::HttpResponse> FetchUrl(const std::string& url, absl::Time deadline) const;
  // A signed JSON item at `path` whose issuer chain comes in the first of `chain_headers`.
  absl::StatusOr<SignedItem> FetchSigned(absl::string_view path, absl::string_view key,
                                         std::initializer_list<absl::string_view> chain_headers,
                                         absl::Time deadline) const;
  // The first of `names` present in `response`, percent-decoded; "" when none is.
  absl::StatusOr<std::string> IssuerChain(const http::HttpResponse& response, absl::string_view url,
                                          std::initializer_list<absl::string_view> names) const;

  Options options_;
  std::string base_url_;
  const http::HttpClient* http_;
  const os::Clock* clock_;
};

}  // namespace cn::pccs
