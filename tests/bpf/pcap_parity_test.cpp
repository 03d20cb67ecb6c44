// eBPF / pcap parity: the same captured packets through the loaded XDP program (BPF_PROG_RUN,
// timestamps from XDP metadata) and through pcap-file + the user-space FlowTable give identical
// flows: every FLOW_START and FLOW_END snapshot and every flow still active at the end, byte for
// byte (struct ng_flow, key and end reason; first/last timestamps are the capture's), and the
// same packet samples (time, flow, side and reason).
#include <pcap/pcap.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "bpf/dataplane_fixture.h"
#include "bpf/prog_runner.h"
#include "features/pcap_test_util.h"
#include "support/packet_builder.h"
#include "unit/flow_scenario.h"
#include "unit/parse_cases.h"

namespace netguard::testing {
namespace {

constexpr uint64_t kT0 = 1700000000ULL * 1000000000ULL;
constexpr uint8_t kSyn = NG_TCP_SYN, kAck = NG_TCP_ACK, kFin = NG_TCP_FIN, kRst = NG_TCP_RST,
                  kPsh = NG_TCP_PSH;

// Runs every packet of a capture through the XDP program.
class XdpSink final : public capture::pcap::PacketSink {
 public:
  explicit XdpSink(int prog_fd) : prog_fd_(prog_fd) {}
  void OnPacket(std::span<const uint8_t> frame, uint32_t wire_len, uint64_t ts_ns) override {
    EXPECT_EQ(wire_len, frame.size()) << "parity needs whole frames";
    RunXdp(prog_fd_, frame, ts_ns);
    packets++;
  }
  uint64_t packets = 0;

