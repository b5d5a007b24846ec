#include "src/os/cpuid.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cn::os {
namespace {

using ::testing::HasSubstr;

TEST(TableCpuid, UnlistedLeavesReadAsZeros) {
  TableCpuid table;
  table.Set(7, 0, {1, 2, 3, 4});
  EXPECT_EQ(table.Query(7, 0), (CpuidRegisters{1, 2, 3, 4}));
  EXPECT_EQ(table.Query(7, 1), CpuidRegisters{});
  EXPECT_EQ(table.Query(0x12, 0), CpuidRegisters{});
}

TEST(ParseCpuidTable, ReadsLinesCommentsAndBlankLines) {
  auto table = ParseCpuidTable(
      "# an SGX2 CPU\n"
      "0x7 0x0 0x0 0x00000004 0x40000000 0x0  # SGX + FLC\n"
      "\n"
      "\t0x12 0x2 0x00000001 0x1 0xC0000001 0x0\r\n",
      "cpu.txt");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ((*table)->Query(7, 0), (CpuidRegisters{0, 4, 0x40000000, 0}));
  EXPECT_EQ((*table)->Query(0x12, 2), (CpuidRegisters{1, 1, 0xC0000001, 0}));
}

TEST(ParseCpuidTable, AcceptsFullWidthValues) {
  auto table = ParseCpuidTable("0xFFFFFFFF 0xffffffff 0xFFFFFFFF 0x0 0x0 0x1", "f");
  ASSERT_TRUE(table.ok());
  EXPECT_EQ((*table)->Query(0xFFFFFFFF, 0xFFFFFFFF).eax, 0xFFFFFFFFu);
}

struct MalformedCase {
  const char* text;
  const char* expected;
};

void PrintTo(const MalformedCase& malformed, std::ostream* out) { *out << malformed.expected; }

class ParseCpuidTableRejects : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(ParseCpuidTableRejects, NamingFileLineAndProblem) {
  auto table = ParseCpuidTable(GetParam().text, "/etc/cpu.txt");
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(table.status().message()), HasSubstr(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, ParseCpuidTableRejects,
    ::testing::Values(
        MalformedCase{"0x7 0x0 0x0 0x4 0x0\n", "/etc/cpu.txt:1: expected 6 fields"},
        MalformedCase{"# ok\n0x7 0x0 0x0 0x4 0x0 0x0 0x0\n", "/etc/cpu.txt:2: expected 6 fields"},
        MalformedCase{"7 0x0 0x0 0x4 0x0 0x0\n", ":1: LEAF: '7' is not a 0x-prefixed"},
        MalformedCase{"0x7 0x0 0xZZ 0x4 0x0 0x0\n", ":1: EAX: '0xZZ' is not"},
        MalformedCase{"0x7 0x0 0x0 0x4 0x0 0x100000000\n",
                      ":1: EDX: '0x100000000' must have 1 to 8"},
        MalformedCase{"0x7 0x0 0x0 0x4 0x0 0x\n", ":1: EDX: '0x' must have"},
        MalformedCase{"0x7 0x0 0x0 0x4 0x0 -0x1\n", "EDX: '-0x1' is not"},
        MalformedCase{"0x7 0x0 0x0 0x0 0x0 0x0\n0x7 0x0 0x1 0x1 0x1 0x1\n",
                      ":2: leaf 0x7 sub-leaf 0x0 is already given on line 1"}));

TEST(X86Cpuid, LeafZeroReportsAVendor) {
  // Any x86 CPU answers leaf 0 with a non-zero maximum leaf and a vendor string.
  CpuidRegisters leaf0 = X86Cpuid().Query(0, 0);
#if defined(__x86_64__)
  EXPECT_GT(leaf0.eax, 0u);
  EXPECT_NE(leaf0.ebx, 0u);
#else
  EXPECT_EQ(leaf0, CpuidRegisters{});
#endif
}

}  // namespace
}  // namespace cn::os
