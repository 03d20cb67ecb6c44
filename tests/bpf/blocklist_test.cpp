// The XDP blocklist: LPM lookups by source prefix, drop counters, removal, pinning.
#include "capture/blocklist.h"

#include <optional>
#include <string>
#include <vector>

#include "bpf/dataplane_fixture.h"
#include "bpf/prog_runner.h"
#include "common/ip_prefix.h"
#include "support/packet_builder.h"

namespace netguard::testing {
namespace {

using capture::BlockEntry;
using capture::Blocklist;

Frame Udp(const std::string& src, const std::string& dst, size_t payload) {
  return PacketBuilder().Ip(src, dst).Udp(1000, 2000).Payload(payload).Build();
}

Frame Tcp(const std::string& src, const std::string& dst, size_t payload) {
  return PacketBuilder().Ip(src, dst).Tcp(40000, 443, NG_TCP_ACK).Payload(payload).Build();
}

struct BlockCase {
  std::string name;
  std::string prefix;
  std::string hit;   // a source inside the prefix
  std::string miss;  // a source just outside it
  std::string peer;  // the other end of the conversation
};

void PrintTo(const BlockCase& c, std::ostream* os) { *os << c.prefix; }

class BlocklistTest : public DataPlaneTest, public ::testing::WithParamInterface<BlockCase> {
 protected:
  Blocklist blocklist() { return Blocklist(dp().block_v4_fd(), dp().block_v6_fd()); }

