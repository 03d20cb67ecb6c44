// Features of captures the test writes itself (libpcap pcap_dump of PacketBuilder frames),
// worked out by hand: TCP with the FIN split, UDP, ICMP, IPv6 with > 5 s gaps (active/idle),
// in both modes. The project-owned counterpart of the golden test.
#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "features/features.h"
#include "features/flow_csv.h"
#include "features/pcap_test_util.h"
#include "support/packet_builder.h"

namespace netguard::testing {
namespace {

using features::FeatureMode;

constexpr uint64_t kT0 = 1700000000ULL * 1000000000ULL;  // capture start, ns
constexpr uint8_t kSyn = NG_TCP_SYN, kAck = NG_TCP_ACK, kFin = NG_TCP_FIN, kPsh = NG_TCP_PSH;

uint64_t At(uint64_t us) { return kT0 + us * 1000; }

std::vector<uint8_t> Tcp4(bool c2s, uint8_t flags, uint16_t win, size_t opts, size_t payload) {
  PacketBuilder b;
  if (c2s)
    b.Ip("10.0.0.1", "10.0.0.2").Tcp(40000, 80, flags, win, opts);
  else
    b.Ip("10.0.0.2", "10.0.0.1").Tcp(80, 40000, flags, win, opts);
  return b.Payload(payload).Build();
}

std::vector<uint8_t> Tcp6(bool c2s, uint8_t flags, uint16_t win, size_t payload) {
  PacketBuilder b;
  if (c2s)
    b.Ip("fd00::1", "fd00::2").Tcp(50000, 443, flags, win);
  else
    b.Ip("fd00::2", "fd00::1").Tcp(443, 50000, flags, win);
  return b.Payload(payload).Build();
}

std::vector<uint8_t> Udp4(bool c2s, size_t payload) {
  PacketBuilder b;
  if (c2s)
    b.Ip("10.0.0.3", "10.0.0.4").Udp(5353, 53);
  else
    b.Ip("10.0.0.4", "10.0.0.3").Udp(53, 5353);
  return b.Payload(payload).Build();
}

std::vector<uint8_t> Icmp4(bool request, size_t payload) {
  PacketBuilder b;
  if (request)
    b.Ip("10.0.0.5", "10.0.0.6").Icmp(8);
  else
    b.Ip("10.0.0.6", "10.0.0.5").Icmp(0);
  return b.Payload(payload).Build();
}

// The capture: TCP (FIN split, then the peer's FIN starts a flow), UDP, ICMP, IPv6 TCP with
// two gaps longer than the 5 s activity timeout. Times in us from kT0.
std::vector<TimedFrame> Capture() {
  return {
      {Tcp4(true, kSyn, 8192, 12, 0), At(0)},
      {Tcp4(false, kSyn | kAck, 4096, 12, 0), At(1000)},
      {Tcp4(true, kAck, 8192, 0, 0), At(1500)},
      {Tcp4(true, kPsh | kAck, 8192, 0, 100), At(3000)},
      {Tcp4(false, kPsh | kAck, 5000, 0, 300), At(4000)},
      {Tcp4(true, kFin | kAck, 8100, 0, 0), At(6000)},   // ends the flow
      {Tcp4(false, kFin | kAck, 5001, 0, 0), At(6500)},  // first packet of a new flow
      {Tcp4(true, kAck, 8100, 0, 0), At(7000)},
      {Udp4(true, 40), At(100000)},
      {Udp4(false, 120), At(100250)},
      {Udp4(true, 40), At(100700)},
      {Icmp4(true, 56), At(200000)},
      {Icmp4(false, 56), At(200300)},
      {Tcp6(true, kSyn, 1000, 0), At(300000)},
      {Tcp6(false, kSyn | kAck, 2000, 0), At(301000)},
      {Tcp6(true, kAck, 1000, 10), At(302000)},
      {Tcp6(true, kPsh | kAck, 1000, 20), At(6302000)},  // 6 s gap
      {Tcp6(false, kAck, 2100, 0), At(6302500)},
      {Tcp6(true, kFin | kAck, 1000, 0), At(12802500)},  // 6.5 s gap, ends the flow
  };
}

struct Flows {
  std::vector<FlowRecord> all;
  const FlowRecord& Find(uint16_t dst_port, uint64_t start_us) const {
    for (const FlowRecord& f : all) {
      const uint16_t dport = f.acc.initiator == NG_SIDE_A ? f.key.port_b : f.key.port_a;
      if (dport == dst_port && f.acc.first_ts_ns == At(start_us)) return f;
    }
    throw std::runtime_error("no flow to port " + std::to_string(dst_port));
  }
};

Flows RunCapture(FeatureMode mode, bool nanosecond) {
  const std::string path =
      TempPath(std::string("generated_") + (nanosecond ? "ns" : "us") + ".pcap");
  WritePcap(path, Capture(), nanosecond);
  const features::FlowLifecycle life = features::LifecycleFor(mode);
  capture::pcap::ReadResult read;
  Flows flows{FlowsOfCapture(path, {.step = life.step, .idle_timeout = life.idle_timeout}, &read)};
  EXPECT_TRUE(read.ok) << read.error;
  EXPECT_EQ(read.packets, Capture().size());
  return flows;
}

void ExpectFeatures(const features::FeatureVector& v,
                    std::initializer_list<std::pair<const char*, double>> expected) {
  for (const auto& [name, value] : expected) {
    const auto index = features::FeatureIndex(name);
    ASSERT_TRUE(index.has_value()) << name;
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(v[*index])) << name;
    } else if (features::IsIntegerFeature(*index) || std::isinf(value)) {
      EXPECT_EQ(v[*index], value) << name;
    } else {
      EXPECT_NEAR(v[*index], value, 1e-9 * std::max(1.0, std::fabs(value))) << name;
    }
  }
}

