#pragma once

// Kubernetes resource quantities (the `sgx.intel.com/epc: 10Mi` of Intel-style pods), turned
// into whole MiB of EPC, rounded up: what `kubernetes.azure.com/sgx_epc_mem_in_MiB` counts.
//
// Accepted: the API server's quantity grammar, `<sign><digits>[.<digits>]<suffix>`, where the
// suffix is empty (bytes), binary (Ki Mi Gi Ti Pi Ei), decimal (m k M G T P E) or a decimal
// exponent (`1e6`, `5E3`). `10Mi` is 10 MiB, `1500Ki` is 2 MiB (1.46 rounded up), `5M` is 5 MiB
// (4.77 rounded up), `0.5Gi` is 512 MiB, `1e6` is 1 MiB.
//
// Refused (InvalidArgument whose message names the text and what is wrong): an empty text, a
// negative value, an unknown suffix (`10MB`, `10mi`), stray characters, more than 18 significant
// digits or 36 decimals, a decimal exponent outside -18..18, and anything above 2^40 MiB (1 EiB: no
// machine has that much EPC), so that no quantity can overflow. The message does not say where the
// text came from: the caller adds the container.
//
// Pure functions; thread-safe.

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cn::webhook {

// ceil(quantity / 1 MiB).
absl::StatusOr<int64_t> QuantityToMiB(absl::string_view quantity);

}  // namespace cn::webhook
