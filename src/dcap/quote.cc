#include "src/dcap/quote.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/dcap/byte_reader.h"

namespace cn::dcap {
namespace {

absl::StatusOr<ReportBody> ReadReportBody(ByteReader& reader) {
  ReportBody body;
  ASSIGN_OR_RETURN(body.cpu_svn, reader.ReadArray<16>("CPUSVN"));
  ASSIGN_OR_RETURN(body.misc_select, reader.ReadU32("MISCSELECT"));
  RETURN_IF_ERROR(reader.ReadBytes("reserved", 28).status());
  ASSIGN_OR_RETURN(body.attributes, reader.ReadArray<16>("ATTRIBUTES"));
  ASSIGN_OR_RETURN(body.mr_enclave, reader.ReadArray<32>("MRENCLAVE"));
  RETURN_IF_ERROR(reader.ReadBytes("reserved", 32).status());
  ASSIGN_OR_RETURN(body.mr_signer, reader.ReadArray<32>("MRSIGNER"));
  RETURN_IF_ERROR(reader.ReadBytes("reserved", 96).status());
  ASSIGN_OR_RETURN(body.isv_prod_id, reader.ReadU16("ISVPRODID"));
  ASSIGN_OR_RETURN(body.isv_svn, reader.ReadU16("ISVSVN"));
  RETURN_IF_ERROR(reader.ReadBytes("reserved", 60).status());
  ASSIGN_OR_RETURN(body.report_data, reader.ReadArray<64>("REPORTDATA"));
  return body;
}

absl::StatusOr<TdReportBody> ReadTdReportBody(ByteReader& reader) {
  TdReportBody body;
  ASSIGN_OR_RETURN(body.tee_tcb_svn, reader.ReadArray<16>("TEE_TCB_SVN"));
  // MRSEAM, MRSIGNERSEAM, SEAMATTRIBUTES, TDATTRIBUTES, XFAM.
  RETURN_IF_ERROR(
      reader.ReadBytes("SEAM measurements and attributes", 48 + 48 + 8 + 8 + 8).status());
  ASSIGN_OR_RETURN(body.mr_td, reader.ReadArray<48>("MRTD"));
  // MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0..3.
  RETURN_IF_ERROR(reader.ReadBytes("configuration and runtime measurements", 48 * 7).status());
  ASSIGN_OR_RETURN(body.report_data, reader.ReadArray<64>("REPORTDATA"));
  return body;
}

// QE report, its signature, QE auth data and the certification data that follows them: the same
// sequence in v3 (directly in the signature data) and v4 (inside certification data type 6).
absl::Status ReadQeSection(ByteReader& reader, Quote* quote) {
  ASSIGN_OR_RETURN(ByteReader qe_reader,
                   reader.ReadSubReader("QE report", kSgxReportBodySize, "quote"));
  quote->qe_report_bytes = qe_reader.rest();
  ASSIGN_OR_RETURN(quote->qe_report, ReadReportBody(qe_reader));
  ASSIGN_OR_RETURN(quote->qe_report_signature, reader.ReadArray<64>("QE report signature"));
  ASSIGN_OR_RETURN(uint16_t auth_size, reader.ReadU16("QE authentication data size"));
  ASSIGN_OR_RETURN(quote->qe_auth_data, reader.ReadBytes("QE authentication data", auth_size));
  ASSIGN_OR_RETURN(quote->certification_data_type, reader.ReadU16("certification data type"));
  ASSIGN_OR_RETURN(uint32_t cert_size, reader.ReadU32("certification data size"));
  ASSIGN_OR_RETURN(quote->certification_data, reader.ReadBytes("certification data", cert_size));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ReportBody> ParseReportBody(absl::string_view bytes) {
  if (bytes.size() != kSgxReportBodySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("report body: ", bytes.size(), " bytes, expected ", kSgxReportBodySize));
  }
  ByteReader reader(bytes, "report body");
  return ReadReportBody(reader);
}

absl::StatusOr<Quote> ParseQuote(absl::string_view bytes) {
  ByteReader reader(bytes, "quote");
  Quote quote;
  QuoteHeader& header = quote.header;
  ASSIGN_OR_RETURN(header.version, reader.ReadU16("header version"));
  if (header.version != 3 && header.version != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("quote header: version ", header.version, " is not supported (only 3 and 4)"));
  }
  ASSIGN_OR_RETURN(header.attestation_key_type, reader.ReadU16("header attestation key type"));
  ASSIGN_OR_RETURN(header.tee_type, reader.ReadU32("header TEE type"));
  ASSIGN_OR_RETURN(header.qe_svn, reader.ReadU16("header QE SVN"));
  ASSIGN_OR_RETURN(header.pce_svn, reader.ReadU16("header PCE SVN"));
  ASSIGN_OR_RETURN(header.qe_vendor_id, reader.ReadArray<16>("header QE vendor ID"));
  ASSIGN_OR_RETURN(header.user_data, reader.ReadArray<20>("header user data"));
  if (header.tee_type == kTeeTypeSgx) {
    ASSIGN_OR_RETURN(quote.sgx_report, ReadReportBody(reader));
  } else if (header.tee_type == kTeeTypeTdx) {
    if (header.version != 4) {
      return absl::InvalidArgumentError(
          absl::StrCat("quote header: TDX quotes of version ", header.version, " do not exist"));
    }
    ASSIGN_OR_RETURN(quote.td_report, ReadTdReportBody(reader));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("quote header: TEE type 0x",
                                                   absl::Hex(header.tee_type),
                                                   " is neither SGX (0) nor TDX (0x81)"));
  }
  quote.signed_bytes = bytes.substr(0, reader.offset());

  ASSIGN_OR_RETURN(uint32_t signature_size, reader.ReadU32("signature data size"));
  ASSIGN_OR_RETURN(ByteReader signature,
                   reader.ReadSubReader("signature data", signature_size, "quote"));
  ASSIGN_OR_RETURN(quote.signature, signature.ReadArray<64>("quote signature"));
  ASSIGN_OR_RETURN(quote.attestation_key, signature.ReadArray<64>("attestation key"));
  if (header.version == 3) {
    RETURN_IF_ERROR(ReadQeSection(signature, &quote));
  } else {
    ASSIGN_OR_RETURN(uint16_t outer_type, signature.ReadU16("certification data type"));
    if (outer_type != kCertificationDataQeReport) {
      return signature.Error(absl::StrCat("v4 certification data type ", outer_type,
                                          " is not 6 (QE report certification data)"));
    }
    ASSIGN_OR_RETURN(uint32_t outer_size, signature.ReadU32("certification data size"));
    ASSIGN_OR_RETURN(ByteReader inner,
                     signature.ReadSubReader("QE report certification data", outer_size, "quote"));
    RETURN_IF_ERROR(ReadQeSection(inner, &quote));
    if (!inner.at_end()) {
      return inner.Error(absl::StrCat(inner.remaining(),
                                      " unaccounted bytes in the QE report certification data"));
    }
  }
  if (!signature.at_end()) {
    return signature.Error(
        absl::StrCat(signature.remaining(), " unaccounted bytes in the signature data"));
  }
  for (char c : reader.rest()) {
    if (c != 0) {
      return reader.Error("non-zero bytes after the signature data");
    }
  }
  quote.trailing_padding = reader.remaining();
  return quote;
}

}  // namespace cn::dcap
