#include "src/testing/test_pki.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ui.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "src/common/check.h"

namespace cn::testing {
namespace {

using dcap::X509Ptr;

// A few DER encoders for the SGX extension (tests build it; the verifier parses it).
std::string Tlv(uint8_t tag, absl::string_view content) {
  std::string out(1, static_cast<char>(tag));
  const size_t size = content.size();
  if (size < 0x80) {
    out.push_back(static_cast<char>(size));
  } else if (size < 0x100) {
    out.push_back(static_cast<char>(0x81));
    out.push_back(static_cast<char>(size));
  } else {
    CN_CHECK(size < 0x10000);
    out.push_back(static_cast<char>(0x82));
    out.push_back(static_cast<char>(size >> 8));
    out.push_back(static_cast<char>(size & 0xff));
  }
  out.append(content.data(), content.size());
  return out;
}

std::string Oid(absl::string_view dotted) {
  std::vector<uint64_t> arcs;
  for (absl::string_view part : absl::StrSplit(dotted, '.')) {
    uint64_t value = 0;
    for (char c : part) {
      value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    arcs.push_back(value);
  }
  std::string content;
  auto base128 = [&content](uint64_t value) {
    std::string bytes(1, static_cast<char>(value & 0x7f));
    while ((value >>= 7) != 0) {
      bytes.insert(bytes.begin(), static_cast<char>(0x80 | (value & 0x7f)));
    }
    content += bytes;
  };
  base128(arcs[0] * 40 + arcs[1]);
  for (size_t i = 2; i < arcs.size(); ++i) {
    base128(arcs[i]);
  }
  return Tlv(0x06, content);
}

std::string Integer(uint64_t value) {
  std::string bytes;
  do {
    bytes.insert(bytes.begin(), static_cast<char>(value & 0xff));
    value >>= 8;
  } while (value != 0);
  if (static_cast<uint8_t>(bytes[0]) & 0x80) {
    bytes.insert(bytes.begin(), '\0');
  }
  return Tlv(0x02, bytes);
}

template <size_t N>
std::string Octets(const std::array<uint8_t, N>& bytes) {
  return Tlv(0x04, absl::string_view(reinterpret_cast<const char*>(bytes.data()), N));
}

std::string Entry(absl::string_view oid, absl::string_view value) {
  return Tlv(0x30, absl::StrCat(Oid(oid), value));
}

void SetTime(ASN1_TIME* field, absl::Time time) {
  CN_CHECK(ASN1_TIME_set(field, absl::ToTimeT(time)) != nullptr);
}

void SetName(X509_NAME* name, absl::string_view common_name) {
  CN_CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                      reinterpret_cast<const unsigned char*>(common_name.data()),
                                      static_cast<int>(common_name.size()), -1, 0) == 1);
  CN_CHECK(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                      reinterpret_cast<const unsigned char*>("Test PKI"), -1, -1,
                                      0) == 1);
}

template <size_t N>
std::string HexUpper(const std::array<uint8_t, N>& bytes) {
  std::string hex = dcap::HexEncode(bytes);
  for (char& c : hex) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return hex;
}

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

}  // namespace

absl::Time TestTime(absl::string_view rfc3339) {
  absl::Time time;
  std::string error;
  CN_CHECK(absl::ParseTime(absl::RFC3339_full, std::string(rfc3339), &time, &error));
  return time;
}

absl::Time TestPkiDefaultAt() { return TestTime("2025-07-01T00:00:00Z"); }

dcap::EvpPkeyPtr GenerateP256Key() {
  dcap::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  CN_CHECK(key != nullptr);
  return key;
}

std::string SignRaw(EVP_PKEY* key, absl::string_view message) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  CN_CHECK(context != nullptr);
  CN_CHECK(EVP_DigestSignInit(context, nullptr, EVP_sha256(), nullptr, key) == 1);
  unsigned char der[80];
  size_t size = sizeof(der);
  CN_CHECK(EVP_DigestSign(context, der, &size,
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1);
  EVP_MD_CTX_free(context);
  const unsigned char* cursor = der;
  ECDSA_SIG* signature = d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(size));
  CN_CHECK(signature != nullptr);
  std::string raw(64, '\0');
  CN_CHECK(BN_bn2binpad(ECDSA_SIG_get0_r(signature), reinterpret_cast<unsigned char*>(raw.data()),
                        32) == 32);
  CN_CHECK(BN_bn2binpad(ECDSA_SIG_get0_s(signature),
                        reinterpret_cast<unsigned char*>(raw.data() + 32), 32) == 32);
  ECDSA_SIG_free(signature);
  return raw;
}