class GeneratedFeaturesTest : public ::testing::TestWithParam<bool> {};  // nanosecond pcap?

TEST_P(GeneratedFeaturesTest, TcpFlowSplitAtFirstFinCic2017) {
  const Flows flows = RunCapture(FeatureMode::kCic2017, GetParam());
  const FlowRecord& first = flows.Find(80, 0);
  EXPECT_EQ(first.end_reason, FlowEndReason::kFin);
  EXPECT_EQ(first.start_ns, static_cast<int64_t>(At(0)));
  EXPECT_EQ(first.end_ns, static_cast<int64_t>(At(6000)));
  // fwd payloads 0,0,100,0 at 0,1500,3000,6000; bwd 0,300 at 1000,4000
  ExpectFeatures(features::ComputeFeatures(first, FeatureMode::kCic2017),
                 {{"Destination Port", 80},
                  {"Flow Duration", 6000},
                  {"Total Fwd Packets", 4},
                  {"Total Backward Packets", 2},
                  {"Total Length of Fwd Packets", 100},
                  {"Total Length of Bwd Packets", 300},
                  {"Fwd Packet Length Max", 100},
                  {"Fwd Packet Length Min", 0},
                  {"Fwd Packet Length Mean", 25},
                  {"Fwd Packet Length Std", 50},
                  {"Bwd Packet Length Max", 300},
                  {"Bwd Packet Length Min", 0},
                  {"Bwd Packet Length Mean", 150},
                  {"Bwd Packet Length Std", std::sqrt(45000.0)},
                  {"Flow Bytes/s", 400 / 0.006},
                  {"Flow Packets/s", 6 / 0.006},
                  {"Flow IAT Mean", 1200},
                  {"Flow IAT Std", std::sqrt(325000.0)},
                  {"Flow IAT Max", 2000},
                  {"Flow IAT Min", 500},
                  {"Fwd IAT Total", 6000},
                  {"Fwd IAT Mean", 2000},
                  {"Fwd IAT Std", std::sqrt(750000.0)},
                  {"Fwd IAT Max", 3000},
                  {"Fwd IAT Min", 1500},
                  {"Bwd IAT Total", 3000},
                  {"Bwd IAT Mean", 3000},
                  {"Bwd IAT Std", 0},
                  {"Fwd PSH Flags", 0},  // first packet (SYN) only
                  {"Bwd PSH Flags", 0},
                  {"Fwd Header Length", 32 + 20 + 20 + 20},
                  {"Bwd Header Length", 32 + 20},
                  {"Fwd Packets/s", 4 / 0.006},
                  {"Bwd Packets/s", 2 / 0.006},
                  {"Min Packet Length", 0},
                  {"Max Packet Length", 300},
                  // first packet (0 bytes) counted twice: 7 values, sum 400
                  {"Packet Length Mean", 400.0 / 7},
                  {"Packet Length Variance", (7 * 100000.0 - 160000.0) / 42},
                  {"Packet Length Std", std::sqrt((7 * 100000.0 - 160000.0) / 42)},
                  // first packet's SYN lands in the "PSH Flag Count" column
                  {"FIN Flag Count", 0},
                  {"SYN Flag Count", 0},
                  {"PSH Flag Count", 1},
                  {"ACK Flag Count", 0},
                  {"URG Flag Count", 0},
                  {"Down/Up Ratio", 0},  // 2 / 4, integer division
                  {"Average Packet Size", 400.0 / 6},
                  {"Avg Fwd Segment Size", 25},
                  {"Avg Bwd Segment Size", 150},
                  {"Fwd Header Length.1", 92},
                  {"Fwd Avg Bytes/Bulk", 0},
                  {"Subflow Fwd Packets", 4},
                  {"Subflow Fwd Bytes", 100},
                  {"Subflow Bwd Packets", 2},
                  {"Subflow Bwd Bytes", 300},
                  {"Init_Win_bytes_forward", 8192},
                  {"Init_Win_bytes_backward", 5000},  // the last backward window
                  {"act_data_pkt_fwd", 1},
                  {"min_seg_size_forward", 20},
                  {"Active Mean", 0},
                  {"Idle Mean", 0}});

  // The server's FIN starts a flow that its first packet does not end; the client's ACK joins.
  const FlowRecord& second = flows.Find(40000, 6500);
  EXPECT_EQ(second.end_reason, FlowEndReason::kShutdown);
  ExpectFeatures(features::ComputeFeatures(second, FeatureMode::kCic2017),
                 {{"Flow Duration", 500},
                  {"Total Fwd Packets", 1},
                  {"Total Backward Packets", 1},
                  {"Flow Bytes/s", 0},
                  {"Flow Packets/s", 2 / 0.0005},
                  {"URG Flag Count", 1},  // the first packet's FIN
                  {"ACK Flag Count", 1},
                  {"Init_Win_bytes_forward", 5001},
                  {"Init_Win_bytes_backward", 8100},
                  {"Down/Up Ratio", 1}});
}

