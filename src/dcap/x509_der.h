#pragma once

// X.509 fields read straight from DER (RFC 5280) for Certificate and Crl, the signed objects of
// Intel's PCK PKI.
//
// Why not OpenSSL's d2i_X509 / d2i_X509_CRL: their template decoder allocates a C structure per
// field, canonicalises every name (case-folded UTF-8 copies) and caches extensions; three
// certificates and two CRLs cost about 100 µs of a cold verification, more than one ECDSA check,
// for a handful of facts. The verifier needs each field's bytes, not a structure, so these
// readers return views into the DER and check as they go that it is what RFC 5280 (and DER,
// X.690) allows, no less strictly than OpenSSL (the differential tests in certificate_test.cc
// flip every bit of real certificates and CRLs and hold the two decoders against each other):
//   - names are SEQUENCE OF non-empty SET OF { OID, string }, where the string is one of the
//     directory string types X.520 and RFC 5280 use, UTF8String well-formed UTF-8, BMPString and
//     UniversalString of whole characters. NamesMatch compares them as bytes first (Intel's CAs
//     write the issuer name of what they sign byte for byte as their own subject name) and only
//     otherwise as OpenSSL does;
//   - times are UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ, a real date (RFC 5280
//     4.1.2.5; no fractions, no offsets);
//   - INTEGERs are non-empty and minimal, so equal values have equal bytes (serials are
//     compared as bytes).
// Every function reads the next element of `reader` and names `field` in its error.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/dcap/der_reader.h"

namespace cn::dcap::x509 {

inline constexpr uint8_t kBoolean = 0x01;
inline constexpr uint8_t kBitString = 0x03;
inline constexpr uint8_t kNull = 0x05;
inline constexpr uint8_t kUtcTime = 0x17;
inline constexpr uint8_t kGeneralizedTime = 0x18;
inline constexpr uint8_t kSet = 0x31;
inline constexpr uint8_t kConstructed = 0x20;

// The whole TLV of the element `reader` reads next (header included), and advances past it.
absl::StatusOr<absl::string_view> ReadWholeElement(DerReader& reader, absl::string_view field);

// A signed object: SEQUENCE { tbs SEQUENCE, signatureAlgorithm ecdsa-with-SHA256, signature
// BIT STRING }, with nothing after it. `tbs` is the whole TBS TLV (what the signature covers),
// `tbs_fields` reads its contents, `signature` is the DER ECDSA-Sig-Value. `object` names the kind
// in the messages, which are the words OpenSSL-decoded objects were refused with: "not a DER
// `object` (...)", "trailing bytes after the `object`", "the signature algorithm is not
// ecdsa-with-SHA256", "the signature is not whole bytes".
struct SignedParts {
  absl::string_view tbs;
  DerReader tbs_fields;
  absl::string_view algorithm;  // the AlgorithmIdentifier's contents
  absl::string_view signature;
};
absl::StatusOr<SignedParts> SplitSigned(absl::string_view der, absl::string_view object);

// The TBS's own signature AlgorithmIdentifier (contents) must equal the outer one (RFC 5280
// 4.1.1.2): "the signature algorithm inside the signed part differs from the outer one".
absl::Status CheckInnerAlgorithm(absl::string_view inner, absl::string_view outer);

// A Name (see the header comment); returns its whole TLV, which is what names compare by.
absl::StatusOr<absl::string_view> ReadName(DerReader& reader, absl::string_view field);

// Whether two Names (whole TLVs) name the same entity: equal bytes, or else equal as RFC 5280
// 7.1 compares them (OpenSSL's X509_NAME_cmp of the canonical forms: case and spaces folded), so
// a CA whose issuer names are encoded differently from its subject name still matches.
bool NamesMatch(absl::string_view a, absl::string_view b);

// The instant of a Time element (UTCTime or GeneralizedTime, tag included); nullopt when its
// text is not RFC 5280's form or not a real date.
std::optional<absl::Time> DecodeTime(const DerElement& element);
// Whether `tag` is a Time's (UTCTime or GeneralizedTime).
bool IsTimeTag(uint8_t tag);

// An INTEGER's contents octets (two's complement), checked non-empty and minimal.
absl::StatusOr<absl::string_view> ReadInteger(DerReader& reader, absl::string_view field);

// Whether `contents` are a well-formed OBJECT IDENTIFIER (non-empty, minimal base-128 arcs).
bool IsObjectIdentifier(absl::string_view contents);

// A DER BOOLEAN's contents: FALSE is 0x00, TRUE 0xff (X.690 11.1); nullopt for anything else.
std::optional<bool> DecodeBoolean(absl::string_view contents);

// Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension, Extension ::= SEQUENCE { extnID OID,
// critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }, from the SEQUENCE's whole TLV (the
// contents of a certificate's [3] or a CRL's [0]) with nothing after it. `value` is extnValue's
// contents. Errors for any other form (an empty list, a BOOLEAN other than 0x00 or 0xff).
struct Extension {
  absl::string_view oid;
  bool critical = false;
  absl::string_view value;
};
// Each extension is given to `visit` in order; the first error, of the form or of `visit`, ends
// the walk.
absl::Status ForEachExtension(absl::string_view der,
                              absl::FunctionRef<absl::Status(const Extension&)> visit);

// For messages only: a Name's RFC 2253 text as OpenSSL prints it ("CN=...,O=..."), or
// "(unreadable name)".
std::string NameText(absl::string_view name_der);
// For messages only: an INTEGER's magnitude in hex, "-" before a negative one (as OpenSSL's
// ASN1_INTEGER holds it).
std::string IntegerHex(absl::string_view contents);

}  // namespace cn::dcap::x509
