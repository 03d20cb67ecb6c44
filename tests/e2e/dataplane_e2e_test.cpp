// End to end on the real kernel: the EbpfDataPlane attached (XDP native + TC egress) to the
// sensor side of a veth pair, real traffic from the peer namespace, and the flow map, ring
// records, statistics and blocklist checked against exactly what was sent.
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "capture/blocklist.h"
#include "capture/bpf_stats.h"
#include "capture/ebpf_dataplane.h"
#include "capture/flow_table.h"
#include "capture/ring_reader.h"
#include "common/ip_prefix.h"
#include "flow_update.h"
#include "netns_lab.h"
#include "traffic.h"

namespace netguard::e2e {
namespace {

using capture::Attachment;
using capture::Blocklist;
using capture::DataPlaneOptions;
using capture::EbpfDataPlane;
using capture::FlowTable;
using capture::RingReader;
using capture::StatCounters;
using capture::XdpMode;

constexpr uint32_t kEthHeader = 14;
constexpr uint32_t kIpv4Header = 20;
constexpr uint32_t kUdpIcmpHeader = 8;
constexpr uint32_t kMaxTcpSegmentPayload = 1460;  // MTU 1500 - 40: nothing was merged

// The canonical key of a packet from src:sport to dst:dport, as the programs build it, and the
// side (enum ng_side) of its sender.
struct FlowId {
  ng_flow_key key{};
  uint8_t sender_side = 0;
};

FlowId MakeFlowId(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
                  uint8_t proto) {
  ng_pkt pkt{};
  pkt.src[0] = Ipv4(src).s_addr;
  pkt.dst[0] = Ipv4(dst).s_addr;
  pkt.sport = sport;
  pkt.dport = dport;
  pkt.family = NG_FAMILY_IPV4;
  pkt.proto = proto;
  FlowId id;
  id.sender_side = ng_flow_key_make(&pkt, &id.key);
  return id;
}

bool SameKey(const ng_flow_key& a, const ng_flow_key& b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

uint64_t ParseErrors(const StatCounters& stats) {
  return std::accumulate(stats.begin() + NG_STAT_PARSE_ERROR_FIRST, stats.end(), uint64_t{0});
}

// Flow start/end records of the ring, in ring order.
struct RingLog {
  std::vector<ng_flow_event> starts;
  std::vector<ng_flow_event> ends;

  std::vector<ng_flow_event> StartsOf(const ng_flow_key& key) const { return Of(starts, key); }
  std::vector<ng_flow_event> EndsOf(const ng_flow_key& key) const { return Of(ends, key); }

 private:
  static std::vector<ng_flow_event> Of(const std::vector<ng_flow_event>& events,
                                       const ng_flow_key& key) {
    std::vector<ng_flow_event> out;
    for (const ng_flow_event& e : events) {
      if (SameKey(e.key, key)) out.push_back(e);
    }
    return out;
  }
};

class DataPlaneE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: network namespaces, BPF programs";
    lab_ = std::make_unique<NetnsLab>();
    pins_ =
        std::make_unique<PinDir>(::testing::UnitTest::GetInstance()->current_test_info()->name());
    // Attach and detach act on the calling thread's network namespace.
    in_sensor_.emplace(lab_->sensor().fd());
    DataPlaneOptions options;
    options.pin_root = pins_->path();
    dp_ = std::make_unique<EbpfDataPlane>(options);
    attachment_ = dp_->Attach(lab_->sensor_if());
    ring_ = std::make_unique<RingReader>(
        dp_->events_fd(),
        capture::RingHandlers{
            .on_flow_start = [this](const ng_flow_event& e) { log_.starts.push_back(e); },
            .on_flow_end = [this](const ng_flow_event& e) { log_.ends.push_back(e); },
            .on_sample = nullptr});
  }

  void TearDown() override {
    ring_.reset();
    dp_.reset();  // detaches while still in the sensor namespace
    in_sensor_.reset();
    pins_.reset();
    lab_.reset();
  }

