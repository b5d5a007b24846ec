// libFuzzer target: the quote parser and everything that reads untrusted quote bytes before any
// signature is checked (the PEM chain in certification data, the PCK certificate's SGX extension
// through the DER reader). Any crash, sanitizer report or hang is a bug.

#include <cstddef>
#include <cstdint>

#include "src/dcap/crypto.h"
#include "src/dcap/pck_extension.h"
#include "src/dcap/quote.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<cn::dcap::Quote> quote = cn::dcap::ParseQuote(bytes);
  if (quote.ok()) {
    // Every view must lie inside the input.
    const char* begin = bytes.data();
    const char* end = begin + bytes.size();
    for (absl::string_view view : {quote->signed_bytes, quote->qe_report_bytes,
                                   quote->qe_auth_data, quote->certification_data}) {
      if (!view.empty() && (view.data() < begin || view.data() + view.size() > end)) {
        __builtin_trap();
      }
    }
    if (quote->certification_data_type == cn::dcap::kCertificationDataPckChain) {
      (void)cn::dcap::ParsePemCertificates(quote->certification_data, "fuzz");
    }
  }
  // The same bytes as the DER of a PCK certificate's SGX extension.
  (void)cn::dcap::ParsePckExtension(bytes);
  return 0;
}
