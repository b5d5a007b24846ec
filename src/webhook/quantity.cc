#include "src/webhook/quantity.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cn::webhook {
namespace {

using Wide = unsigned __int128;

constexpr int64_t kMaxMiB = int64_t{1} << 40;
constexpr int kMaxDigits = 18;
constexpr int kMaxFractionDigits = 36;

absl::Status Invalid(absl::string_view quantity, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("\"", absl::CEscape(quantity.substr(0, 64)),
                                                 "\" is not a valid quantity: ", why));
}

Wide PowerOfTen(int exponent) {
  Wide value = 1;
  for (int i = 0; i < exponent; ++i) {
    value *= 10;
  }
  return value;
}

}  // namespace

absl::StatusOr<int64_t> QuantityToMiB(absl::string_view quantity) {
  absl::string_view rest = quantity;
  if (rest.empty()) {
    return Invalid(quantity, "it is empty");
  }
  if (rest.front() == '+') {
    rest.remove_prefix(1);
  } else if (rest.front() == '-') {
    return Invalid(quantity, "EPC cannot be negative");
  }
  // Digits: N, with `fraction_digits` of them after the point.
  Wide digits = 0;
  int significant = 0;
  int fraction_digits = 0;
  bool any_digit = false;
  bool seen_point = false;
  while (!rest.empty() && (absl::ascii_isdigit(rest.front()) || rest.front() == '.')) {
    const char c = rest.front();
    rest.remove_prefix(1);
    if (c == '.') {
      if (seen_point) {
        return Invalid(quantity, "more than one decimal point");
      }
      seen_point = true;
      continue;
    }
    any_digit = true;
    if (significant > 0 || c != '0') {
      if (++significant > kMaxDigits) {
        return Invalid(quantity, absl::StrCat("more than ", kMaxDigits, " digits"));
      }
    }
    digits = digits * 10 + static_cast<unsigned>(c - '0');
    if (seen_point && ++fraction_digits > kMaxFractionDigits) {
      return Invalid(quantity, absl::StrCat("more than ", kMaxFractionDigits, " decimals"));
    }
  }
  if (!any_digit) {
    return Invalid(quantity, "it does not start with a number");
  }
  int decimal_exponent = 0;
  int binary_exponent = 0;
  if (rest.empty()) {
  } else if (rest == "Ki" || rest == "Mi" || rest == "Gi" || rest == "Ti" || rest == "Pi" ||
             rest == "Ei") {
    static constexpr absl::string_view kBinary = "KMGTPE";
    binary_exponent = 10 * static_cast<int>(kBinary.find(rest.front()) + 1);
  } else if (rest == "m") {
    decimal_exponent = -3;
  } else if (rest == "k" || rest == "M" || rest == "G" || rest == "T" || rest == "P" ||
             rest == "E") {
    static constexpr absl::string_view kDecimal = "kMGTPE";
    decimal_exponent = 3 * static_cast<int>(kDecimal.find(rest.front()) + 1);
  } else if ((rest.front() == 'e' || rest.front() == 'E') && rest.size() > 1) {
    absl::string_view exponent = rest.substr(1);
    int value = 0;
    bool all_digits = !exponent.empty();
    for (size_t i = 0; i < exponent.size(); ++i) {
      const bool sign = i == 0 && (exponent[i] == '+' || exponent[i] == '-');
      all_digits = all_digits && (sign || absl::ascii_isdigit(exponent[i]));
    }
    if (!all_digits || exponent.size() > 4 || !absl::SimpleAtoi(exponent, &value) || value < -18 ||
        value > 18) {
      return Invalid(quantity, absl::StrCat("the exponent \"", absl::CEscape(exponent),
                                            "\" is not an integer from -18 to 18"));
    }
    decimal_exponent = value;
  } else {
    return Invalid(quantity,
                   absl::StrCat("unknown suffix \"", absl::CEscape(rest.substr(0, 16)),
                                "\" (expected none for bytes, Ki, Mi, Gi, Ti, Pi, Ei, m, k, M, G, "
                                "T, P, E or an exponent such as 1e6)"));
  }
  // value = digits * 10^ten * 2^two MiB, computed exactly in 128 bits: digits < 10^18 < 2^60,
  // ten is in [-54, 18], two in [-20, 40]. Each step below either stays under 2^127 or shows
  // that the value is far beyond the limit or far below one MiB.
  if (digits == 0) {
    return 0;
  }
  const int ten = decimal_exponent - fraction_digits;
  const int two = binary_exponent - 20;
  if (-ten > 36) {
    return 1;  // below 10^-18 * 2^40 MiB: a positive amount under one MiB
  }
  Wide numerator = digits;
  Wide denominator = 1;
  if (ten > 0) {
    numerator *= PowerOfTen(ten);  // < 10^36 < 2^120
  } else if (ten < 0) {
    denominator = PowerOfTen(-ten);  // <= 10^36 < 2^120
  }
  if (two > 0) {
    if (numerator >= (Wide{1} << 80)) {
      return Invalid(quantity, "it is larger than 1 EiB of EPC");
    }
    numerator <<= two;
  } else if (two < 0) {
    if (denominator >= (Wide{1} << 100)) {
      return 1;  // digits / denominator < 10^18 / 2^100, far below one byte
    }
    denominator <<= -two;
  }
  const Wide mib = (numerator + denominator - 1) / denominator;
  if (mib > static_cast<Wide>(kMaxMiB)) {
    return Invalid(quantity, "it is larger than 1 EiB of EPC");
  }
  return static_cast<int64_t>(mib);
}

}  // namespace cn::webhook
