#include "src/attestd/request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace cn::attestd {
namespace {

using ::testing::HasSubstr;

std::string Message(const absl::StatusOr<AttestRequest>& r) {
  return std::string(r.status().message());
}

TEST(Base64UrlTest, DecodesWithAndWithoutPaddingAndNamesTheOffsetOfABadCharacter) {
  EXPECT_EQ(*DecodeBase64Url("aGk", "f"), "hi");
  EXPECT_EQ(*DecodeBase64Url("aGk=", "f"), "hi");
  EXPECT_EQ(*DecodeBase64Url("_-8", "f"), "\xff\xef");
  EXPECT_EQ(*DecodeBase64Url("", "f"), "");
  EXPECT_EQ(DecodeBase64Url("aGk+", "quote").status().message(),
            "quote: not base64url at offset 3");
  EXPECT_EQ(DecodeBase64Url("aG=k", "quote").status().message(),
            "quote: not base64url at offset 2");
  EXPECT_THAT(std::string(DecodeBase64Url("aGkxa", "q").status().message()),
              HasSubstr("truncated"));
  EXPECT_THAT(std::string(DecodeBase64Url("aGk==", "q").status().message()), HasSubstr("padding"));
  EXPECT_EQ(EncodeBase64Url("hi"), "aGk");
}

// The decoder takes four characters per step: every length and every position of a bad character
// (inside a group or in the tail) must still decode exactly or name the right offset.
TEST(Base64UrlTest, RoundTripsEveryLengthAndNamesEveryBadOffset) {
  std::string bytes;
  for (int length = 0; length < 70; ++length) {
    const std::string text = EncodeBase64Url(bytes);
    auto decoded = DecodeBase64Url(text, "f");
    ASSERT_TRUE(decoded.ok()) << length << " " << decoded.status();
    EXPECT_EQ(*decoded, bytes) << length;
    for (size_t bad = 0; bad < text.size(); ++bad) {
      std::string broken = text;
      broken[bad] = bad % 2 == 0 ? '+' : '\0';
      EXPECT_EQ(DecodeBase64Url(broken, "f").status().message(),
                absl::StrCat("f: not base64url at offset ", bad))
          << length << " " << bad;
    }
    bytes.push_back(static_cast<char>(length * 37 + 11));
  }
}

TEST(ParseAttestRequestTest, ReadsEveryField) {
  auto r = ParseAttestRequest(R"({"quote": "AQID", "runtimeData": {"data": "eyJhIjoxfQ",
      "dataType": "JSON"}, "initTimeData": {"data": "AA", "dataType": "Binary"},
      "draftPolicyForAttestation": "version=1.0;", "nonce": "n1", "unknown": 5})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->quote, "\x01\x02\x03");
  ASSERT_TRUE(r->runtime_data.has_value());
  EXPECT_EQ(r->runtime_data->data, R"({"a":1})");
  EXPECT_TRUE(r->runtime_data->is_json);
  EXPECT_EQ(r->init_time_data->data, std::string(1, '\0'));
  EXPECT_FALSE(r->init_time_data->is_json);
  EXPECT_EQ(*r->draft_policy, "version=1.0;");
  EXPECT_EQ(*r->nonce, "n1");
  auto minimal = ParseAttestRequest(R"({"quote": "AQID"})");
  ASSERT_TRUE(minimal.ok());
  EXPECT_FALSE(minimal->runtime_data.has_value());
  EXPECT_FALSE(minimal->nonce.has_value());
}

TEST(ParseAttestRequestTest, EveryMalformedFieldIsNamed) {
  EXPECT_EQ(Message(ParseAttestRequest("not json")), "body: not JSON");
  EXPECT_EQ(Message(ParseAttestRequest("[1]")), "body: must be a JSON object");
  EXPECT_EQ(Message(ParseAttestRequest("{}")), "quote: missing");
  EXPECT_EQ(Message(ParseAttestRequest(R"({"quote": 5})")), "quote: must be a base64url string");
  EXPECT_EQ(Message(ParseAttestRequest(R"({"quote": ""})")), "quote: empty");
  EXPECT_EQ(Message(ParseAttestRequest(R"({"quote": "AQID", "runtimeData": "x"})")),
            "runtimeData: must be an object with data and dataType");
  EXPECT_EQ(Message(ParseAttestRequest(R"({"quote": "AQID", "runtimeData": {"data": "AA"}})")),
            "runtimeData.dataType: missing (Binary or JSON)");
  EXPECT_EQ(Message(ParseAttestRequest(
                R"({"quote": "AQID", "runtimeData": {"data": "AA", "dataType": "Text"}})")),
            "runtimeData.dataType: must be Binary or JSON");
  EXPECT_EQ(Message(ParseAttestRequest(
                R"({"quote": "AQID", "runtimeData": {"data": "AA", "dataType": "JSON"}})")),
            "runtimeData.data: dataType is JSON but the decoded data is not JSON");
  EXPECT_EQ(Message(ParseAttestRequest(
                R"({"quote": "AQID", "initTimeData": {"data": 1, "dataType": "JSON"}})")),
            "initTimeData.data: must be a base64url string");
  EXPECT_EQ(Message(ParseAttestRequest(R"({"quote": "AQID", "nonce": 1})")),
            "nonce: must be a string");
  EXPECT_EQ(Message(ParseAttestRequest(R"({"quote": "AQID", "draftPolicyForAttestation": {}})")),
            "draftPolicyForAttestation: must be a string");
  std::string bad(17, 'A');
  EXPECT_EQ(Message(ParseAttestRequest(absl::StrCat(R"({"quote": ")", bad, "*\"}"))),
            "quote: not base64url at offset 17");
}