TEST_P(GeneratedFeaturesTest, TcpCorrectedCountsWhatTheNamesSay) {
  const Flows flows = RunCapture(FeatureMode::kCorrected, GetParam());
  // product lifecycle: the server's FIN ends its own 1-packet flow, the last ACK is another
  size_t tcp4 = 0;
  for (const FlowRecord& f : flows.all) tcp4 += f.key.family == NG_FAMILY_IPV4 && f.key.proto == 6;
  EXPECT_EQ(tcp4, 3u);
  ExpectFeatures(features::ComputeFeatures(flows.Find(80, 0), FeatureMode::kCorrected),
                 {{"Fwd PSH Flags", 1},
                  {"Bwd PSH Flags", 1},
                  {"Packet Length Mean", 400.0 / 6},
                  {"Packet Length Variance", (6 * 100000.0 - 160000.0) / 30},
                  {"FIN Flag Count", 1},
                  {"SYN Flag Count", 2},
                  {"RST Flag Count", 0},
                  {"PSH Flag Count", 2},
                  {"ACK Flag Count", 5},
                  {"Down/Up Ratio", 0.5},
                  {"Average Packet Size", 400.0 / 6},
                  {"Init_Win_bytes_backward", 4096},  // the first backward window
                  {"act_data_pkt_fwd", 1},
                  {"Active Mean", 6000},  // the one period, closed at the last packet
                  {"Active Min", 6000},
                  {"Idle Mean", 0}});
  const FlowRecord& fin = flows.Find(40000, 6500);
  EXPECT_EQ(fin.end_reason, FlowEndReason::kFin);
  EXPECT_EQ(ng_flow_packets(&fin.acc), 1u);
  ExpectFeatures(features::ComputeFeatures(fin, FeatureMode::kCorrected),
                 {{"Flow Duration", 0}, {"Flow Bytes/s", 0}, {"Flow Packets/s", 0}});
}

