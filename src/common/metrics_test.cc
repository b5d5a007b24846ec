#include "src/common/metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace cn::common {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, RegistersUnlabelledSeriesUnderTheirNamesWithHelp) {
  prometheus::Registry registry;
  prometheus::Counter& counter = AddCounter(registry, "cn_test_events_total", "Events seen");
  prometheus::Gauge& gauge = AddGauge(registry, "cn_test_level", "A level");
  prometheus::Gauge& ready = AddPlatformReadyGauge(registry);
  counter.Increment(3);
  gauge.Set(7.5);
  ready.Set(1);
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, HasSubstr("# HELP cn_test_events_total Events seen\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE cn_test_events_total counter\ncn_test_events_total 3\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE cn_test_level gauge\ncn_test_level 7.5\n"));
  EXPECT_THAT(text, HasSubstr("# HELP cn_sgx_platform_ready 1 when the host can run enclaves"));
  EXPECT_THAT(text, HasSubstr("cn_sgx_platform_ready 1\n"));
}

TEST(CounterCacheTest, GivesEachLabelSetItsOwnSeriesOfTheFamily) {
  prometheus::Registry registry;
  auto& family =
      prometheus::BuildCounter().Name("cn_test_requests_total").Help("R").Register(registry);
  CounterCache cache(family, {"route", "status"});
  cache.Get({"/a", "200"}).Increment();
  cache.Get({"/a", "200"}).Increment();
  cache.Get({"/a", "404"}).Increment();
  // Values that would join to the same text without a separator stay apart.
  cache.Get({"/a2", "00"}).Increment(5);
  EXPECT_EQ(&cache.Get({"/a", "200"}), &family.Add({{"route", "/a"}, {"status", "200"}}));
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, HasSubstr("cn_test_requests_total{route=\"/a\",status=\"200\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("cn_test_requests_total{route=\"/a\",status=\"404\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("cn_test_requests_total{route=\"/a2\",status=\"00\"} 5\n"));
}

}  // namespace
}  // namespace cn::common
