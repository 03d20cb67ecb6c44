// pcap-file and the user-space flow table: pcap and pcapng input, link types, truncated and
// corrupt captures (clear error with packet index and offset, earlier flows kept), idle expiry
// and the open flows each sweep reports.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "capture/pcap/flow_table.h"
#include "capture/pcap/pcap_source.h"
#include "features/pcap_test_util.h"
#include "flow_update.h"
#include "packet_parse.h"
#include "support/packet_builder.h"

namespace netguard::testing {
namespace {

using capture::pcap::FlowTableOptions;
using capture::pcap::PcapError;
using capture::pcap::PcapFileReader;
using capture::pcap::ReadResult;

constexpr uint64_t kT0 = 1700000000ULL * 1000000000ULL;

std::vector<uint8_t> Udp(uint16_t sport, size_t payload) {
  return PacketBuilder().Ip("10.1.0.1", "10.1.0.2").Udp(sport, 9000).Payload(payload).Build();
}

// Five packets of one flow 1 ms apart, then two of another.
std::vector<TimedFrame> SevenPackets() {
  std::vector<TimedFrame> frames;
  for (int i = 0; i < 5; i++) frames.push_back({Udp(1000, 10 + i), kT0 + i * 1000000ULL});
  for (int i = 0; i < 2; i++) frames.push_back({Udp(2000, 50), kT0 + (10 + i) * 1000000ULL});
  return frames;
}

TEST(PcapFileTest, TruncatedCaptureNamesPacketAndOffsetAndKeepsEarlierFlows) {
  const std::string path = TempPath("truncated.pcap");
  const std::vector<TimedFrame> frames = SevenPackets();
  WritePcap(path, frames);
  // cut the file in the middle of the 6th record's data
  uint64_t offset = 24;
  for (int i = 0; i < 5; i++) offset += 16 + frames[i].frame.size();
  std::filesystem::resize_file(path, offset + 16 + 7);

  ReadResult read;
  const std::vector<FlowRecord> flows = FlowsOfCapture(path, FlowTableOptions{}, &read);
  EXPECT_FALSE(read.ok);
  EXPECT_EQ(read.packets, 5u);
  EXPECT_EQ(read.error_packet, 6u);
  EXPECT_EQ(read.error_offset, static_cast<int64_t>(offset));
  EXPECT_NE(read.error.find("packet 6 at byte offset " + std::to_string(offset)), std::string::npos)
      << read.error;
  EXPECT_NE(read.error.find("truncated"), std::string::npos) << read.error;
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(ng_flow_packets(&flows[0].acc), 5u);
  EXPECT_EQ(flows[0].end_reason, FlowEndReason::kShutdown);
}

TEST(PcapFileTest, CorruptRecordLengthIsAnError) {
  const std::string path = TempPath("corrupt.pcap");
  const std::vector<TimedFrame> frames = SevenPackets();
  WritePcap(path, frames);
  uint64_t offset = 24;
  for (int i = 0; i < 3; i++) offset += 16 + frames[i].frame.size();
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset + 8));  // caplen of the 4th record
    const uint32_t huge = 0x7fffffff;
    f.write(reinterpret_cast<const char*>(&huge), 4);
  }
  ReadResult read;
  const std::vector<FlowRecord> flows = FlowsOfCapture(path, FlowTableOptions{}, &read);
  EXPECT_FALSE(read.ok);
  EXPECT_EQ(read.error_packet, 4u);
  EXPECT_EQ(read.error_offset, static_cast<int64_t>(offset));
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(ng_flow_packets(&flows[0].acc), 3u);
}

TEST(PcapFileTest, NonEthernetLinkTypeIsRefused) {
  const std::string path = TempPath("raw.pcap");
  pcap_t* dead = pcap_open_dead(DLT_RAW, 65535);
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  ASSERT_NE(dumper, nullptr);
  pcap_dump_close(dumper);
  pcap_close(dead);
  try {
    PcapFileReader reader(path);
    FAIL() << "opened a raw-IP capture";
  } catch (const PcapError& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported link type"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_THROW(PcapFileReader(TempPath("missing.pcap")), PcapError);
}

void Put32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }

TEST(PcapFileTest, ReadsPcapng) {
  // Section header, one Ethernet interface (microseconds), enhanced packet blocks.
  std::string file;
  Put32(file, 0x0A0D0D0A);
  Put32(file, 28);
  Put32(file, 0x1A2B3C4D);
  Put32(file, 0x00000001);  // version 1.0
  Put32(file, 0xffffffff);
  Put32(file, 0xffffffff);  // section length unknown
  Put32(file, 28);
  Put32(file, 1);
  Put32(file, 20);
  Put32(file, 1);  // LINKTYPE_ETHERNET, reserved 0
  Put32(file, 0);  // snaplen
  Put32(file, 20);
  const std::vector<TimedFrame> frames = SevenPackets();
  for (const TimedFrame& f : frames) {
    const uint32_t padded = (static_cast<uint32_t>(f.frame.size()) + 3) & ~3u;
    const uint64_t us = f.ts_ns / 1000;
    Put32(file, 6);
    Put32(file, 32 + padded);
    Put32(file, 0);
    Put32(file, static_cast<uint32_t>(us >> 32));
    Put32(file, static_cast<uint32_t>(us));
    Put32(file, static_cast<uint32_t>(f.frame.size()));
    Put32(file, static_cast<uint32_t>(f.frame.size()));
    file.append(reinterpret_cast<const char*>(f.frame.data()), f.frame.size());
    file.append(padded - f.frame.size(), '\0');
    Put32(file, 32 + padded);
  }
  const std::string path = TempPath("seven.pcapng");
  std::ofstream(path, std::ios::binary) << file;

  ReadResult read;
  const std::vector<FlowRecord> flows = FlowsOfCapture(path, FlowTableOptions{}, &read);
  EXPECT_TRUE(read.ok) << read.error;
  EXPECT_EQ(read.packets, 7u);
  EXPECT_EQ(read.last_ts_ns, frames.back().ts_ns);
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flows[0].start_ns, static_cast<int64_t>(kT0));
  EXPECT_EQ(flows[0].end_ns, static_cast<int64_t>(frames[4].ts_ns));
}

TEST(FlowTableTest, IdleAndActiveTimeoutsFollowCaptureTime) {
  CollectFlows events;
  FlowTableOptions options;
  options.idle_timeout = std::chrono::seconds(30);
  options.step.active_timeout_ns = 120000000000ULL;
  capture::pcap::FlowTable table(options, events);
  const std::vector<uint8_t> a = Udp(1000, 10), b = Udp(2000, 10);
  table.AddFrame(a, static_cast<uint32_t>(a.size()), kT0);
  table.AddFrame(b, static_cast<uint32_t>(b.size()), kT0 + 1000000000ULL);
  // keep b busy every 20 s; a goes idle
  for (uint64_t s = 21; s <= 141; s += 20)
    table.AddFrame(b, static_cast<uint32_t>(b.size()), kT0 + s * 1000000000ULL);
  ASSERT_EQ(events.started.size(), 3u);  // a, b, then b again after its active timeout
  ASSERT_EQ(events.ended.size(), 2u);
  EXPECT_EQ(events.ended[0].end_reason, FlowEndReason::kIdleTimeout);
  EXPECT_EQ(ng_flow_packets(&events.ended[0].acc), 1u);
  EXPECT_EQ(events.ended[1].end_reason, FlowEndReason::kActiveTimeout);
  EXPECT_EQ(ng_flow_packets(&events.ended[1].acc), 7u);  // 1, 21, ..., 121 s
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.stats().flows_ended_idle_timeout, 1u);
  EXPECT_EQ(table.stats().flows_ended_active_timeout, 1u);
  // Every sweep (at each frame here: they are 20 s apart) reports the flows it leaves open, in
  // start order: a at 1 s; a and b at 21 s; then b alone at 41, 61, 81, 101 and 121 s.
  ASSERT_EQ(events.open.size(), 8u);
  EXPECT_EQ(events.open[1].second, kT0 + 21000000000ULL);
  EXPECT_EQ(std::memcmp(&events.open[1].first.key, &events.ended[0].key, sizeof(ng_flow_key)), 0)
      << "a, then b";
  EXPECT_EQ(events.open[2].second, kT0 + 21000000000ULL);
  EXPECT_EQ(ng_flow_packets(&events.open[2].first.acc), 1u) << "b's counts so far";
  EXPECT_EQ(events.open[7].second, kT0 + 121000000000ULL);
  EXPECT_EQ(ng_flow_packets(&events.open[7].first.acc), 6u);
  table.Flush();
  EXPECT_EQ(events.ended.back().end_reason, FlowEndReason::kShutdown);
  EXPECT_EQ(table.size(), 0u);
}

