// Packet samples: the first N packets of a flow, then one in K of each direction, every DNS
// query, every ARP packet; each sample carries the first 384 bytes of the frame.
#include <algorithm>
#include <functional>
#include <vector>

#include "bpf/dataplane_fixture.h"
#include "bpf/prog_runner.h"
#include "support/packet_builder.h"
#include "unit/flow_scenario.h"
#include "unit/parse_cases.h"

namespace netguard::testing {
namespace {

class SamplingTest : public DataPlaneTest {
 protected:
  void LoadSampling(uint32_t first_n, uint32_t every_k, bool dns = true, bool arp = true) {
    capture::DataPlaneOptions options = TestOptions();
    options.sample_first_n = first_n;
    options.sample_every_k = every_k;
    options.sample_dns = dns;
    options.sample_arp = arp;
    Load(options);
  }

  // Sends `count` packets of one UDP flow through XDP and returns the frames; packet i
  // (1-based) goes from 10.0.0.1 (side A) to 10.0.0.2 when from_a(i), else back, with i bytes
  // of payload and timestamp 1 s + i ms. By default the directions alternate, A first.
  std::vector<Frame> SendFlow(int count, const std::function<bool(int)>& from_a = Alternate) {
    std::vector<Frame> frames;
    from_a_.clear();
    for (int i = 1; i <= count; ++i) {
      const bool out = from_a(i);
      from_a_.push_back(out);
      frames.push_back(PacketBuilder()
                           .Ip(out ? "10.0.0.1" : "10.0.0.2", out ? "10.0.0.2" : "10.0.0.1")
                           .Udp(out ? 4000 : 5000, out ? 5000 : 4000)
                           .Payload(static_cast<size_t>(i))
                           .Build());
      EXPECT_EQ(Xdp(frames.back(), Ts(i)), kXdpPass);
    }
    return frames;
  }

