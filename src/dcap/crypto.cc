#include "src/dcap/crypto.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/check.h"
#include "src/common/status_macros.h"
#include "src/dcap/der_reader.h"
#include "src/dcap/x509_der.h"

namespace cn::dcap {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

struct MdContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

// Appends a DER INTEGER holding the unsigned big-endian `value`.
void AppendDerInteger(const uint8_t* value, size_t size, std::string* out) {
  size_t start = 0;
  while (start + 1 < size && value[start] == 0) {
    ++start;
  }
  const bool pad = value[start] & 0x80;
  out->push_back(0x02);
  out->push_back(static_cast<char>(size - start + (pad ? 1 : 0)));
  if (pad) {
    out->push_back(0);
  }
  out->append(reinterpret_cast<const char*>(value + start), size - start);
}

// The passphrase callback for PEM reads. Without one, OpenSSL asks the terminal for a passphrase
// when a block carries "Proc-Type: 4,ENCRYPTED": untrusted certification data could then block
// the caller until someone types. Certificates are never encrypted, so there is no passphrase.
int NoPassphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*user_data*/) { return -1; }

// SHA-256 fetched once: EVP_sha256() makes OpenSSL 3 fetch the implementation on every use.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    CN_CHECK(fetched != nullptr);
    return fetched;
  }();
  return md;
}

// 0x04 || X || Y, the X9.62 uncompressed encoding of the quote's raw X || Y key.
using PointBytes = std::array<char, 65>;
absl::StatusOr<PointBytes> UncompressedPointOf(absl::string_view x_and_y) {
  if (x_and_y.size() != 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("P-256 public key has ", x_and_y.size(), " bytes, expected 64"));
  }
  PointBytes point;
  point[0] = 0x04;
  std::memcpy(point.data() + 1, x_and_y.data(), 64);
  return point;
}

}  // namespace

Sha256Digest Sha256(absl::string_view data) {
  Sha256Digest digest;
  unsigned int size = 0;
  CN_CHECK(EVP_Digest(data.data(), data.size(), digest.data(), &size, Sha256Md(), nullptr) == 1);
  return digest;
}

Sha256Hasher::Sha256Hasher() : context_(EVP_MD_CTX_new()) {
  CN_CHECK(context_ != nullptr);
  CN_CHECK(EVP_DigestInit_ex(context_, Sha256Md(), nullptr) == 1);
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(context_); }

Sha256Hasher& Sha256Hasher::AddField(absl::string_view bytes) {
  uint8_t length[8];
  uint64_t size = bytes.size();
  for (int i = 0; i < 8; ++i) {
    length[i] = static_cast<uint8_t>(size >> (8 * i));
  }
  CN_CHECK(EVP_DigestUpdate(context_, length, sizeof(length)) == 1);
  CN_CHECK(EVP_DigestUpdate(context_, bytes.data(), bytes.size()) == 1);
  return *this;
}

Sha256Digest Sha256Hasher::Finish() {
  Sha256Digest digest;
  unsigned int size = 0;
  CN_CHECK(EVP_DigestFinal_ex(context_, digest.data(), &size) == 1);
  return digest;
}

absl::StatusOr<EvpPkeyPtr> P256KeyFromRaw(absl::string_view x_and_y) {
  ASSIGN_OR_RETURN(const PointBytes point, UncompressedPointOf(x_and_y));
  return P256KeyFromPoint(absl::string_view(point.data(), point.size()));
}

absl::StatusOr<EvpPkeyPtr> P256KeyFromPoint(absl::string_view point) {
  // A copy of a P-256 key given the new point: OpenSSL 3's SubjectPublicKeyInfo decoder lookup
  // cost more than the rest of the import, and importing by parameters builds the curve's group
  // anew each time (four times what the copy costs). Setting the point checks that it lies on
  // the curve, as the decoder did.
  static EVP_PKEY* const kTemplate = [] {
    // Public only: the point of a freshly generated key, imported by parameters once.
    EvpPkeyPtr generated(EVP_EC_gen("P-256"));
    CN_CHECK(generated != nullptr);
    unsigned char encoded[65];
    size_t size = 0;
    CN_CHECK(EVP_PKEY_get_octet_string_param(generated.get(), OSSL_PKEY_PARAM_PUB_KEY, encoded,
                                             sizeof(encoded), &size) == 1);
    char group[] = "prime256v1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, encoded, size),
        OSSL_PARAM_construct_end()};
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> context(
        EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), &EVP_PKEY_CTX_free);
    EVP_PKEY* key = nullptr;
    CN_CHECK(context != nullptr && EVP_PKEY_fromdata_init(context.get()) == 1 &&
             EVP_PKEY_fromdata(context.get(), &key, EVP_PKEY_PUBLIC_KEY, params) == 1);
    return key;
  }();
  EvpPkeyPtr key(EVP_PKEY_dup(kTemplate));
  CN_CHECK(key != nullptr);
  if (point.empty() ||
      EVP_PKEY_set1_encoded_public_key(key.get(), reinterpret_cast<const uint8_t*>(point.data()),
                                       point.size()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("P-256 public key is not a point on the curve (", TakeOpenSslErrors(), ")"));
  }
  return key;
}