std::string RawPublicKey(EVP_PKEY* key) {
  unsigned char point[65];
  size_t size = 0;
  CN_CHECK(EVP_PKEY_get_octet_string_param(key, "encoded-pub-key", point, sizeof(point), &size) ==
           1);
  CN_CHECK(size == 65 && point[0] == 0x04);
  return std::string(reinterpret_cast<char*>(point + 1), 64);
}

std::string CertificatePem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  CN_CHECK(bio != nullptr && PEM_write_bio_X509(bio, cert) == 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

std::string WithEncryptedPemHeaders(absl::string_view pem) {
  const std::string begin_line = "-----BEGIN CERTIFICATE-----\n";
  std::string out(pem);
  for (size_t at = out.find(begin_line); at != std::string::npos;
       at = out.find(begin_line, at + 1)) {
    out.insert(at + begin_line.size(),
               "Proc-Type: 4,ENCRYPTED\nDEK-Info: DES-EDE3-CBC,0123456789ABCDEF\n\n");
  }
  return out;
}

namespace {
std::atomic<int> passphrase_requests{0};
}  // namespace

PassphrasePromptCounter::PassphrasePromptCounter()
    : previous_(UI_get_default_method()), method_(UI_create_method("passphrase counter")) {
  CN_CHECK(method_ != nullptr);
  passphrase_requests = 0;
  CN_CHECK(UI_method_set_reader(method_, [](UI*, UI_STRING*) {
             ++passphrase_requests;
             return -1;  // no passphrase: the caller must fail, not guess
           }) == 0);
  UI_set_default_method(method_);
}

PassphrasePromptCounter::~PassphrasePromptCounter() {
  UI_set_default_method(previous_);
  UI_destroy_method(method_);
}

int PassphrasePromptCounter::count() const { return passphrase_requests.load(); }

namespace {

// Adds an extension given as its OID in dotted form and its DER value.
void AddRawExtension(X509* cert, const char* oid_text, bool critical, const std::string& der) {
  ASN1_OBJECT* oid = OBJ_txt2obj(oid_text, 1);
  ASN1_OCTET_STRING* data = ASN1_OCTET_STRING_new();
  CN_CHECK(oid != nullptr && data != nullptr);
  CN_CHECK(ASN1_OCTET_STRING_set(data, reinterpret_cast<const unsigned char*>(der.data()),
                                 static_cast<int>(der.size())) == 1);
  X509_EXTENSION* extension = X509_EXTENSION_create_by_OBJ(nullptr, oid, critical ? 1 : 0, data);
  CN_CHECK(extension != nullptr && X509_add_ext(cert, extension, -1) == 1);
  X509_EXTENSION_free(extension);
  ASN1_OCTET_STRING_free(data);
  ASN1_OBJECT_free(oid);
}

}  // namespace

X509Ptr IssueCertificate(const CertificateSpec& spec) {
  X509Ptr cert(X509_new());
  CN_CHECK(cert != nullptr);
  CN_CHECK(X509_set_version(cert.get(), 2) == 1);
  CN_CHECK(ASN1_INTEGER_set_int64(X509_get_serialNumber(cert.get()), spec.serial) == 1);
  SetName(X509_get_subject_name(cert.get()), spec.common_name);
  X509* issuer = spec.issuer == nullptr ? cert.get() : spec.issuer;
  EVP_PKEY* issuer_key = spec.issuer == nullptr ? spec.subject_key : spec.issuer_key;
  CN_CHECK(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) == 1);
  SetTime(X509_getm_notBefore(cert.get()), spec.not_before);
  SetTime(X509_getm_notAfter(cert.get()), spec.not_after);
  CN_CHECK(X509_set_pubkey(cert.get(), spec.subject_key) == 1);

  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, cert.get(), nullptr, nullptr, 0);
  if (spec.basic_constraints) {
    const std::string value =
        !spec.is_ca
            ? "critical,CA:FALSE"
            : (spec.path_length ? absl::StrCat("critical,CA:TRUE,pathlen:", *spec.path_length)
                                : "critical,CA:TRUE");
    X509_EXTENSION* constraints =
        X509V3_EXT_conf_nid(nullptr, &context, NID_basic_constraints, value.c_str());
    CN_CHECK(constraints != nullptr && X509_add_ext(cert.get(), constraints, -1) == 1);
    X509_EXTENSION_free(constraints);
  }
  const std::string key_usage = !spec.key_usage.empty()
                                    ? spec.key_usage
                                    : (spec.is_ca ? "critical,keyCertSign,cRLSign"
                                                  : "critical,digitalSignature,nonRepudiation");
  X509_EXTENSION* usage = X509V3_EXT_conf_nid(nullptr, &context, NID_key_usage, key_usage.c_str());
  CN_CHECK(usage != nullptr && X509_add_ext(cert.get(), usage, -1) == 1);
  X509_EXTENSION_free(usage);
  if (spec.sgx_extension_der) {
    AddRawExtension(cert.get(), dcap::kSgxExtensionOid, /*critical=*/false,
                    *spec.sgx_extension_der);
  }
  for (const RawExtension& extension : spec.extra_extensions) {
    AddRawExtension(cert.get(), extension.oid.c_str(), extension.critical, extension.der);
  }
  CN_CHECK(X509_sign(cert.get(), issuer_key, EVP_sha256()) > 0);
  return cert;
}

