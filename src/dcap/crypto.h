#pragma once

// The OpenSSL 3 objects the verifier uses, owned by unique_ptr with the matching free function,
// and the few operations on them that the verifier needs, each returning a Status or a plain
// answer instead of OpenSSL's mix of return codes and an error queue.
//
// Every function here is thread-safe: the OpenSSL objects are only read after construction
// (OpenSSL 3 allows concurrent verification with one EVP_PKEY).

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cn::dcap {

struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct X509CrlDeleter {
  void operator()(X509_CRL* crl) const { X509_CRL_free(crl); }
};
struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using X509CrlPtr = std::unique_ptr<X509_CRL, X509CrlDeleter>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(absl::string_view data);

// Hashes a sequence of byte strings, each prefixed with its length so that different splits of
// the same bytes give different digests. Used for cache keys.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  Sha256Hasher& AddField(absl::string_view bytes);
  Sha256Digest Finish();

 private:
  EVP_MD_CTX* context_;
};

// An EC P-256 public key from the quote's raw X||Y encoding. InvalidArgument when the point is
// not on the curve.
absl::StatusOr<EvpPkeyPtr> P256KeyFromRaw(absl::string_view x_and_y);
// The same from an X9.62 point encoding (0x04 || X || Y, or compressed), as a certificate's
// SubjectPublicKeyInfo holds it. InvalidArgument when it is not a point on the curve.
absl::StatusOr<EvpPkeyPtr> P256KeyFromPoint(absl::string_view point);

// Whether `signature` (raw r||s, 64 bytes) is a valid ECDSA-SHA256 signature of `message` under
// `key`. Any malformed input (wrong size, zero r or s, key of another type) is simply "false".
// Through OpenSSL 3's EVP layer; the verifier uses P256PublicKey below, which answers the same.
bool VerifyEcdsaSha256(EVP_PKEY* key, absl::string_view message, absl::string_view signature);
// The same with the signature as a DER ECDSA-Sig-Value (as certificates and CRLs carry it).
bool VerifyEcdsaSha256Der(EVP_PKEY* key, absl::string_view message,
                          absl::string_view der_signature);

// An EC P-256 public key held for ECDSA-SHA256 signature checks, the form the verifier keeps
// every key in (the attestation key, each certificate's key).
//
// Why not EVP_PKEY: in OpenSSL 3.0 each EVP verification creates a key context, dispatches
// through the provider and converts the key and signature on the way (about a quarter of an
// ECDSA check, nine times per cold verification), and copying a template EVP_PKEY to import a
// key cost a fifth of a check more. This holds the key's EC_POINT on a P-256 group built once and
// verifies with ECDSA_do_verify (through an EC_KEY per thread), the path `openssl speed
// ecdsap256` measures; the checks are OpenSSL's own (point on the curve, 0 < r, s < n), the same
// ones the EVP path ends in, and strict DER read with DerReader. See crypto.cc for the use of that
// deprecated-in-3.0 API.
//
// Immutable after construction; Verify may be called from many threads at once.
class P256PublicKey {
 public:
  // From the quote's raw X||Y encoding (64 bytes). InvalidArgument when the size is wrong or
  // the point is not on the curve.
  static absl::StatusOr<P256PublicKey> FromRaw(absl::string_view x_and_y);
  // From an X9.62 point encoding (0x04 || X || Y, or compressed 0x02/0x03 || X), as a
  // certificate's SubjectPublicKeyInfo holds it. InvalidArgument when it is not a point on the
  // curve (the point at infinity and coordinates of p or more included).
  static absl::StatusOr<P256PublicKey> FromPoint(absl::string_view point);

  P256PublicKey(P256PublicKey&&) = default;
  P256PublicKey& operator=(P256PublicKey&&) = default;

  // Whether `signature` (raw r||s, 64 bytes) is a valid ECDSA-SHA256 signature of `message`.
  // Any malformed signature (wrong size, r or s zero or not below the group order) is "false".
  bool VerifySha256(absl::string_view message, absl::string_view signature) const;
  // The same with the signature as a DER ECDSA-Sig-Value; anything but its one strict DER
  // encoding (trailing bytes, padded integers, long-form lengths) is "false".
  bool VerifySha256Der(absl::string_view message, absl::string_view der_signature) const;