  static bool Alternate(int i) { return i % 2 == 1; }
  static uint64_t Ts(int i) { return 1'000'000'000 + static_cast<uint64_t>(i) * 1'000'000; }

  // Checks that `samples` are exactly packets `numbers` (1-based) of the last SendFlow's
  // `frames` with `reasons`.
  void ExpectSamples(const std::vector<ng_packet_sample>& samples, const std::vector<Frame>& frames,
                     const std::vector<int>& numbers, const std::vector<uint8_t>& reasons) const {
    ASSERT_EQ(samples.size(), numbers.size());
    const ng_flow_key key = HandKey("10.0.0.1", 4000, "10.0.0.2", 5000, 17);
    for (size_t i = 0; i < samples.size(); ++i) {
      SCOPED_TRACE("sample of packet " + std::to_string(numbers[i]));
      const ng_packet_sample& s = samples[i];
      const auto n = static_cast<size_t>(numbers[i] - 1);
      const Frame& frame = frames[n];
      EXPECT_EQ(s.hdr.type, NG_REC_PACKET);
      EXPECT_EQ(s.hdr.hook, NG_HOOK_XDP);
      EXPECT_EQ(s.hdr.reason, reasons[i]);
      EXPECT_EQ(s.hdr.ts_ns, Ts(numbers[i]));
      EXPECT_TRUE(SameKey(s.key, key)) << KeyString(s.key);
      EXPECT_EQ(s.side, from_a_[n] ? NG_SIDE_A : NG_SIDE_B);
      EXPECT_EQ(s.wire_len, frame.size());
      ASSERT_EQ(s.cap_len, frame.size());
      EXPECT_EQ(Frame(s.data, s.data + s.cap_len), frame);
    }
  }

 private:
  std::vector<bool> from_a_;  // the last SendFlow's directions
};

// Strictly alternating directions with an even K: each direction's own count picks its
// samples, so both directions get them (counting over the whole flow would put every 1-in-K
// sample on one direction).
TEST_F(SamplingTest, FirstNThenOneInKOfEachDirection) {
  LoadSampling(/*first_n=*/3, /*every_k=*/4);
  const std::vector<Frame> frames = SendFlow(16);
  constexpr uint8_t kFirst = NG_SAMPLE_FIRST_N, kK = NG_SAMPLE_ONE_IN_K;
  // A's 4th and 8th packets are packets 7 and 15, B's are 8 and 16.
  ExpectSamples(Samples(Drain()), frames, {1, 2, 3, 7, 8, 15, 16},
                {kFirst, kFirst, kFirst, kK, kK, kK, kK});
  EXPECT_EQ(Stats()[NG_STAT_SAMPLES], 7u);
}

TEST_F(SamplingTest, ProductDefaultsAreFirst8ThenOneIn64OfEachDirection) {
  const std::vector<Frame> frames = SendFlow(2 * 64 + 1);
  std::vector<int> numbers = {1, 2, 3, 4, 5, 6, 7, 8, 127, 128};  // A's and B's 64th packets
  std::vector<uint8_t> reasons(8, NG_SAMPLE_FIRST_N);
  reasons.insert(reasons.end(), 2, NG_SAMPLE_ONE_IN_K);
  ExpectSamples(Samples(Drain()), frames, numbers, reasons);
}

// A sends three packets for each of B's: each direction's 1-in-K samples, K packets each, add
// up to that direction's packets.
TEST_F(SamplingTest, EachDirectionIsSampledByItsOwnPacketCount) {
  LoadSampling(/*first_n=*/2, /*every_k=*/4);
  const std::vector<Frame> frames = SendFlow(48, [](int i) { return i % 4 != 0; });
  const std::vector<ng_packet_sample> samples = Samples(Drain());
  constexpr uint8_t kFirst = NG_SAMPLE_FIRST_N, kK = NG_SAMPLE_ONE_IN_K;
  ExpectSamples(samples, frames, {1, 2, 5, 10, 15, 16, 21, 26, 31, 32, 37, 42, 47, 48},
                {kFirst, kFirst, kK, kK, kK, kK, kK, kK, kK, kK, kK, kK, kK, kK});
  uint64_t a = 0, b = 0;
  for (const ng_packet_sample& s : samples) {
    if (s.hdr.reason == NG_SAMPLE_ONE_IN_K) (s.side == NG_SIDE_A ? a : b) += 4;
  }
  EXPECT_EQ(a, 36u) << "A sent 36 packets";
  EXPECT_EQ(b, 12u) << "B sent 12 packets";
}

TEST_F(SamplingTest, EveryKZeroMeansOnlyTheFirstN) {
  LoadSampling(/*first_n=*/2, /*every_k=*/0);
  const std::vector<Frame> frames = SendFlow(40);
  ExpectSamples(Samples(Drain()), frames, {1, 2}, {NG_SAMPLE_FIRST_N, NG_SAMPLE_FIRST_N});
}

TEST_F(SamplingTest, EveryDnsQueryIsSampledWithItsBytes) {
  LoadSampling(/*first_n=*/1, /*every_k=*/0);
  using parse_cases::Dns;
  const Frame first = PacketBuilder().Ip("10.0.0.1", "10.0.0.53").Udp(33000, 53).Build();
  const Frame query =
      PacketBuilder().Ip("10.0.0.1", "10.0.0.53").Udp(33000, 53).Payload(Dns(0x0100)).Build();
  const Frame response =
      PacketBuilder().Ip("10.0.0.53", "10.0.0.1").Udp(53, 33000).Payload(Dns(0x8180)).Build();
  const Frame qr_set =
      PacketBuilder().Ip("10.0.0.1", "10.0.0.53").Udp(33000, 53).Payload(Dns(0x8000)).Build();
  const Frame tcp_query = PacketBuilder()
                              .Ip("2001:db8::1", "2001:db8::53")
                              .Tcp(40000, 53, NG_TCP_PSH | NG_TCP_ACK)
                              .Payload(Dns(0x0100, true))
                              .Build();
  EXPECT_EQ(Xdp(first, 1'000), kXdpPass);     // packet 1 of the flow: first-N
  EXPECT_EQ(Xdp(query, 2'000), kXdpPass);     // query: sampled
  EXPECT_EQ(Xdp(response, 3'000), kXdpPass);  // response: not a query
  EXPECT_EQ(Xdp(qr_set, 4'000), kXdpPass);    // QR = 1 to port 53: not a query
  EXPECT_EQ(Xdp(query, 5'000), kXdpPass);     // every query, however late in the flow
  EXPECT_EQ(Tc(tcp_query, 6'000), kTcActOk);  // DNS over TCP, first packet of its flow
  const std::vector<ng_packet_sample> samples = Samples(Drain());
  ASSERT_EQ(samples.size(), 4u);
  const std::vector<std::pair<const Frame*, uint64_t>> want = {
      {&first, 1'000}, {&query, 2'000}, {&query, 5'000}, {&tcp_query, 6'000}};
  const std::vector<uint8_t> reasons = {NG_SAMPLE_FIRST_N, NG_SAMPLE_DNS_QUERY, NG_SAMPLE_DNS_QUERY,
                                        NG_SAMPLE_DNS_QUERY};
  for (size_t i = 0; i < samples.size(); ++i) {
    SCOPED_TRACE("sample " + std::to_string(i));
    const Frame& frame = *want[i].first;
    EXPECT_EQ(samples[i].hdr.reason, reasons[i]);
    EXPECT_EQ(samples[i].hdr.ts_ns, want[i].second);
    EXPECT_EQ(samples[i].wire_len, frame.size());
    ASSERT_EQ(samples[i].cap_len, frame.size());
    EXPECT_EQ(Frame(samples[i].data, samples[i].data + samples[i].cap_len), frame);
  }
  EXPECT_EQ(samples[3].hdr.hook, NG_HOOK_TC);
  EXPECT_TRUE(SameKey(samples[3].key, KeyOf(tcp_query)));
  EXPECT_EQ(Stats()[NG_STAT_SAMPLES], 4u);
}

TEST_F(SamplingTest, DnsSamplingCanBeTurnedOff) {
  LoadSampling(/*first_n=*/1, /*every_k=*/0, /*dns=*/false);
  const Frame query = PacketBuilder()
                          .Ip("10.0.0.1", "10.0.0.53")
                          .Udp(33000, 53)
                          .Payload(parse_cases::Dns(0x0100))
                          .Build();
  EXPECT_EQ(Xdp(query, 1), kXdpPass);
  EXPECT_EQ(Xdp(query, 2), kXdpPass);
  const std::vector<ng_packet_sample> samples = Samples(Drain());
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].hdr.reason, NG_SAMPLE_FIRST_N);
}

TEST_F(SamplingTest, LargeFramesAreCutAt384Bytes) {
  const Frame big =
      PacketBuilder().Ip("2001:db8::1", "2001:db8::2").Udp(1, 2).Payload(1400).Build();
  ASSERT_GT(big.size(), size_t{NG_SAMPLE_BYTES});
  EXPECT_EQ(Xdp(big, 7), kXdpPass);
  EXPECT_EQ(Tc(big, 8), kTcActOk);
  const std::vector<ng_packet_sample> samples = Samples(Drain());
  ASSERT_EQ(samples.size(), 2u);
  for (const ng_packet_sample& s : samples) {
    EXPECT_EQ(s.wire_len, big.size());
    ASSERT_EQ(s.cap_len, NG_SAMPLE_BYTES);
    EXPECT_EQ(Frame(s.data, s.data + NG_SAMPLE_BYTES),
              Frame(big.begin(), big.begin() + NG_SAMPLE_BYTES));
  }
  const std::optional<ng_flow> flow = Flow(KeyOf(big));
  ASSERT_TRUE(flow.has_value());
  EXPECT_EQ(flow->dir[NG_DIR_FWD].payload.sum, 2 * 1400);
  EXPECT_EQ(flow->dir[NG_DIR_FWD].wire_bytes, 2 * big.size());
}

TEST_F(SamplingTest, ArpIsCountedAndSampled) {
  const Frame arp = PacketBuilder().Vlan(3).Arp("10.0.0.1", "10.0.0.254").Build();
  const capture::StatCounters before = Stats();
  EXPECT_EQ(Xdp(arp, 11), kXdpPass);
  EXPECT_EQ(Tc(arp, 12), kTcActOk);
  EXPECT_TRUE(StatsDelta(before, Stats(),
                         {{NG_STAT_XDP_PACKETS, 1},
                          {NG_STAT_XDP_PASSED, 1},
                          {NG_STAT_TC_PACKETS, 1},
                          {NG_STAT_ARP, 2},
                          {NG_STAT_SAMPLES, 2}}));
  const std::vector<ng_packet_sample> samples = Samples(Drain());
  ASSERT_EQ(samples.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const ng_packet_sample& s = samples[i];
    EXPECT_EQ(s.hdr.reason, NG_SAMPLE_ARP);
    EXPECT_EQ(s.hdr.hook, i == 0 ? NG_HOOK_XDP : NG_HOOK_TC);
    EXPECT_EQ(s.hdr.ts_ns, i == 0 ? 11u : 12u);
    EXPECT_TRUE(SameKey(s.key, ng_flow_key{}));
    EXPECT_EQ(s.wire_len, arp.size());
    ASSERT_EQ(s.cap_len, arp.size());
    EXPECT_EQ(Frame(s.data, s.data + s.cap_len), arp);
  }
  EXPECT_TRUE(Flows().empty());
}

TEST_F(SamplingTest, ArpSamplingCanBeTurnedOff) {
  LoadSampling(NG_DEFAULT_SAMPLE_FIRST_N, NG_DEFAULT_SAMPLE_EVERY_K, true, /*arp=*/false);
  const capture::StatCounters before = Stats();
  EXPECT_EQ(Xdp(PacketBuilder().Arp("10.0.0.1", "10.0.0.254").Build(), 1), kXdpPass);
  EXPECT_TRUE(StatsDelta(before, Stats(),
                         {{NG_STAT_XDP_PACKETS, 1}, {NG_STAT_XDP_PASSED, 1}, {NG_STAT_ARP, 1}}));
  EXPECT_TRUE(Drain().empty());
}

}  // namespace
}  // namespace netguard::testing