  std::optional<BlockEntry> Entry(const std::string& prefix) {
    return blocklist().Get(IpPrefix::Parse(prefix));
  }
};

TEST_P(BlocklistTest, HitDropsAndCountsMissPassesRemovalRestores) {
  const BlockCase& c = GetParam();
  const IpPrefix prefix = IpPrefix::Parse(c.prefix);
  blocklist().Add(prefix);
  ASSERT_TRUE(Entry(c.prefix).has_value());
  EXPECT_EQ(Entry(c.prefix)->packets, 0u);

  // Hits: dropped at XDP, counted in the entry and in the stats, never tracked or sampled.
  const Frame hit1 = Udp(c.hit, c.peer, 33);
  const Frame hit2 = Tcp(c.hit, c.peer, 100);
  capture::StatCounters before = Stats();
  EXPECT_EQ(Xdp(hit1, 1'000'000'000), kXdpDrop);
  std::optional<BlockEntry> entry = Entry(c.prefix);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->packets, 1u);
  EXPECT_EQ(entry->bytes, hit1.size());
  EXPECT_EQ(Xdp(hit2, 1'000'001'000), kXdpDrop);
  entry = Entry(c.prefix);
  EXPECT_EQ(entry->packets, 2u);
  EXPECT_EQ(entry->bytes, hit1.size() + hit2.size());
  EXPECT_TRUE(StatsDelta(before, Stats(),
                         {{NG_STAT_XDP_PACKETS, 2},
                          {NG_STAT_XDP_DROPPED, 2},
                          {NG_STAT_XDP_DROPPED_BYTES, hit1.size() + hit2.size()}}));
  EXPECT_TRUE(Flows().empty());
  EXPECT_TRUE(Drain().empty());

  // A source outside the prefix passes and is tracked; the entry does not move.
  before = Stats();
  EXPECT_EQ(Xdp(Udp(c.miss, c.peer, 10), 1'000'002'000), kXdpPass);
  EXPECT_TRUE(StatsDelta(before, Stats(),
                         {{NG_STAT_XDP_PACKETS, 1},
                          {NG_STAT_XDP_PASSED, 1},
                          {NG_STAT_FLOWS_STARTED, 1},
                          {NG_STAT_SAMPLES, 1}}));
  EXPECT_EQ(Flows().size(), 1u);
  // Blocking is by source: traffic towards a blocked address passes.
  EXPECT_EQ(Xdp(Udp(c.peer, c.hit, 10), 1'000'003'000), kXdpPass);
  // TC egress never drops, even for a blocked source.
  EXPECT_EQ(Tc(hit1, 1'000'004'000), kTcActOk);
  EXPECT_EQ(Entry(c.prefix)->packets, 2u);
  Drain();

  // Removing the entry lets the source through again.
  EXPECT_TRUE(blocklist().Remove(prefix));
  EXPECT_FALSE(blocklist().Remove(prefix));
  EXPECT_FALSE(Entry(c.prefix).has_value());
  before = Stats();
  EXPECT_EQ(Xdp(hit1, 1'000'005'000), kXdpPass);
  EXPECT_EQ(Stats()[NG_STAT_XDP_DROPPED], before[NG_STAT_XDP_DROPPED]);
  EXPECT_EQ(Stats()[NG_STAT_XDP_PASSED], before[NG_STAT_XDP_PASSED] + 1);
}

INSTANTIATE_TEST_SUITE_P(
    Prefixes, BlocklistTest,
    ::testing::Values(
        BlockCase{"v4_host", "198.51.100.7/32", "198.51.100.7", "198.51.100.8", "10.0.0.1"},
        BlockCase{"v4_24", "198.51.100.0/24", "198.51.100.200", "198.51.101.1", "10.0.0.1"},
        BlockCase{"v4_8", "10.0.0.0/8", "10.200.1.1", "11.0.0.1", "192.0.2.1"},
        BlockCase{"v6_host", "2001:db8::7/128", "2001:db8::7", "2001:db8::8", "2001:db8:1::1"},
        BlockCase{"v6_64", "2001:db8:0:1::/64", "2001:db8:0:1:ffff::1", "2001:db8:0:2::1",
                  "2001:db8:9::1"}),
    [](const ::testing::TestParamInfo<BlockCase>& info) { return info.param.name; });

class BlocklistFamilyTest : public DataPlaneTest {};

// A /0 matches every source of its family and none of the other (there is no IPv4 miss).
TEST_F(BlocklistFamilyTest, SlashZeroBlocksOneFamily) {
  Blocklist list(dp().block_v4_fd(), dp().block_v6_fd());
  const Frame v4a = Udp("203.0.113.9", "10.0.0.1", 1);
  const Frame v4b = Tcp("0.0.0.1", "255.255.255.255", 7);
  const Frame v6 = Udp("2001:db8::9", "2001:db8::1", 1);
  list.Add(IpPrefix::Parse("0.0.0.0/0"));
  EXPECT_EQ(Xdp(v4a, 1), kXdpDrop);
  EXPECT_EQ(Xdp(v4b, 2), kXdpDrop);
  EXPECT_EQ(Xdp(v6, 3), kXdpPass);
  const std::optional<BlockEntry> all4 = list.Get(IpPrefix::Parse("0.0.0.0/0"));
  ASSERT_TRUE(all4.has_value());
  EXPECT_EQ(all4->packets, 2u);
  EXPECT_EQ(all4->bytes, v4a.size() + v4b.size());
  EXPECT_TRUE(list.Remove(IpPrefix::Parse("0.0.0.0/0")));
  EXPECT_EQ(Xdp(v4a, 4), kXdpPass);

  list.Add(IpPrefix::Parse("::/0"));
  EXPECT_EQ(Xdp(v4a, 5), kXdpPass);
  EXPECT_EQ(Xdp(v6, 6), kXdpDrop);
  const std::optional<BlockEntry> all6 = list.Get(IpPrefix::Parse("::/0"));
  ASSERT_TRUE(all6.has_value());
  EXPECT_EQ(all6->packets, 1u);
  EXPECT_EQ(all6->bytes, v6.size());
  EXPECT_TRUE(list.Remove(IpPrefix::Parse("::/0")));
  EXPECT_EQ(Xdp(v6, 7), kXdpPass);
}

TEST_F(BlocklistFamilyTest, LongestPrefixCountsTheHit) {
  Blocklist list(dp().block_v4_fd(), dp().block_v6_fd());
  list.Add(IpPrefix::Parse("10.0.0.0/8"));
  list.Add(IpPrefix::Parse("10.1.2.0/24"));
  list.Add(IpPrefix::Parse("10.1.2.3/32"));
  const Frame in32 = Udp("10.1.2.3", "192.0.2.1", 1);
  const Frame in24 = Udp("10.1.2.4", "192.0.2.1", 2);
  const Frame in8 = Udp("10.9.9.9", "192.0.2.1", 3);
  EXPECT_EQ(Xdp(in32, 1), kXdpDrop);
  EXPECT_EQ(Xdp(in24, 2), kXdpDrop);
  EXPECT_EQ(Xdp(in24, 3), kXdpDrop);
  EXPECT_EQ(Xdp(in8, 4), kXdpDrop);
  EXPECT_EQ(Xdp(in8, 5, /*repeat=*/10), kXdpDrop);
  const auto get = [&](const char* p) { return list.Get(IpPrefix::Parse(p)).value(); };
  EXPECT_EQ(get("10.1.2.3/32").packets, 1u);
  EXPECT_EQ(get("10.1.2.3/32").bytes, in32.size());
  EXPECT_EQ(get("10.1.2.0/24").packets, 2u);
  EXPECT_EQ(get("10.1.2.0/24").bytes, 2 * in24.size());
  EXPECT_EQ(get("10.0.0.0/8").packets, 11u);
  EXPECT_EQ(get("10.0.0.0/8").bytes, 11 * in8.size());
  EXPECT_EQ(list.List().size(), 3u);
  // Adding an existing prefix again keeps its counters.
  list.Add(IpPrefix::Parse("10.0.0.0/8"));
  EXPECT_EQ(get("10.0.0.0/8").packets, 11u);
}

// The source is looked up right after the IP header: a blocked source is dropped even when its
// transport header is malformed, when it is a non-first fragment, and behind VLAN tags.
TEST_F(BlocklistFamilyTest, DroppedBeforeTheTransportHeader) {
  Blocklist list(dp().block_v4_fd(), dp().block_v6_fd());
  list.Add(IpPrefix::Parse("198.51.100.0/24"));
  list.Add(IpPrefix::Parse("2001:db8:bad::/48"));
  Frame bad_tcp = Tcp("198.51.100.1", "10.0.0.1", 0);
  bad_tcp[14 + 20 + 12] = 0x20;  // data offset 2
  const Frame fragment = PacketBuilder()
                             .Ip("198.51.100.1", "10.0.0.1")
                             .Ipv4Fragment(100, false)
                             .Udp(1, 2)
                             .Payload(40)
                             .Build();
  const Frame qinq = PacketBuilder()
                         .Vlan(5, PacketBuilder::kTpid8021AD)
                         .Vlan(6)
                         .Ip("198.51.100.1", "10.0.0.1")
                         .Udp(1, 2)
                         .Build();
  const Frame v6_ext = PacketBuilder()
                           .Ip("2001:db8:bad::1", "2001:db8::1")
                           .Ipv6Ext(0, 8)
                           .Ipv6Ext(44, 8, 10)
                           .Udp(1, 2)
                           .Build();
  const capture::StatCounters before = Stats();
  EXPECT_EQ(Xdp(bad_tcp, 1), kXdpDrop);
  EXPECT_EQ(Xdp(fragment, 2), kXdpDrop);
  EXPECT_EQ(Xdp(qinq, 3), kXdpDrop);
  EXPECT_EQ(Xdp(v6_ext, 4), kXdpDrop);
  const uint64_t bytes = bad_tcp.size() + fragment.size() + qinq.size() + v6_ext.size();
  EXPECT_TRUE(StatsDelta(
      before, Stats(),
      {{NG_STAT_XDP_PACKETS, 4}, {NG_STAT_XDP_DROPPED, 4}, {NG_STAT_XDP_DROPPED_BYTES, bytes}}));
  EXPECT_EQ(list.Get(IpPrefix::Parse("198.51.100.0/24"))->packets, 3u);
  EXPECT_EQ(list.Get(IpPrefix::Parse("2001:db8:bad::/48"))->packets, 1u);
  // ARP from a blocked address is not IP: it passes.
  EXPECT_EQ(Xdp(PacketBuilder().Arp("198.51.100.1", "10.0.0.1").Build(), 5), kXdpPass);
}

// The tries and the stats are pinned: a data plane loaded again on the same pin root (an agent
// restart) keeps enforcing the blocklist and continues the counters.
TEST_F(BlocklistFamilyTest, PinnedStateSurvivesAReload) {
  Blocklist(dp().block_v4_fd(), dp().block_v6_fd()).Add(IpPrefix::Parse("192.0.2.0/24"));
  const Frame hit = Udp("192.0.2.1", "10.0.0.1", 5);
  EXPECT_EQ(Xdp(hit, 1), kXdpDrop);

  Load(TestOptions(), /*keep_pins=*/true);
  EXPECT_EQ(Xdp(hit, 2), kXdpDrop);
  Blocklist pinned = Blocklist::OpenPinned(pin_root());
  const std::optional<BlockEntry> entry = pinned.Get(IpPrefix::Parse("192.0.2.0/24"));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->packets, 2u);
  EXPECT_EQ(entry->bytes, 2 * hit.size());
  EXPECT_EQ(Stats()[NG_STAT_XDP_DROPPED], 2u);

  // Without the pins, a new data plane starts empty.
  Load(TestOptions());
  EXPECT_EQ(Xdp(hit, 3), kXdpPass);
  EXPECT_EQ(Stats()[NG_STAT_XDP_DROPPED], 0u);
}

}  // namespace
}  // namespace netguard::testing
