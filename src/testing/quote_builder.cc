#include "src/testing/quote_builder.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/common/check.h"

namespace cn::testing {
namespace {

void PutU16(std::string* out, uint16_t value) {
  out->push_back(static_cast<char>(value & 0xff));
  out->push_back(static_cast<char>(value >> 8));
}

void PutU32(std::string* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

template <size_t N>
void PutArray(std::string* out, const std::array<uint8_t, N>& bytes) {
  out->append(reinterpret_cast<const char*>(bytes.data()), N);
}

}  // namespace

std::string EncodeReportBody(const dcap::ReportBody& body) {
  std::string out;
  PutArray(&out, body.cpu_svn);
  PutU32(&out, body.misc_select);
  out.append(28, '\0');
  PutArray(&out, body.attributes);
  PutArray(&out, body.mr_enclave);
  out.append(32, '\0');
  PutArray(&out, body.mr_signer);
  out.append(96, '\0');
  PutU16(&out, body.isv_prod_id);
  PutU16(&out, body.isv_svn);
  out.append(60, '\0');
  PutArray(&out, body.report_data);
  return out;
}

std::string EncodeTdReportBody(const dcap::TdReportBody& body) {
  std::string out;
  PutArray(&out, body.tee_tcb_svn);
  PutArray(&out, body.mr_seam);
  PutArray(&out, body.mr_signer_seam);
  PutArray(&out, body.seam_attributes);
  PutArray(&out, body.td_attributes);
  PutArray(&out, body.xfam);
  PutArray(&out, body.mr_td);
  PutArray(&out, body.mr_config_id);
  PutArray(&out, body.mr_owner);
  PutArray(&out, body.mr_owner_config);
  for (const auto& rtmr : body.rtmr) {
    PutArray(&out, rtmr);
  }
  PutArray(&out, body.report_data);
  CN_CHECK(body.tee_tcb_svn2.has_value() == body.mr_service_td.has_value());
  if (body.tee_tcb_svn2) {
    PutArray(&out, *body.tee_tcb_svn2);
    PutArray(&out, *body.mr_service_td);
  }
  return out;
}

QuoteBuilder::QuoteBuilder(const TestPki& pki) : pki_(pki), attestation_key_(GenerateP256Key()) {
  qe_report.mr_signer = pki.qe_identity.mrsigner;
  qe_report.isv_prod_id = pki.qe_identity.isvprodid;
  qe_report.isv_svn = 8;
  qe_report.attributes[0] = 0x11;
  qe_report.misc_select = 0;
  enclave.mr_enclave.fill(0xe1);
  enclave.mr_signer.fill(0x51);
  enclave.isv_prod_id = 7;
  enclave.isv_svn = 3;
  enclave.attributes[0] = 0x05;
  td.tee_tcb_svn = {5, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  td.mr_seam.fill(0x5e);
  td.xfam = {0xe7, 0x02, 0x06, 0, 0, 0, 0, 0};
  td.td_attributes = {0, 0, 0, 0x10, 0, 0, 0, 0};
  td.mr_td.fill(0x7d);
  td.mr_config_id.fill(0xc1);
  td.mr_owner.fill(0x0e);
  td.mr_owner_config.fill(0x0c);
  for (size_t i = 0; i < td.rtmr.size(); ++i) {
    td.rtmr[i].fill(static_cast<uint8_t>(0xa0 + i));
  }
  td.report_data.fill(0xd5);
}

void QuoteBuilder::UseTdx(uint16_t quote_version) {
  tee_type = dcap::kTeeTypeTdx;
  version = quote_version;
  qe_report.isv_prod_id = pki_.qe_identity.isvprodid;
}

std::string QuoteBuilder::Build() const {
  return tee_type == dcap::kTeeTypeTdx ? Build(td) : Build(enclave);
}

std::string QuoteBuilder::Build(const dcap::ReportBody& body) const {
  return BuildWithBody(EncodeReportBody(body));
}

std::string QuoteBuilder::Build(const dcap::TdReportBody& body) const {
  return BuildWithBody(EncodeTdReportBody(body));
}

std::string QuoteBuilder::BuildWithBody(const std::string& body) const {
  const std::string raw_key = RawPublicKey(attestation_key_.get());
  std::string quote;
  PutU16(&quote, version);
  PutU16(&quote, attestation_key_type);
  PutU32(&quote, tee_type);
  PutU16(&quote, 0);   // QE SVN
  PutU16(&quote, 13);  // PCE SVN
  PutArray(&quote, qe_vendor_id);
  quote.append(20, '\0');  // user data
  if (version >= 5) {
    uint16_t type = body_type;
    if (type == 0) {
      type = tee_type != dcap::kTeeTypeTdx            ? dcap::kBodyTypeSgx
             : body.size() == dcap::kTdReportBodySize ? dcap::kBodyTypeTdReport10
                                                      : dcap::kBodyTypeTdReport15;
    }
    PutU16(&quote, type);
    PutU32(&quote, static_cast<uint32_t>(body.size()));
  }
  quote += body;
  const std::string signature = SignRaw(attestation_key_.get(), quote);

  dcap::ReportBody qe = qe_report;
  if (!keep_qe_report_data) {
    const dcap::Sha256Digest bound = dcap::Sha256(raw_key + qe_auth_data);
    qe.report_data.fill(0);
    std::memcpy(qe.report_data.data(), bound.data(), bound.size());
  }
  const std::string qe_bytes = EncodeReportBody(qe);
  const std::string chain =
      certification_data.empty() && certification_data_type == dcap::kCertificationDataPckChain
          ? pki_.PckChainPem()
          : certification_data;
  if (qe_bytes != signed_qe_bytes_) {
    signed_qe_bytes_ = qe_bytes;
    qe_signature_ = SignRaw(pki_.pck_key(), qe_bytes);
  }
  std::string qe_section = qe_bytes;
  qe_section += qe_signature_;
  PutU16(&qe_section, static_cast<uint16_t>(qe_auth_data.size()));
  qe_section += qe_auth_data;
  PutU16(&qe_section, certification_data_type);
  PutU32(&qe_section, static_cast<uint32_t>(chain.size()));
  qe_section += chain;

  std::string signature_data = signature + raw_key;
  if (version >= 4) {
    PutU16(&signature_data, dcap::kCertificationDataQeReport);
    PutU32(&signature_data, static_cast<uint32_t>(qe_section.size()));
  }
  signature_data += qe_section;
  PutU32(&quote, static_cast<uint32_t>(signature_data.size()));
  quote += signature_data;
  return quote;
}

}  // namespace cn::testing
