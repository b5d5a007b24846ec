#include "src/pccs/directory_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "src/testing/fake_file_system.h"
#include "src/testing/quote_builder.h"
#include "src/testing/test_pki.h"

namespace cn::pccs {
namespace {

using ::testing::HasSubstr;

std::string ReadVector(const std::string& relative) {
  std::ifstream file(std::string(CN_VECTORS_DIR) + "/" + relative, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

TEST(DirectoryCollateralSourceTest, IndexesFilesByFmspcCaAndTee) {
  testing::TestPki pki;
  testing::QuoteBuilder builder(pki);
  const std::string test_quote = builder.Build();
  const std::string real_quote = ReadVector("real-sgx/quote.bin");
  testing::FakeFileSystem files;
  files.AddFile("/dir/real.json", ReadVector("real-sgx/collateral.json"))
      .AddFile("/dir/test.json", pki.BuildCollateral().ToJson())
      .AddFile("/dir/README.txt", "not collateral, not read");
  auto source = DirectoryCollateralSource::Load(files, "/dir");
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->size(), 2u);

  for (const std::string* quote : {&test_quote, &real_quote}) {
    absl::StatusOr<PlatformId> platform = PlatformIdOfQuote(*quote);
    ASSERT_TRUE(platform.ok()) << platform.status();
    auto collateral = (*source)->Get(*platform, absl::InfiniteFuture());
    ASSERT_TRUE(collateral.ok()) << collateral.status();
  }
  auto test_collateral = (*source)->Get(*PlatformIdOfQuote(test_quote), absl::InfiniteFuture());
  EXPECT_EQ((*test_collateral)->parts().tcb_info, pki.BuildCollateral().parts().tcb_info);

  PlatformId other = *PlatformIdOfQuote(test_quote);
  other.ca = PckCa::kPlatform;
  auto missing = (*source)->Get(other, absl::InfiniteFuture());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("FMSPC 00906ed50000"));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("platform CA"));
}

TEST(DirectoryCollateralSourceTest, TheFreshestOfTwoFilesForOnePlatformServes) {
  testing::TestPki pki;
  const std::string older = pki.BuildCollateral().ToJson();
  pki.tcb_info.next_update = pki.tcb_info.next_update + absl::Hours(24);
  const dcap::Collateral newer = pki.BuildCollateral();
  testing::FakeFileSystem files;
  files.AddFile("/dir/a.json", newer.ToJson()).AddFile("/dir/b.json", older);
  auto source = DirectoryCollateralSource::Load(files, "/dir");
  ASSERT_TRUE(source.ok()) << source.status();
  testing::QuoteBuilder builder(pki);
  auto got = (*source)->Get(*PlatformIdOfQuote(builder.Build()), absl::InfiniteFuture());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)->parts().tcb_info, newer.parts().tcb_info);
}

TEST(DirectoryCollateralSourceTest, BadFilesAreNamed) {
  testing::FakeFileSystem files;
  files.AddFile("/dir/broken.json", "{\"pck_crl\": 1}");
  auto source = DirectoryCollateralSource::Load(files, "/dir");
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("/dir/broken.json"));

  testing::FakeFileSystem none;
  auto missing = DirectoryCollateralSource::Load(none, "/nowhere");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("--collateral-dir /nowhere"));
}

}  // namespace
}  // namespace cn::pccs