// 10,000 flows (more than two chunks of slots) from 2,500 sources, four per microsecond so
// that start times tie; every fourth ends early with a FIN/RST exchange, freeing its slot for
// a later flow.
TEST(FlowTableTest, ManyFlowsEndInStartOrderWhateverSlotTheyUsed) {
  CollectFlows events;
  FlowTableOptions options;
  options.step.end_flags = NG_END_ON_FIN | NG_END_ON_RST;
  capture::pcap::FlowTable table(options, events);
  std::vector<ng_flow_key> early;
  for (uint32_t i = 0; i < 10000; i++) {
    const std::string src = "10.2." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    const uint64_t t = kT0 + (i / 4) * 1000ULL;
    const uint16_t sport = static_cast<uint16_t>(1024 + (i * 7919) % 60000);
    std::vector<uint8_t> syn =
        PacketBuilder().Ip(src, "10.3.0.1").Tcp(sport, 80, NG_TCP_SYN).Build();
    table.AddFrame(syn, static_cast<uint32_t>(syn.size()), t);
    if (i % 4 == 0) {
      std::vector<uint8_t> rst =
          PacketBuilder().Ip("10.3.0.1", src).Tcp(80, sport, NG_TCP_RST | NG_TCP_ACK).Build();
      table.AddFrame(rst, static_cast<uint32_t>(rst.size()), t + 500);
      early.push_back(events.ended.back().key);
    }
  }
  EXPECT_EQ(events.started.size(), 10000u);
  EXPECT_EQ(events.ended.size(), 2500u);
  EXPECT_EQ(table.size(), 7500u);
  EXPECT_FALSE(table.Find(early.front()).has_value());
  const std::optional<ng_flow> last = table.Find(events.started.back().key);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(ng_flow_packets(&*last), 1u);
  table.Flush();
  ASSERT_EQ(events.ended.size(), 10000u);
  EXPECT_EQ(table.stats().flows_flushed, 7500u);
  // The flush reports by start time, ties by key bytes, not by slot.
  for (size_t i = 2501; i < events.ended.size(); i++) {
    const FlowRecord& a = events.ended[i - 1];
    const FlowRecord& b = events.ended[i];
    ASSERT_TRUE(a.start_ns < b.start_ns ||
                (a.start_ns == b.start_ns && std::memcmp(&a.key, &b.key, sizeof(a.key)) < 0))
        << i;
  }
  EXPECT_EQ(table.size(), 0u);
}

// The accumulators ng_flow_step() makes from the empty entry for `frames` (one flow).
ng_flow Stepped(const std::vector<TimedFrame>& frames, const ng_step_params& params) {
  ng_flow flow{}, expired, started, finished;
  for (const TimedFrame& f : frames) {
    ng_cursor cursor{f.frame.data(), f.frame.data() + f.frame.size()};
    ng_pkt pkt{};
    EXPECT_EQ(ng_parse_l3(&cursor, static_cast<uint32_t>(f.frame.size()), &pkt), NG_L3_IP);
    EXPECT_EQ(ng_parse_l4(&cursor, &pkt), NG_L4_FLOW);
    ng_flow_key key{};
    const __u8 side = ng_flow_key_make(&pkt, &key);
    __u8 reason = 0;
    ng_flow_step(&flow, &pkt, side, f.ts_ns, &params, &expired, &started, &finished, &reason);
  }
  return flow;
}

