#include "src/webhook/certificates.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cn::webhook {
namespace {

struct Free {
  void operator()(X509* x) const { X509_free(x); }
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  void operator()(BIO* b) const { BIO_free(b); }
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
using X509Ptr = std::unique_ptr<X509, Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;

absl::Status OpenSslError(absl::string_view what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  char reason[256] = {};
  ERR_error_string_n(code, reason, sizeof(reason));
  return absl::InternalError(absl::StrCat(what, ": ", reason));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

X509Ptr ReadCertificate(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return certificate;
}

KeyPtr ReadKey(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return -1; }, nullptr));
  ERR_clear_error();
  return key;
}

absl::Time NotAfter(const X509* certificate) {
  struct tm parsed = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &parsed) != 1) {
    return absl::InfinitePast();
  }
  return absl::FromTM(parsed, absl::UTCTimeZone());
}

absl::Status AddExtension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Free> extension(
      X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
  if (extension == nullptr || X509_add_ext(certificate, extension.get(), -1) != 1) {
    return OpenSslError(absl::StrCat("certificate extension ", value));
  }
  return absl::OkStatus();
}

// A certificate for `key`, named `common_name`, with a random serial and the validity window;
// not yet signed.
absl::StatusOr<X509Ptr> NewCertificate(EVP_PKEY* key, absl::string_view common_name,
                                       absl::Time not_before, absl::Time not_after) {
  X509Ptr certificate(X509_new());
  unsigned char serial[16];
  if (certificate == nullptr || RAND_bytes(serial, sizeof(serial)) != 1) {
    return OpenSslError("new certificate");
  }
  serial[0] &= 0x7f;  // positive
  std::unique_ptr<BIGNUM, decltype(&BN_free)> number(BN_bin2bn(serial, sizeof(serial), nullptr),
                                                     &BN_free);
  X509_set_version(certificate.get(), 2);
  BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(certificate.get()));
  ASN1_TIME_set(X509_getm_notBefore(certificate.get()), absl::ToTimeT(not_before));
  ASN1_TIME_set(X509_getm_notAfter(certificate.get()), absl::ToTimeT(not_after));
  X509_NAME* name = X509_get_subject_name(certificate.get());
  const std::string cn(common_name.substr(0, 64));
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_pubkey(certificate.get(), key);
  return certificate;
}

absl::StatusOr<CertificateAndKey> Export(X509* certificate, EVP_PKEY* key) {
  BioPtr certificate_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(certificate_bio.get(), certificate) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("PEM encoding");
  }
  return CertificateAndKey{BioText(certificate_bio.get()), BioText(key_bio.get())};
}

}  // namespace

absl::StatusOr<CertificateAndKey> MakeAuthority(absl::string_view common_name, absl::Time now,
                                                absl::Duration validity) {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (key == nullptr) {
    return OpenSslError("CA key");
  }
  absl::StatusOr<X509Ptr> certificate =
      NewCertificate(key.get(), common_name, now - absl::Hours(1), now + validity);
  if (!certificate.ok()) {
    return certificate.status();
  }
  X509* ca = certificate->get();
  X509_set_issuer_name(ca, X509_get_subject_name(ca));
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    if (absl::Status added = AddExtension(ca, ca, nid, value); !added.ok()) {
      return added;
    }
  }
  if (X509_sign(ca, key.get(), EVP_sha256()) <= 0) {
    return OpenSslError("signing the CA");
  }
  return Export(ca, key.get());
}

absl::StatusOr<CertificateAndKey> IssueServing(const CertificateAndKey& authority,
                                               const std::vector<std::string>& dns_names,
                                               absl::Time now, absl::Duration validity) {
  X509Ptr ca = ReadCertificate(authority.certificate_pem);
  KeyPtr ca_key = ReadKey(authority.key_pem);
  if (ca == nullptr || ca_key == nullptr || X509_check_private_key(ca.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the CA certificate and key do not parse or do not match");
  }
  if (dns_names.empty()) {
    return absl::InvalidArgumentError("a serving certificate needs at least one DNS name");
  }
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (key == nullptr) {
    return OpenSslError("serving key");
  }
  const absl::Time not_after = std::min(now + validity, NotAfter(ca.get()));
  absl::StatusOr<X509Ptr> certificate =
      NewCertificate(key.get(), dns_names.front(), now - absl::Hours(1), not_after);
  if (!certificate.ok()) {
    return certificate.status();
  }
  X509* leaf = certificate->get();
  X509_set_issuer_name(leaf, X509_get_subject_name(ca.get()));
  std::vector<std::string> alt_names;
  for (const std::string& name : dns_names) {
    alt_names.push_back(absl::StrCat("DNS:", name));
  }
  for (auto [nid, value] : {std::pair{NID_basic_constraints, std::string("critical,CA:FALSE")},
                            std::pair{NID_key_usage, std::string("critical,digitalSignature")},
                            std::pair{NID_ext_key_usage, std::string("serverAuth")},
                            std::pair{NID_authority_key_identifier, std::string("keyid:always")},
                            std::pair{NID_subject_alt_name, absl::StrJoin(alt_names, ",")}}) {
    if (absl::Status added = AddExtension(leaf, ca.get(), nid, value); !added.ok()) {
      return added;
    }
  }
  if (X509_sign(leaf, ca_key.get(), EVP_sha256()) <= 0) {
    return OpenSslError("signing the serving certificate");
  }
  return Export(leaf, key.get());
}

absl::StatusOr<std::vector<absl::Time>> NotAfterOfEach(absl::string_view pem_bundle) {
  BioPtr bio(BIO_new_mem_buf(pem_bundle.data(), static_cast<int>(pem_bundle.size())));
  std::vector<absl::Time> times;
  while (true) {
    X509Ptr certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (certificate == nullptr) {
      break;
    }
    times.push_back(NotAfter(certificate.get()));
  }
  ERR_clear_error();
  if (times.empty()) {
    return absl::InvalidArgumentError("no PEM certificate");
  }
  return times;
}

bool IssuedBy(absl::string_view certificate_pem, absl::string_view key_pem,
              absl::string_view authority_pem) {
  X509Ptr certificate = ReadCertificate(certificate_pem);
  KeyPtr key = ReadKey(key_pem);
  X509Ptr authority = ReadCertificate(authority_pem);
  if (certificate == nullptr || key == nullptr || authority == nullptr) {
    return false;
  }
  KeyPtr authority_key(X509_get_pubkey(authority.get()));
  const bool ok = X509_check_private_key(certificate.get(), key.get()) == 1 &&
                  authority_key != nullptr &&
                  X509_verify(certificate.get(), authority_key.get()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace cn::webhook
