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

absl::StatusOr<TdReportBody> ReadTdReportBody(ByteReader& reader, bool td15) {
  TdReportBody body;
  ASSIGN_OR_RETURN(body.tee_tcb_svn, reader.ReadArray<16>("TEE_TCB_SVN"));
  ASSIGN_OR_RETURN(body.mr_seam, reader.ReadArray<48>("MRSEAM"));
  ASSIGN_OR_RETURN(body.mr_signer_seam, reader.ReadArray<48>("MRSIGNERSEAM"));
  ASSIGN_OR_RETURN(body.seam_attributes, reader.ReadArray<8>("SEAMATTRIBUTES"));
  ASSIGN_OR_RETURN(body.td_attributes, reader.ReadArray<8>("TDATTRIBUTES"));
  ASSIGN_OR_RETURN(body.xfam, reader.ReadArray<8>("XFAM"));
  ASSIGN_OR_RETURN(body.mr_td, reader.ReadArray<48>("MRTD"));
  ASSIGN_OR_RETURN(body.mr_config_id, reader.ReadArray<48>("MRCONFIGID"));
  ASSIGN_OR_RETURN(body.mr_owner, reader.ReadArray<48>("MROWNER"));
  ASSIGN_OR_RETURN(body.mr_owner_config, reader.ReadArray<48>("MROWNERCONFIG"));
  static constexpr absl::string_view kRtmrNames[4] = {"RTMR0", "RTMR1", "RTMR2", "RTMR3"};
  for (size_t i = 0; i < 4; ++i) {
    ASSIGN_OR_RETURN(body.rtmr[i], reader.ReadArray<48>(kRtmrNames[i]));
  }
  ASSIGN_OR_RETURN(body.report_data, reader.ReadArray<64>("REPORTDATA"));
  if (td15) {
    ASSIGN_OR_RETURN(body.tee_tcb_svn2, reader.ReadArray<16>("TEE_TCB_SVN2"));
    ASSIGN_OR_RETURN(body.mr_service_td, reader.ReadArray<48>("MRSERVICETD"));
  }
  return body;
}

// The size a body type has, or 0 for a type that does not exist.
size_t BodySize(uint16_t body_type) {
  switch (body_type) {
    case kBodyTypeSgx:
      return kSgxReportBodySize;
    case kBodyTypeTdReport10:
      return kTdReportBodySize;
    case kBodyTypeTdReport15:
      return kTdReport15BodySize;
    default:
      return 0;
  }
}

// The report body after the header: implied by the TEE type (v3, v4) or described (v5).
absl::Status ReadBody(ByteReader& reader, Quote* quote) {
  const QuoteHeader& header = quote->header;
  const bool tdx = header.tee_type == kTeeTypeTdx;
  if (header.version < 5) {
    if (tdx && header.version != 4) {
      return absl::InvalidArgumentError(
          absl::StrCat("quote header: TDX quotes of version ", header.version, " do not exist"));
    }
    quote->body_type = tdx ? kBodyTypeTdReport10 : kBodyTypeSgx;
  } else {
    ASSIGN_OR_RETURN(quote->body_type, reader.ReadU16("body type"));
    ASSIGN_OR_RETURN(uint32_t body_size, reader.ReadU32("body size"));
    const size_t expected = BodySize(quote->body_type);
    if (expected == 0) {
      return reader.Error(absl::StrCat("body type ", quote->body_type,
                                       " is unknown (1 SGX report, 2 TD report 1.0, 3 TD 1.5)"));
    }
    if (tdx == (quote->body_type == kBodyTypeSgx)) {
      return reader.Error(absl::StrCat("body type ", quote->body_type, " does not belong to TEE ",
                                       tdx ? "TDX" : "SGX"));
    }
    if (body_size != expected) {
      return reader.Error(absl::StrCat("body size ", body_size, " is not ", expected,
                                       " (the size of body type ", quote->body_type, ")"));
    }
  }
  // The fields are read from the quote's own reader (a v5 size was checked against its type
  // above), so a short quote names the field that runs past its end.
  if (tdx) {
    ASSIGN_OR_RETURN(quote->td_report,
                     ReadTdReportBody(reader, quote->body_type == kBodyTypeTdReport15));
  } else {
    ASSIGN_OR_RETURN(quote->sgx_report, ReadReportBody(reader));
  }
  return absl::OkStatus();
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
  if (header.version < 3 || header.version > 5) {
    return absl::InvalidArgumentError(absl::StrCat("quote header: version ", header.version,
                                                   " is not supported (only 3, 4 and 5)"));
  }
  ASSIGN_OR_RETURN(header.attestation_key_type, reader.ReadU16("header attestation key type"));
  ASSIGN_OR_RETURN(header.tee_type, reader.ReadU32("header TEE type"));
  ASSIGN_OR_RETURN(header.qe_svn, reader.ReadU16("header QE SVN"));
  ASSIGN_OR_RETURN(header.pce_svn, reader.ReadU16("header PCE SVN"));
  ASSIGN_OR_RETURN(header.qe_vendor_id, reader.ReadArray<16>("header QE vendor ID"));
  ASSIGN_OR_RETURN(header.user_data, reader.ReadArray<20>("header user data"));
  if (header.tee_type != kTeeTypeSgx && header.tee_type != kTeeTypeTdx) {
    return absl::InvalidArgumentError(absl::StrCat("quote header: TEE type 0x",
                                                   absl::Hex(header.tee_type),
                                                   " is neither SGX (0) nor TDX (0x81)"));
  }
  RETURN_IF_ERROR(ReadBody(reader, &quote));
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
      return signature.Error(absl::StrCat("v", header.version, " certification data type ",
                                          outer_type, " is not 6 (QE report certification data)"));
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