// A flow of one packet so far is kept as that packet and replayed: what the table reports for
// it (flush, idle sweep, Find) and for a flow whose second packet came later is, byte for byte,
// what ng_flow_step() makes of the same packets.
TEST(FlowTableTest, OnePacketFlowsReportTheAccumulatorsOfTheirPackets) {
  FlowTableOptions options;
  options.idle_timeout = std::chrono::seconds(5);
  CollectFlows events;
  capture::pcap::FlowTable table(options, events);
  const std::vector<TimedFrame> idle = {
      {PacketBuilder().Ip("10.4.0.1", "10.4.0.2").Tcp(4000, 80, NG_TCP_SYN, 1000).Build(), kT0}};
  const std::vector<TimedFrame> two = {
      {PacketBuilder().Ip("10.4.0.3", "10.4.0.4").Udp(5000, 53).Payload(40).Build(),
       kT0 + 3000000000ULL},
      {PacketBuilder().Ip("10.4.0.4", "10.4.0.3").Udp(53, 5000).Payload(90).Build(),
       kT0 + 7000000000ULL}};
  const std::vector<TimedFrame> single = {
      {PacketBuilder().Ip("10.4.0.5", "10.4.0.6").Icmp(8).Payload(56).Build(),
       kT0 + 7500000000ULL}};
  // At 7 s the sweep ends `idle` (idle 7 s); `two` (idle 4 s) gets its second packet.
  for (const TimedFrame* f : {&idle[0], &two[0], &two[1], &single[0]})
    table.AddFrame(f->frame, static_cast<uint32_t>(f->frame.size()), f->ts_ns);
  ASSERT_EQ(events.ended.size(), 1u);
  EXPECT_EQ(events.ended[0].end_reason, FlowEndReason::kIdleTimeout);
  const ng_flow idle_flow = Stepped(idle, options.step);
  EXPECT_EQ(std::memcmp(&events.ended[0].acc, &idle_flow, sizeof(ng_flow)), 0);

  const ng_flow single_flow = Stepped(single, options.step);
  const std::optional<ng_flow> found = table.Find(events.started.back().key);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(std::memcmp(&*found, &single_flow, sizeof(ng_flow)), 0);

  table.Flush();
  ASSERT_EQ(events.ended.size(), 3u);
  const ng_flow two_flow = Stepped(two, options.step);
  EXPECT_EQ(ng_flow_packets(&events.ended[1].acc), 2u);
  EXPECT_EQ(std::memcmp(&events.ended[1].acc, &two_flow, sizeof(ng_flow)), 0);
  EXPECT_EQ(std::memcmp(&events.ended[2].acc, &single_flow, sizeof(ng_flow)), 0);
  EXPECT_EQ(events.ended[2].start_ns, static_cast<int64_t>(single[0].ts_ns));
}

