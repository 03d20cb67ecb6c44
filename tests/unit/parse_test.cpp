// The shared parser (bpf/packet_parse.h) and update rule (bpf/flow_update.h) compiled in user
// space, as the pcap path uses them.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "flow_update.h"
#include "unit/flow_scenario.h"
#include "unit/parse_cases.h"

namespace netguard::testing {
namespace {

struct Parsed {
  Outcome outcome = Outcome::kError;
  ng_pkt pkt{};
};

// The decision sequence of the data plane: L3, then L4 for IP.
Parsed Parse(const std::vector<uint8_t>& frame) {
  // An exact-size heap copy, so that a sanitizer build catches any read past the end.
  std::vector<uint8_t> copy(frame);
  Parsed out;
  ng_cursor cur{copy.data(), copy.data() + copy.size()};
  switch (ng_parse_l3(&cur, static_cast<uint32_t>(copy.size()), &out.pkt)) {
    case NG_L3_ARP:
      out.outcome = Outcome::kArp;
      return out;
    case NG_L3_OTHER:
      out.outcome = Outcome::kNonIp;
      return out;
    case NG_L3_IP:
      break;
    default:
      out.outcome = Outcome::kError;
      return out;
  }
  switch (ng_parse_l4(&cur, &out.pkt)) {
    case NG_L4_FLOW:
      out.outcome = Outcome::kFlow;
      break;
    case NG_L4_FRAGMENT:
      out.outcome = Outcome::kFragment;
      break;
    default:
      out.outcome = Outcome::kError;
  }
  return out;
}

std::vector<uint8_t> AddressBytes(const std::string& text) {
  std::vector<uint8_t> out(16, 0);
  const int af = text.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  EXPECT_EQ(inet_pton(af, text.c_str(), out.data()), 1) << text;
  return out;
}

std::vector<uint8_t> Bytes(const __u32 words[4]) {
  std::vector<uint8_t> out(16);
  std::memcpy(out.data(), words, 16);
  return out;
}

class ParseCaseTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseCaseTest, ParsesAsExpected) {
  const ParseCase& c = GetParam();
  const Parsed p = Parse(c.frame);
  ASSERT_EQ(p.outcome, c.outcome) << "parse error " << int{p.pkt.error};
  const ng_pkt& pkt = p.pkt;
  switch (c.outcome) {
    case Outcome::kError:
      EXPECT_EQ(pkt.error, c.error);
      return;
    case Outcome::kArp:
    case Outcome::kNonIp:
      EXPECT_EQ(pkt.vlan_id, c.vlan_id);
      EXPECT_EQ(pkt.family, 0);
      return;
    case Outcome::kFragment:
      EXPECT_EQ(pkt.fragment, 1);
      EXPECT_EQ(pkt.family, c.family);
      EXPECT_EQ(pkt.proto, c.proto);
      EXPECT_EQ(pkt.l3_hdr_len, c.l3_hdr_len);
      EXPECT_EQ(Bytes(pkt.src), AddressBytes(c.src));
      EXPECT_EQ(Bytes(pkt.dst), AddressBytes(c.dst));
      return;
    case Outcome::kFlow:
      break;
  }
  EXPECT_EQ(pkt.fragment, 0);
  EXPECT_EQ(Bytes(pkt.src), AddressBytes(c.src));
  EXPECT_EQ(Bytes(pkt.dst), AddressBytes(c.dst));
  EXPECT_EQ(pkt.family, c.family);
  EXPECT_EQ(pkt.proto, c.proto);
  EXPECT_EQ(pkt.vlan_id, c.vlan_id);
  EXPECT_EQ(pkt.sport, c.sport);
  EXPECT_EQ(pkt.dport, c.dport);
  EXPECT_EQ(pkt.l3_hdr_len, c.l3_hdr_len);
  EXPECT_EQ(pkt.l4_hdr_len, c.l4_hdr_len);
  EXPECT_EQ(pkt.payload_len, c.payload_len);
  EXPECT_EQ(pkt.ip_len, uint32_t{c.l3_hdr_len} + c.l4_hdr_len + c.payload_len);
  EXPECT_EQ(pkt.wire_len, c.frame.size());
  EXPECT_EQ(pkt.tcp_flags, c.tcp_flags);
  EXPECT_EQ(pkt.window, c.window);
  EXPECT_EQ(pkt.dns_query, c.dns_query ? 1 : 0);
}

INSTANTIATE_TEST_SUITE_P(Frames, ParseCaseTest, ::testing::ValuesIn(ParseCases()),
                         [](const ::testing::TestParamInfo<ParseCase>& info) {
                           return info.param.name;
                         });

// A valid flow frame cut anywhere is never accounted: every strict prefix is a parse error, and
// the parser stays inside the prefix (exact-size copies; run under ASan to check the reads).
class TruncationTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(TruncationTest, EveryPrefixIsAnError) {
  const ParseCase& c = GetParam();
  for (size_t len = 0; len < c.frame.size(); ++len) {
    const std::vector<uint8_t> cut(c.frame.begin(), c.frame.begin() + static_cast<long>(len));
    EXPECT_EQ(Parse(cut).outcome, Outcome::kError) << "prefix of " << len << " bytes";
  }
}

std::vector<ParseCase> UnpaddedFlowCases() {
  std::vector<ParseCase> out;
  for (ParseCase& c : ParseCases()) {
    // (a frame with Ethernet padding is still whole when cut inside the padding)
    if (c.outcome == Outcome::kFlow && c.name != "ipv4_udp_ethernet_padding") {
      out.push_back(std::move(c));
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(FlowFrames, TruncationTest, ::testing::ValuesIn(UnpaddedFlowCases()),
                         [](const ::testing::TestParamInfo<ParseCase>& info) {
                           return info.param.name;
                         });

ng_pkt Pkt(const std::vector<uint8_t>& frame) {
  const Parsed p = Parse(frame);
  EXPECT_EQ(p.outcome, Outcome::kFlow);
  return p.pkt;
}

TEST(FlowKeyTest, BothDirectionsShareOneCanonicalKey) {
  const ng_pkt out = Pkt(PacketBuilder().Ip("10.0.0.9", "10.0.0.2").Tcp(40000, 80, 0).Build());
  const ng_pkt back = Pkt(PacketBuilder().Ip("10.0.0.2", "10.0.0.9").Tcp(80, 40000, 0).Build());
  ng_flow_key k_out{};
  ng_flow_key k_back{};
  EXPECT_EQ(ng_flow_key_make(&out, &k_out), NG_SIDE_B);
  EXPECT_EQ(ng_flow_key_make(&back, &k_back), NG_SIDE_A);
  const ng_flow_key hand = HandKey("10.0.0.2", 80, "10.0.0.9", 40000, 6);
  EXPECT_TRUE(SameKey(k_out, hand)) << KeyString(k_out);
  EXPECT_TRUE(SameKey(k_back, hand)) << KeyString(k_back);
  EXPECT_EQ(ng_flow_key_stripe(&k_out), ng_flow_key_stripe(&k_back));
  EXPECT_LT(ng_flow_key_stripe(&k_out), static_cast<uint32_t>(NG_LOCK_STRIPES));
}

TEST(FlowKeyTest, SameAddressesAreOrderedByPort) {
  const ng_pkt hi = Pkt(PacketBuilder().Ip("::1", "::1").Udp(5000, 53).Build());
  const ng_pkt lo = Pkt(PacketBuilder().Ip("::1", "::1").Udp(53, 5000).Build());
  ng_flow_key k_hi{};
  ng_flow_key k_lo{};
  EXPECT_EQ(ng_flow_key_make(&hi, &k_hi), NG_SIDE_B);
  EXPECT_EQ(ng_flow_key_make(&lo, &k_lo), NG_SIDE_A);
  const ng_flow_key hand = HandKey("::1", 53, "::1", 5000, 17);
  EXPECT_TRUE(SameKey(k_hi, hand)) << KeyString(k_hi);
  EXPECT_TRUE(SameKey(k_lo, hand)) << KeyString(k_lo);
}

TEST(FlowKeyTest, VlanIsPartOfTheKey) {
  const ng_pkt plain = Pkt(PacketBuilder().Ip("10.0.0.1", "10.0.0.2").Udp(1, 2).Build());
  const ng_pkt tagged = Pkt(PacketBuilder().Vlan(300).Ip("10.0.0.1", "10.0.0.2").Udp(1, 2).Build());
  ng_flow_key k_plain{};
  ng_flow_key k_tagged{};
  ng_flow_key_make(&plain, &k_plain);
  ng_flow_key_make(&tagged, &k_tagged);
  EXPECT_TRUE(SameKey(k_plain, HandKey("10.0.0.1", 1, "10.0.0.2", 2, 17)));
  EXPECT_TRUE(SameKey(k_tagged, HandKey("10.0.0.1", 1, "10.0.0.2", 2, 17, 300)));
}

// ---- ng_flow_step: the whole lifecycle ----

constexpr ng_step_params kParams = {
    .activity_timeout_us = NG_DEFAULT_ACTIVITY_TIMEOUT_US,
    .active_timeout_ns = NG_DEFAULT_ACTIVE_TIMEOUT_NS,
    .end_flags = NG_END_ON_FIN | NG_END_ON_RST,
};

struct Step {
  uint32_t result = 0;
  ng_flow expired{};
  ng_flow started{};
  ng_flow finished{};
  uint8_t reason = 0;
};

class FlowStepTest : public ::testing::Test {
 protected:
  Step Run(const std::vector<uint8_t>& frame, uint64_t ts_ns,
           const ng_step_params& params = kParams) {
    const ng_pkt pkt = Pkt(frame);
    ng_flow_key key{};
    const uint8_t side = ng_flow_key_make(&pkt, &key);
    EXPECT_TRUE(SameKey(key, key_)) << KeyString(key);
    Step s;
    s.result = ng_flow_step(&flow_, &pkt, side, ts_ns, &params, &s.expired, &s.started, &s.finished,
                            &s.reason);
    return s;
  }

  static std::vector<uint8_t> C2S(uint8_t flags, size_t payload, uint16_t window = 1000) {
    return PacketBuilder()
        .Ip("10.0.0.9", "10.0.0.2")
        .Tcp(40000, 80, flags, window)
        .Payload(payload)
        .Build();
  }
  static std::vector<uint8_t> S2C(uint8_t flags, size_t payload, uint16_t window = 2000) {
    return PacketBuilder()
        .Ip("10.0.0.2", "10.0.0.9")
        .Tcp(80, 40000, flags, window)
        .Payload(payload)
        .Build();
  }

  ng_flow flow_{};  // a new map entry: zeroed, NG_FLOW_EMPTY
  const ng_flow_key key_ = HandKey("10.0.0.2", 80, "10.0.0.9", 40000, 6);
};

TEST_F(FlowStepTest, ScenarioAccumulatesExactly) {
  bool first = true;
  for (const ScenarioPacket& p : tcp_scenario::Packets()) {
    const ng_pkt pkt = Pkt(p.frame);
    ng_flow_key key{};
    const uint8_t side = ng_flow_key_make(&pkt, &key);
    ASSERT_TRUE(SameKey(key, tcp_scenario::Key())) << KeyString(key);
    EXPECT_EQ(side, p.from_client ? NG_SIDE_B : NG_SIDE_A);
    Step s;
    s.result = ng_flow_step(&flow_, &pkt, side, p.ts_ns, &kParams, &s.expired, &s.started,
                            &s.finished, &s.reason);
    EXPECT_EQ(s.result, first ? uint32_t{NG_STEP_STARTED} : 0u) << "at " << p.ts_ns;
    first = false;
  }
  ExpectFlowEq(flow_, tcp_scenario::Expected());
}

TEST_F(FlowStepTest, StartAddFinishAndRestart) {
  constexpr uint8_t kSyn = NG_TCP_SYN, kAck = NG_TCP_ACK, kFin = NG_TCP_FIN;

  Step s = Run(C2S(kSyn, 0), 5'000'000'100);
  ASSERT_EQ(s.result, uint32_t{NG_STEP_STARTED});
  ng_flow want{};
  want.dir[NG_DIR_FWD].payload = Running({0});
  want.dir[NG_DIR_FWD].wire_bytes = 54;
  want.dir[NG_DIR_FWD].l3_hdr_bytes = 20;
  want.dir[NG_DIR_FWD].l4_hdr_bytes = 20;
  want.dir[NG_DIR_FWD].last_us = 5'000'000;
  want.dir[NG_DIR_FWD].flag_counts[1] = 1;
  want.dir[NG_DIR_FWD].l4_hdr_min = 20;
  want.dir[NG_DIR_FWD].init_win = 1000;
  want.dir[NG_DIR_FWD].last_win = 1000;
  want.first_ts_ns = want.last_ts_ns = 5'000'000'100;
  want.active_start_us = 5'000'000;
  want.initiator = NG_SIDE_B;
  want.first_tcp_flags = kSyn;
  want.state = NG_FLOW_ACTIVE;
  ExpectFlowEq(flow_, want);
  ExpectFlowEq(s.started, want);  // the start snapshot includes the first packet

  s = Run(S2C(kSyn | kAck, 0), 5'000'010'000);
  EXPECT_EQ(s.result, 0u);
  s = Run(C2S(kAck, 30), 5'000'020'000);
  EXPECT_EQ(s.result, 0u);
  s = Run(C2S(kFin | kAck, 0), 5'000'040'000);
  ASSERT_EQ(s.result, uint32_t{NG_STEP_FINISHED});
  EXPECT_EQ(s.reason, NG_REASON_FIN);

  want.dir[NG_DIR_FWD].payload = Running({0, 30, 0});
  want.dir[NG_DIR_FWD].iat = Running({20, 20});
  want.dir[NG_DIR_FWD].wire_bytes = 54 + 84 + 54;
  want.dir[NG_DIR_FWD].l3_hdr_bytes = 60;
  want.dir[NG_DIR_FWD].l4_hdr_bytes = 60;
  want.dir[NG_DIR_FWD].last_us = 5'000'040;
  want.dir[NG_DIR_FWD].flag_counts[0] = 1;  // FIN
  want.dir[NG_DIR_FWD].flag_counts[4] = 2;  // ACK
  want.dir[NG_DIR_FWD].data_pkts = 1;
  want.dir[NG_DIR_BWD].payload = Running({0});
  want.dir[NG_DIR_BWD].wire_bytes = 54;
  want.dir[NG_DIR_BWD].l3_hdr_bytes = 20;
  want.dir[NG_DIR_BWD].l4_hdr_bytes = 20;
  want.dir[NG_DIR_BWD].last_us = 5'000'010;
  want.dir[NG_DIR_BWD].flag_counts[1] = 1;
  want.dir[NG_DIR_BWD].flag_counts[4] = 1;
  want.dir[NG_DIR_BWD].l4_hdr_min = 20;
  want.dir[NG_DIR_BWD].init_win = 2000;
  want.dir[NG_DIR_BWD].last_win = 2000;
  want.iat = Running({10, 10, 20});
  want.last_ts_ns = 5'000'040'000;
  ExpectFlowEq(s.finished, want);  // the FIN packet is the flow's last
  want.state = NG_FLOW_EMPTY;
  ExpectFlowEq(flow_, want);  // the entry keeps the counts until the next packet

  // The next packet of the 5-tuple starts a fresh flow; its sender (the server) initiates it.
  s = Run(S2C(kAck, 5), 5'000'050'000);
  ASSERT_EQ(s.result, uint32_t{NG_STEP_STARTED});
  ng_flow fresh{};
  fresh.dir[NG_DIR_FWD].payload = Running({5});
  fresh.dir[NG_DIR_FWD].wire_bytes = 59;
  fresh.dir[NG_DIR_FWD].l3_hdr_bytes = 20;
  fresh.dir[NG_DIR_FWD].l4_hdr_bytes = 20;
  fresh.dir[NG_DIR_FWD].last_us = 5'000'050;
  fresh.dir[NG_DIR_FWD].flag_counts[4] = 1;
  fresh.dir[NG_DIR_FWD].data_pkts = 1;
  fresh.dir[NG_DIR_FWD].l4_hdr_min = 20;
  fresh.dir[NG_DIR_FWD].init_win = 2000;
  fresh.dir[NG_DIR_FWD].last_win = 2000;
  fresh.first_ts_ns = fresh.last_ts_ns = 5'000'050'000;
  fresh.active_start_us = 5'000'050;
  fresh.first_payload_len = 5;
  fresh.initiator = NG_SIDE_A;
  fresh.first_tcp_flags = kAck;
  fresh.state = NG_FLOW_ACTIVE;
  ExpectFlowEq(flow_, fresh);
  ExpectFlowEq(s.started, fresh);
}

TEST_F(FlowStepTest, RstEndsTheFlow) {
  Run(C2S(NG_TCP_SYN, 0), 1'000'000'000);
  const Step s = Run(S2C(NG_TCP_RST | NG_TCP_ACK, 0), 1'000'001'000);
  ASSERT_EQ(s.result, uint32_t{NG_STEP_FINISHED});
  EXPECT_EQ(s.reason, NG_REASON_RST);
  EXPECT_EQ(s.finished.dir[NG_DIR_BWD].flag_counts[2], 1u);
  EXPECT_EQ(PacketCount(s.finished), 2u);
  EXPECT_EQ(flow_.state, NG_FLOW_EMPTY);
}

TEST_F(FlowStepTest, EndFlagsSelectWhichFlagsEndAFlow) {
  ng_step_params rst_only = kParams;
  rst_only.end_flags = NG_END_ON_RST;
  Run(C2S(NG_TCP_SYN, 0), 1'000'000'000, rst_only);
  Step s = Run(C2S(NG_TCP_FIN | NG_TCP_ACK, 0), 1'000'001'000, rst_only);
  EXPECT_EQ(s.result, 0u);
  EXPECT_EQ(flow_.state, NG_FLOW_ACTIVE);
  ng_step_params none = kParams;
  none.end_flags = 0;
  s = Run(S2C(NG_TCP_RST, 0), 1'000'002'000, none);
  EXPECT_EQ(s.result, 0u);
  EXPECT_EQ(PacketCount(flow_), 3u);
  // With FIN and RST both set and both enabled, FIN is the reason.
  s = Run(S2C(NG_TCP_RST | NG_TCP_FIN, 0), 1'000'003'000);
  EXPECT_EQ(s.result, uint32_t{NG_STEP_FINISHED});
  EXPECT_EQ(s.reason, NG_REASON_FIN);
}

TEST_F(FlowStepTest, UdpNeverEndsOnFlags) {
  const auto udp = PacketBuilder().Ip("10.0.0.2", "10.0.0.9").Udp(80, 40000).Build();
  const ng_pkt pkt = Pkt(udp);
  ng_flow_key key{};
  const uint8_t side = ng_flow_key_make(&pkt, &key);
  EXPECT_TRUE(SameKey(key, HandKey("10.0.0.2", 80, "10.0.0.9", 40000, 17)));
  Step s;
  s.result =
      ng_flow_step(&flow_, &pkt, side, 1, &kParams, &s.expired, &s.started, &s.finished, &s.reason);
  EXPECT_EQ(s.result, uint32_t{NG_STEP_STARTED});
  EXPECT_EQ(flow_.dir[NG_DIR_FWD].flag_counts[0], 0u);
  EXPECT_EQ(flow_.dir[NG_DIR_FWD].init_win, 0);
}

TEST_F(FlowStepTest, ActiveTimeoutExpiresAndRestarts) {
  ng_step_params params = kParams;
  params.active_timeout_ns = 1'000'000'000;
  const uint64_t t0 = 50'000'000'000;
  Run(C2S(NG_TCP_SYN, 0), t0, params);
  Run(S2C(NG_TCP_SYN | NG_TCP_ACK, 0), t0 + 500'000'000, params);
  // Exactly the timeout after the first packet still belongs to the flow.
  Step s = Run(C2S(NG_TCP_ACK, 10), t0 + 1'000'000'000, params);
  EXPECT_EQ(s.result, 0u);
  const ng_flow before = flow_;
  ASSERT_EQ(PacketCount(before), 3u);

  // One nanosecond later the old flow expires and the packet (from the server) starts anew.
  s = Run(S2C(NG_TCP_ACK, 20), t0 + 1'000'000'001, params);
  ASSERT_EQ(s.result, uint32_t{NG_STEP_EXPIRED | NG_STEP_STARTED});
  ExpectFlowEq(s.expired, before);
  EXPECT_EQ(PacketCount(flow_), 1u);
  EXPECT_EQ(flow_.initiator, NG_SIDE_A);
  EXPECT_EQ(flow_.first_ts_ns, t0 + 1'000'000'001);
  EXPECT_EQ(flow_.first_payload_len, 20u);
  EXPECT_EQ(flow_.iat.count, 0u);
  ExpectFlowEq(s.started, flow_);

  // A FIN that arrives after the timeout expires the old flow, starts and ends a new one.
  s = Run(C2S(NG_TCP_FIN | NG_TCP_ACK, 0), t0 + 2'000'000'002, params);
  EXPECT_EQ(s.result, uint32_t{NG_STEP_EXPIRED | NG_STEP_STARTED | NG_STEP_FINISHED});
  EXPECT_EQ(PacketCount(s.expired), 1u);
  EXPECT_EQ(PacketCount(s.finished), 1u);
  EXPECT_EQ(s.finished.initiator, NG_SIDE_B);
  EXPECT_EQ(s.reason, NG_REASON_FIN);
}

TEST_F(FlowStepTest, TimestampGoingBackwardsGivesNegativeIatAndNoExpiry) {
  ng_step_params params = kParams;
  params.active_timeout_ns = 1'000'000'000;
  Run(C2S(NG_TCP_SYN, 0), 10'000'000'000, params);
  // An earlier timestamp (a racing CPU): a signed IAT, never an expiry, never a huge square.
  const Step s = Run(S2C(NG_TCP_ACK, 0), 9'999'999'000, params);
  EXPECT_EQ(s.result, 0u);
  EXPECT_EQ(flow_.iat.count, 1u);
  EXPECT_EQ(flow_.iat.sum, -1);
  EXPECT_EQ(flow_.iat.min, -1);
  EXPECT_EQ(flow_.iat.sum_sq, 1u);
}

TEST_F(FlowStepTest, IdleGapWithoutActiveTimeOnlyCountsIdle) {
  // A lone packet, then one after the activity timeout: the closed active period has length 0
  // and is not recorded; the gap is idle time.
  Run(C2S(NG_TCP_SYN, 0), 1'000'000'000);
  Run(S2C(NG_TCP_ACK, 0), 1'000'000'000 + 5'000'001'000);
  EXPECT_EQ(flow_.active.count, 0u);
  ExpectRunningEq(flow_.idle, Running({5'000'001}), "idle");
  EXPECT_EQ(flow_.active_start_us, 6'000'001);
  // Exactly the activity timeout is not a gap.
  Run(C2S(NG_TCP_ACK, 0), 1'000'000'000 + 10'000'001'000);
  EXPECT_EQ(flow_.idle.count, 1u);
}

}  // namespace
}  // namespace netguard::testing
