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

}  // namespace
}  // namespace cn::attestd
