// libFuzzer target: the collateral JSON layout and the signed TCB Info / QE Identity texts inside
// it (parsed here without signature checks, as the verifier would after checking them).

#include <cstddef>
#include <cstdint>

#include "src/dcap/collateral.h"
#include "src/dcap/tcb_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<cn::dcap::Collateral> collateral = cn::dcap::Collateral::FromJson(text);
  if (collateral.ok()) {
    (void)cn::dcap::ParseTcbInfo(collateral->parts().tcb_info);
    (void)cn::dcap::ParseQeIdentity(collateral->parts().qe_identity);
    (void)cn::dcap::ParseDerCrl(collateral->parts().pck_crl, "fuzz");
  }
  (void)cn::dcap::ParseTcbInfo(text);
  (void)cn::dcap::ParseQeIdentity(text);
  return 0;
}