// A first packet is kept without what its key holds (addresses, ports, VLAN ID, family,
// protocol) and rebuilt when it is replayed: for a packet of each kind, sent by either side of
// its key, Find, the flush and a second packet give what ng_flow_step() makes of the packets as
// parsed.
TEST(FlowTableTest, FirstPacketsOfEveryKindReplayAsParsed) {
  using B = PacketBuilder;
  const std::vector<std::pair<B, B>> kinds = {
      // (first packet, reply)
      {B().Ip("10.5.0.1", "10.5.0.2").Tcp(40000, 443, NG_TCP_SYN, 1024, 12),
       B().Ip("10.5.0.2", "10.5.0.1").Tcp(443, 40000, NG_TCP_SYN | NG_TCP_ACK, 2048)},
      {B().Ip("10.5.0.9", "10.5.0.3").Tcp(5555, 22, NG_TCP_PSH | NG_TCP_ACK).Payload(100),
       B().Ip("10.5.0.3", "10.5.0.9").Tcp(22, 5555, NG_TCP_ACK)},
      {B().Ip("10.5.0.7", "10.5.0.7").Tcp(9000, 80, NG_TCP_SYN),  // side B by its port
       B().Ip("10.5.0.7", "10.5.0.7").Tcp(80, 9000, NG_TCP_ACK)},
      {B().Ip("2001:db8::2", "2001:db8::1").Udp(53000, 53).Payload(30),
       B().Ip("2001:db8::1", "2001:db8::2").Udp(53, 53000).Payload(90)},
      {B().Vlan(100).Ip("10.5.1.2", "10.5.1.1").Ipv4Options(8).Icmp(8).Payload(56),
       B().Vlan(100).Ip("10.5.1.1", "10.5.1.2").Icmp(0).Payload(56)},
      {B().Vlan(200, B::kTpid8021AD).Vlan(300).Ip("fe80::1", "fe80::2").Ipv6Ext(0, 16).Icmp(128),
       B().Vlan(200, B::kTpid8021AD).Vlan(300).Ip("fe80::2", "fe80::1").Icmp(129)},
      {B().Ip("10.5.2.2", "10.5.2.1").Proto(47).Payload(70),
       B().Ip("10.5.2.1", "10.5.2.2").Proto(47).Payload(20)},
      {B().Ip("2001:db8::9", "2001:db8::8").Tcp(443, 50000, NG_TCP_ACK, 500).Payload(1400),
       B().Ip("2001:db8::8", "2001:db8::9").Tcp(50000, 443, NG_TCP_ACK, 700)},
  };
  FlowTableOptions options;
  CollectFlows one_events, two_events;
  capture::pcap::FlowTable one(options, one_events), two(options, two_events);
  std::vector<std::vector<TimedFrame>> ones, twos;
  for (size_t i = 0; i < kinds.size(); i++) {
    const uint64_t t = kT0 + i * 1000000ULL;
    ones.push_back({{kinds[i].first.Build(), t}});
    twos.push_back({ones.back()[0], {kinds[i].second.Build(), t + 500000}});
    one.AddFrame(ones[i][0].frame, static_cast<uint32_t>(ones[i][0].frame.size()), t);
    for (const TimedFrame& f : twos.back())
      two.AddFrame(f.frame, static_cast<uint32_t>(f.frame.size()), f.ts_ns);
  }
  ASSERT_EQ(one_events.started.size(), kinds.size());
  for (size_t i = 0; i < kinds.size(); i++) {
    const ng_flow flow = Stepped(ones[i], options.step);
    const std::optional<ng_flow> found = one.Find(one_events.started[i].key);
    ASSERT_TRUE(found.has_value()) << i;
    EXPECT_EQ(std::memcmp(&*found, &flow, sizeof(ng_flow)), 0) << i;
  }
  one.Flush();
  two.Flush();
  ASSERT_EQ(one_events.ended.size(), kinds.size());
  ASSERT_EQ(two_events.ended.size(), kinds.size());
  for (size_t i = 0; i < kinds.size(); i++) {
    const ng_flow flow = Stepped(ones[i], options.step);
    EXPECT_EQ(std::memcmp(&one_events.ended[i].acc, &flow, sizeof(ng_flow)), 0) << i;
    EXPECT_EQ(one_events.ended[i].start_ns, static_cast<int64_t>(ones[i][0].ts_ns)) << i;
    EXPECT_EQ(one_events.ended[i].end_ns, static_cast<int64_t>(ones[i][0].ts_ns)) << i;
    const ng_flow flows = Stepped(twos[i], options.step);
    EXPECT_EQ(ng_flow_packets(&two_events.ended[i].acc), 2u) << i;
    EXPECT_EQ(std::memcmp(&two_events.ended[i].acc, &flows, sizeof(ng_flow)), 0) << i;
  }
  // A first packet that ends its flow (a lone RST) is reported at once and not kept.
  const std::vector<TimedFrame> rst = {
      {B().Ip("10.5.3.1", "10.5.3.2").Tcp(1234, 80, NG_TCP_RST).Build(), kT0 + 100000000ULL}};
  one.AddFrame(rst[0].frame, static_cast<uint32_t>(rst[0].frame.size()), rst[0].ts_ns);
  ASSERT_EQ(one_events.ended.size(), kinds.size() + 1);
  EXPECT_EQ(one_events.ended.back().end_reason, FlowEndReason::kRst);
  ng_flow rst_flow = Stepped(rst, options.step);
  rst_flow.state = NG_FLOW_ACTIVE;  // the snapshot is taken before the entry is emptied
  EXPECT_EQ(std::memcmp(&one_events.ended.back().acc, &rst_flow, sizeof(ng_flow)), 0);
  EXPECT_EQ(one.size(), 0u);
  EXPECT_FALSE(one.Find(one_events.ended.back().key).has_value());
}

