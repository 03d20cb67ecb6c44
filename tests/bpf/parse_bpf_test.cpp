// The frames of tests/unit/parse_cases.h through the loaded XDP and TC programs: the verdict is
// always "pass", exactly the right counters move, and flows, ring records and samples say what
// the parser concluded.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "bpf/dataplane_fixture.h"
#include "bpf/prog_runner.h"
#include "unit/flow_scenario.h"
#include "unit/parse_cases.h"

namespace netguard::testing {
namespace {

enum class Hook { kXdp, kTc };

// The skb test run (6.x) refuses a frame whose Ethernet type announces IPv4 or IPv6 but that
// cannot hold the fixed IP header, besides anything shorter than Ethernet.
bool KernelRefusesTc(const Frame& frame) {
  if (frame.size() < 14) return true;
  const uint16_t type = static_cast<uint16_t>(frame[12] << 8 | frame[13]);
  return (type == 0x0800 && frame.size() < 14 + 20) || (type == 0x86dd && frame.size() < 14 + 40);
}

void ExpectRefused(const std::function<void()>& run, const std::string& what) {
  try {
    run();
    ADD_FAILURE() << what << " ran";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EINVAL) << what << ": " << e.what();
  }
}

class ParseBpfTest : public DataPlaneTest {
 protected:
  // Runs one case and checks everything it must (and must not) have changed.
  void Check(const ParseCase& c, Hook hook, uint64_t ts_ns) {
    SCOPED_TRACE(c.name);
    const capture::StatCounters before = Stats();
    if (hook == Hook::kXdp) {
      EXPECT_EQ(Xdp(c.frame, ts_ns), kXdpPass);
    } else {
      EXPECT_EQ(Tc(c.frame, ts_ns), kTcActOk);
    }
    const capture::StatCounters after = Stats();
    const std::vector<Record> records = Drain();
    const std::vector<capture::FlowEntry> flows = Flows();

    std::vector<std::pair<uint32_t, uint64_t>> want;
    if (hook == Hook::kXdp) {
      want = {{NG_STAT_XDP_PACKETS, 1}, {NG_STAT_XDP_PASSED, 1}};
    } else {
      want = {{NG_STAT_TC_PACKETS, 1}};
    }
    switch (c.outcome) {
      case Outcome::kFlow:
        want.insert(want.end(), {{NG_STAT_FLOWS_STARTED, 1}, {NG_STAT_SAMPLES, 1}});
        break;
      case Outcome::kFragment:
        want.push_back({NG_STAT_IP_FRAGMENTS, 1});
        break;
      case Outcome::kArp:
        want.insert(want.end(), {{NG_STAT_ARP, 1}, {NG_STAT_SAMPLES, 1}});
        break;
      case Outcome::kNonIp:
        want.push_back({NG_STAT_NON_IP, 1});
        break;
      case Outcome::kError:
        want.push_back({ParseErrorStat(c.error), 1});
        break;
    }
    EXPECT_TRUE(StatsDelta(before, after, want));

    const uint8_t hook_id = hook == Hook::kXdp ? NG_HOOK_XDP : NG_HOOK_TC;
    if (c.outcome == Outcome::kFlow) {
      CheckFlow(c, hook_id, ts_ns, records, flows);
    } else if (c.outcome == Outcome::kArp) {
      EXPECT_TRUE(flows.empty());
      ASSERT_EQ(records.size(), 1u);
      ASSERT_EQ(records[0].type, NG_REC_PACKET);
      CheckSample(records[0].sample, c.frame, hook_id, NG_SAMPLE_ARP, ts_ns);
      EXPECT_TRUE(SameKey(records[0].sample.key, ng_flow_key{})) << "ARP samples have no key";
      EXPECT_EQ(records[0].sample.side, 0);
    } else {
      EXPECT_TRUE(flows.empty()) << flows.size() << " flows";
      EXPECT_TRUE(records.empty()) << records.size() << " records";
    }
    // Leave the map empty for the next case.
    capture::FlowTable table(dp().flows_fd());
    for (const capture::FlowEntry& e : flows) table.Take(e.key);
  }

