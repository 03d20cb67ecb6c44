// Offline analysis (netguardd --read): flows CSV with CICFlowMeter columns, alerts as JSON
// lines, and a truncated capture that still yields everything read before the bad record.
#include "app/offline.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "features/pcap_test_util.h"
#include "support/packet_builder.h"

namespace netguard::testing {
namespace {

constexpr uint64_t kT0 = 1700000000ULL * 1000000000ULL;

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A scanner SYNs 40 ports of one host (each answered by RST), then a 2-packet UDP exchange.
std::vector<TimedFrame> ScanCapture() {
  std::vector<TimedFrame> frames;
  uint64_t t = kT0;
  for (uint16_t port = 1; port <= 40; port++) {
    frames.push_back(
        {PacketBuilder().Ip("192.0.2.9", "198.51.100.1").Tcp(50000, port, NG_TCP_SYN).Build(), t});
    frames.push_back({PacketBuilder()
                          .Ip("198.51.100.1", "192.0.2.9")
                          .Tcp(port, 50000, NG_TCP_RST | NG_TCP_ACK, 0)
                          .Build(),
                      t + 100000});  // 100 us later
    t += 10000000;                   // 10 ms
  }
  frames.push_back(
      {PacketBuilder().Ip("192.0.2.7", "198.51.100.2").Udp(4000, 53).Payload(30).Build(), t});
  frames.push_back(
      {PacketBuilder().Ip("198.51.100.2", "192.0.2.7").Udp(53, 4000).Payload(90).Build(),
       t + 500000});
  return frames;
}

TEST(OfflineTest, WritesFlowsCsvAndAlertsJson) {
  const std::string pcap = TempPath("scan.pcap");
  WritePcap(pcap, ScanCapture());
  app::OfflineOptions options;
  options.input = pcap;
  options.mode = features::FeatureMode::kCic2017;
  options.flows_csv = TempPath("scan_flows.csv");
  options.alerts_json = TempPath("scan_alerts.json");
  const app::OfflineSummary summary = app::RunOffline(options);
  EXPECT_TRUE(summary.ok) << summary.error;
  EXPECT_EQ(summary.packets, 82u);
  EXPECT_EQ(summary.flows, 41u);
  EXPECT_EQ(summary.flow_rows, 41u);  // RST does not end a cic2017 flow: 2 packets each

  const std::vector<std::string> rows = Lines(options.flows_csv);
  ASSERT_EQ(rows.size(), 42u);
  EXPECT_EQ(rows[0].rfind("Flow ID, Source IP, Source Port, Destination IP, Destination Port, "
                          "Protocol, Timestamp, Flow Duration, Total Fwd Packets",
                          0),
            0u)
      << rows[0];
  EXPECT_NE(rows[0].find(",Init_Win_bytes_forward, Init_Win_bytes_backward,"), std::string::npos);
  EXPECT_EQ(rows[1].rfind("192.0.2.9-198.51.100.1-50000-1-6,192.0.2.9,50000,198.51.100.1,1,6,"
                          "14/11/2023 22:13:20,100,1,1,",
                          0),
            0u)
      << rows[1];
  std::stringstream header(rows[0]);
  size_t columns = 0;
  for (std::string cell; std::getline(header, cell, ',');) columns++;
  EXPECT_EQ(columns, 88u);  // CICFlowMeter's 84, then the 4 context features
  EXPECT_TRUE(rows[0].ends_with(",Ctx Src Flows,Ctx Src Dst Flows,Ctx Dst Flows,Ctx Dst Svc Flows"))
      << rows[0];
  // Context: the probes end within 0.4 s (at the end of the capture, in start order), so the k-th
  // counts k flows from the scanner to the host, one to its port; the DNS flow has only itself.
  EXPECT_TRUE(rows[1].ends_with(",1,1,1,1")) << rows[1];
  EXPECT_TRUE(rows[40].ends_with(",40,40,40,1")) << rows[40];
  EXPECT_TRUE(rows[41].ends_with(",1,1,1,1")) << rows[41];

  const std::vector<std::string> alerts = Lines(options.alerts_json);
  ASSERT_EQ(alerts.size(), 1u);
  const nlohmann::json alert = nlohmann::json::parse(alerts[0]);
  EXPECT_EQ(alert["class"], "PortScan");
  EXPECT_EQ(alert["src_addr"], "192.0.2.9");
  EXPECT_EQ(alert["detector"], "rule.port_scan");
  EXPECT_TRUE(alert["evidence"].is_object());
}

TEST(OfflineTest, WithoutRulesTheFlowsAreTheSameAndNothingIsAlerted) {
  const std::string pcap = TempPath("scan_no_rules.pcap");
  WritePcap(pcap, ScanCapture());
  app::OfflineOptions with, without;
  with.input = without.input = pcap;
  with.flows_csv = TempPath("scan_rules.csv");
  with.alerts_json = TempPath("scan_rules.json");
  without.flows_csv = TempPath("scan_no_rules.csv");
  without.alerts_json = TempPath("scan_no_rules.json");
  without.rules = false;  // netguardd --read --no-rules
  const app::OfflineSummary a = app::RunOffline(with);
  const app::OfflineSummary b = app::RunOffline(without);
  EXPECT_EQ(a.alerts, 1u);
  EXPECT_EQ(b.alerts, 0u);
  EXPECT_TRUE(Lines(without.alerts_json).empty());
  EXPECT_EQ(b.flows, a.flows);
  EXPECT_EQ(b.flow_rows, 41u);
  EXPECT_EQ(Lines(without.flows_csv), Lines(with.flows_csv));
}

TEST(OfflineTest, TruncatedCaptureKeepsEverythingReadBeforeIt) {
  const std::string pcap = TempPath("scan_truncated.pcap");
  const std::vector<TimedFrame> frames = ScanCapture();
  WritePcap(pcap, frames);
  uint64_t offset = 24;
  for (int i = 0; i < 10; i++) offset += 16 + frames[i].frame.size();
  std::filesystem::resize_file(pcap, offset + 5);

  app::OfflineOptions options;
  options.input = pcap;
  options.mode = features::FeatureMode::kCorrected;
  options.flows_csv = TempPath("scan_truncated.csv");
  const app::OfflineSummary summary = app::RunOffline(options);
  EXPECT_FALSE(summary.ok);
  EXPECT_EQ(summary.packets, 10u);
  EXPECT_NE(summary.error.find("packet 11 at byte offset " + std::to_string(offset)),
            std::string::npos)
      << summary.error;
  // corrected lifecycle: each RST ends its flow (5 SYN/RST pairs -> 5 flows of 2 packets)
  EXPECT_EQ(summary.flow_rows, 5u);
  EXPECT_EQ(Lines(options.flows_csv).size(), 6u);
}

TEST(OfflineTest, UnreadableInputThrows) {
  app::OfflineOptions options;
  options.input = TempPath("does_not_exist.pcap");
  EXPECT_THROW(app::RunOffline(options), std::runtime_error);
}

}  // namespace
}  // namespace netguard::testing