  int sensor() const { return lab_->sensor().fd(); }
  int peer() const { return lab_->peer().fd(); }

  std::optional<ng_flow> Lookup(const ng_flow_key& key) const {
    return FlowTable(dp_->flows_fd()).Lookup(key);
  }

  // Consumes what the ring holds into log_.
  void DrainRing() { ring_->Drain(); }

  void ExpectCleanStats() {
    const StatCounters stats = capture::ReadStats(dp_->stats_fd());
    EXPECT_EQ(stats[NG_STAT_XDP_DROPPED], 0u);
    EXPECT_EQ(stats[NG_STAT_FLOW_INSERT_FAILED], 0u);
    EXPECT_EQ(stats[NG_STAT_RING_DROPS], 0u);
    EXPECT_EQ(stats[NG_STAT_IP_FRAGMENTS], 0u);
    EXPECT_EQ(ParseErrors(stats), 0u);
    EXPECT_EQ(stats[NG_STAT_XDP_PASSED], stats[NG_STAT_XDP_PACKETS]);
  }

  std::unique_ptr<NetnsLab> lab_;
  std::unique_ptr<PinDir> pins_;
  std::optional<ScopedNetns> in_sensor_;
  std::unique_ptr<EbpfDataPlane> dp_;
  Attachment attachment_;
  std::unique_ptr<RingReader> ring_;
  RingLog log_;
};

// Checks one direction of a UDP or ICMP flow against the payload sizes sent that way.
void ExpectDirection(const ng_dir_stats& d, const std::vector<size_t>& sizes) {
  const uint64_t n = sizes.size();
  const uint64_t payload = std::accumulate(sizes.begin(), sizes.end(), uint64_t{0});
  uint64_t sum_sq = 0;
  uint32_t data_pkts = 0;
  for (size_t s : sizes) {
    sum_sq += s * s;
    data_pkts += s > 0 ? 1 : 0;
  }
  EXPECT_EQ(d.payload.count, n);
  EXPECT_EQ(static_cast<uint64_t>(d.payload.sum), payload);
  EXPECT_EQ(d.payload.sum_sq, sum_sq);
  EXPECT_EQ(static_cast<size_t>(d.payload.min), *std::min_element(sizes.begin(), sizes.end()));
  EXPECT_EQ(static_cast<size_t>(d.payload.max), *std::max_element(sizes.begin(), sizes.end()));
  EXPECT_EQ(d.data_pkts, data_pkts);
  EXPECT_EQ(d.wire_bytes, payload + n * (kEthHeader + kIpv4Header + kUdpIcmpHeader));
  EXPECT_EQ(d.l3_hdr_bytes, n * kIpv4Header);
  EXPECT_EQ(d.l4_hdr_bytes, n * kUdpIcmpHeader);
  EXPECT_EQ(d.l4_hdr_min, kUdpIcmpHeader);
  EXPECT_EQ(d.iat.count, n - 1);
  for (uint32_t count : d.flag_counts) EXPECT_EQ(count, 0u);
}

TEST_F(DataPlaneE2eTest, AttachesXdpNativeAndTcEgressToVeth) {
  EXPECT_EQ(attachment_.xdp_mode, XdpMode::kNative);
  EXPECT_TRUE(attachment_.tc_egress);
  const XdpState xdp = QueryXdp(sensor(), lab_->sensor_if());
  EXPECT_NE(xdp.prog_id, 0u);
  EXPECT_EQ(xdp.attach_mode, XDP_ATTACHED_DRV);
}

// Loopback has no native XDP: the loader must fall back to generic mode, say so, and still
// attach TC egress.
TEST_F(DataPlaneE2eTest, FallsBackToGenericXdpWhereNativeIsRefused) {
  const Attachment& lo = dp_->Attach("lo");
  EXPECT_EQ(lo.xdp_mode, XdpMode::kGeneric);
  EXPECT_TRUE(lo.tc_egress);
  const XdpState xdp = QueryXdp(sensor(), "lo");
  EXPECT_NE(xdp.prog_id, 0u);
  EXPECT_EQ(xdp.attach_mode, XDP_ATTACHED_SKB);
  dp_->Detach("lo");
  EXPECT_EQ(QueryXdp(sensor(), "lo").prog_id, 0u);
}

TEST_F(DataPlaneE2eTest, CountsUdpEchoExactlyInBothDirections) {
  ASSERT_EQ(attachment_.xdp_mode, XdpMode::kNative);
  Fd server = BoundSocket(sensor(), SOCK_DGRAM, lab_->sensor_ip(), 0);
  Fd client = BoundSocket(peer(), SOCK_DGRAM, lab_->peer_ip_b(), 0);
  const uint16_t server_port = LocalPort(server.get());
  const uint16_t client_port = LocalPort(client.get());

  // 1472 = the largest unfragmented datagram at MTU 1500; 0 = an empty datagram.
  const std::vector<size_t> sizes = {100, 0, 1, 18, 64, 512, 1000, 1472};
  for (size_t size : sizes) {
    ASSERT_EQ(UdpRoundTrip(client.get(), server.get(), lab_->sensor_ip(), server_port, size), "");
  }

  const FlowId id =
      MakeFlowId(lab_->peer_ip_b(), client_port, lab_->sensor_ip(), server_port, IPPROTO_UDP);
  // Each echo reached the client only after TC egress ran on it: nothing is in flight.
  const std::optional<ng_flow> flow = Lookup(id.key);
  ASSERT_TRUE(flow.has_value()) << "no flow entry for the UDP echo";
  EXPECT_EQ(flow->state, NG_FLOW_ACTIVE);
  EXPECT_EQ(flow->initiator, id.sender_side);
  EXPECT_EQ(flow->first_payload_len, sizes[0]);
  EXPECT_EQ(flow->first_tcp_flags, 0);
  {
    SCOPED_TRACE("forward (client -> server, XDP ingress)");
    ExpectDirection(flow->dir[NG_DIR_FWD], sizes);
  }
  {
    SCOPED_TRACE("backward (server -> client, TC egress)");
    ExpectDirection(flow->dir[NG_DIR_BWD], sizes);
  }
  EXPECT_EQ(flow->iat.count, 2 * sizes.size() - 1);
  EXPECT_GE(flow->last_ts_ns, flow->first_ts_ns);

  DrainRing();
  EXPECT_EQ(log_.StartsOf(id.key).size(), 1u);
  EXPECT_TRUE(log_.EndsOf(id.key).empty());
  // The lab has no IPv6 and nothing else talks: this is the only flow.
  EXPECT_EQ(FlowTable(dp_->flows_fd()).Snapshot().size(), 1u);
  ExpectCleanStats();
}

TEST_F(DataPlaneE2eTest, CountsIcmpEchoExactlyInBothDirections) {
  ASSERT_EQ(attachment_.xdp_mode, XdpMode::kNative);
  Fd raw = SocketIn(peer(), AF_INET, SOCK_RAW, IPPROTO_ICMP);
  const uint16_t echo_id = static_cast<uint16_t>(getpid());

  const std::vector<size_t> sizes = {56, 0, 8, 100, 1000, 1472};
  for (size_t i = 0; i < sizes.size(); ++i) {
    ASSERT_EQ(
        IcmpEcho(raw.get(), lab_->sensor_ip(), echo_id, static_cast<uint16_t>(i + 1), sizes[i]),
        "");
  }

  // ICMP flows have no ports: one entry per address pair.
  const FlowId id = MakeFlowId(lab_->peer_ip_b(), 0, lab_->sensor_ip(), 0, IPPROTO_ICMP);
  const std::optional<ng_flow> flow = Lookup(id.key);
  ASSERT_TRUE(flow.has_value()) << "no flow entry for the ICMP echoes";
  EXPECT_EQ(flow->state, NG_FLOW_ACTIVE);
  EXPECT_EQ(flow->initiator, id.sender_side);
  EXPECT_EQ(flow->first_payload_len, sizes[0]);
  {
    SCOPED_TRACE("forward (echo requests, XDP ingress)");
    ExpectDirection(flow->dir[NG_DIR_FWD], sizes);
  }
  {
    SCOPED_TRACE("backward (echo replies, TC egress)");
    ExpectDirection(flow->dir[NG_DIR_BWD], sizes);
  }

  DrainRing();
  EXPECT_EQ(log_.StartsOf(id.key).size(), 1u);
  EXPECT_TRUE(log_.EndsOf(id.key).empty());
  // The lab has no IPv6 and nothing else talks: this is the only flow.
  EXPECT_EQ(FlowTable(dp_->flows_fd()).Snapshot().size(), 1u);
  ExpectCleanStats();
}

// A TCP connection: handshake, 3000 bytes client->server, 5000 bytes back, the client closes
// first, then the server. FIN ends a flow (CICFlowMeter semantics), so the connection shows up
// as three flows of one map entry: the connection up to the client's FIN, the server's packets
// up to its FIN, and the client's last ACK (still open in the map).
TEST_F(DataPlaneE2eTest, CountsTcpConnectionAndEndsItAtFin) {
  ASSERT_EQ(attachment_.xdp_mode, XdpMode::kNative);
  constexpr size_t kUp = 3000;    // client -> server: more than two full segments
  constexpr size_t kDown = 5000;  // server -> client

  TcpPorts ports;
  ASSERT_EQ(TcpExchange(peer(), lab_->peer_ip_b(), sensor(), lab_->sensor_ip(), kUp, kDown, &ports),
            "");
  const uint16_t client_port = ports.client;
  const uint16_t server_port = ports.server;

  const FlowId id =
      MakeFlowId(lab_->peer_ip_b(), client_port, lab_->sensor_ip(), server_port, IPPROTO_TCP);
  const uint8_t server_side = id.sender_side == NG_SIDE_A ? NG_SIDE_B : NG_SIDE_A;
  // The client's ACK of the server's FIN is the last packet: it opens flow 3.
  ASSERT_TRUE(WaitFor([&] {
    DrainRing();
    std::optional<ng_flow> f = Lookup(id.key);
    return log_.EndsOf(id.key).size() == 2 && f && f->state == NG_FLOW_ACTIVE &&
           f->initiator == id.sender_side;
  })) << "the connection did not end with two FINs and a last ACK";

  const std::vector<ng_flow_event> ends = log_.EndsOf(id.key);
  const std::vector<ng_flow_event> starts = log_.StartsOf(id.key);
  ASSERT_EQ(ends.size(), 2u);
  EXPECT_EQ(starts.size(), 3u);

  {
    SCOPED_TRACE("flow 1: SYN .. client FIN");
    const ng_flow_event& e = ends[0];
    EXPECT_EQ(e.hdr.type, NG_REC_FLOW_END);
    EXPECT_EQ(e.hdr.reason, NG_REASON_FIN);
    EXPECT_EQ(e.hdr.hook, NG_HOOK_XDP);  // the client's FIN came in
    EXPECT_EQ(e.hdr.ifindex, static_cast<uint32_t>(attachment_.ifindex));
    const ng_flow& f = e.flow;
    EXPECT_EQ(f.initiator, id.sender_side);
    EXPECT_EQ(f.first_tcp_flags, NG_TCP_SYN);
    EXPECT_EQ(f.first_payload_len, 0u);
    const ng_dir_stats& fwd = f.dir[NG_DIR_FWD];
    const ng_dir_stats& bwd = f.dir[NG_DIR_BWD];
    EXPECT_EQ(static_cast<uint64_t>(fwd.payload.sum), kUp);
    EXPECT_EQ(static_cast<uint64_t>(bwd.payload.sum), kDown);
    EXPECT_LE(fwd.payload.max, kMaxTcpSegmentPayload);
    EXPECT_LE(bwd.payload.max, kMaxTcpSegmentPayload);
    EXPECT_GE(fwd.data_pkts, (kUp + kMaxTcpSegmentPayload - 1) / kMaxTcpSegmentPayload);
    EXPECT_GE(bwd.data_pkts, (kDown + kMaxTcpSegmentPayload - 1) / kMaxTcpSegmentPayload);
    EXPECT_EQ(fwd.flag_counts[1], 1u);  // SYN
    EXPECT_EQ(bwd.flag_counts[1], 1u);  // SYN-ACK
    EXPECT_EQ(fwd.flag_counts[0], 1u);  // FIN: the last packet of the flow
    EXPECT_EQ(bwd.flag_counts[0], 0u);
    EXPECT_EQ(fwd.flag_counts[2], 0u);  // RST
    EXPECT_EQ(bwd.flag_counts[2], 0u);
    // Every packet but the SYN carries an ACK.
    EXPECT_EQ(fwd.flag_counts[4], fwd.payload.count - 1);
    EXPECT_EQ(bwd.flag_counts[4], bwd.payload.count);
    EXPECT_EQ(fwd.l3_hdr_bytes, fwd.payload.count * kIpv4Header);
    EXPECT_EQ(bwd.l3_hdr_bytes, bwd.payload.count * kIpv4Header);
    EXPECT_EQ(fwd.wire_bytes,
              kUp + fwd.payload.count * (kEthHeader + kIpv4Header) + fwd.l4_hdr_bytes);
    EXPECT_EQ(bwd.wire_bytes,
              kDown + bwd.payload.count * (kEthHeader + kIpv4Header) + bwd.l4_hdr_bytes);
    EXPECT_GE(fwd.l4_hdr_min, 20);
    EXPECT_EQ(f.iat.count, fwd.payload.count + bwd.payload.count - 1);
  }
  {
    SCOPED_TRACE("flow 2: the server's packets up to its FIN");
    const ng_flow_event& e = ends[1];
    EXPECT_EQ(e.hdr.reason, NG_REASON_FIN);
    EXPECT_EQ(e.hdr.hook, NG_HOOK_TC);  // the server's FIN went out
    const ng_flow& f = e.flow;
    EXPECT_EQ(f.initiator, server_side);
    const ng_dir_stats& fwd = f.dir[NG_DIR_FWD];
    EXPECT_GE(fwd.payload.count, 1u);  // [ACK,] FIN-ACK
    EXPECT_LE(fwd.payload.count, 2u);
    EXPECT_EQ(fwd.payload.sum, 0);
    EXPECT_EQ(fwd.flag_counts[0], 1u);
    EXPECT_EQ(fwd.flag_counts[1], 0u);
    EXPECT_EQ(f.dir[NG_DIR_BWD].payload.count, 0u);
  }
  {
    SCOPED_TRACE("flow 3: the client's last ACK, open in the map");
    const std::optional<ng_flow> f = Lookup(id.key);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->state, NG_FLOW_ACTIVE);
    EXPECT_EQ(f->initiator, id.sender_side);
    EXPECT_EQ(f->first_tcp_flags, NG_TCP_ACK);
    EXPECT_EQ(ng_flow_packets(&*f), 1u);
    EXPECT_EQ(f->dir[NG_DIR_FWD].payload.sum, 0);
    EXPECT_EQ(f->dir[NG_DIR_FWD].flag_counts[4], 1u);
  }
  const StatCounters stats = capture::ReadStats(dp_->stats_fd());
  EXPECT_EQ(stats[NG_STAT_FLOWS_ENDED_FIN], 2u);
  EXPECT_EQ(stats[NG_STAT_FLOWS_ENDED_RST], 0u);
  ExpectCleanStats();
}