std::string IssueCrlDer(const CrlSpec& spec) {
  X509_CRL* crl = X509_CRL_new();
  CN_CHECK(crl != nullptr);
  CN_CHECK(X509_CRL_set_version(crl, 1) == 1);
  CN_CHECK(X509_CRL_set_issuer_name(crl, X509_get_subject_name(spec.issuer)) == 1);
  ASN1_TIME* time = ASN1_TIME_new();
  SetTime(time, spec.this_update);
  CN_CHECK(X509_CRL_set1_lastUpdate(crl, time) == 1);
  SetTime(time, spec.next_update);
  CN_CHECK(X509_CRL_set1_nextUpdate(crl, time) == 1);
  SetTime(time, spec.this_update);
  for (int64_t serial : spec.revoked_serials) {
    X509_REVOKED* revoked = X509_REVOKED_new();
    ASN1_INTEGER* number = ASN1_INTEGER_new();
    CN_CHECK(revoked != nullptr && number != nullptr);
    CN_CHECK(ASN1_INTEGER_set_int64(number, serial) == 1);
    CN_CHECK(X509_REVOKED_set_serialNumber(revoked, number) == 1);
    CN_CHECK(X509_REVOKED_set_revocationDate(revoked, time) == 1);
    CN_CHECK(X509_CRL_add0_revoked(crl, revoked) == 1);
    ASN1_INTEGER_free(number);
  }
  ASN1_TIME_free(time);
  CN_CHECK(X509_CRL_sort(crl) == 1);
  CN_CHECK(X509_CRL_sign(crl, spec.signing_key, EVP_sha256()) > 0);
  unsigned char* buffer = nullptr;
  const int size = i2d_X509_CRL(crl, &buffer);
  CN_CHECK(size > 0);
  std::string der(reinterpret_cast<char*>(buffer), static_cast<size_t>(size));
  OPENSSL_free(buffer);
  X509_CRL_free(crl);
  return der;
}

std::string EncodeSgxExtension(const dcap::PckExtension& extension) {
  const std::string base = dcap::kSgxExtensionOid;
  std::string tcb;
  for (int i = 0; i < 16; ++i) {
    tcb += Entry(absl::StrCat(base, ".2.", i + 1), Integer(extension.tcb_components[i]));
  }
  tcb += Entry(base + ".2.17", Integer(extension.pcesvn));
  tcb += Entry(base + ".2.18", Octets(extension.cpusvn));
  std::string entries;
  entries += Entry(base + ".1", Octets(extension.ppid));
  entries += Entry(base + ".2", Tlv(0x30, tcb));
  entries += Entry(base + ".3", Octets(extension.pce_id));
  entries += Entry(base + ".4", Octets(extension.fmspc));
  entries += Entry(base + ".5", Tlv(0x0a, std::string(1, '\0')));
  return Tlv(0x30, entries);
}

