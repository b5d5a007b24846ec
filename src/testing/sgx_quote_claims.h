#pragma once

// The claims sgx-attestd derives from a verified SGX quote (attestd.md), with fixed, short values,
// for the policy's tests, fuzz target and benchmark. Header-only: it needs nothing but policy.h.

#include <cstdint>
#include <string>
#include <vector>

#include "src/attestd/policy.h"

namespace cn::testing {

inline std::vector<attestd::Claim> SgxQuoteClaims() {
  return {
      {"x-ms-ver", std::string("1.0")},
      {"x-ms-attestation-type", std::string("sgx")},
      {"x-ms-sgx-is-debuggable", false},
      {"x-ms-sgx-mrenclave", std::string("aa11")},
      {"x-ms-sgx-mrsigner", std::string("c0ffee")},
      {"x-ms-sgx-product-id", int64_t{3}},
      {"x-ms-sgx-svn", int64_t{2}},
      {"x-ms-sgx-report-data", std::string("00ff")},
      {"x-ms-sgx-fmspc", std::string("00906ed50000")},
      {"x-ms-sgx-pceid", std::string("0000")},
      {"attester_tcb_status", std::string("UpToDate")},
  };
}

}  // namespace cn::testing