  static void CheckSample(const ng_packet_sample& s, const Frame& frame, uint8_t hook,
                          uint8_t reason, uint64_t ts_ns) {
    EXPECT_EQ(s.hdr.type, NG_REC_PACKET);
    EXPECT_EQ(s.hdr.hook, hook);
    EXPECT_EQ(s.hdr.reason, reason);
    EXPECT_EQ(s.hdr.ifindex, LoopbackIfindex());
    EXPECT_EQ(s.hdr.ts_ns, ts_ns);
    EXPECT_EQ(s.wire_len, frame.size());
    const size_t cap = std::min<size_t>(frame.size(), NG_SAMPLE_BYTES);
    ASSERT_EQ(s.cap_len, cap);
    EXPECT_EQ(std::memcmp(s.data, frame.data(), cap), 0) << "sampled bytes differ";
  }

  void CheckFlow(const ParseCase& c, uint8_t hook, uint64_t ts_ns,
                 const std::vector<Record>& records, const std::vector<capture::FlowEntry>& flows) {
    ASSERT_EQ(flows.size(), 1u);
    const ng_flow_key& key = flows[0].key;
    const ng_flow& flow = flows[0].flow;

    // The key holds the sender on the side the flow says initiated it, the receiver opposite.
    const uint8_t sender = flow.initiator;
    const ng_flow_key want_key = sender == NG_SIDE_A
                                     ? HandKey(c.src, c.sport, c.dst, c.dport, c.proto, c.vlan_id)
                                     : HandKey(c.dst, c.dport, c.src, c.sport, c.proto, c.vlan_id);
    EXPECT_TRUE(SameKey(key, want_key)) << KeyString(key) << " vs " << KeyString(want_key);
    EXPECT_TRUE(SameKey(key, KeyOf(c.frame))) << "kernel and user-space keys differ";

    ng_flow want{};
    ng_dir_stats& fwd = want.dir[NG_DIR_FWD];
    fwd.payload = Running({c.payload_len});
    fwd.wire_bytes = c.frame.size();
    fwd.l3_hdr_bytes = c.l3_hdr_len;
    fwd.l4_hdr_bytes = c.l4_hdr_len;
    fwd.last_us = static_cast<int64_t>(ts_ns / 1000);
    for (int bit = 0; bit < NG_TCP_FLAG_BITS; ++bit)
      fwd.flag_counts[bit] = (c.tcp_flags >> bit) & 1;
    fwd.data_pkts = c.payload_len > 0 ? 1 : 0;
    fwd.l4_hdr_min = c.l4_hdr_len;
    fwd.init_win = fwd.last_win = c.window;
    want.first_ts_ns = want.last_ts_ns = ts_ns;
    want.active_start_us = static_cast<int64_t>(ts_ns / 1000);
    want.first_payload_len = c.payload_len;
    want.initiator = sender;
    want.first_tcp_flags = c.tcp_flags;
    want.state = NG_FLOW_ACTIVE;
    ExpectFlowEq(flow, want);

    ASSERT_EQ(records.size(), 2u);
    ASSERT_EQ(records[0].type, NG_REC_FLOW_START);
    const ng_flow_event& start = records[0].event;
    EXPECT_EQ(start.hdr.type, NG_REC_FLOW_START);
    EXPECT_EQ(start.hdr.hook, hook);
    EXPECT_EQ(start.hdr.reason, NG_REASON_START);
    EXPECT_EQ(start.hdr.ifindex, LoopbackIfindex());
    EXPECT_EQ(start.hdr.ts_ns, ts_ns);
    EXPECT_TRUE(SameKey(start.key, key));
    ExpectFlowEq(start.flow, want);

    ASSERT_EQ(records[1].type, NG_REC_PACKET);
    const ng_packet_sample& s = records[1].sample;
    CheckSample(s, c.frame, hook, c.dns_query ? NG_SAMPLE_DNS_QUERY : NG_SAMPLE_FIRST_N, ts_ns);
    EXPECT_TRUE(SameKey(s.key, key));
    EXPECT_EQ(s.side, sender);
  }
};

TEST_F(ParseBpfTest, EveryFrameThroughXdp) {
  uint64_t ts = 1'000'000'123;
  int checked = 0;
  for (const ParseCase& c : ParseCases()) {
    if (c.frame.size() < 14) continue;  // see KernelRefusesFramesShorterThanEthernet
    Check(c, Hook::kXdp, ts += 1'000'003);
    ++checked;
  }
  EXPECT_GE(checked, 50);
}

TEST_F(ParseBpfTest, EveryFrameThroughTc) {
  uint64_t ts = 2'000'000'456;
  int checked = 0;
  std::vector<std::string> refused;
  for (const ParseCase& c : ParseCases()) {
    if (KernelRefusesTc(c.frame)) {
      const capture::StatCounters before = Stats();
      ExpectRefused([&] { Tc(c.frame, ts); }, "TC run of " + c.name);
      EXPECT_TRUE(StatsDelta(before, Stats(), {}));
      if (c.frame.size() >= 14) refused.push_back(c.name);
      continue;
    }
    Check(c, Hook::kTc, ts += 1'000'003);
    ++checked;
  }
  EXPECT_GE(checked, 50);
  // Only the IP headers cut short are out of reach of TC (XDP covers them).
  EXPECT_EQ(refused, (std::vector<std::string>{"ipv4_truncated", "ipv6_truncated"}));
}

// BPF_PROG_RUN refuses a frame shorter than an Ethernet header for both hooks (and a real
// device never delivers one), so NG_ERR_ETH_TRUNCATED is only reachable through the user-space
// parser (tests/unit/parse_test.cpp). Nothing is counted for a refused run.
TEST_F(ParseBpfTest, KernelRefusesFramesShorterThanEthernet) {
  const capture::StatCounters before = Stats();
  for (size_t len : {0, 1, 13}) {
    const Frame frame(len, 0xab);
    ExpectRefused([&] { Xdp(frame, 1); }, "XDP run of " + std::to_string(len) + " bytes");
    ExpectRefused([&] { Tc(frame, 1); }, "TC run of " + std::to_string(len) + " bytes");
  }
  EXPECT_TRUE(StatsDelta(before, Stats(), {}));
  // The 14-byte minimum itself runs: an Ethernet header alone, type IPv4, is a truncated IPv4.
  Frame eth_only = PacketBuilder().Ip("10.0.0.1", "10.0.0.2").Udp(1, 2).Build();
  eth_only.resize(14);
  EXPECT_EQ(Xdp(eth_only, 1), kXdpPass);
  EXPECT_TRUE(StatsDelta(before, Stats(),
                         {{NG_STAT_XDP_PACKETS, 1},
                          {NG_STAT_XDP_PASSED, 1},
                          {ParseErrorStat(NG_ERR_IPV4_TRUNCATED), 1}}));
}

// The same malformed frame many times: each run counts exactly once.
TEST_F(ParseBpfTest, RepeatedErrorsCountExactly) {
  Frame frame = PacketBuilder().Ip("10.0.0.1", "10.0.0.2").Tcp(1, 2, 0).Build();
  frame[14 + 20 + 12] = 0x30;  // data offset 3
  const capture::StatCounters before = Stats();
  EXPECT_EQ(Xdp(frame, 1, /*repeat=*/1000), kXdpPass);
  EXPECT_EQ(Tc(frame, 1, /*repeat=*/500), kTcActOk);
  EXPECT_TRUE(StatsDelta(before, Stats(),
                         {{NG_STAT_XDP_PACKETS, 1000},
                          {NG_STAT_XDP_PASSED, 1000},
                          {NG_STAT_TC_PACKETS, 500},
                          {ParseErrorStat(NG_ERR_TCP_BAD_OFFSET), 1500}}));
  EXPECT_TRUE(Flows().empty());
}

}  // namespace
}  // namespace netguard::testing
