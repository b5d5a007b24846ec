// TCB Info and QE Identity through simdjson: the fast path answers exactly as the nlohmann
// reading (internal::Parse*WithNlohmann) for real and composed collateral and for every kind of
// damage to it, falls back where simdjson reads a document otherwise, and is taken for valid
// documents.

#include "src/dcap/tcb_info.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "src/dcap/collateral.h"
#include "src/testing/test_pki.h"

namespace cn::dcap {
namespace {

using ::testing::HasSubstr;

// One signed document and which parser reads it.
struct Document {
  std::string name;
  std::string text;
  bool tcb_info = true;  // else QE Identity
};

Collateral RealCollateral(const std::string& vector) {
  std::ifstream file(absl::StrCat(CN_VECTORS_DIR, "/", vector, "/collateral.json"),
                     std::ios::binary);
  EXPECT_TRUE(file.good()) << vector;
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<Collateral> collateral = Collateral::FromJson(text.str());
  EXPECT_TRUE(collateral.ok()) << collateral.status();
  return *std::move(collateral);
}

// The real SGX and TDX vectors' and the test PKI's (SGX v3, SGX v2, TDX) TCB Info and QE Identity.
const std::vector<Document>& Documents() {
  static const std::vector<Document>* documents = [] {
    auto* out = new std::vector<Document>;
    auto add = [&](const std::string& name, const Collateral& collateral) {
      out->push_back({name + " TCB Info", collateral.parts().tcb_info, true});
      out->push_back({name + " QE Identity", collateral.parts().qe_identity, false});
    };
    add("real-sgx", RealCollateral("real-sgx"));
    add("real-tdx", RealCollateral("real-tdx"));
    testing::TestPki pki;
    add("test PKI SGX", pki.BuildCollateral());
    pki.tcb_info.version = 2;
    out->push_back({"test PKI SGX v2 TCB Info", pki.BuildCollateral().parts().tcb_info, true});
    pki.UseTdx();
    add("test PKI TDX", pki.BuildCollateral());
    return out;
  }();
  return *documents;
}

// Whether ParseX (fast path first) and the nlohmann reading agree on `text`: both accept with
// equal values, or both refuse with the same code and message. Returns a description of the
// difference, empty when they agree; `accepted` is set when both accepted.
template <typename T>
std::string Difference(const absl::StatusOr<T>& fast, const absl::StatusOr<T>& reference,
                       bool* accepted) {
  if (fast.ok() != reference.ok()) {
    return absl::StrCat("fast ", fast.ok() ? "accepts" : fast.status().ToString(), ", nlohmann ",
                        reference.ok() ? "accepts" : reference.status().ToString());
  }
  if (!fast.ok()) {
    return fast.status() == reference.status()
               ? ""
               : absl::StrCat("fast: ", fast.status().ToString(),
                              "; nlohmann: ", reference.status().ToString());
  }
  *accepted = true;
  return *fast == *reference ? "" : "both accept, with different values";
}

std::string Difference(absl::string_view text, bool tcb_info, bool* accepted) {
  return tcb_info
             ? Difference(ParseTcbInfo(text), internal::ParseTcbInfoWithNlohmann(text), accepted)
             : Difference(ParseQeIdentity(text), internal::ParseQeIdentityWithNlohmann(text),
                          accepted);
}

// Whether the fast path answered for `text`.
bool TakesFastPath(absl::string_view text, bool tcb_info) {
  const uint64_t before = internal::FastPathAnswers();
  if (tcb_info) {
    (void)ParseTcbInfo(text);
  } else {
    (void)ParseQeIdentity(text);
  }
  return internal::FastPathAnswers() == before + 1;
}

TEST(TcbInfoFastPathTest, AnswersForEveryValidDocumentAsNlohmannDoes) {
  for (const Document& document : Documents()) {
    SCOPED_TRACE(document.name);
    bool accepted = false;
    EXPECT_EQ(Difference(document.text, document.tcb_info, &accepted), "");
    EXPECT_TRUE(accepted);
    EXPECT_TRUE(TakesFastPath(document.text, document.tcb_info));
  }
}

TEST(TcbInfoFastPathTest, ReadsEveryFieldOfTheRealTdxTcbInfo) {
  // The differential tests prove fast == nlohmann; this pins what both read, so that a rule both
  // share cannot drop a field unnoticed.
  absl::StatusOr<TcbInfo> info = ParseTcbInfo(RealCollateral("real-tdx").parts().tcb_info);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->is_tdx());
  EXPECT_EQ(info->version, 3);
  ASSERT_FALSE(info->levels.empty());
  ASSERT_FALSE(info->tdx_module_identities.empty());
  EXPECT_FALSE(info->tdx_module_identities[0].levels.empty());
  bool any_tdx_component = false;
  bool any_advisory = false;
  for (const TcbLevel& level : info->levels) {
    for (uint8_t svn : level.tdx_components) {
      any_tdx_component |= svn != 0;
    }
    any_advisory |= !level.advisory_ids.empty();
  }
  EXPECT_TRUE(any_tdx_component);
  EXPECT_TRUE(any_advisory);
  EXPECT_LT(info->issue_date, info->next_update);
}

// At every offset of every document one single-byte mutation, chosen by a seeded generator: a
// deletion, a duplication, or a replacement by a byte that changes JSON's structure, numbers,
// strings, escapes or UTF-8 (all three at every offset took 4 s). Fast and nlohmann agree. Some
// mutants stay valid (a digit for a digit, a hex character for another), so equal values are
// compared too. Unoptimised builds (the sanitizer run: nlohmann's DOM is 30 times slower there)
// take every 16th offset, as fuzz_collateral_parser checks the same equality under sanitizers.
#ifdef NDEBUG
constexpr size_t kMutationStride = 1;
#else
constexpr size_t kMutationStride = 16;
#endif

TEST(TcbInfoFastPathTest, AgreesWithNlohmannOnSingleByteMutations) {
  static constexpr char kReplacements[] = {'"',    '{',    '}',  '[', ']',  ',', ':', '0', '7',
                                           '-',    '.',    'e',  ' ', '\\', 'u', 'A', 'f', '\0',
                                           '\x80', '\xff', '\n', 'n', 't',  '1', '9', 'F'};
  std::mt19937 random(12);
  int mutants = 0;
  int accepted_mutants = 0;
  for (const Document& document : Documents()) {
    SCOPED_TRACE(document.name);
    const std::string& text = document.text;
    int differences = 0;
    for (size_t offset = 0; offset < text.size(); offset += kMutationStride) {
      std::string mutant = text;
      switch (random() % 3) {
        case 0:
          mutant.erase(offset, 1);
          break;
        case 1:
          mutant.insert(offset, 1, text[offset]);
          break;
        default:
          mutant[offset] = kReplacements[random() % sizeof(kReplacements)];
      }
      bool accepted = false;
      const std::string difference = Difference(mutant, document.tcb_info, &accepted);
      ++mutants;
      accepted_mutants += accepted ? 1 : 0;
      if (!difference.empty() && ++differences <= 5) {
        ADD_FAILURE() << "at offset " << offset << ": " << difference << "\n" << mutant;
      }
    }
    EXPECT_EQ(differences, 0);
  }
  EXPECT_GT(mutants, 12000 / kMutationStride);
  // Enough mutants are valid for the value comparison to mean something.
  EXPECT_GT(accepted_mutants, 1000 / kMutationStride);
}

// A valid TCB Info (the test PKI's), to be edited into unusual ones.
const std::string& ValidTcbInfo() { return Documents()[4].text; }

// `text` gives the same answer fast and slow, and the fast path left it to nlohmann.
void ExpectFallsBackWithTheSameAnswer(const std::string& text, bool tcb_info = true) {
  bool accepted = false;
  EXPECT_EQ(Difference(text, tcb_info, &accepted), "");
  EXPECT_FALSE(TakesFastPath(text, tcb_info));
}

TEST(TcbInfoFastPathTest, DuplicateKeysFallBackAndTheLastWins) {
  ASSERT_EQ(ValidTcbInfo().front(), '{');
  // A first "version" of 9 would be refused; nlohmann keeps the last, valid one.
  const std::string first_is_bad = absl::StrCat(R"({"version":9,)", ValidTcbInfo().substr(1));
  ExpectFallsBackWithTheSameAnswer(first_is_bad);
  EXPECT_TRUE(ParseTcbInfo(first_is_bad).ok());
  // A last "tcbType" of 1 is what nlohmann reads, and refuses.
  const std::string last_is_bad =
      absl::StrCat(ValidTcbInfo().substr(0, ValidTcbInfo().size() - 1), R"(,"tcbType":1})");
  ExpectFallsBackWithTheSameAnswer(last_is_bad);
  EXPECT_THAT(ParseTcbInfo(last_is_bad).status().message(),
              HasSubstr("tcbInfo.tcbType 1 is not supported"));
  // Deep inside: a level's tcbStatus twice.
  const std::string deep = absl::StrReplaceAll(
      ValidTcbInfo(), {{R"("tcbStatus":)", R"("tcbStatus":"Revoked","tcbStatus":)"}});
  ASSERT_NE(deep, ValidTcbInfo());
  ExpectFallsBackWithTheSameAnswer(deep);
  EXPECT_TRUE(ParseTcbInfo(deep).ok());
}

// `text` with the valid "tcbType":0 replaced by "tcbType":<number>.
std::string WithTcbType(absl::string_view number) {
  const std::string text = absl::StrReplaceAll(
      ValidTcbInfo(), {{R"("tcbType":0)", absl::StrCat(R"("tcbType":)", number)}});
  EXPECT_NE(text, ValidTcbInfo());
  return text;
}

TEST(TcbInfoFastPathTest, NumbersSimdjsonReadsOtherwiseFallBack) {
  // 2^64: simdjson refuses it, nlohmann reads a double.
  ExpectFallsBackWithTheSameAnswer(WithTcbType("18446744073709551616"));
  EXPECT_THAT(ParseTcbInfo(WithTcbType("18446744073709551616")).status().message(),
              HasSubstr("tcbInfo.tcbType is not an integer"));
  // -0: an integer 0 to nlohmann and to this simdjson (3.0.1; some versions read a double -0.0,
  // which the rules refuse as an integer and leave to nlohmann): accepted either way, as before.
  bool accepted = false;
  EXPECT_EQ(Difference(WithTcbType("-0"), true, &accepted), "");
  EXPECT_TRUE(accepted);
  // 1.0 where an integer is due.
  ExpectFallsBackWithTheSameAnswer(WithTcbType("0.0"));
  EXPECT_THAT(ParseTcbInfo(WithTcbType("0.0")).status().message(),
              HasSubstr("tcbInfo.tcbType is not an integer"));
  ExpectFallsBackWithTheSameAnswer(WithTcbType("1e0"));
  // 2^64 - 1 and -2^63 are integers to both; the rules refuse them alike.
  ExpectFallsBackWithTheSameAnswer(WithTcbType("18446744073709551615"));
  EXPECT_THAT(ParseTcbInfo(WithTcbType("18446744073709551615")).status().message(),
              HasSubstr("tcbInfo.tcbType is 4611686018427387904, outside 0..1000"));
  ExpectFallsBackWithTheSameAnswer(WithTcbType("-9223372036854775808"));
  // -2^63 - 1: a double to nlohmann.
  ExpectFallsBackWithTheSameAnswer(WithTcbType("-9223372036854775809"));
  EXPECT_THAT(ParseTcbInfo(WithTcbType("-9223372036854775809")).status().message(),
              HasSubstr("tcbInfo.tcbType is not an integer"));
}

TEST(TcbInfoFastPathTest, TextSimdjsonRefusesFallsBack) {
  const std::string body = ValidTcbInfo().substr(1);
  // Deeper than simdjson's 1024 levels, in a field the rules do not read: nlohmann accepts.
  const std::string deep =
      absl::StrCat(R"({"deep":)", std::string(1100, '['), std::string(1100, ']'), ",", body);
  ExpectFallsBackWithTheSameAnswer(deep);
  EXPECT_TRUE(ParseTcbInfo(deep).ok());
  // Invalid UTF-8 in a string: both refuse.
  const std::string bad_utf8 = absl::StrCat(R"({"note":"a)", "\xc3\x28", R"(",)", body);
  ExpectFallsBackWithTheSameAnswer(bad_utf8);
  EXPECT_THAT(ParseTcbInfo(bad_utf8).status().message(), HasSubstr("tcbInfo: not valid JSON"));
  // A NUL byte after the object ends nlohmann's input; simdjson sees a stray byte.
  ExpectFallsBackWithTheSameAnswer(absl::StrCat(ValidTcbInfo(), std::string(1, '\0'), "junk"));
  // Lone surrogates in escapes, and a byte-order mark: whatever each reads, the answers agree.
  for (const std::string& text :
       {absl::StrCat(R"({"note":"\ud800",)", body), absl::StrCat(R"({"note":"\udc00",)", body),
        absl::StrCat("\xef\xbb\xbf", ValidTcbInfo())}) {
    bool accepted = false;
    EXPECT_EQ(Difference(text, true, &accepted), "") << text.substr(0, 20);
  }
}

TEST(TcbInfoFastPathTest, EscapedKeysAndValuesAreReadUnescapedByBoth) {
  // "\u0076ersion" is the key "version", "\u0055pToDate" the status "UpToDate".
  const std::string text = absl::StrReplaceAll(
      ValidTcbInfo(),
      {{R"("version":)", R"("\u0076ersion":)"}, {R"("UpToDate")", R"("\u0055pToDate")"}});
  ASSERT_NE(text, ValidTcbInfo());
  bool accepted = false;
  EXPECT_EQ(Difference(text, true, &accepted), "");
  EXPECT_TRUE(accepted);
  EXPECT_TRUE(TakesFastPath(text, true));
}

TEST(TcbInfoFastPathTest, LargeDocumentsTakeTheFastPathWithTheirOwnParser) {
  // Beyond the 64 KiB a thread's parser keeps.
  const std::string large = absl::StrCat(R"({"padding":")", std::string(100 << 10, 'x'), R"(",)",
                                         ValidTcbInfo().substr(1));
  bool accepted = false;
  EXPECT_EQ(Difference(large, true, &accepted), "");
  EXPECT_TRUE(accepted);
  EXPECT_TRUE(TakesFastPath(large, true));
  // And the thread's parser still reads small ones afterwards.
  EXPECT_TRUE(TakesFastPath(ValidTcbInfo(), true));
}

TEST(TcbInfoFastPathTest, ErrorsAreNlohmannsAndNeverTheFastPaths) {
  // An error the rules find deep inside: the message is the one the nlohmann reading gives.
  const std::string text = absl::StrReplaceAll(ValidTcbInfo(), {{R"("pcesvn":)", R"("pcesvn":-)"}});
  ASSERT_NE(text, ValidTcbInfo());
  ExpectFallsBackWithTheSameAnswer(text);
  EXPECT_THAT(ParseTcbInfo(text).status().message(), HasSubstr(", outside 0..65535"));
  const std::string& qe = Documents()[5].text;
  const std::string no_levels = absl::StrReplaceAll(qe, {{R"("tcbLevels":)", R"("levels":)"}});
  ASSERT_NE(no_levels, qe);
  ExpectFallsBackWithTheSameAnswer(no_levels, /*tcb_info=*/false);
  EXPECT_EQ(ParseQeIdentity(no_levels).status().message(), "enclaveIdentity.tcbLevels is missing");
}

}  // namespace
}  // namespace cn::dcap
