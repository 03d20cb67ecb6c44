// The CICFlowMeter 2017 lifecycle flags through the loaded programs (BPF_PROG_RUN): with
// NG_END_NOT_ON_FIRST a first packet carrying FIN does not end its flow, with
// NG_END_NO_IDLE_ON_END the ending packet does not close an active period; the data plane loaded
// from features::LifecycleFor(cic2017) gives the same flows as the user-space FlowTable.
#include <chrono>
#include <vector>

#include "bpf/dataplane_fixture.h"
#include "bpf/prog_runner.h"
#include "capture/pcap/flow_table.h"
#include "features/features.h"
#include "unit/flow_scenario.h"

namespace netguard::testing {
namespace {

constexpr uint8_t kSyn = NG_TCP_SYN, kAck = NG_TCP_ACK, kFin = NG_TCP_FIN, kPsh = NG_TCP_PSH;

using tcp_scenario::C2S;
using tcp_scenario::S2C;

class EndFlagsTest : public DataPlaneTest {
 protected:
  void LoadWithFlags(uint8_t end_flags) {
    capture::DataPlaneOptions options = TestOptions();
    capture::SetEndFlags(options, end_flags);
    Load(options);
    ASSERT_EQ(capture::EndFlags(dp().options()), end_flags);
  }
  void Send(const ScenarioPacket& p) { ASSERT_EQ(Xdp(p.frame, p.ts_ns), kXdpPass); }

  const ng_flow_key key_ = tcp_scenario::Key();
};

TEST_F(EndFlagsTest, SetEndFlagsRoundTrips) {
  for (unsigned flags = 0; flags < 16; flags++) {
    capture::DataPlaneOptions options;
    capture::SetEndFlags(options, static_cast<uint8_t>(flags));
    EXPECT_EQ(capture::EndFlags(options), flags);
  }
  capture::DataPlaneOptions defaults;
  EXPECT_EQ(capture::EndFlags(defaults), NG_END_ON_FIN | NG_END_ON_RST);
}

TEST_F(EndFlagsTest, WithoutNotOnFirstAFirstFinEndsTheFlow) {
  LoadWithFlags(NG_END_ON_FIN);
  Send({1'000'000'000, true, C2S(kFin | kAck, 502, 0, 0)});
  const std::vector<ng_flow_event> events = FlowEvents(Drain());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].hdr.type, NG_REC_FLOW_START);
  EXPECT_EQ(events[1].hdr.type, NG_REC_FLOW_END);
  EXPECT_EQ(events[1].hdr.reason, NG_REASON_FIN);
  EXPECT_EQ(Stats()[NG_STAT_FLOWS_ENDED_FIN], 1u);
}

TEST_F(EndFlagsTest, NotOnFirstKeepsAFirstFinFlowUntilTheNextFin) {
  LoadWithFlags(NG_END_ON_FIN | NG_END_NOT_ON_FIRST);
  Send({1'000'000'000, true, C2S(kFin | kAck, 502, 0, 0)});
  std::vector<ng_flow_event> events = FlowEvents(Drain());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].hdr.type, NG_REC_FLOW_START);
  std::optional<ng_flow> entry = Flow(key_);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->state, NG_FLOW_ACTIVE);
  EXPECT_EQ(PacketCount(*entry), 1u);
  EXPECT_EQ(Stats()[NG_STAT_FLOWS_ENDED_FIN], 0u);