bool VerifyEcdsaSha256(EVP_PKEY* key, absl::string_view message, absl::string_view signature) {
  if (key == nullptr || signature.size() != 64) {
    return false;
  }
  std::string der;
  der.reserve(72);
  der.push_back(0x30);
  der.push_back(0);
  const auto* raw = reinterpret_cast<const uint8_t*>(signature.data());
  AppendDerInteger(raw, 32, &der);
  AppendDerInteger(raw + 32, 32, &der);
  der[1] = static_cast<char>(der.size() - 2);
  return VerifyEcdsaSha256Der(key, message, der);
}

bool VerifyEcdsaSha256Der(EVP_PKEY* key, absl::string_view message,
                          absl::string_view der_signature) {
  if (key == nullptr) {
    return false;
  }
  // The digest is taken with the pre-fetched SHA-256 and the key context verifies the digest:
  // EVP_DigestVerifyInit would fetch SHA-256 again (and the provider once more) on every call.
  const Sha256Digest digest = Sha256(message);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> context(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr), &EVP_PKEY_CTX_free);
  const int result =
      context != nullptr && EVP_PKEY_verify_init(context.get()) == 1
          ? EVP_PKEY_verify(context.get(), reinterpret_cast<const uint8_t*>(der_signature.data()),
                            der_signature.size(), digest.data(), digest.size())
          : 0;
  if (result != 1) {
    ERR_clear_error();
  }
  return result == 1;
}

// P256PublicKey uses OpenSSL's EC_KEY and ECDSA_do_verify, deprecated in OpenSSL 3.0 in favour
// of EVP_PKEY but present and supported throughout 3.x (Debian 12 ships 3.0). The EVP path ends
// in these same functions, through a key context, the provider's dispatch and key management on
// every call: measured, that was about a quarter of each ECDSA check (docs/PERFORMANCE.md, "The
// cold path to 1 ms, ECDSA"). The deprecated calls stay inside this block.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace {

// The P-256 group, built once (building it costs more than an ECDSA check's other overhead).
const EC_GROUP* P256Group() {
  static const EC_GROUP* const group = [] {
    EC_GROUP* created = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    CN_CHECK(created != nullptr);
    return created;
  }();
  return group;
}

struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* signature) const { ECDSA_SIG_free(signature); }
};

// The thread's key object for checks: the P-256 group set once, the public point set per check
// (EC_KEY_set_public_key copies it). ECDSA_do_verify reads the key and changes nothing in it.
EC_KEY* CheckingKey(const EC_POINT* point) {
  struct EcKeyDeleter {
    void operator()(EC_KEY* key) const { EC_KEY_free(key); }
  };
  thread_local const std::unique_ptr<EC_KEY, EcKeyDeleter> key = [] {
    std::unique_ptr<EC_KEY, EcKeyDeleter> created(EC_KEY_new());
    CN_CHECK(created != nullptr && EC_KEY_set_group(created.get(), P256Group()) == 1);
    return created;
  }();
  CN_CHECK(EC_KEY_set_public_key(key.get(), point) == 1);
  return key.get();
}

}  // namespace

void P256PublicKey::EcPointDeleter::operator()(EC_POINT* point) const { EC_POINT_free(point); }

absl::StatusOr<P256PublicKey> P256PublicKey::FromRaw(absl::string_view x_and_y) {
  ASSIGN_OR_RETURN(const PointBytes point, UncompressedPointOf(x_and_y));
  return FromPoint(absl::string_view(point.data(), point.size()));
}