TEST_P(GeneratedFeaturesTest, UdpAndIcmp) {
  const Flows flows = RunCapture(FeatureMode::kCic2017, GetParam());
  // UDP: fwd 40, 40 at 0, 700; bwd 120 at 250
  ExpectFeatures(features::ComputeFeatures(flows.Find(53, 100000), FeatureMode::kCic2017),
                 {{"Flow Duration", 700},
                  {"Total Length of Fwd Packets", 80},
                  {"Total Length of Bwd Packets", 120},
                  {"Fwd Header Length", 16},
                  {"Bwd Header Length", 8},
                  {"Packet Length Mean", 60},  // 40 twice + 120 + 40
                  {"Packet Length Std", 40},
                  {"Average Packet Size", 80},
                  {"Flow IAT Mean", 350},
                  {"Flow IAT Std", std::sqrt(20000.0)},
                  {"Fwd IAT Total", 700},
                  {"Bwd IAT Total", 0},
                  {"Init_Win_bytes_forward", -1},
                  {"Init_Win_bytes_backward", -1},
                  {"act_data_pkt_fwd", 1},
                  {"min_seg_size_forward", 8},
                  {"PSH Flag Count", 0}});
  const FlowRecord& icmp = flows.Find(0, 200000);
  EXPECT_EQ(icmp.key.proto, NG_IPPROTO_ICMP);
  ExpectFeatures(features::ComputeFeatures(icmp, FeatureMode::kCic2017),
                 {{"Destination Port", 0},
                  {"Flow Duration", 300},
                  {"Total Length of Fwd Packets", 56},
                  {"Total Length of Bwd Packets", 56},
                  {"Packet Length Std", 0},
                  {"Fwd Header Length", 8},
                  {"Init_Win_bytes_forward", -1}});
}

TEST_P(GeneratedFeaturesTest, Ipv6ActiveAndIdlePeriods) {
  const Flows cic = RunCapture(FeatureMode::kCic2017, GetParam());
  const FlowRecord& flow = cic.Find(443, 300000);
  EXPECT_EQ(flow.key.family, NG_FAMILY_IPV6);
  EXPECT_EQ(flow.end_reason, FlowEndReason::kFin);
  // times 0, 1000, 2000 | 6002000, 6002500 | FIN at 12502500 (us from the first packet)
  ExpectFeatures(features::ComputeFeatures(flow, FeatureMode::kCic2017),
                 {{"Destination Port", 443},
                  {"Flow Duration", 12502500},
                  {"Flow IAT Max", 6500000},
                  {"Flow IAT Min", 500},
                  {"Fwd IAT Total", 12502500},
                  {"Fwd IAT Max", 6500500},
                  {"Fwd IAT Min", 2000},
                  {"Bwd IAT Total", 6001500},
                  {"Fwd Header Length", 80},
                  {"act_data_pkt_fwd", 2},
                  {"Init_Win_bytes_backward", 2100},
                  // the FIN after 6.5 s closes no period in the 2017 tool
                  {"Active Mean", 2000},
                  {"Active Std", 0},
                  {"Active Max", 2000},
                  {"Active Min", 2000},
                  {"Idle Mean", 6000000},
                  {"Idle Max", 6000000},
                  {"Idle Min", 6000000}});

  const Flows corrected = RunCapture(FeatureMode::kCorrected, GetParam());
  ExpectFeatures(features::ComputeFeatures(corrected.Find(443, 300000), FeatureMode::kCorrected),
                 {{"Active Mean", 1250},  // 2000 and 500
                  {"Active Std", std::sqrt(1125000.0)},
                  {"Active Max", 2000},
                  {"Active Min", 500},
                  {"Idle Mean", 6250000},  // 6 s and 6.5 s
                  {"Idle Std", std::sqrt(125000000000.0)},
                  {"Idle Max", 6500000},
                  {"Idle Min", 6000000},
                  {"Init_Win_bytes_backward", 2000}});
}

