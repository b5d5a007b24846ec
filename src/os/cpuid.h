#pragma once

// Cpuid: the only way our code asks the processor what it supports.
//
// Implementations: X86Cpuid executes the CPUID instruction; TableCpuid answers from a table,
// filled from a --cpuid-file or by tests. A leaf/sub-leaf the source does not know reads as all
// zeros, exactly as the instruction answers for leaves above the maximum on Intel parts.
//
// Thread safety: Query is const and safe from several threads.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cn::os {

struct CpuidRegisters {
  uint32_t eax = 0;
  uint32_t ebx = 0;
  uint32_t ecx = 0;
  uint32_t edx = 0;

  friend bool operator==(const CpuidRegisters&, const CpuidRegisters&) = default;
};

class Cpuid {
 public:
  virtual ~Cpuid() = default;
  virtual CpuidRegisters Query(uint32_t leaf, uint32_t subleaf) const = 0;
};

// The processor itself. On a non-x86 build every query reads as zeros.
class X86Cpuid : public Cpuid {
 public:
  CpuidRegisters Query(uint32_t leaf, uint32_t subleaf) const override;
};

// Answers from a table. Set() is for construction time only (not thread-safe with Query).
class TableCpuid : public Cpuid {
 public:
  void Set(uint32_t leaf, uint32_t subleaf, CpuidRegisters registers);
  CpuidRegisters Query(uint32_t leaf, uint32_t subleaf) const override;

 private:
  std::map<std::pair<uint32_t, uint32_t>, CpuidRegisters> table_;
};

// Parses the --cpuid-file format (DESIGN.md section 3): one line per leaf and sub-leaf,
// "LEAF SUBLEAF EAX EBX ECX EDX", each a 0x-prefixed hexadecimal number of at most 32 bits;
// '#' starts a comment; blank lines are ignored. A leaf/sub-leaf listed twice is an error.
// Errors are InvalidArgument and name `source_name`, the 1-based line number and the problem.
absl::StatusOr<std::unique_ptr<TableCpuid>> ParseCpuidTable(absl::string_view text,
                                                            absl::string_view source_name);

}  // namespace cn::os