absl::StatusOr<P256PublicKey> P256PublicKey::FromPoint(absl::string_view point) {
  // Uncompressed or compressed only: the point at infinity (0x00) is no key, and RFC 5480 2.2
  // forbids the hybrid forms (0x06, 0x07) in certificates.
  const uint8_t form = point.empty() ? 0 : static_cast<uint8_t>(point[0]);
  if (form != 0x02 && form != 0x03 && form != 0x04) {
    return absl::InvalidArgumentError(
        absl::StrCat("P-256 public key is not a point on the curve (",
                     point.empty() ? "empty encoding" : absl::StrCat("point form ", form), ")"));
  }
  P256PublicKey key(EC_POINT_new(P256Group()));
  CN_CHECK(key.point_ != nullptr);
  // EC_POINT_oct2point checks the length for the form, that each coordinate is below p and that
  // the point lies on the curve. On a curve of prime order (cofactor 1) that is every check a
  // public key needs.
  if (EC_POINT_oct2point(P256Group(), key.point_.get(),
                         reinterpret_cast<const uint8_t*>(point.data()), point.size(),
                         nullptr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("P-256 public key is not a point on the curve (", TakeOpenSslErrors(), ")"));
  }
  return key;
}

bool P256PublicKey::VerifySha256(absl::string_view message, absl::string_view signature) const {
  if (signature.size() != 64) {
    return false;
  }
  const auto* raw = reinterpret_cast<const uint8_t*>(signature.data());
  std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> parsed(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw, 32, nullptr);
  BIGNUM* s = BN_bin2bn(raw + 32, 32, nullptr);
  CN_CHECK(parsed != nullptr && r != nullptr && s != nullptr &&
           ECDSA_SIG_set0(parsed.get(), r, s) == 1);
  const Sha256Digest digest = Sha256(message);
  // ECDSA_do_verify refuses r or s of zero or not below the group order.
  const int result = ECDSA_do_verify(digest.data(), static_cast<int>(digest.size()), parsed.get(),
                                     CheckingKey(point_.get()));
  if (result != 1) {
    ERR_clear_error();
  }
  return result == 1;
}

bool P256PublicKey::VerifySha256Der(absl::string_view message,
                                    absl::string_view der_signature) const {
  // ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } in its one DER encoding (what
  // ECDSA_verify insists on by encoding its decode again and comparing), nothing after it; then
  // the same check as a raw r||s. Read here: ECDSA_verify's decode and re-encode cost more than
  // the digest.
  DerReader outer(der_signature, "ECDSA signature");
  absl::StatusOr<DerReader> fields = outer.ReadConstructed(der::kSequence, "ECDSA-Sig-Value");
  if (!fields.ok() || !outer.at_end()) {
    return false;
  }
  std::string raw(64, '\0');
  for (size_t half = 0; half < 2; ++half) {
    absl::StatusOr<absl::string_view> integer = x509::ReadInteger(*fields, "r or s");
    if (!integer.ok() || (static_cast<uint8_t>((*integer)[0]) & 0x80) != 0) {
      return false;  // not minimal DER, or negative
    }
    absl::string_view magnitude = *integer;
    if (magnitude.size() > 1 && magnitude[0] == 0) {
      magnitude.remove_prefix(1);
    }
    if (magnitude.size() > 32) {
      return false;  // at least 2^256: above the group order
    }
    std::memcpy(raw.data() + 32 * half + 32 - magnitude.size(), magnitude.data(), magnitude.size());
  }
  return fields->at_end() && VerifySha256(message, raw);
}

std::string P256PublicKey::UncompressedPoint() const {
  std::string point(65, '\0');
  const size_t size =
      EC_POINT_point2oct(P256Group(), point_.get(), POINT_CONVERSION_UNCOMPRESSED,
                         reinterpret_cast<uint8_t*>(point.data()), point.size(), nullptr);
  CN_CHECK(size == point.size());
  return point;
}

#pragma GCC diagnostic pop

std::string Base64(absl::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                   reinterpret_cast<const unsigned char*>(bytes.data()),
                                   static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(size));
  return out;
}

bool PemBodyEquals(absl::string_view body, absl::string_view base64) {
  size_t next = 0;
  for (char c : body) {
    if (c == '\n' || c == '\r') {
      continue;
    }
    if (next == base64.size() || c != base64[next]) {
      return false;
    }
    ++next;
  }
  return next == base64.size();
}

absl::StatusOr<std::vector<PemBlock>> PemCertificateBlocks(absl::string_view pem,
                                                           absl::string_view what) {
  std::vector<PemBlock> blocks;
  constexpr absl::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  constexpr absl::string_view kEnd = "-----END CERTIFICATE-----";
  size_t position = 0;
  while (true) {
    const size_t begin = pem.find(kBegin, position);
    if (begin == absl::string_view::npos) {
      break;
    }
    const size_t end = pem.find(kEnd, begin);
    if (end == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": certificate ", blocks.size() + 1, " has no END CERTIFICATE line"));
    }
    const absl::string_view block = pem.substr(begin, end + kEnd.size() - begin);
    if (block.size() > kMaxPemCertificateSize) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": certificate ", blocks.size() + 1, " is a PEM block of ", block.size(),
          " bytes, more than any certificate (at most ", kMaxPemCertificateSize, ")"));
    }
    blocks.push_back(
        PemBlock{block, pem.substr(begin + kBegin.size(), end - begin - kBegin.size())});
    position = end + kEnd.size();
  }
  if (blocks.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": no PEM certificate found"));
  }
  return blocks;
}