  // A data packet continues the flow; the next FIN (not a first packet) ends it.
  Send({1'000'100'000, true, C2S(kPsh | kAck, 502, 0, 10)});
  Send({1'000'200'000, true, C2S(kFin | kAck, 502, 0, 0)});
  events = FlowEvents(Drain());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].hdr.type, NG_REC_FLOW_END);
  EXPECT_EQ(events[0].hdr.reason, NG_REASON_FIN);
  EXPECT_EQ(PacketCount(events[0].flow), 3u);
  EXPECT_EQ(events[0].flow.dir[NG_DIR_FWD].flag_counts[0], 2u);  // both FINs accounted
  EXPECT_EQ(events[0].flow.first_ts_ns, 1'000'000'000u);
  EXPECT_EQ(events[0].flow.last_ts_ns, 1'000'200'000u);
  EXPECT_EQ(Stats()[NG_STAT_FLOWS_ENDED_FIN], 1u);
  EXPECT_EQ(Stats()[NG_STAT_FLOWS_STARTED], 1u);
}

// A FIN 10 s after the previous packet (activity timeout 5 s): without the flag the gap is an
// idle period and the active period before it is closed; with it, neither.
TEST_F(EndFlagsTest, NoIdleOnEndLeavesActivePeriodsOpenOnTheEndingPacket) {
  for (const bool no_idle : {false, true}) {
    SCOPED_TRACE(no_idle ? "NG_END_NO_IDLE_ON_END" : "default");
    LoadWithFlags(NG_END_ON_FIN | (no_idle ? NG_END_NO_IDLE_ON_END : 0));
    Send({1'000'000'000, true, C2S(kSyn, 64240, 0, 0)});
    Send({1'001'000'000, true, C2S(kAck, 502, 0, 0)});
    Send({11'001'000'000, true, C2S(kFin | kAck, 502, 0, 0)});
    const std::vector<ng_flow_event> events = FlowEvents(Drain());
    ASSERT_EQ(events.size(), 2u);
    ASSERT_EQ(events[1].hdr.reason, NG_REASON_FIN);
    const ng_flow& f = events[1].flow;
    ExpectRunningEq(f.iat, Running({1'000, 10'000'000}), "iat");
    if (no_idle) {
      EXPECT_EQ(f.idle.count, 0u);
      EXPECT_EQ(f.active.count, 0u);
      EXPECT_EQ(f.active_start_us, 1'000'000);
    } else {
      ExpectRunningEq(f.idle, Running({10'000'000}), "idle");
      ExpectRunningEq(f.active, Running({1'000}), "active");
      EXPECT_EQ(f.active_start_us, 11'001'000);
    }
  }
}

// Collects a user-space FlowTable's events.
struct Collected final : capture::pcap::FlowEvents {
  void OnFlowStart(const FlowRecord& flow) override { started.push_back(flow); }
  void OnFlowEnd(const FlowRecord& flow) override { ended.push_back(flow); }
  std::vector<FlowRecord> started, ended;
};

// The data plane configured from the cic2017 lifecycle and the user-space FlowTable with the very
// same step parameters agree on a conversation that exercises both quirks.
TEST_F(EndFlagsTest, Cic2017LifecycleMatchesTheUserSpaceTable) {
  const features::FlowLifecycle cic = features::LifecycleFor(features::FeatureMode::kCic2017);
  ASSERT_EQ(cic.step.end_flags, NG_END_ON_FIN | NG_END_NOT_ON_FIRST | NG_END_NO_IDLE_ON_END);
  capture::DataPlaneOptions options = TestOptions();
  capture::SetEndFlags(options, cic.step.end_flags);
  options.activity_timeout = std::chrono::microseconds(cic.step.activity_timeout_us);
  options.active_timeout = std::chrono::nanoseconds(cic.step.active_timeout_ns);
  Load(options);

  const std::vector<ScenarioPacket> packets = {
      {2'000'000'000, false, S2C(kFin | kAck, 65160, 0, 0)},  // a stray FIN starts a flow
      {2'000'100'000, true, C2S(kAck, 502, 0, 5)},
      {9'000'100'000, true, C2S(kFin | kAck, 502, 0, 0)},     // ends it, 7 s later
      {9'000'200'000, false, S2C(kFin | kAck, 65160, 0, 0)},  // first packet of the next flow
      {9'000'300'000, true, C2S(kAck, 502, 0, 0)},
  };
  capture::pcap::FlowTableOptions table_options;
  table_options.step = cic.step;
  table_options.idle_timeout = std::chrono::nanoseconds(0);
  table_options.sweep_interval = std::chrono::nanoseconds(0);
  Collected user;
  capture::pcap::FlowTable table(table_options, user);
  for (const ScenarioPacket& p : packets) {
    if (p.from_client) {
      ASSERT_EQ(Xdp(p.frame, p.ts_ns), kXdpPass);
    } else {
      ASSERT_EQ(Tc(p.frame, p.ts_ns), kTcActOk);
    }
    table.AddFrame(p.frame, static_cast<uint32_t>(p.frame.size()), p.ts_ns);
  }
  std::vector<ng_flow_event> starts, ends;
  for (const ng_flow_event& ev : FlowEvents(Drain()))
    (ev.hdr.type == NG_REC_FLOW_START ? starts : ends).push_back(ev);
  ASSERT_EQ(starts.size(), 2u);
  ASSERT_EQ(ends.size(), 1u);
  ASSERT_EQ(user.started.size(), 2u);
  ASSERT_EQ(user.ended.size(), 1u);
  EXPECT_EQ(PacketCount(ends[0].flow), 3u);
  EXPECT_EQ(ends[0].flow.idle.count, 0u);  // the 7 s gap came with the ending FIN
  ExpectFlowEq(ends[0].flow, user.ended[0].acc);
  for (size_t i = 0; i < 2; i++) ExpectFlowEq(starts[i].flow, user.started[i].acc);
  const std::optional<ng_flow> live = Flow(key_);
  const std::optional<ng_flow> user_live = table.Find(key_);
  ASSERT_TRUE(live.has_value());
  ASSERT_TRUE(user_live.has_value());
  EXPECT_EQ(PacketCount(*live), 2u);
  ExpectFlowEq(*live, *user_live);
}

}  // namespace
}  // namespace netguard::testing
