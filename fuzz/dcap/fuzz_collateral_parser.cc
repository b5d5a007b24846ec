// libFuzzer target: the collateral JSON layout and the signed TCB Info / QE Identity texts inside
// it (parsed here without signature checks, as the verifier would after checking them). It also
// asserts that the parsers' simdjson fast path answers exactly as the nlohmann reading does
// (tcb_info.h): both accept with equal values, or both refuse with the same error.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "src/dcap/collateral.h"
#include "src/dcap/tcb_info.h"

namespace {

template <typename T>
void CheckSameAnswer(const absl::StatusOr<T>& fast, const absl::StatusOr<T>& reference) {
  const bool same = fast.ok() ? reference.ok() && *fast == *reference
                              : !reference.ok() && fast.status() == reference.status();
  if (!same) {
    std::abort();
  }
}

void ParseBoth(absl::string_view tcb_info, absl::string_view qe_identity) {
  CheckSameAnswer(cn::dcap::ParseTcbInfo(tcb_info),
                  cn::dcap::internal::ParseTcbInfoWithNlohmann(tcb_info));
  CheckSameAnswer(cn::dcap::ParseQeIdentity(qe_identity),
                  cn::dcap::internal::ParseQeIdentityWithNlohmann(qe_identity));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<cn::dcap::Collateral> collateral = cn::dcap::Collateral::FromJson(text);
  if (collateral.ok()) {
    ParseBoth(collateral->parts().tcb_info, collateral->parts().qe_identity);
    (void)cn::dcap::ParseDerCrl(collateral->parts().pck_crl, "fuzz");
  }
  ParseBoth(text, text);
  return 0;
}
