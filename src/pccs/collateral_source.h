#pragma once

// CollateralSource: where a verifier's caller gets the Intel collateral (PCK CRL, root CA CRL,
// TCB Info, QE Identity and their issuer chains) for the platform a quote comes from.
//
// Implementations: a PCS/PCCS v4 client with an on-disk cache (--pccs-url, --cache), an offline
// directory of collateral files (--collateral-dir), and fakes in tests. sgx-attestd and
// `sgx-quote verify --pccs-url` use the same ones, so nobody assembles collateral by hand.
//
// What a source promises: the collateral it returns is the freshest it has for that platform,
// unverified (the verifier checks every signature, chain, CRL and validity window at
// attestation time, and maps each problem to its rejection code). A source never judges a
// quote; it may return collateral that has expired, and the caller reports collateral_expired.

#include <array>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/dcap/collateral.h"

namespace cn::pccs {

// The CA that issued a PCK certificate, which decides which PCK CRL applies (PCS `ca=`).
enum class PckCa { kProcessor, kPlatform };
// "processor" / "platform": the PCS query parameter's spelling.
absl::string_view PckCaName(PckCa ca);

// The TEE a quote comes from: TDX platforms have their own TCB Info and QE Identity.
enum class Tee { kSgx, kTdx };
absl::string_view TeeName(Tee tee);  // "sgx" / "tdx"

// What collateral is keyed by: the platform's FMSPC (from the PCK certificate's SGX extension),
// the PCK issuer CA, and the TEE.
struct PlatformId {
  std::array<uint8_t, 6> fmspc{};
  PckCa ca = PckCa::kProcessor;
  Tee tee = Tee::kSgx;

  friend bool operator==(const PlatformId&, const PlatformId&) = default;
};

// Reads the PlatformId of a quote, from its PCK certificate: the quote's own certification data
// (type 5, directly in v3 or inside the type 6 wrapper of v4), or `pck_chain_pem` (leaf first)
// when it is not empty. Nothing is verified here: the result only selects collateral, and the
// verifier then checks that the PCK certificate chains to the trust anchor and that its FMSPC
// matches the TCB Info. InvalidArgument naming what is wrong when the quote does not parse, holds
// no PCK chain, or the leaf has no well-formed SGX extension or an issuer that is neither PCK CA.
absl::StatusOr<PlatformId> PlatformIdOfQuote(absl::string_view quote_bytes,
                                             absl::string_view pck_chain_pem = {});

class CollateralSource {
 public:
  virtual ~CollateralSource() = default;

  // The collateral for `platform`, waiting for an upstream at most until `deadline`.
  //   NotFound          the source knows no collateral for this platform (a directory without
  //                     that FMSPC, the PCS answering 404);
  //   Unavailable or    none could be had in time (upstream down, slow or answering garbage, and
  //   DeadlineExceeded  nothing usable cached); the message says what failed.
  // Thread safety: Get may be called from many threads at once.
  virtual absl::StatusOr<std::shared_ptr<const dcap::Collateral>> Get(const PlatformId& platform,
                                                                      absl::Time deadline) = 0;
};

}  // namespace cn::pccs