 private:
  int prog_fd_;
};

std::string Key(const ng_flow_key& key) {
  return std::string(reinterpret_cast<const char*>(&key), sizeof(key));
}

bool SameFlow(const ng_flow& a, const ng_flow& b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

uint8_t ReasonOf(FlowEndReason reason) {
  switch (reason) {
    case FlowEndReason::kFin:
      return NG_REASON_FIN;
    case FlowEndReason::kRst:
      return NG_REASON_RST;
    default:
      return NG_REASON_ACTIVE_TIMEOUT;
  }
}

class PcapParityTest : public DataPlaneTest {
 protected:
  capture::DataPlaneOptions InitialOptions() const override {
    capture::DataPlaneOptions options = TestOptions();
    options.sample_first_n = 0;  // flow records only
    options.sample_every_k = 0;
    options.sample_dns = false;
    options.sample_arp = false;
    return options;
  }

  // The user-space table with the kernel's parameters and no sweeps (the kernel has none).
  capture::pcap::FlowTableOptions TableOptions() {
    const capture::DataPlaneOptions& o = dp().options();
    capture::pcap::FlowTableOptions t;
    t.step.activity_timeout_us = static_cast<uint64_t>(o.activity_timeout.count());
    t.step.active_timeout_ns = static_cast<uint64_t>(o.active_timeout.count());
    t.step.end_flags = capture::EndFlags(o);
    t.idle_timeout = std::chrono::nanoseconds(0);
    t.sweep_interval = std::chrono::nanoseconds(0);
    return t;
  }

  // Returns the number of flows compared.
  size_t ExpectParity(const std::string& pcap) {
    // pcap side: flows ended by packets, then the rest flushed
    CollectFlows user;
    capture::pcap::FlowTable table(TableOptions(), user);
    {
      capture::pcap::PcapFileReader reader(pcap);
      capture::pcap::FlowTableSink sink(table);
      const capture::pcap::ReadResult read = reader.ReadAll(sink);
      EXPECT_TRUE(read.ok) << read.error;
    }
    std::vector<FlowRecord> ended_by_packet = user.ended;
    table.Flush();
    std::map<std::string, ng_flow> user_active;
    for (size_t i = ended_by_packet.size(); i < user.ended.size(); i++)
      user_active[Key(user.ended[i].key)] = user.ended[i].acc;

    // kernel side: the same file's packets through XDP
    XdpSink xdp(dp().xdp_prog_fd());
    {
      capture::pcap::PcapFileReader reader(pcap);
      const capture::pcap::ReadResult read = reader.ReadAll(xdp);
      EXPECT_TRUE(read.ok) << read.error;
    }
    std::vector<ng_flow_event> starts, ends;
    for (const ng_flow_event& ev : FlowEvents(Drain()))
      (ev.hdr.type == NG_REC_FLOW_START ? starts : ends).push_back(ev);

    EXPECT_EQ(starts.size(), user.started.size());
    for (size_t i = 0; i < std::min(starts.size(), user.started.size()); i++) {
      EXPECT_EQ(Key(starts[i].key), Key(user.started[i].key)) << "start " << i;
      if (!SameFlow(starts[i].flow, user.started[i].acc)) {
        ADD_FAILURE() << "FLOW_START " << i << " differs: " << KeyString(starts[i].key);
        ExpectFlowEq(user.started[i].acc, starts[i].flow);
      }
    }
    EXPECT_EQ(ends.size(), ended_by_packet.size());
    for (size_t i = 0; i < std::min(ends.size(), ended_by_packet.size()); i++) {
      EXPECT_EQ(Key(ends[i].key), Key(ended_by_packet[i].key)) << "end " << i;
      EXPECT_EQ(ends[i].hdr.reason, ReasonOf(ended_by_packet[i].end_reason)) << "end " << i;
      if (ends[i].hdr.reason != NG_REASON_ACTIVE_TIMEOUT) {  // else: the next packet's time
        EXPECT_EQ(ends[i].hdr.ts_ns, ended_by_packet[i].acc.last_ts_ns) << "end " << i;
      }
      if (!SameFlow(ends[i].flow, ended_by_packet[i].acc)) {
        ADD_FAILURE() << "FLOW_END " << i << " differs: " << KeyString(ends[i].key);
        ExpectFlowEq(ended_by_packet[i].acc, ends[i].flow);
      }
    }
    size_t active = 0;
    for (const capture::FlowEntry& e : Flows()) {
      if (e.flow.state != NG_FLOW_ACTIVE) continue;
      active++;
      auto it = user_active.find(Key(e.key));
      if (it == user_active.end()) {
        ADD_FAILURE() << "kernel flow not active in user space: " << KeyString(e.key);
        continue;
      }
      if (!SameFlow(e.flow, it->second)) {
        ADD_FAILURE() << "active flow differs: " << KeyString(e.key);
        ExpectFlowEq(it->second, e.flow);
      }
    }
    EXPECT_EQ(active, user_active.size());
    return ends.size() + active;
  }
};

TEST_F(PcapParityTest, GoldenCicCapture) {
  const std::filesystem::path pcap = std::filesystem::path(NETGUARD_SOURCE_DIR) / ".." / "shared" /
                                     "data" / "cic" / "cic_test_2015-03-31.pcap";
  if (!std::filesystem::exists(pcap)) GTEST_SKIP() << pcap << " absent (../shared missing)";
  EXPECT_GT(ExpectParity(pcap.string()), 100u);
}

std::vector<uint8_t> Tcp(const std::string& a, const std::string& b, uint16_t sp, uint16_t dp,
                         uint8_t flags, size_t payload, uint16_t win = 1000) {
  return PacketBuilder()
      .Ip(a, b)
      .Tcp(sp, dp, flags, win, flags & kSyn ? 12 : 0)
      .Payload(payload)
      .Build();
}

TEST_F(PcapParityTest, GeneratedTcpUdpIcmpIpv4Ipv6) {
  std::vector<TimedFrame> frames;
  uint64_t t = kT0;
  auto add = [&](std::vector<uint8_t> frame, uint64_t step_us) {
    t += step_us * 1000 + 123;  // sub-microsecond parts exercise the truncation
    frames.push_back({std::move(frame), t});
  };
  for (const auto& [c, s] :
       {std::pair<std::string, std::string>{"10.0.0.1", "10.0.0.2"}, {"fd00::1", "fd00::2"}}) {
    add(Tcp(c, s, 40000, 80, kSyn, 0), 10);
    add(Tcp(s, c, 80, 40000, kSyn | kAck, 0, 2000), 900);
    add(Tcp(c, s, 40000, 80, kAck, 0), 100);
    add(Tcp(c, s, 40000, 80, kPsh | kAck, 700), 50);
    add(Tcp(s, c, 80, 40000, kAck, 1400, 1900), 6000000);  // > activity timeout
    add(Tcp(s, c, 80, 40000, kPsh | kAck, 33, 1900), 5);
    add(Tcp(c, s, 40000, 80, kFin | kAck, 0), 7000000);
    add(Tcp(s, c, 80, 40000, kFin | kAck, 0), 80);  // starts and ends a flow
    add(Tcp(c, s, 40001, 443, kSyn, 0), 10);
    add(Tcp(s, c, 443, 40001, kRst | kAck, 0), 10);  // RST ends it
    add(PacketBuilder().Ip(c, s).Udp(5000, 53).Payload(40).Build(), 10);
    add(PacketBuilder().Ip(s, c).Udp(53, 5000).Payload(200).Build(), 300);
    add(PacketBuilder().Ip(c, s).Icmp(8).Payload(56).Build(), 10);
    add(PacketBuilder().Ip(s, c).Icmp(0).Payload(56).Build(), 250);
    add(PacketBuilder().Ip(c, s).Udp(6000, 7000).Payload(1).Build(), 10);
    add(PacketBuilder().Ip(c, s).Udp(6000, 7000).Payload(2).Build(), 130000000);  // > 120 s
  }
  add(PacketBuilder().Vlan(7).Ip("10.0.0.1", "10.0.0.2").Udp(1, 2).Payload(3).Build(), 1);
  add(PacketBuilder().Arp("10.0.0.1", "10.0.0.2").Build(), 1);
  const std::string pcap = TempPath("parity.pcap");
  WritePcap(pcap, frames, /*nanosecond=*/true);
  EXPECT_GE(ExpectParity(pcap), 12u);
}

// Collects the samples a FlowTable takes.
class CollectSamples final : public capture::pcap::FlowEvents {
 public:
  void OnFlowEnd(const FlowRecord&) override {}
  void OnPacketSample(const PacketSample& sample) override { samples.push_back(sample); }
  std::vector<PacketSample> samples;
};

// What identifies a sample in both paths: time, flow, sender's side and reason.
using SampleId = std::tuple<uint64_t, std::string, uint8_t, uint8_t>;

// The sampling decision (first N, then one in K of each direction, DNS queries) is one shared
// rule: the same packets give the same samples in the kernel and in user space. An ICMP echo
// flood answered packet for packet, a lopsided UDP flow, DNS queries and a flow restarted after
// a FIN.
TEST_F(PcapParityTest, BothPathsTakeTheSameSamples) {
  capture::DataPlaneOptions options = TestOptions();
  options.sample_first_n = 3;
  options.sample_every_k = 4;
  Load(options);
  std::vector<TimedFrame> frames;
  uint64_t t = kT0;
  auto add = [&](std::vector<uint8_t> frame) {
    t += 1000;
    frames.push_back({std::move(frame), t});
  };
  for (int i = 0; i < 40; ++i) {
    add(PacketBuilder().Ip("10.0.0.1", "10.0.0.2").Icmp(8).Payload(56).Build());
    add(PacketBuilder().Ip("10.0.0.2", "10.0.0.1").Icmp(0).Payload(56).Build());
    for (int j = 0; j < 3; ++j)
      add(PacketBuilder().Ip("fd00::1", "fd00::2").Udp(7000, 9000).Payload(10).Build());
    if (i % 5 == 0) add(PacketBuilder().Ip("fd00::2", "fd00::1").Udp(9000, 7000).Build());
    if (i % 10 == 0) {
      add(PacketBuilder()
              .Ip("10.0.0.1", "10.0.0.53")
              .Udp(33000, 53)
              .Payload(parse_cases::Dns(0x0100))
              .Build());
    }
    add(Tcp("10.0.0.3", "10.0.0.4", 40000, 80, i % 9 == 8 ? kFin | kAck : kAck, 10));
  }
  const std::string pcap = TempPath("sampling-parity.pcap");
  WritePcap(pcap, frames, /*nanosecond=*/true);

  capture::pcap::FlowTableOptions table_options = TableOptions();
  table_options.sample_first_n = options.sample_first_n;
  table_options.sample_every_k = options.sample_every_k;
  CollectSamples user;
  capture::pcap::FlowTable table(table_options, user);
  {
    capture::pcap::PcapFileReader reader(pcap);
    capture::pcap::FlowTableSink sink(table);
    EXPECT_TRUE(reader.ReadAll(sink).ok);
  }
  XdpSink xdp(dp().xdp_prog_fd());
  {
    capture::pcap::PcapFileReader reader(pcap);
    EXPECT_TRUE(reader.ReadAll(xdp).ok);
  }
  std::vector<SampleId> kernel, user_space;
  for (const ng_packet_sample& s : Samples(Drain()))
    kernel.emplace_back(s.hdr.ts_ns, Key(s.key), s.side, s.hdr.reason);
  for (const PacketSample& s : user.samples)
    user_space.emplace_back(static_cast<uint64_t>(s.time_ns), Key(s.key), s.side, s.reason);
  EXPECT_EQ(kernel, user_space);
  size_t one_in_k[2] = {0, 0};  // per side of the ICMP flow
  for (const PacketSample& s : user.samples) {
    if (s.key.proto == NG_IPPROTO_ICMP && s.reason == NG_SAMPLE_ONE_IN_K) one_in_k[s.side]++;
  }
  // 40 requests and 40 replies: each side's 4th, 8th, ... 40th.
  EXPECT_EQ(one_in_k[NG_SIDE_A], 10u);
  EXPECT_EQ(one_in_k[NG_SIDE_B], 10u);
}

}  // namespace
}  // namespace netguard::testing
