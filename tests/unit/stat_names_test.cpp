// Every data-plane counter has a stable, unique name (metrics and `netguardd status` use them).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>

#include "capture/bpf_stats.h"
#include "netguard.h"

namespace netguard::capture {
namespace {

TEST(StatNamesTest, EveryCounterHasAUniqueName) {
  std::set<std::string_view> seen;
  for (uint32_t stat = 0; stat < NG_STAT_COUNT; ++stat) {
    const std::string_view name = StatName(stat);
    EXPECT_FALSE(name.empty()) << "stat " << stat;
    EXPECT_NE(name, "unknown") << "stat " << stat;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
  }
  EXPECT_EQ(StatName(NG_STAT_COUNT), "unknown");
}

TEST(StatNamesTest, NamesFollowTheEnums) {
  EXPECT_EQ(StatName(NG_STAT_XDP_PACKETS), "xdp_packets");
  EXPECT_EQ(StatName(NG_STAT_XDP_DROPPED_BYTES), "xdp_dropped_bytes");
  EXPECT_EQ(StatName(NG_STAT_SAMPLES), "samples");
  EXPECT_EQ(StatName(NG_STAT_PARSE_ERROR_FIRST + uint32_t{NG_ERR_ETH_TRUNCATED}),
            "parse_error.eth_truncated");
  EXPECT_EQ(StatName(NG_STAT_PARSE_ERROR_FIRST + uint32_t{NG_ERR_IPV6_EXT_LIMIT}),
            "parse_error.ipv6_ext_limit");
  EXPECT_EQ(StatName(NG_STAT_COUNT - 1), "parse_error.icmp_truncated");
  for (uint32_t err = 0; err < NG_ERR_COUNT; ++err) {
    EXPECT_EQ(StatName(NG_STAT_PARSE_ERROR_FIRST + err).substr(0, 12), "parse_error.") << err;
  }
}

}  // namespace
}  // namespace netguard::capture
