#include "detect/port_scan.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "flow_update.h"

namespace netguard::detect {
namespace {

constexpr int64_t kSecond = 1000000000;

struct Collector : AlertSink {
  void Emit(Alert alert) override { alerts.push_back(std::move(alert)); }
  std::vector<Alert> alerts;
};

// A flow started by `src`:`sport` towards `dst`:`dport` at `t_ns`.
FlowRecord Flow(const char* src, const char* dst, uint16_t dport, int64_t t_ns, uint8_t proto = 6,
                uint16_t sport = 40000) {
  ng_pkt pkt{};
  const bool v6 = std::string(src).find(':') != std::string::npos;
  pkt.family = v6 ? NG_FAMILY_IPV6 : NG_FAMILY_IPV4;
  inet_pton(v6 ? AF_INET6 : AF_INET, src, pkt.src);
  inet_pton(v6 ? AF_INET6 : AF_INET, dst, pkt.dst);
  pkt.sport = sport;
  pkt.dport = dport;
  pkt.proto = proto;
  FlowRecord flow;
  flow.acc.initiator = ng_flow_key_make(&pkt, &flow.key);
  flow.start_ns = t_ns;
  return flow;
}

TEST(PortScanTest, AlertsOnceWhenDistinctPortsReachTheThreshold) {
  PortScanDetector scan({.distinct_ports = 10, .window = std::chrono::seconds(60)});
  Collector sink;
  for (uint16_t port = 1; port <= 9; ++port) {
    scan.OnFlowStart(Flow("10.0.0.66", "10.0.0.10", port, port * kSecond / 100), sink);
  }
  EXPECT_TRUE(sink.alerts.empty());
  // The same port again is not a new target.
  scan.OnFlowStart(Flow("10.0.0.66", "10.0.0.10", 9, kSecond / 10, 6, 40001), sink);
  EXPECT_TRUE(sink.alerts.empty());
  scan.OnFlowStart(Flow("10.0.0.66", "10.0.0.10", 10, kSecond / 10), sink);
  ASSERT_EQ(sink.alerts.size(), 1u);
  for (uint16_t port = 11; port <= 50; ++port) {  // same window: aggregated, no new alert
    scan.OnFlowStart(Flow("10.0.0.66", "10.0.0.10", port, kSecond), sink);
  }
  ASSERT_EQ(sink.alerts.size(), 1u);

  const Alert& a = sink.alerts[0];
  EXPECT_EQ(a.alert_class, "PortScan");
  EXPECT_EQ(a.mitre_technique, "T1046");
  EXPECT_EQ(a.detector, "rule.port_scan");
  EXPECT_EQ(a.src_addr, "10.0.0.66");
  EXPECT_EQ(a.dst_addr, "10.0.0.10");
  EXPECT_EQ(a.protocol, 6);
  EXPECT_EQ(a.time_ns, kSecond / 10);
  const auto evidence = nlohmann::json::parse(a.evidence_json);
  EXPECT_EQ(evidence["distinct_targets"], 10);
  EXPECT_EQ(evidence["threshold"], 10);
  EXPECT_EQ(evidence["flows_in_window"], 11);
  EXPECT_EQ(evidence["hosts"]["10.0.0.10"], 10);
  EXPECT_EQ(evidence["ports_sample"].size(), 10u);
}

TEST(PortScanTest, ProbesOutsideTheWindowDoNotCount) {
  PortScanDetector scan({.distinct_ports = 5, .window = std::chrono::seconds(10)});
  Collector sink;
  for (uint16_t port = 1; port <= 4; ++port) {
    scan.OnFlowStart(Flow("10.0.0.66", "10.0.0.10", port, 0), sink);
  }
  // 10 s later the first four have left the window.
  scan.OnFlowStart(Flow("10.0.0.66", "10.0.0.10", 5, 10 * kSecond), sink);
  EXPECT_TRUE(sink.alerts.empty());
  for (uint16_t port = 6; port <= 9; ++port) {
    scan.OnFlowStart(Flow("10.0.0.66", "10.0.0.10", port, 11 * kSecond), sink);
  }
  EXPECT_EQ(sink.alerts.size(), 1u);
}

TEST(PortScanTest, AlertsAgainAfterAFullWindowAndCountsSourcesApart) {
  PortScanDetector scan({.distinct_ports = 3, .window = std::chrono::seconds(10)});
  Collector sink;
  for (uint16_t port = 1; port <= 3; ++port) {
    scan.OnFlowStart(Flow("10.0.0.66", "10.0.0.10", port, 0), sink);
    scan.OnFlowStart(Flow("10.0.0.67", "10.0.0.10", port, 0), sink);  // another source
  }
  EXPECT_EQ(sink.alerts.size(), 2u);
  for (uint16_t port = 4; port <= 6; ++port) {
    scan.OnFlowStart(Flow("10.0.0.66", "10.0.0.10", port, 12 * kSecond), sink);
  }
  EXPECT_EQ(sink.alerts.size(), 3u);
}

TEST(PortScanTest, DistinctHostsAndUdpAndIpv6Count) {
  PortScanDetector scan({.distinct_ports = 4, .window = std::chrono::seconds(60)});
  Collector sink;
  scan.OnFlowStart(Flow("2001:db8::66", "2001:db8::10", 53, 0, 17), sink);
  scan.OnFlowStart(Flow("2001:db8::66", "2001:db8::11", 53, 0, 17), sink);
  scan.OnFlowStart(Flow("2001:db8::66", "2001:db8::12", 53, 0, 17), sink);
  scan.OnFlowStart(Flow("2001:db8::66", "2001:db8::12", 123, 0, 17), sink);
  ASSERT_EQ(sink.alerts.size(), 1u);
  EXPECT_EQ(sink.alerts[0].src_addr, "2001:db8::66");
  EXPECT_EQ(sink.alerts[0].dst_addr, "2001:db8::12");  // the most probed host
  EXPECT_EQ(sink.alerts[0].protocol, 17);
}

TEST(PortScanTest, IgnoresIcmpAndBoundsTrackedSources) {
  PortScanDetector scan(
      {.distinct_ports = 2, .window = std::chrono::seconds(60), .max_sources = 100});
  Collector sink;
  for (uint16_t i = 0; i < 5; ++i) scan.OnFlowStart(Flow("10.0.0.66", "10.0.0.10", 0, 0, 1), sink);
  EXPECT_TRUE(sink.alerts.empty());
  EXPECT_EQ(scan.tracked_sources(), 0u);
  for (uint32_t i = 0; i < 250; ++i) {
    const std::string src = "10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256);
    scan.OnFlowStart(Flow(src.c_str(), "10.0.0.10", 80, 0), sink);
  }
  EXPECT_EQ(scan.tracked_sources(), 100u);
  EXPECT_EQ(scan.evicted_sources(), 150u);
  scan.OnTick(120 * kSecond);  // every window has emptied
  EXPECT_EQ(scan.tracked_sources(), 0u);
}

}  // namespace
}  // namespace netguard::detect
