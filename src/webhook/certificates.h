#pragma once

// The certificates of self-managed TLS (self_managed_tls.h): a private CA and the serving
// certificate it signs, EC P-256 with SHA-256, made with OpenSSL.
//
// Why we make certificates ourselves at all: a webhook must be served over HTTPS with a CA the
// API server trusts (the configuration's caBundle), and a cluster without cert-manager has no
// other source. The CA's key never leaves the Secret it is kept in.
//
// Thread-safe: pure functions of their arguments (and the OpenSSL random generator).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cn::webhook {

struct CertificateAndKey {
  std::string certificate_pem;
  std::string key_pem;  // PKCS#8
};

// A CA certificate (basicConstraints CA:true, keyCertSign) named `common_name`, valid from
// `now` - 1 h (clock skew) for `validity`.
absl::StatusOr<CertificateAndKey> MakeAuthority(absl::string_view common_name, absl::Time now,
                                                absl::Duration validity);

// A serving certificate (CA:false, serverAuth) for `dns_names` (the first is also the common
// name), signed by `authority`, valid from `now` - 1 h until the earlier of `now` + `validity`
// and the authority's own notAfter. InvalidArgument when `authority` does not parse.
absl::StatusOr<CertificateAndKey> IssueServing(const CertificateAndKey& authority,
                                               const std::vector<std::string>& dns_names,
                                               absl::Time now, absl::Duration validity);

// The notAfter of every certificate in a PEM bundle, in order. InvalidArgument when the text
// holds no certificate or one that does not parse.
absl::StatusOr<std::vector<absl::Time>> NotAfterOfEach(absl::string_view pem_bundle);

// Whether the first certificate of `certificate_pem` was signed by the first of `authority_pem`
// and `key_pem` is its key: what a Secret must hold to be served as is.
bool IssuedBy(absl::string_view certificate_pem, absl::string_view key_pem,
              absl::string_view authority_pem);

}  // namespace cn::webhook
