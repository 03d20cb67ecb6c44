// Flow accumulators and lifecycle through the loaded programs: exact struct ng_flow values from
// packets sent in both directions at chosen timestamps, XDP and TC updating one entry, flow ends
// on FIN/RST and at the active timeout.
#include <algorithm>
#include <chrono>
#include <vector>

#include "bpf/dataplane_fixture.h"
#include "bpf/prog_runner.h"
#include "support/packet_builder.h"
#include "unit/flow_scenario.h"

namespace netguard::testing {
namespace {

constexpr uint8_t kSyn = NG_TCP_SYN, kAck = NG_TCP_ACK, kFin = NG_TCP_FIN, kRst = NG_TCP_RST,
                  kPsh = NG_TCP_PSH;

using tcp_scenario::C2S;
using tcp_scenario::S2C;

class FlowAccountingTest : public DataPlaneTest {
 protected:
  // Client packets enter through XDP (ingress), server packets leave through TC (egress).
  void Send(const ScenarioPacket& p) {
    if (p.from_client) {
      ASSERT_EQ(Xdp(p.frame, p.ts_ns), kXdpPass);
    } else {
      ASSERT_EQ(Tc(p.frame, p.ts_ns), kTcActOk);
    }
  }

  static void ExpectEvent(const ng_flow_event& ev, uint16_t type, uint8_t reason, uint8_t hook,
                          uint64_t ts_ns) {
    EXPECT_EQ(ev.hdr.type, type);
    EXPECT_EQ(ev.hdr.reason, reason);
    EXPECT_EQ(ev.hdr.hook, hook);
    EXPECT_EQ(ev.hdr.ts_ns, ts_ns);
    EXPECT_EQ(ev.hdr.ifindex, LoopbackIfindex());
    EXPECT_TRUE(SameKey(ev.key, tcp_scenario::Key())) << KeyString(ev.key);
  }