// JSON that simdjson alone would refuse is read as before (nlohmann decides): the body is JSON.
TEST(ParseAttestRequestTest, ReadsValidJsonWhateverItsUnknownFieldsHold) {
  const std::string deep = std::string(2000, '[') + std::string(2000, ']');
  for (const std::string& body : {
           std::string("\xEF\xBB\xBF{\"quote\": \"AQID\"}"),  // byte-order mark
           std::string(R"({"quote": "AQID", "x": 123456789012345678901234567890})"),
           std::string(R"({"quote": "AQID", "x": -9223372036854775809})"),
           absl::StrCat(R"({"quote": "AQID", "x": )", deep, "}"),
       }) {
    auto r = ParseAttestRequest(body);
    ASSERT_TRUE(r.ok()) << body.substr(0, 60) << ": " << r.status();
    EXPECT_EQ(r->quote, "\x01\x02\x03");
  }
  // The same fallback still names a bad known field, and reads what the known fields hold.
  EXPECT_EQ(Message(ParseAttestRequest(absl::StrCat(R"({"quote": )", deep, R"(, "x": 1e30})"))),
            "quote: must be a base64url string");
  auto r = ParseAttestRequest(absl::StrCat(
      R"({"y": 99999999999999999999, "quote": "AQID", "nonce": "n\u00e9", "runtimeData":)",
      R"( {"data": "eyJhIjoxfQ", "dataType": "JSON", "z": )", deep, "}}"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r->nonce, "n\xC3\xA9");
  EXPECT_EQ(r->runtime_data->data, R"({"a":1})");
  EXPECT_EQ(Message(ParseAttestRequest(R"({"quote": "AQID", "x": 1e400})")), "body: not JSON");
  EXPECT_EQ(Message(ParseAttestRequest("{\"quote\": \"AQID\", \"x\": \"\xff\"}")),
            "body: not JSON");
  EXPECT_EQ(Message(ParseAttestRequest(R"({"quote": "AQID"} x)")), "body: not JSON");
  EXPECT_EQ(Message(ParseAttestRequest("")), "body: not JSON");
}

// Duplicate keys: the last one counts (as nlohmann, the parser before, did); unknown keys and
// null optional fields are ignored, and escapes in strings are decoded before base64url.
TEST(ParseAttestRequestTest, TheLastOfDuplicateKeysCountsAndUnknownKeysAreIgnored) {
  auto r = ParseAttestRequest(
      R"({"quote": "AQID", "quote": "BAUG", "nonce": null, "runtimeData": null, "u": {"quote": 1},)"
      R"( "initTimeData": {"data": "AA", "dataType": "JSON", "dataType": "Binary"}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->quote, "\x04\x05\x06");
  EXPECT_FALSE(r->nonce.has_value());
  EXPECT_FALSE(r->runtime_data.has_value());
  EXPECT_FALSE(r->init_time_data->is_json);
  EXPECT_EQ(Message(ParseAttestRequest(R"({"quote": "AQID", "quote": 5})")),
            "quote: must be a base64url string");
  EXPECT_EQ(ParseAttestRequest(R"({"quote": "AQ\u0049D"})")->quote, "\x01\x02\x03");
  EXPECT_EQ(Message(ParseAttestRequest(R"({"quote": "AQ\u002bD"})")),
            "quote: not base64url at offset 2");
}

// The parser kept per thread must not hand one request's fields to the next (its strings live in
// the parser's buffers), whatever the order of small and large bodies.
TEST(ParseAttestRequestTest, EachBodyIsReadOnItsOwn) {
  const std::string big_nonce(100 << 10, 'n');
  for (int round = 0; round < 3; ++round) {
    auto small = ParseAttestRequest(R"({"quote": "AQID", "nonce": "a"})");
    auto big =
        ParseAttestRequest(absl::StrCat(R"({"quote": "BAUG", "nonce": ")", big_nonce, "\"}"));
    auto again = ParseAttestRequest(R"({"quote": "AAAA"})");
    ASSERT_TRUE(small.ok() && big.ok() && again.ok());
    EXPECT_EQ(*small->nonce, "a");
    EXPECT_EQ(*big->nonce, big_nonce);
    EXPECT_EQ(big->quote, "\x04\x05\x06");
    EXPECT_EQ(again->quote, std::string(3, '\0'));
    EXPECT_FALSE(again->nonce.has_value());
  }
}

}  // namespace
}  // namespace cn::attestd