  // The uncompressed point, 0x04 || X || Y (for comparisons and tests).
  std::string UncompressedPoint() const;

 private:
  struct EcPointDeleter {
    void operator()(EC_POINT* point) const;
  };
  explicit P256PublicKey(EC_POINT* point) : point_(point) {}

  // The point only: a key object per key would duplicate the group (its parameters and
  // BIGNUMs) for every certificate a cold verification reads. Checks set it into a key object
  // of their thread's, made once.
  std::unique_ptr<EC_POINT, EcPointDeleter> point_;
};

// The largest PEM certificate block accepted. Real certificates take about a kilobyte; the limit
// keeps untrusted blocks far below OpenSSL's int lengths (a BIO over 2 GiB or more would read
// past the input).
inline constexpr size_t kMaxPemCertificateSize = size_t{1} << 20;

// One "-----BEGIN CERTIFICATE-----" block of a PEM text: the whole block, and its base64 body
// (the text between the BEGIN and END lines).
struct PemBlock {
  absl::string_view block;
  absl::string_view body;
};
// The certificate blocks of `pem`, in order, under the rules of ParsePemCertificates below (the
// same messages, without decoding them).
absl::StatusOr<std::vector<PemBlock>> PemCertificateBlocks(absl::string_view pem,
                                                           absl::string_view what);
// Whether a PEM body, line breaks aside, is exactly `base64`.
bool PemBodyEquals(absl::string_view body, absl::string_view base64);

// Certificates from concatenated PEM blocks, in order. Text outside the blocks (and trailing NUL
// bytes, which quotes carry) is ignored. InvalidArgument when no block is found, one is larger
// than kMaxPemCertificateSize, or one does not parse (encrypted blocks included: nothing asks
// for a passphrase); `what` names the input in the message.
absl::StatusOr<std::vector<X509Ptr>> ParsePemCertificates(absl::string_view pem,
                                                          absl::string_view what);

// Base64 of bytes, without line breaks.
std::string Base64(absl::string_view bytes);
absl::StatusOr<X509Ptr> ParseDerCertificate(absl::string_view der, absl::string_view what);
// A certificate in PEM or DER, whichever the bytes are.
absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem_or_der, absl::string_view what);
absl::StatusOr<X509CrlPtr> ParseDerCrl(absl::string_view der, absl::string_view what);

// DER encodings, for hashing and comparison.
std::string CertificateDer(X509* cert);
std::string PublicKeyDer(EVP_PKEY* key);
// The certificate's SubjectPublicKeyInfo as it was parsed, re-encoded. The same bytes as
// PublicKeyDer(X509_get0_pubkey(cert)) for a key in its usual form, without OpenSSL 3's encoder
// lookup, which made key comparison a fifth of a cold verification.
std::string CertificateKeyDer(X509* cert);

// ASN1_TIME as absl::Time. InvalidArgument for times OpenSSL cannot interpret.
absl::StatusOr<absl::Time> ToTime(const ASN1_TIME* time);

// RFC 2253 text of a name, for messages and `show`.
std::string NameText(const X509_NAME* name);
// Hex of a certificate's serial number.
std::string SerialHex(X509* cert);

// Drains OpenSSL's error queue of this thread into one line ("" when empty).
std::string TakeOpenSslErrors();

std::string HexEncode(absl::string_view bytes);
template <size_t N>
std::string HexEncode(const std::array<uint8_t, N>& bytes) {
  return HexEncode(absl::string_view(reinterpret_cast<const char*>(bytes.data()), N));
}
// Decodes hex of either case. InvalidArgument names the first bad character.
absl::StatusOr<std::string> HexDecode(absl::string_view hex);

inline absl::string_view AsView(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}
template <size_t N>
absl::string_view AsView(const std::array<uint8_t, N>& bytes) {
  return AsView(bytes.data(), N);
}

}  // namespace cn::dcap