INSTANTIATE_TEST_SUITE_P(Timestamps, GeneratedFeaturesTest, ::testing::Values(false, true),
                         [](const auto& info) {
                           return info.param ? "Nanosecond" : "Microsecond";
                         });

TEST(FlowCsvTest, FeatureValuesAsTheCsvsWriteThem) {
  const auto text = [](double value, bool integer) {
    std::string out;
    features::AppendFeature(out, value, integer);
    return out;
  };
  EXPECT_EQ(text(714, true), "714");
  EXPECT_EQ(text(0, false), "0.0");
  EXPECT_EQ(text(-0.0, false), "-0.0");
  EXPECT_EQ(text(714, false), "714.0");
  EXPECT_EQ(text(99999, false), "99999.0");
  EXPECT_EQ(text(100000, false), "1e+05");  // to_chars' shortest form
  EXPECT_EQ(text(120000, false), "120000.0");
  EXPECT_EQ(text(-3, false), "-3.0");
  EXPECT_EQ(text(0.5, false), "0.5");
  EXPECT_EQ(text(NAN, false), "NaN");
  EXPECT_EQ(text(-INFINITY, false), "-Infinity");
}

TEST(FeatureNamesTest, ExactNamesWithAndWithoutLeadingSpaces) {
  const auto& raw = features::FeatureNamesRaw();
  const auto& names = features::FeatureNames();
  ASSERT_EQ(raw.size(), 82u);
  EXPECT_EQ(raw[0], " Destination Port");
  EXPECT_EQ(names[0], "Destination Port");
  EXPECT_EQ(raw[4], "Total Length of Fwd Packets");
  EXPECT_EQ(raw[34], " Fwd Header Length");
  EXPECT_EQ(raw[55], " Fwd Header Length");
  EXPECT_EQ(names[77], "Idle Min");
  EXPECT_EQ(names[78], "Ctx Src Flows");
  EXPECT_EQ(names[81], "Ctx Dst Svc Flows");
  EXPECT_EQ(features::FeatureIndex("Ctx Dst Flows"), 80u);
  EXPECT_EQ(features::FeatureIndex("Fwd Header Length"), 34u);
  EXPECT_EQ(features::FeatureIndex("Fwd Header Length.1"), 55u);
  EXPECT_EQ(features::FeatureIndex(" Flow Duration"), 1u);
  EXPECT_FALSE(features::FeatureIndex("Label").has_value());
  EXPECT_EQ(features::ParseFeatureMode("cic2017"), FeatureMode::kCic2017);
  EXPECT_EQ(features::ParseFeatureMode("corrected"), FeatureMode::kCorrected);
  EXPECT_FALSE(features::ParseFeatureMode("CIC2017").has_value());
  EXPECT_EQ(features::ToString(FeatureMode::kCic2017), features::kModeCic2017);
}

}  // namespace
}  // namespace netguard::testing
