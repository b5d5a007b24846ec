#include "src/sgxquote/output.h"

#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "src/dcap/crypto.h"
#include "src/dcap/pck_extension.h"

namespace cn::sgxquote {
namespace {

using dcap::HexEncode;

std::string TimeText(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

OrderedJson ReportJson(const dcap::ReportBody& report) {
  OrderedJson json = OrderedJson::object();
  json["cpu_svn"] = HexEncode(report.cpu_svn);
  json["misc_select"] = absl::StrCat(absl::Hex(report.misc_select, absl::kZeroPad8));
  json["attributes"] = HexEncode(report.attributes);
  json["debug"] = (report.attributes[0] & 0x02) != 0;
  json["mrenclave"] = HexEncode(report.mr_enclave);
  json["mrsigner"] = HexEncode(report.mr_signer);
  json["isv_prod_id"] = report.isv_prod_id;
  json["isv_svn"] = report.isv_svn;
  json["report_data"] = HexEncode(report.report_data);
  return json;
}

// The TD report's fields under the names of `verify --json` (the list): measurements,
// then attributes and SVNs, then the 1.5 fields when present.
void AddTdReportFields(const dcap::TdReportBody& td, OrderedJson* json) {
  OrderedJson& out = *json;
  out["mr_td"] = HexEncode(td.mr_td);
  out["mr_config_id"] = HexEncode(td.mr_config_id);
  out["mr_owner"] = HexEncode(td.mr_owner);
  out["mr_owner_config"] = HexEncode(td.mr_owner_config);
  for (size_t i = 0; i < td.rtmr.size(); ++i) {
    out[absl::StrCat("rtmr", i)] = HexEncode(td.rtmr[i]);
  }
  out["mr_seam"] = HexEncode(td.mr_seam);
  out["mr_signer_seam"] = HexEncode(td.mr_signer_seam);
  out["td_attributes"] = HexEncode(td.td_attributes);
  out["xfam"] = HexEncode(td.xfam);
  out["tee_tcb_svn"] = HexEncode(td.tee_tcb_svn);
  if (td.tee_tcb_svn2) {
    out["tee_tcb_svn2"] = HexEncode(*td.tee_tcb_svn2);
  }
  if (td.mr_service_td) {
    out["mr_service_td"] = HexEncode(*td.mr_service_td);
  }
  out["report_data"] = HexEncode(td.report_data);
  out["debug"] = td.debug();
}

OrderedJson ExtensionJson(const dcap::PckExtension& extension) {
  OrderedJson json = OrderedJson::object();
  json["fmspc"] = HexEncode(extension.fmspc);
  json["pce_id"] = HexEncode(extension.pce_id);
  json["tcb_components"] = OrderedJson::array();
  for (uint8_t component : extension.tcb_components) {
    json["tcb_components"].push_back(component);
  }
  json["pcesvn"] = extension.pcesvn;
  json["cpusvn"] = HexEncode(extension.cpusvn);
  return json;
}

OrderedJson CertificatesJson(absl::string_view pem) {
  absl::StatusOr<std::vector<dcap::X509Ptr>> certs =
      dcap::ParsePemCertificates(pem, "certification data");
  if (!certs.ok()) {
    return OrderedJson{{"error", std::string(certs.status().message())}};
  }
  OrderedJson list = OrderedJson::array();
  for (const dcap::X509Ptr& cert : *certs) {
    OrderedJson json = OrderedJson::object();
    json["subject"] = dcap::NameText(X509_get_subject_name(cert.get()));
    json["issuer"] = dcap::NameText(X509_get_issuer_name(cert.get()));
    json["serial"] = dcap::SerialHex(cert.get());
    absl::StatusOr<absl::Time> from = dcap::ToTime(X509_get0_notBefore(cert.get()));
    absl::StatusOr<absl::Time> until = dcap::ToTime(X509_get0_notAfter(cert.get()));
    json["not_before"] = from.ok() ? TimeText(*from) : "unreadable";
    json["not_after"] = until.ok() ? TimeText(*until) : "unreadable";
    absl::StatusOr<dcap::PckExtension> extension = dcap::PckExtensionOf(cert.get());
    if (extension.ok()) {
      json["sgx_extension"] = ExtensionJson(*extension);
    } else if (!absl::IsNotFound(extension.status())) {
      json["sgx_extension"] = OrderedJson{{"error", std::string(extension.status().message())}};
    }
    list.push_back(std::move(json));
  }
  return list;
}

void AppendText(const OrderedJson& json, int depth, std::string* out) {
  const std::string indent(static_cast<size_t>(depth) * 2, ' ');
  for (auto it = json.begin(); it != json.end(); ++it) {
    const std::string key = json.is_array() ? "-" : absl::StrCat(it.key(), ":");
    if (it->is_object()) {
      absl::StrAppend(out, indent, key, "\n");
      AppendText(*it, depth + 1, out);
    } else if (it->is_array() && !it->empty() && (*it)[0].is_object()) {
      absl::StrAppend(out, indent, key, "\n");
      for (const auto& element : *it) {
        absl::StrAppend(out, indent, "  -\n");
        AppendText(element, depth + 2, out);
      }
    } else if (it->is_string()) {
      absl::StrAppend(out, indent, key, " ", it->get<std::string>(), "\n");
    } else {
      absl::StrAppend(out, indent, key, " ", it->dump(), "\n");
    }
  }
}

}  // namespace

OrderedJson ResultJson(const dcap::VerificationResult& result) {
  OrderedJson json = OrderedJson::object();
  if (!result.verified()) {
    json["verified"] = false;
    json["error"] = std::string(dcap::ErrorCodeName(result.rejection().code));
    json["message"] = result.rejection().message;
    return json;
  }
  const dcap::Verdict& verdict = result.verdict();
  json["verified"] = true;
  json["tee"] = std::string(dcap::TeeName(verdict.tee));
  json["quote_version"] = verdict.quote_version;
  json["tcb_status"] = std::string(dcap::TcbStatusName(verdict.tcb_status));
  json["advisory_ids"] = verdict.advisory_ids;
  json["fmspc"] = HexEncode(verdict.pck.fmspc);
  json["pce_id"] = HexEncode(verdict.pck.pce_id);
  if (verdict.td_report) {
    json["tdx_module_status"] = std::string(
        dcap::TcbStatusName(verdict.tdx_module_status.value_or(dcap::TcbStatus::kUpToDate)));
    AddTdReportFields(*verdict.td_report, &json);
    json["collateral_expired"] = verdict.collateral_expired;
    return json;
  }
  json["mrenclave"] = HexEncode(verdict.report.mr_enclave);
  json["mrsigner"] = HexEncode(verdict.report.mr_signer);
  json["isv_prod_id"] = verdict.report.isv_prod_id;
  json["isv_svn"] = verdict.report.isv_svn;
  json["debug"] = (verdict.report.attributes[0] & 0x02) != 0;
  json["report_data"] = HexEncode(verdict.report.report_data);
  json["collateral_expired"] = verdict.collateral_expired;
  return json;
}

std::string ResultText(const dcap::VerificationResult& result) {
  if (!result.verified()) {
    return absl::StrCat("REJECTED (", dcap::ErrorCodeName(result.rejection().code),
                        "): ", result.rejection().message, "\n");
  }
  const dcap::Verdict& verdict = result.verdict();
  std::string text =
      absl::StrCat("VERIFIED: ", verdict.td_report ? "TDX" : "SGX", " quote v",
                   verdict.quote_version, ", TCB status ", dcap::TcbStatusName(verdict.tcb_status));
  if (!verdict.advisory_ids.empty()) {
    absl::StrAppend(&text, " (", absl::StrJoin(verdict.advisory_ids, ", "), ")");
  }
  if (verdict.td_report) {
    const dcap::TdReportBody& td = *verdict.td_report;
    absl::StrAppend(
        &text, "\n  TDX module ",
        verdict.tdx_module_identity.empty() ? "(major version 0)" : verdict.tdx_module_identity,
        " status ",
        dcap::TcbStatusName(verdict.tdx_module_status.value_or(dcap::TcbStatus::kUpToDate)),
        ", TEE_TCB_SVN ", HexEncode(td.tee_tcb_svn), "\n  MRTD  ", HexEncode(td.mr_td));
    for (size_t i = 0; i < td.rtmr.size(); ++i) {
      absl::StrAppend(&text, "\n  RTMR", i, " ", HexEncode(td.rtmr[i]));
    }
    absl::StrAppend(&text, "\n  MRSEAM ", HexEncode(td.mr_seam), "\n  TDATTRIBUTES ",
                    HexEncode(td.td_attributes), td.debug() ? " (DEBUG TD)" : "", ", XFAM ",
                    HexEncode(td.xfam), "\n  FMSPC ", HexEncode(verdict.pck.fmspc), ", PCE ID ",
                    HexEncode(verdict.pck.pce_id), "\n");
  } else {
    absl::StrAppend(&text, "\n  MRENCLAVE ", HexEncode(verdict.report.mr_enclave), "\n  MRSIGNER  ",
                    HexEncode(verdict.report.mr_signer), "\n  ISVPRODID ",
                    verdict.report.isv_prod_id, ", ISVSVN ", verdict.report.isv_svn,
                    (verdict.report.attributes[0] & 0x02) ? ", DEBUG enclave" : "", "\n  FMSPC ",
                    HexEncode(verdict.pck.fmspc), ", PCE ID ", HexEncode(verdict.pck.pce_id), "\n");
  }
  if (verdict.tcb_status == dcap::TcbStatus::kTdRelaunchAdvised ||
      verdict.tcb_status == dcap::TcbStatus::kTdRelaunchAdvisedConfigurationNeeded) {
    absl::StrAppend(&text,
                    "  note: the TDX module was updated since this TD launched (TEE_TCB_SVN2 ",
                    HexEncode(*verdict.td_report->tee_tcb_svn2),
                    "); relaunch the TD to leave the OutOfDate state it started in\n");
  }
  if (verdict.collateral_expired) {
    absl::StrAppend(&text, "  note: collateral is outside its validity period (allowed)\n");
  }
  return text;
}

OrderedJson QuoteJson(const dcap::Quote& quote) {
  OrderedJson json = OrderedJson::object();
  const dcap::QuoteHeader& header = quote.header;
  OrderedJson head = OrderedJson::object();
  head["version"] = header.version;
  head["attestation_key_type"] = header.attestation_key_type;
  head["tee_type"] = header.tee_type == dcap::kTeeTypeTdx ? "tdx" : "sgx";
  head["qe_svn"] = header.qe_svn;
  head["pce_svn"] = header.pce_svn;
  head["qe_vendor_id"] = HexEncode(header.qe_vendor_id);
  head["user_data"] = HexEncode(header.user_data);
  json["header"] = std::move(head);
  if (quote.sgx_report) {
    json["report_body"] = ReportJson(*quote.sgx_report);
  }
  json["body_type"] = quote.body_type;
  if (quote.td_report) {
    OrderedJson td = OrderedJson::object();
    AddTdReportFields(*quote.td_report, &td);
    td["seam_attributes"] = HexEncode(quote.td_report->seam_attributes);
    json["td_report_body"] = std::move(td);
  }
  json["signature"] = HexEncode(quote.signature);
  json["attestation_key"] = HexEncode(quote.attestation_key);
  json["qe_report"] = ReportJson(quote.qe_report);
  json["qe_report_signature"] = HexEncode(quote.qe_report_signature);
  json["qe_auth_data"] = HexEncode(quote.qe_auth_data);
  json["certification_data_type"] = quote.certification_data_type;
  if (quote.certification_data_type == dcap::kCertificationDataPckChain) {
    json["certificates"] = CertificatesJson(quote.certification_data);
  } else {
    json["certification_data"] = HexEncode(quote.certification_data);
  }
  return json;
}

std::string QuoteText(const dcap::Quote& quote) {
  std::string text;
  AppendText(QuoteJson(quote), 0, &text);
  return text;
}

}  // namespace cn::sgxquote