namespace {

// QE Identity and TDX module identity levels: {"tcb": {"isvsvn"}, "tcbDate", "tcbStatus", ...}.
nlohmann::ordered_json LevelsJson(const std::vector<QeLevelSpec>& levels) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const QeLevelSpec& level : levels) {
    nlohmann::ordered_json entry = {{"tcb", {{"isvsvn", level.isvsvn}}},
                                    {"tcbDate", "2024-03-13T00:00:00Z"},
                                    {"tcbStatus", level.status}};
    if (!level.advisory_ids.empty()) {
      entry["advisoryIDs"] = level.advisory_ids;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

std::string TcbInfoJson(const TcbInfoSpec& spec) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  if (spec.version == 3) {
    json["id"] = spec.id;
  }
  json["version"] = spec.version;
  json["issueDate"] = Rfc3339(spec.issue_date);
  json["nextUpdate"] = Rfc3339(spec.next_update);
  json["fmspc"] = HexUpper(spec.fmspc);
  json["pceId"] = HexUpper(spec.pce_id);
  json["tcbType"] = 0;
  json["tcbEvaluationDataNumber"] = 17;
  auto module_json = [](const TdxModuleSpec& module) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    out["mrsigner"] = HexUpper(module.mrsigner);
    out["attributes"] = module.attributes;
    out["attributesMask"] = module.attributes_mask;
    return out;
  };
  if (spec.tdx_module) {
    json["tdxModule"] = module_json(*spec.tdx_module);
  }
  if (!spec.tdx_module_identities.empty()) {
    json["tdxModuleIdentities"] = nlohmann::ordered_json::array();
    for (const TdxModuleIdentitySpec& identity : spec.tdx_module_identities) {
      nlohmann::ordered_json entry = {{"id", identity.id}};
      entry.update(module_json(identity.module));
      entry["tcbLevels"] = LevelsJson(identity.levels);
      json["tdxModuleIdentities"].push_back(std::move(entry));
    }
  }
  json["tcbLevels"] = nlohmann::ordered_json::array();
  for (const TcbLevelSpec& level : spec.levels) {
    nlohmann::ordered_json tcb = nlohmann::ordered_json::object();
    if (spec.version == 3) {
      tcb["sgxtcbcomponents"] = nlohmann::ordered_json::array();
      for (uint8_t svn : level.components) {
        tcb["sgxtcbcomponents"].push_back({{"svn", svn}});
      }
    } else {
      for (int i = 0; i < 16; ++i) {
        tcb[absl::StrCat("sgxtcbcomp", i < 9 ? "0" : "", i + 1, "svn")] = level.components[i];
      }
    }
    tcb["pcesvn"] = level.pcesvn;
    if (level.tdx_components) {
      tcb["tdxtcbcomponents"] = nlohmann::ordered_json::array();
      for (uint8_t svn : *level.tdx_components) {
        tcb["tdxtcbcomponents"].push_back({{"svn", svn}});
      }
    }
    nlohmann::ordered_json entry = {
        {"tcb", tcb}, {"tcbDate", "2024-03-13T00:00:00Z"}, {"tcbStatus", level.status}};
    if (!level.advisory_ids.empty()) {
      entry["advisoryIDs"] = level.advisory_ids;
    }
    json["tcbLevels"].push_back(entry);
  }
  return json.dump();
}

std::string QeIdentityJson(const QeIdentitySpec& spec) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  json["id"] = spec.id;
  json["version"] = 2;
  json["issueDate"] = Rfc3339(spec.issue_date);
  json["nextUpdate"] = Rfc3339(spec.next_update);
  json["tcbEvaluationDataNumber"] = 17;
  json["miscselect"] = spec.miscselect;
  json["miscselectMask"] = spec.miscselect_mask;
  json["attributes"] = spec.attributes;
  json["attributesMask"] = spec.attributes_mask;
  json["mrsigner"] = HexUpper(spec.mrsigner);
  json["isvprodid"] = spec.isvprodid;
  json["tcbLevels"] = LevelsJson(spec.levels);
  return json.dump();
}

