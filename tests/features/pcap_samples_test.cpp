// The pcap FlowTable samples packets by the kernel's rules (every DNS query and ARP packet, the
// first N packets of a flow, then one in K of each direction) and decodes them into PacketSamples.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "capture/pcap/flow_table.h"
#include "support/packet_builder.h"

namespace netguard::testing {
namespace {

constexpr uint64_t kT0 = 1700000000ULL * 1000000000ULL;

struct CollectSamples final : capture::pcap::FlowEvents {
  std::vector<PacketSample> samples;
  void OnFlowEnd(const FlowRecord&) override {}
  void OnPacketSample(const PacketSample& sample) override { samples.push_back(sample); }
};

void Add(capture::pcap::FlowTable& table, const std::vector<uint8_t>& frame, uint64_t ts) {
  table.AddFrame(frame, static_cast<uint32_t>(frame.size()), ts);
}

TEST(PcapSamplesTest, FirstNThenOneInKAsTheKernel) {
  CollectSamples events;
  capture::pcap::FlowTableOptions options;
  options.sample_first_n = 3;
  options.sample_every_k = 4;
  capture::pcap::FlowTable table(options, events);
  const auto frame =
      PacketBuilder().Ip("10.1.0.1", "10.1.0.2").Udp(5000, 9000).Payload(100).Build();
  for (int i = 0; i < 15; ++i) Add(table, frame, kT0 + i * 1000ULL);
  // Packets 1-3 (first N), then the direction's 4th, 8th and 12th.
  ASSERT_EQ(events.samples.size(), 6u);
  EXPECT_EQ(events.samples[0].reason, NG_SAMPLE_FIRST_N);
  EXPECT_EQ(events.samples[3].reason, NG_SAMPLE_ONE_IN_K);
  EXPECT_EQ(events.samples[3].time_ns, static_cast<int64_t>(kT0 + 3 * 1000ULL));
  EXPECT_EQ(events.samples[5].time_ns, static_cast<int64_t>(kT0 + 11 * 1000ULL));
  EXPECT_EQ(events.samples[0].payload_len, 100u);
  EXPECT_EQ(events.samples[0].wire_len, frame.size());
  EXPECT_EQ(events.samples[0].key.proto, 17);
  EXPECT_EQ(table.stats().samples, 6u);
}

TEST(PcapSamplesTest, EveryDnsQueryAndArpPacketWithItsFields) {
  CollectSamples events;
  capture::pcap::FlowTableOptions options;
  options.sample_first_n = 0;
  options.sample_every_k = 0;
  capture::pcap::FlowTable table(options, events);
  const std::vector<uint8_t> query = {0x12, 0x34, 0x01, 0x00, 0,   1,   0,   0, 0, 0,  0, 0, 3,
                                      'w',  'w',  'w',  3,    'c', 'o', 'm', 0, 0, 16, 0, 1};
  const auto dns =
      PacketBuilder().Ip("10.1.0.1", "10.1.0.53").Udp(40000, 53).Payload(query).Build();
  Add(table, dns, kT0);
  Add(table, dns, kT0 + 1);
  Add(table, PacketBuilder().Ip("10.1.0.1", "10.1.0.2").Udp(1, 2).Payload(8).Build(), kT0 + 2);
  Add(table, PacketBuilder().Arp("10.1.0.7", "10.1.0.1").Build(), kT0 + 3);
  ASSERT_EQ(events.samples.size(), 3u) << "two queries and the ARP packet";
  EXPECT_EQ(events.samples[1].reason, NG_SAMPLE_DNS_QUERY);
  EXPECT_EQ(events.samples[1].dns, query);
  const PacketSample& arp = events.samples[2];
  EXPECT_EQ(arp.reason, NG_SAMPLE_ARP);
  ASSERT_TRUE(arp.is_arp && arp.arp_ipv4);
  EXPECT_EQ(arp.arp.op, 1);
  EXPECT_EQ(arp.arp.sender_mac[5], 0x01);
  const uint8_t sender[4] = {10, 1, 0, 7};
  EXPECT_EQ(std::memcmp(&arp.arp.sender_ip, sender, 4), 0);
}

}  // namespace
}  // namespace netguard::testing