absl::StatusOr<std::vector<X509Ptr>> ParsePemCertificates(absl::string_view pem,
                                                          absl::string_view what) {
  absl::StatusOr<std::vector<PemBlock>> blocks = PemCertificateBlocks(pem, what);
  if (!blocks.ok()) {
    return blocks.status();
  }
  std::vector<X509Ptr> certs;
  for (const PemBlock& block : *blocks) {
    BioPtr bio(BIO_new_mem_buf(block.block.data(), static_cast<int>(block.block.size())));
    CN_CHECK(bio != nullptr);
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (cert == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": certificate ", certs.size() + 1, " does not parse (", TakeOpenSslErrors(), ")"));
    }
    certs.push_back(std::move(cert));
  }
  return certs;
}

absl::StatusOr<X509Ptr> ParseDerCertificate(absl::string_view der, absl::string_view what) {
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": not a DER certificate (", TakeOpenSslErrors(), ")"));
  }
  if (cursor != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": trailing bytes after the certificate"));
  }
  return cert;
}

absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem_or_der, absl::string_view what) {
  if (pem_or_der.find("-----BEGIN") != absl::string_view::npos) {
    absl::StatusOr<std::vector<X509Ptr>> certs = ParsePemCertificates(pem_or_der, what);
    if (!certs.ok()) {
      return certs.status();
    }
    if (certs->size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": holds ", certs->size(), " certificates, expected one"));
    }
    return std::move(certs->front());
  }
  return ParseDerCertificate(pem_or_der, what);
}

absl::StatusOr<X509CrlPtr> ParseDerCrl(absl::string_view der, absl::string_view what) {
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &cursor, static_cast<long>(der.size())));
  if (crl == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": not a DER CRL (", TakeOpenSslErrors(), ")"));
  }
  if (cursor != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": trailing bytes after the CRL"));
  }
  return crl;
}

std::string CertificateDer(X509* cert) {
  unsigned char* buffer = nullptr;
  const int size = i2d_X509(cert, &buffer);
  CN_CHECK(size > 0);
  std::string der(reinterpret_cast<char*>(buffer), static_cast<size_t>(size));
  OPENSSL_free(buffer);
  return der;
}

std::string PublicKeyDer(EVP_PKEY* key) {
  unsigned char* buffer = nullptr;
  const int size = i2d_PUBKEY(key, &buffer);
  if (size <= 0) {
    return "";
  }
  std::string der(reinterpret_cast<char*>(buffer), static_cast<size_t>(size));
  OPENSSL_free(buffer);
  return der;
}

std::string CertificateKeyDer(X509* cert) {
  unsigned char* buffer = nullptr;
  const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &buffer);
  if (size <= 0) {
    return "";
  }
  std::string der(reinterpret_cast<char*>(buffer), static_cast<size_t>(size));
  OPENSSL_free(buffer);
  return der;
}

absl::StatusOr<absl::Time> ToTime(const ASN1_TIME* time) {
  std::tm parts{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("time field is not a valid ASN.1 time");
  }
  return absl::FromTM(parts, absl::UTCTimeZone());
}

std::string NameText(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  CN_CHECK(bio != nullptr);
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string SerialHex(X509* cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  return HexEncode(AsView(ASN1_STRING_get0_data(serial), ASN1_STRING_length(serial)));
}

std::string TakeOpenSslErrors() {
  std::string text;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!text.empty()) {
      text += "; ";
    }
    text += buffer;
  }
  return text;
}

std::string HexEncode(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto byte = static_cast<uint8_t>(c);
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0xf]);
  }
  return out;
}

absl::StatusOr<std::string> HexDecode(absl::string_view hex) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("hex text has an odd number of digits (", hex.size(), ")"));
  }
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = value(hex[i]);
    const int low = value(hex[i + 1]);
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("hex text has a non-hex character at position ", high < 0 ? i : i + 1));
    }
    out.push_back(static_cast<char>((high << 4) | low));
  }
  return out;
}

}  // namespace cn::dcap