TestPki::TestPki()
    : root_key_(GenerateP256Key()),
      intermediate_key_(GenerateP256Key()),
      pck_key_(GenerateP256Key()),
      tcb_signing_key_(GenerateP256Key()) {
  const absl::Time not_before = TestTime("2020-01-01T00:00:00Z");
  const absl::Time not_after = TestTime("2040-01-01T00:00:00Z");
  root_ = IssueCertificate({.common_name = "Test SGX Root CA",
                            .subject_key = root_key_.get(),
                            .serial = 1,
                            .not_before = not_before,
                            .not_after = not_after,
                            .is_ca = true});
  intermediate_ = IssueCertificate({.common_name = "Test SGX PCK Processor CA",
                                    .subject_key = intermediate_key_.get(),
                                    .issuer = root_.get(),
                                    .issuer_key = root_key_.get(),
                                    .serial = 2,
                                    .not_before = not_before,
                                    .not_after = not_after,
                                    .is_ca = true});
  tcb_signer_ = IssueCertificate({.common_name = "Test SGX TCB Signing",
                                  .subject_key = tcb_signing_key_.get(),
                                  .issuer = root_.get(),
                                  .issuer_key = root_key_.get(),
                                  .serial = 3,
                                  .not_before = not_before,
                                  .not_after = not_after});
  pck_not_before = not_before;
  pck_not_after = not_after;
  pck_extension.fmspc = {0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00};
  pck_extension.pce_id = {0x00, 0x00};
  pck_extension.tcb_components = {5, 5, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  pck_extension.cpusvn = pck_extension.tcb_components;
  pck_extension.pcesvn = 13;
  for (size_t i = 0; i < pck_extension.ppid.size(); ++i) {
    pck_extension.ppid[i] = static_cast<uint8_t>(i);
  }
  ReissuePckLeaf();

  const absl::Time issue = TestTime("2025-06-15T00:00:00Z");
  const absl::Time next = TestTime("2025-07-15T00:00:00Z");
  tcb_info.issue_date = issue;
  tcb_info.next_update = next;
  tcb_info.fmspc = pck_extension.fmspc;
  tcb_info.pce_id = pck_extension.pce_id;
  tcb_info.levels = {
      TcbLevelSpec{pck_extension.tcb_components, pck_extension.pcesvn, "UpToDate", {}}};

  qe_identity.issue_date = issue;
  qe_identity.next_update = next;
  qe_identity.mrsigner.fill(0x8c);
  qe_identity.levels = {QeLevelSpec{8, "UpToDate", {}},
                        QeLevelSpec{6, "OutOfDate", {"INTEL-SA-00615"}}};

  root_crl = CrlSpec{root_.get(),
                     root_key_.get(),
                     {},
                     TestTime("2025-06-01T00:00:00Z"),
                     TestTime("2025-08-01T00:00:00Z")};
  pck_crl = CrlSpec{intermediate_.get(),
                    intermediate_key_.get(),
                    {},
                    TestTime("2025-06-01T00:00:00Z"),
                    TestTime("2025-08-01T00:00:00Z")};
}

void TestPki::UseTdx() {
  tcb_info.version = 3;
  tcb_info.id = "TDX";
  tcb_info.tdx_module = TdxModuleSpec{};
  tcb_info.tdx_module_identities = {
      TdxModuleIdentitySpec{
          "TDX_01",
          TdxModuleSpec{},
          {QeLevelSpec{5, "UpToDate", {}}, QeLevelSpec{3, "OutOfDate", {"INTEL-SA-01036"}}}},
      TdxModuleIdentitySpec{"TDX_03", TdxModuleSpec{}, {QeLevelSpec{2, "UpToDate", {}}}}};
  tcb_info.levels = {TcbLevelSpec{pck_extension.tcb_components,
                                  pck_extension.pcesvn,
                                  "UpToDate",
                                  {},
                                  std::array<uint8_t, 16>{5, 1, 2}}};
  qe_identity.id = "TD_QE";
  qe_identity.isvprodid = 2;
}

void TestPki::ReissuePckLeaf() {
  pck_leaf_ = IssueCertificate({.common_name = "Test SGX PCK Certificate",
                                .subject_key = pck_key_.get(),
                                .issuer = intermediate_.get(),
                                .issuer_key = intermediate_key_.get(),
                                .serial = pck_serial,
                                .not_before = pck_not_before,
                                .not_after = pck_not_after,
                                .sgx_extension_der = EncodeSgxExtension(pck_extension)});
}

std::string TestPki::PckChainPem() const {
  return absl::StrCat(CertificatePem(pck_leaf()), CertificatePem(intermediate()), RootPem());
}

std::string TestPki::TcbChainPem() const {
  return absl::StrCat(CertificatePem(tcb_signer()), RootPem());
}

dcap::TrustAnchor TestPki::Anchor() const {
  absl::StatusOr<dcap::TrustAnchor> anchor = dcap::TrustAnchor::FromCertificate(RootPem());
  CN_CHECK(anchor.ok());
  return *std::move(anchor);
}

dcap::Collateral TestPki::BuildCollateral() const {
  dcap::CollateralParts parts;
  parts.pck_crl_issuer_chain = absl::StrCat(CertificatePem(intermediate()), RootPem());
  parts.root_ca_crl = IssueCrlDer(root_crl);
  parts.pck_crl = IssueCrlDer(pck_crl);
  parts.tcb_info_issuer_chain =
      tcb_info_chain_override.empty() ? TcbChainPem() : tcb_info_chain_override;
  parts.tcb_info = tcb_info_text_override ? *tcb_info_text_override : TcbInfoJson(tcb_info);
  parts.tcb_info_signature = SignRaw(tcb_signing_key(), parts.tcb_info);
  parts.qe_identity_issuer_chain =
      qe_identity_chain_override.empty() ? TcbChainPem() : qe_identity_chain_override;
  parts.qe_identity =
      qe_identity_text_override ? *qe_identity_text_override : QeIdentityJson(qe_identity);
  parts.qe_identity_signature = SignRaw(tcb_signing_key(), parts.qe_identity);
  return dcap::Collateral::FromParts(std::move(parts));
}

}  // namespace cn::testing
