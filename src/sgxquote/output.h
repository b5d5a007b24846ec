#pragma once

// How `sgx-quote` prints things: verdicts and rejections (JSON and human text) and the fields of
// a quote for `show`. Pure formatting: no I/O here.

#include <string>

#include "nlohmann/json.hpp"
#include "src/dcap/quote.h"
#include "src/dcap/verifier.h"

namespace cn::sgxquote {

using OrderedJson = nlohmann::ordered_json;

// The `verify --json` object of the issue: verified fields, or {"verified": false, "error",
// "message"}.
OrderedJson ResultJson(const dcap::VerificationResult& result);
// A few lines for people.
std::string ResultText(const dcap::VerificationResult& result);

// Everything `show` prints about a parsed quote: header, report body, QE report, certification
// data, and for a PEM chain each certificate's subject, issuer, serial, validity (and the SGX
// extension of the PCK certificate when it parses).
OrderedJson QuoteJson(const dcap::Quote& quote);
// The same as indented "key: value" lines.
std::string QuoteText(const dcap::Quote& quote);

}  // namespace cn::sgxquote