  const ng_flow_key key_ = tcp_scenario::Key();
};

TEST_F(FlowAccountingTest, BothDirectionsFromXdpAndTcAccumulateExactly) {
  const std::vector<ScenarioPacket> packets = tcp_scenario::Packets();
  const capture::StatCounters before = Stats();
  for (const ScenarioPacket& p : packets) Send(p);

  // One entry, under the hand-written canonical key, with every field as worked out by hand.
  const std::vector<capture::FlowEntry> flows = Flows();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_TRUE(SameKey(flows[0].key, key_)) << KeyString(flows[0].key);
  ExpectFlowEq(flows[0].flow, tcp_scenario::Expected());

  EXPECT_TRUE(StatsDelta(before, Stats(),
                         {{NG_STAT_XDP_PACKETS, 5},
                          {NG_STAT_XDP_PASSED, 5},
                          {NG_STAT_TC_PACKETS, 4},
                          {NG_STAT_FLOWS_STARTED, 1},
                          {NG_STAT_SAMPLES, 8}}));

  // FLOW_START with the snapshot after the first packet, then the first 8 packets sampled from
  // the hook each went through; the 9th is not sampled.
  const std::vector<Record> records = Drain();
  ASSERT_EQ(records.size(), 9u);
  ASSERT_EQ(records[0].type, NG_REC_FLOW_START);
  ExpectEvent(records[0].event, NG_REC_FLOW_START, NG_REASON_START, NG_HOOK_XDP, packets[0].ts_ns);
  EXPECT_EQ(PacketCount(records[0].event.flow), 1u);
  EXPECT_EQ(records[0].event.flow.initiator, NG_SIDE_B);
  EXPECT_EQ(records[0].event.flow.first_ts_ns, packets[0].ts_ns);
  for (size_t i = 1; i < records.size(); ++i) {
    SCOPED_TRACE("sample " + std::to_string(i));
    const ScenarioPacket& p = packets[i - 1];
    ASSERT_EQ(records[i].type, NG_REC_PACKET);
    const ng_packet_sample& s = records[i].sample;
    EXPECT_EQ(s.hdr.hook, p.from_client ? NG_HOOK_XDP : NG_HOOK_TC);
    EXPECT_EQ(s.hdr.reason, NG_SAMPLE_FIRST_N);
    EXPECT_EQ(s.hdr.ts_ns, p.ts_ns);
    EXPECT_EQ(s.side, p.from_client ? NG_SIDE_B : NG_SIDE_A);
    EXPECT_TRUE(SameKey(s.key, key_));
    EXPECT_EQ(s.wire_len, p.frame.size());
    const size_t cap = std::min<size_t>(p.frame.size(), NG_SAMPLE_BYTES);  // 384 of 1054 once
    ASSERT_EQ(s.cap_len, cap);
    EXPECT_EQ(Frame(s.data, s.data + cap), Frame(p.frame.begin(), p.frame.begin() + cap));
  }
}

// The same packets through XDP only: the hook does not change the accounting.
TEST_F(FlowAccountingTest, XdpOnlyGivesTheSameAccumulators) {
  for (const ScenarioPacket& p : tcp_scenario::Packets()) {
    ASSERT_EQ(Xdp(p.frame, p.ts_ns), kXdpPass);
  }
  const std::optional<ng_flow> flow = Flow(key_);
  ASSERT_TRUE(flow.has_value());
  ExpectFlowEq(*flow, tcp_scenario::Expected());
}

TEST_F(FlowAccountingTest, FinEndsTheFlowAndTheNextPacketStartsAFreshOne) {
  const capture::StatCounters before = Stats();
  Send({10'000'000'000, true, C2S(kSyn, 64240, 0, 0)});
  Send({10'000'100'000, false, S2C(kSyn | kAck, 65160, 0, 0)});
  Send({10'000'200'000, true, C2S(kAck | kPsh, 502, 0, 20)});
  Send({10'000'300'000, true, C2S(kFin | kAck, 502, 0, 0)});

  std::vector<ng_flow_event> events = FlowEvents(Drain());
  ASSERT_EQ(events.size(), 2u);
  ExpectEvent(events[0], NG_REC_FLOW_START, NG_REASON_START, NG_HOOK_XDP, 10'000'000'000);
  ExpectEvent(events[1], NG_REC_FLOW_END, NG_REASON_FIN, NG_HOOK_XDP, 10'000'300'000);

  // The end snapshot includes the FIN packet.
  ng_flow want{};
  ng_dir_stats& fwd = want.dir[NG_DIR_FWD];
  fwd.payload = Running({0, 20, 0});
  fwd.iat = Running({200, 100});
  fwd.wire_bytes = 54 + 74 + 54;
  fwd.l3_hdr_bytes = 60;
  fwd.l4_hdr_bytes = 60;
  fwd.last_us = 10'000'300;
  fwd.flag_counts[0] = 1;  // FIN
  fwd.flag_counts[1] = 1;  // SYN
  fwd.flag_counts[3] = 1;  // PSH
  fwd.flag_counts[4] = 2;  // ACK
  fwd.data_pkts = 1;
  fwd.l4_hdr_min = 20;
  fwd.init_win = 64240;
  fwd.last_win = 502;
  ng_dir_stats& bwd = want.dir[NG_DIR_BWD];
  bwd.payload = Running({0});
  bwd.wire_bytes = 54;
  bwd.l3_hdr_bytes = 20;
  bwd.l4_hdr_bytes = 20;
  bwd.last_us = 10'000'100;
  bwd.flag_counts[1] = 1;
  bwd.flag_counts[4] = 1;
  bwd.l4_hdr_min = 20;
  bwd.init_win = bwd.last_win = 65160;
  want.iat = Running({100, 100, 100});
  want.first_ts_ns = 10'000'000'000;
  want.last_ts_ns = 10'000'300'000;
  want.active_start_us = 10'000'000;
  want.initiator = NG_SIDE_B;
  want.first_tcp_flags = kSyn;
  want.state = NG_FLOW_ACTIVE;
  ExpectFlowEq(events[1].flow, want);

  // The map entry keeps the ended flow's counts, marked empty.
  std::optional<ng_flow> entry = Flow(key_);
  ASSERT_TRUE(entry.has_value());
  want.state = NG_FLOW_EMPTY;
  ExpectFlowEq(*entry, want);

  // The server's FIN|ACK (through TC) starts and immediately ends a new one-packet flow whose
  // initiator is the server; then a client ACK starts a third.
  Send({10'000'400'000, false, S2C(kFin | kAck, 65160, 0, 0)});
  Send({10'000'500'999, true, C2S(kAck, 502, 0, 3)});
  events = FlowEvents(Drain());
  ASSERT_EQ(events.size(), 3u);
  ExpectEvent(events[0], NG_REC_FLOW_START, NG_REASON_START, NG_HOOK_TC, 10'000'400'000);
  ExpectEvent(events[1], NG_REC_FLOW_END, NG_REASON_FIN, NG_HOOK_TC, 10'000'400'000);
  EXPECT_EQ(PacketCount(events[1].flow), 1u);
  EXPECT_EQ(events[1].flow.initiator, NG_SIDE_A);
  EXPECT_EQ(events[1].flow.dir[NG_DIR_FWD].flag_counts[0], 1u);
  EXPECT_EQ(events[1].flow.first_ts_ns, 10'000'400'000u);
  ExpectEvent(events[2], NG_REC_FLOW_START, NG_REASON_START, NG_HOOK_XDP, 10'000'500'999);

  ng_flow fresh{};
  fresh.dir[NG_DIR_FWD].payload = Running({3});
  fresh.dir[NG_DIR_FWD].wire_bytes = 57;
  fresh.dir[NG_DIR_FWD].l3_hdr_bytes = 20;
  fresh.dir[NG_DIR_FWD].l4_hdr_bytes = 20;
  fresh.dir[NG_DIR_FWD].last_us = 10'000'500;
  fresh.dir[NG_DIR_FWD].flag_counts[4] = 1;
  fresh.dir[NG_DIR_FWD].data_pkts = 1;
  fresh.dir[NG_DIR_FWD].l4_hdr_min = 20;
  fresh.dir[NG_DIR_FWD].init_win = fresh.dir[NG_DIR_FWD].last_win = 502;
  fresh.first_ts_ns = fresh.last_ts_ns = 10'000'500'999;
  fresh.active_start_us = 10'000'500;
  fresh.first_payload_len = 3;
  fresh.initiator = NG_SIDE_B;
  fresh.first_tcp_flags = kAck;
  fresh.state = NG_FLOW_ACTIVE;
  entry = Flow(key_);
  ASSERT_TRUE(entry.has_value());
  ExpectFlowEq(*entry, fresh);
  ExpectFlowEq(events[2].flow, fresh);

  EXPECT_TRUE(StatsDelta(before, Stats(),
                         {{NG_STAT_XDP_PACKETS, 4},
                          {NG_STAT_XDP_PASSED, 4},
                          {NG_STAT_TC_PACKETS, 2},
                          {NG_STAT_FLOWS_STARTED, 3},
                          {NG_STAT_FLOWS_ENDED_FIN, 2},
                          {NG_STAT_SAMPLES, 6}}));
}

TEST_F(FlowAccountingTest, RstFromTcEndsTheFlow) {
  Send({20'000'000'000, true, C2S(kSyn, 1000, 0, 0)});
  Send({20'000'000'500, false, S2C(kRst | kAck, 0, 0, 0)});
  std::vector<ng_flow_event> events = FlowEvents(Drain());
  ASSERT_EQ(events.size(), 2u);
  ExpectEvent(events[0], NG_REC_FLOW_START, NG_REASON_START, NG_HOOK_XDP, 20'000'000'000);
  ExpectEvent(events[1], NG_REC_FLOW_END, NG_REASON_RST, NG_HOOK_TC, 20'000'000'500);
  const ng_flow& end = events[1].flow;
  EXPECT_EQ(end.dir[NG_DIR_FWD].payload.count, 1u);
  EXPECT_EQ(end.dir[NG_DIR_BWD].payload.count, 1u);
  EXPECT_EQ(end.dir[NG_DIR_BWD].flag_counts[2], 1u);  // RST
  EXPECT_EQ(end.dir[NG_DIR_BWD].init_win, 0);
  EXPECT_EQ(end.last_ts_ns, 20'000'000'500u);
  ExpectRunningEq(end.iat, Running({0}), "iat");  // 500 ns apart: the same microsecond
  EXPECT_EQ(Stats()[NG_STAT_FLOWS_ENDED_RST], 1u);
  EXPECT_EQ(Stats()[NG_STAT_FLOWS_ENDED_FIN], 0u);

  // The next packet, from the server, starts a fresh flow that the server initiates.
  Send({20'000'001'000, false, S2C(kAck, 300, 0, 9)});
  events = FlowEvents(Drain());
  ASSERT_EQ(events.size(), 1u);
  ExpectEvent(events[0], NG_REC_FLOW_START, NG_REASON_START, NG_HOOK_TC, 20'000'001'000);
  const std::optional<ng_flow> entry = Flow(key_);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->state, NG_FLOW_ACTIVE);
  EXPECT_EQ(PacketCount(*entry), 1u);
  EXPECT_EQ(entry->initiator, NG_SIDE_A);
  ExpectRunningEq(entry->dir[NG_DIR_FWD].payload, Running({9}), "payload");
  EXPECT_EQ(entry->dir[NG_DIR_BWD].payload.count, 0u);
  EXPECT_EQ(entry->first_ts_ns, 20'000'001'000u);
}

TEST_F(FlowAccountingTest, EndFlagsCanBeTurnedOff) {
  capture::DataPlaneOptions options = TestOptions();
  options.end_on_fin = false;
  options.end_on_rst = false;
  Load(options);
  Send({1'000'000'000, true, C2S(kFin | kAck, 1, 0, 0)});
  Send({1'000'001'000, false, S2C(kRst, 1, 0, 0)});
  const std::vector<ng_flow_event> events = FlowEvents(Drain());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].hdr.type, NG_REC_FLOW_START);
  const std::optional<ng_flow> entry = Flow(key_);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->state, NG_FLOW_ACTIVE);
  EXPECT_EQ(PacketCount(*entry), 2u);
}

TEST_F(FlowAccountingTest, ActiveTimeoutEndsTheFlowAndStartsANewOne) {
  capture::DataPlaneOptions options = TestOptions();
  options.active_timeout = std::chrono::seconds(1);
  Load(options);
  const uint64_t t0 = 30'000'000'000;
  Send({t0, true, C2S(kSyn, 100, 0, 0)});
  Send({t0 + 400'000'000, false, S2C(kSyn | kAck, 200, 0, 0)});
  // Exactly the active timeout after the first packet: still the same flow.
  Send({t0 + 1'000'000'000, true, C2S(kAck, 100, 0, 11)});
  std::vector<ng_flow_event> events = FlowEvents(Drain());
  ASSERT_EQ(events.size(), 1u);
  const std::optional<ng_flow> old = Flow(key_);
  ASSERT_TRUE(old.has_value());
  ASSERT_EQ(PacketCount(*old), 3u);

  // One nanosecond later: FLOW_END (active timeout) with the old snapshot, then FLOW_START.
  const capture::StatCounters before = Stats();
  Send({t0 + 1'000'000'001, false, S2C(kAck, 200, 0, 22)});
  events = FlowEvents(Drain());
  ASSERT_EQ(events.size(), 2u);
  ExpectEvent(events[0], NG_REC_FLOW_END, NG_REASON_ACTIVE_TIMEOUT, NG_HOOK_TC, t0 + 1'000'000'001);
  ExpectFlowEq(events[0].flow, *old);
  EXPECT_EQ(events[0].flow.last_ts_ns, t0 + 1'000'000'000);
  ExpectRunningEq(events[0].flow.iat, Running({400'000, 600'000}), "old iat");
  ExpectEvent(events[1], NG_REC_FLOW_START, NG_REASON_START, NG_HOOK_TC, t0 + 1'000'000'001);

  ng_flow fresh{};
  fresh.dir[NG_DIR_FWD].payload = Running({22});
  fresh.dir[NG_DIR_FWD].wire_bytes = 54 + 22;
  fresh.dir[NG_DIR_FWD].l3_hdr_bytes = 20;
  fresh.dir[NG_DIR_FWD].l4_hdr_bytes = 20;
  fresh.dir[NG_DIR_FWD].last_us = 31'000'000;
  fresh.dir[NG_DIR_FWD].flag_counts[4] = 1;
  fresh.dir[NG_DIR_FWD].data_pkts = 1;
  fresh.dir[NG_DIR_FWD].l4_hdr_min = 20;
  fresh.dir[NG_DIR_FWD].init_win = fresh.dir[NG_DIR_FWD].last_win = 200;
  fresh.first_ts_ns = fresh.last_ts_ns = t0 + 1'000'000'001;
  fresh.active_start_us = 31'000'000;
  fresh.first_payload_len = 22;
  fresh.initiator = NG_SIDE_A;
  fresh.first_tcp_flags = kAck;
  fresh.state = NG_FLOW_ACTIVE;
  ExpectFlowEq(events[1].flow, fresh);
  const std::optional<ng_flow> entry = Flow(key_);
  ASSERT_TRUE(entry.has_value());
  ExpectFlowEq(*entry, fresh);
  EXPECT_TRUE(StatsDelta(before, Stats(),
                         {{NG_STAT_TC_PACKETS, 1},
                          {NG_STAT_FLOWS_ENDED_TIMEOUT, 1},
                          {NG_STAT_FLOWS_STARTED, 1},
                          {NG_STAT_SAMPLES, 1}}));
}

// Conversations that differ in VLAN, port, protocol or family are separate entries.
TEST_F(FlowAccountingTest, DistinctTuplesAreDistinctFlows) {
  const std::vector<Frame> frames = {
      PacketBuilder().Ip("10.0.0.1", "10.0.0.2").Udp(1000, 53).Payload(1).Build(),
      PacketBuilder().Ip("10.0.0.2", "10.0.0.1").Udp(53, 1000).Payload(2).Build(),  // same
      PacketBuilder().Vlan(10).Ip("10.0.0.1", "10.0.0.2").Udp(1000, 53).Payload(3).Build(),
      PacketBuilder().Ip("10.0.0.1", "10.0.0.2").Udp(1001, 53).Payload(4).Build(),
      PacketBuilder().Ip("10.0.0.1", "10.0.0.2").Tcp(1000, 53, kAck).Payload(5).Build(),
      PacketBuilder().Ip("::ffff:10.0.0.1", "::ffff:10.0.0.2").Udp(1000, 53).Payload(6).Build(),
  };
  uint64_t ts = 1'000'000'000;
  for (const Frame& f : frames) ASSERT_EQ(Xdp(f, ts += 1000), kXdpPass);
  EXPECT_EQ(Flows().size(), 5u);
  const std::optional<ng_flow> both = Flow(HandKey("10.0.0.1", 1000, "10.0.0.2", 53, 17));
  ASSERT_TRUE(both.has_value());
  ExpectRunningEq(both->dir[NG_DIR_FWD].payload, Running({1}), "fwd");
  ExpectRunningEq(both->dir[NG_DIR_BWD].payload, Running({2}), "bwd");
  const std::optional<ng_flow> tagged = Flow(HandKey("10.0.0.1", 1000, "10.0.0.2", 53, 17, 10));
  ASSERT_TRUE(tagged.has_value());
  ExpectRunningEq(tagged->dir[NG_DIR_FWD].payload, Running({3}), "vlan 10");
}

}  // namespace
}  // namespace netguard::testing
