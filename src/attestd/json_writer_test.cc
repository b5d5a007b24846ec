#include "src/attestd/json_writer.h"

#include <gtest/gtest.h>

#include <limits>

#include "nlohmann/json.hpp"

namespace cn::attestd {
namespace {

// The writer replaced ordered_json built and dumped: every string must come out as dump() writes
// it, escapes included.
TEST(JsonWriterTest, WritesEveryStringAsNlohmannDumpsIt) {
  std::vector<std::string> texts = {"",
                                    "plain",
                                    "a\"b\\c/d",
                                    "\x7f",
                                    "caf\xC3\xA9",
                                    "\xE2\x82\xAC \xF0\x9F\x98\x80",
                                    std::string("nul\0x", 5)};
  std::string every_ascii;
  for (int c = 0; c < 0x80; ++c) {
    every_ascii.push_back(static_cast<char>(c));
    texts.push_back(std::string(1, static_cast<char>(c)));
  }
  texts.push_back(every_ascii);
  for (const std::string& text : texts) {
    JsonWriter writer;
    writer.BeginObject().Key(text).String(text).EndObject();
    absl::StatusOr<std::string> written = std::move(writer).Finish();
    ASSERT_TRUE(written.ok()) << written.status();
    EXPECT_EQ(*written, nlohmann::ordered_json({{text, text}}).dump()) << text;
  }
}

TEST(JsonWriterTest, WritesNestedValuesInOrderAsNlohmannDoes) {
  JsonWriter writer;
  writer.BeginObject()
      .Key("z")
      .Int(std::numeric_limits<int64_t>::min())
      .Key("a")
      .Bool(true)
      .Key("m")
      .BeginArray()
      .Int(0)
      .Bool(false)
      .String("x")
      .BeginArray()
      .EndArray()
      .BeginObject()
      .EndObject()
      .EndArray()
      .Key("o")
      .BeginObject()
      .Key("k")
      .Int(std::numeric_limits<int64_t>::max())
      .EndObject()
      .Key("raw")
      .Raw(R"({"b":[1,2]})")
      .Key("e")
      .BeginArray()
      .EndArray()
      .EndObject();
  nlohmann::ordered_json expected = {
      {"z", std::numeric_limits<int64_t>::min()},
      {"a", true},
      {"m", {0, false, "x", nlohmann::ordered_json::array(), nlohmann::ordered_json::object()}},
      {"o", {{"k", std::numeric_limits<int64_t>::max()}}},
      {"raw", {{"b", {1, 2}}}},
      {"e", nlohmann::ordered_json::array()}};
  EXPECT_EQ(*std::move(writer).Finish(), expected.dump());
}

// nlohmann's dump() threw on such strings; the writer refuses the document, naming the key.
TEST(JsonWriterTest, RefusesStringsThatAreNotUtf8) {
  for (const std::string bad : {"\xff", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                "ab\xE2\x82", "\x80", "\xF0\x9F\x98"}) {
    JsonWriter writer;
    writer.BeginObject().Key("ok").String("fine").Key("claim").String(bad).Key("later").String(
        "\xff");
    writer.EndObject();
    absl::StatusOr<std::string> written = std::move(writer).Finish();
    ASSERT_FALSE(written.ok());
    EXPECT_EQ(written.status().message(), "value of \"claim\": not UTF-8");
    EXPECT_FALSE(nlohmann::json::accept("\"" + bad + "\""));
  }
}

}  // namespace
}  // namespace cn::attestd