TEST(FlowTableTest, WithoutDetectorEventsOnlyFinishedFlowsAreReported) {
  FlowTableOptions options;
  options.idle_timeout = std::chrono::seconds(5);
  CollectFlows full, finished_only;
  capture::pcap::FlowTable a(options, full);
  options.detector_events = false;
  capture::pcap::FlowTable b(options, finished_only);
  const std::vector<uint8_t> u = Udp(1000, 10), v = Udp(2000, 10);
  const std::vector<uint8_t> arp = PacketBuilder().Arp("10.1.0.1", "10.1.0.2").Build();
  for (uint64_t s = 0; s < 12; s++) {
    for (auto* table : {&a, &b}) {
      table->AddFrame(u, static_cast<uint32_t>(u.size()), kT0 + s * 1000000000ULL);
      if (s < 3) table->AddFrame(v, static_cast<uint32_t>(v.size()), kT0 + s * 1000000000ULL);
      table->AddFrame(arp, static_cast<uint32_t>(arp.size()), kT0 + s * 1000000000ULL);
    }
  }
  a.Flush();
  b.Flush();
  EXPECT_EQ(full.started.size(), 2u);
  EXPECT_FALSE(full.open.empty());
  EXPECT_GT(a.stats().samples, 0u);
  EXPECT_TRUE(finished_only.started.empty());
  EXPECT_TRUE(finished_only.open.empty());
  EXPECT_EQ(b.stats().samples, 0u);
  ASSERT_EQ(finished_only.ended.size(), 2u);  // v idle after 5 s, u at the flush
  ASSERT_EQ(full.ended.size(), 2u);
  for (size_t i = 0; i < 2; i++) {
    EXPECT_EQ(finished_only.ended[i].end_reason, full.ended[i].end_reason);
    EXPECT_EQ(std::memcmp(&finished_only.ended[i].acc, &full.ended[i].acc, sizeof(ng_flow)), 0);
  }
}

TEST(FlowTableTest, CountsWhatIsNotAFlow) {
  CollectFlows events;
  capture::pcap::FlowTable table(FlowTableOptions{}, events);
  const std::vector<uint8_t> arp = PacketBuilder().Arp("10.0.0.1", "10.0.0.2").Build();
  const std::vector<uint8_t> frag = PacketBuilder()
                                        .Ip("10.0.0.1", "10.0.0.2")
                                        .Ipv4Fragment(10, false)
                                        .Udp(1, 2)
                                        .Payload(20)
                                        .Build();
  std::vector<uint8_t> cut = Udp(1, 20);
  cut.resize(20);
  table.AddFrame(arp, static_cast<uint32_t>(arp.size()), kT0);
  table.AddFrame(frag, static_cast<uint32_t>(frag.size()), kT0);
  table.AddFrame(cut, static_cast<uint32_t>(cut.size()), kT0);
  EXPECT_EQ(table.stats().frames, 3u);
  EXPECT_EQ(table.stats().arp, 1u);
  EXPECT_EQ(table.stats().ip_fragments, 1u);
  EXPECT_EQ(table.stats().parse_errors[NG_ERR_IPV4_TRUNCATED], 1u);
  EXPECT_EQ(table.size(), 0u);
}

}  // namespace
}  // namespace netguard::testing
