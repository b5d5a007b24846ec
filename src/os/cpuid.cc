#include "src/os/cpuid.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace cn::os {

CpuidRegisters X86Cpuid::Query(uint32_t leaf, uint32_t subleaf) const {
  CpuidRegisters registers;
#if defined(__x86_64__) || defined(__i386__)
  // __get_cpuid_count checks the maximum basic/extended leaf first, so leaves the CPU does not
  // implement read as zeros instead of repeating the highest leaf's data.
  if (__get_cpuid_count(leaf, subleaf, &registers.eax, &registers.ebx, &registers.ecx,
                        &registers.edx) == 0) {
    return CpuidRegisters{};
  }
#else
  (void)leaf;
  (void)subleaf;
#endif
  return registers;
}

void TableCpuid::Set(uint32_t leaf, uint32_t subleaf, CpuidRegisters registers) {
  table_[{leaf, subleaf}] = registers;
}

CpuidRegisters TableCpuid::Query(uint32_t leaf, uint32_t subleaf) const {
  auto found = table_.find({leaf, subleaf});
  return found == table_.end() ? CpuidRegisters{} : found->second;
}

namespace {

constexpr const char* kFieldNames[] = {"LEAF", "SUBLEAF", "EAX", "EBX", "ECX", "EDX"};

absl::StatusOr<uint32_t> ParseHex32(absl::string_view token) {
  absl::string_view digits = token;
  if (!absl::ConsumePrefix(&digits, "0x") && !absl::ConsumePrefix(&digits, "0X")) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", token, "' is not a 0x-prefixed hexadecimal number"));
  }
  if (digits.empty() || digits.size() > 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", token, "' must have 1 to 8 hexadecimal digits"));
  }
  uint32_t value = 0;
  for (char digit : digits) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(digit))) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", token, "' is not a 0x-prefixed hexadecimal number"));
    }
  }
  if (!absl::SimpleHexAtoi(digits, &value)) {
    return absl::InvalidArgumentError(absl::StrCat("'", token, "' is out of range"));
  }
  return value;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TableCpuid>> ParseCpuidTable(absl::string_view text,
                                                            absl::string_view source_name) {
  auto table = std::make_unique<TableCpuid>();
  std::map<std::pair<uint32_t, uint32_t>, int> seen_at_line;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (size_t comment = line.find('#'); comment != absl::string_view::npos) {
      line = line.substr(0, comment);
    }
    std::vector<absl::string_view> tokens =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (tokens.empty()) {
      continue;
    }
    auto error = [&](absl::string_view problem) {
      return absl::InvalidArgumentError(absl::StrCat(source_name, ":", line_number, ": ", problem));
    };
    if (tokens.size() != 6) {
      return error(
          absl::StrCat("expected 6 fields (LEAF SUBLEAF EAX EBX ECX EDX), found ", tokens.size()));
    }
    uint32_t values[6];
    for (size_t i = 0; i < 6; ++i) {
      auto value = ParseHex32(tokens[i]);
      if (!value.ok()) {
        return error(absl::StrCat(kFieldNames[i], ": ", value.status().message()));
      }
      values[i] = *value;
    }
    auto key = std::make_pair(values[0], values[1]);
    if (auto [it, inserted] = seen_at_line.emplace(key, line_number); !inserted) {
      return error(absl::StrCat("leaf ", tokens[0], " sub-leaf ", tokens[1],
                                " is already given on line ", it->second));
    }
    table->Set(values[0], values[1], CpuidRegisters{values[2], values[3], values[4], values[5]});
  }
  return table;
}

}  // namespace cn::os