// Blocking source A's /32 drops exactly A's packets at XDP while B's still pass; removing the
// block lets A through again.
TEST_F(DataPlaneE2eTest, BlockedSourceIsDroppedAndCountedWhileOtherSourcePasses) {
  ASSERT_EQ(attachment_.xdp_mode, XdpMode::kNative);
  Fd server = BoundSocket(sensor(), SOCK_DGRAM, lab_->sensor_ip(), 0);
  Fd from_a = BoundSocket(peer(), SOCK_DGRAM, lab_->peer_ip_a(), 0);
  Fd from_b = BoundSocket(peer(), SOCK_DGRAM, lab_->peer_ip_b(), 0);
  const uint16_t server_port = LocalPort(server.get());
  const FlowId flow_a = MakeFlowId(lab_->peer_ip_a(), LocalPort(from_a.get()), lab_->sensor_ip(),
                                   server_port, IPPROTO_UDP);

  // Before the block both sources reach the server (and the neighbours are resolved).
  ASSERT_EQ(UdpRoundTrip(from_a.get(), server.get(), lab_->sensor_ip(), server_port, 10), "");
  ASSERT_EQ(UdpRoundTrip(from_b.get(), server.get(), lab_->sensor_ip(), server_port, 10), "");

  Blocklist blocklist(dp_->block_v4_fd(), dp_->block_v6_fd());
  const IpPrefix a32 = IpPrefix::Parse(lab_->peer_ip_a() + "/32");
  blocklist.Add(a32);

  constexpr size_t kDatagrams = 20;
  uint64_t wire_bytes = 0;
  for (size_t i = 0; i < kDatagrams; ++i) {
    const size_t size = 10 * i;
    ASSERT_TRUE(SendDatagram(from_a.get(), lab_->sensor_ip(), server_port, size));
    wire_bytes += kEthHeader + kIpv4Header + kUdpIcmpHeader + size;
  }
  ASSERT_TRUE(WaitFor([&] {
    std::optional<capture::BlockEntry> e = blocklist.Get(a32);
    return e && e->packets >= kDatagrams;
  })) << "the block of "
      << a32.ToString() << " did not count " << kDatagrams << " drops";
  // B still gets through, both ways; nothing of A's is queued before B's datagram.
  ASSERT_EQ(UdpRoundTrip(from_b.get(), server.get(), lab_->sensor_ip(), server_port, 33), "");

  const std::optional<capture::BlockEntry> entry = blocklist.Get(a32);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->packets, kDatagrams);
  EXPECT_EQ(entry->bytes, wire_bytes);
  const StatCounters stats = capture::ReadStats(dp_->stats_fd());
  EXPECT_EQ(stats[NG_STAT_XDP_DROPPED], kDatagrams);
  EXPECT_EQ(stats[NG_STAT_XDP_DROPPED_BYTES], wire_bytes);
  std::string data;
  EXPECT_FALSE(RecvDatagram(server.get(), &data, milliseconds(0)).has_value())
      << "a datagram of the blocked source arrived";

  // Dropped before accounting: A's flow still holds only the echo from before the block.
  std::optional<ng_flow> a = Lookup(flow_a.key);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->dir[NG_DIR_FWD].payload.count, 1u);
  EXPECT_EQ(a->dir[NG_DIR_BWD].payload.count, 1u);

  // Unblocked, A passes again (and the counters of the removed entry are gone with it).
  ASSERT_TRUE(blocklist.Remove(a32));
  EXPECT_FALSE(blocklist.Get(a32).has_value());
  EXPECT_EQ(UdpRoundTrip(from_a.get(), server.get(), lab_->sensor_ip(), server_port, 10), "");
  a = Lookup(flow_a.key);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->dir[NG_DIR_FWD].payload.count, 2u);
}

}  // namespace
}  // namespace netguard::e2e
