// libFuzzer target: the collateral JSON layout and the signed TCB Info / QE Identity texts inside
// it (parsed here without signature checks, as the verifier would after checking them). It
// asserts that the parsers' simdjson fast path answers exactly as the nlohmann reading does
// (tcb_info.h): both accept with equal values, or both refuse with the same error; and that
// whatever the verifier's own CRL and certificate decoders accept (crl.h, certificate.h),
// OpenSSL's decoders accept too. Either disagreement aborts.

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "src/dcap/certificate.h"
#include "src/dcap/collateral.h"
#include "src/dcap/crl.h"
#include "src/dcap/tcb_info.h"

namespace {

void DecodeCrl(const std::string& der) {
  if (!cn::dcap::Crl::FromDer(der, "fuzz").ok()) {
    return;
  }
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  X509_CRL* theirs = d2i_X509_CRL(nullptr, &cursor, static_cast<long>(der.size()));
  if (theirs == nullptr ||
      cursor != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    abort();  // ours accepted a CRL OpenSSL refuses
  }
  X509_CRL_free(theirs);
}

void DecodeChain(const std::string& pem) {
  absl::StatusOr<std::vector<cn::dcap::CertificatePtr>> certs =
      cn::dcap::DecodePemCertificates(pem, "fuzz", nullptr, "");
  for (const cn::dcap::CertificatePtr& cert :
       certs.value_or(std::vector<cn::dcap::CertificatePtr>{})) {
    const unsigned char* cursor = reinterpret_cast<const unsigned char*>(cert->der().data());
    X509* theirs = d2i_X509(nullptr, &cursor, static_cast<long>(cert->der().size()));
    if (theirs == nullptr) {
      abort();  // ours accepted a certificate OpenSSL refuses
    }
    X509_free(theirs);
  }
  ERR_clear_error();
}

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
    DecodeCrl(collateral->parts().pck_crl);
    DecodeCrl(collateral->parts().root_ca_crl);
    DecodeChain(collateral->parts().tcb_info_issuer_chain);
  }
  ParseBoth(text, text);
  return 0;
}
