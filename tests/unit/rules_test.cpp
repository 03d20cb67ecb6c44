// The built-in rules on synthetic flows and samples: each fires on its pattern and not on the
// benign look-alike, with its technique, severity scaling, aggregation and bounded state.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "detect/rules/engine.h"
#include "detect/rules/rules_file.h"
#include "rules_test_util.h"

namespace netguard::testing {
namespace {

using detect::rules::DefaultRuleSet;
using detect::rules::EngineOptions;
using detect::rules::RulesEngine;
using detect::rules::RuleSet;

constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1;

// The defaults with `name`'s threshold and window changed.
RuleSet With(const std::string& name, uint32_t threshold, int window_s = 60) {
  RuleSet set = DefaultRuleSet();
  for (auto& r : set.rules) {
    if (r.name == name) r.threshold = threshold, r.window = std::chrono::seconds(window_s);
  }
  return set;
}

nlohmann::json Evidence(const Alert& a) { return nlohmann::json::parse(a.evidence_json); }

TEST(RulesTest, PortScanAlertsOnceAtTheThresholdWithItsCounters) {
  RulesEngine engine(With("port_scan", 10));
  Alerts alerts;
  for (uint16_t port = 1; port <= 30; ++port) {
    engine.OnFlowStart(Flow("10.0.0.9", "10.0.0.1", 40000, port, kTcp, kT0 + port * 1000), alerts);
  }
  const auto scans = alerts.Of("port_scan");
  ASSERT_EQ(scans.size(), 1u);  // aggregated: 30 ports, below high (4x), one alert
  const Alert& a = scans[0];
  EXPECT_EQ(a.alert_class, "PortScan");
  EXPECT_EQ(a.mitre_technique, "T1046");
  EXPECT_EQ(a.severity, Severity::kWarning);
  EXPECT_EQ(a.src_addr, "10.0.0.9");
  EXPECT_FALSE(a.source_sampled);  // keyed by its source: the scanner itself
  EXPECT_EQ(a.dst_addr, "10.0.0.1");
  EXPECT_EQ(Evidence(a)["distinct_targets"], 10);
  EXPECT_EQ(Evidence(a)["threshold"], 10);
  EXPECT_EQ(alerts.all.size(), 1u) << "no other rule fires on a SYN scan of one host";
}

TEST(RulesTest, OneAlertPerWindowWithTheSeverityOfTheRateAtThatMoment) {
  RulesEngine engine(With("port_scan", 5, 10));
  Alerts alerts;
  auto probe = [&](uint16_t port, int64_t t) {
    engine.OnFlowStart(Flow("10.0.0.9", "10.0.0.1", 40000, port, kTcp, t), alerts);
  };
  for (uint16_t port = 1; port <= 100; ++port) probe(port, kT0 + port);  // one burst
  ASSERT_EQ(alerts.Of("port_scan").size(), 1u) << "aggregated: one alert in the window";
  EXPECT_EQ(alerts.all[0].severity, Severity::kWarning);  // raised at 5 ports
  // Still scanning fast when the next window starts: 100 ports in 10 s is 20x the threshold.
  for (uint16_t port = 101; port <= 200; ++port) probe(port, kT0 + 5 * kSecond + port);
  probe(201, kT0 + 11 * kSecond);
  const auto scans = alerts.Of("port_scan");
  ASSERT_EQ(scans.size(), 2u);
  EXPECT_EQ(scans[1].severity, Severity::kCritical);  // >= 16x
  EXPECT_GE(Evidence(scans[1])["distinct_targets"], 80);
  // A slower scan two windows later: 30 ports in 10 s (6x) is high.
  for (uint16_t port = 300; port < 330; ++port)
    probe(port, kT0 + 30 * kSecond + port * 300000000ll);
  ASSERT_EQ(alerts.Of("port_scan").size(), 3u);
  EXPECT_EQ(alerts.Of("port_scan").back().severity, Severity::kWarning) << "raised at 5";
  probe(400, kT0 + 132 * kSecond);  // next window: ~23 + 1 ports within the last 10 s
  ASSERT_EQ(alerts.Of("port_scan").size(), 4u);
  EXPECT_EQ(alerts.Of("port_scan").back().severity, Severity::kHigh);
}

TEST(RulesTest, ProbesOutsideTheWindowDoNotCountAndANewWindowAlertsAgain) {
  RulesEngine engine(With("port_scan", 5, 10));
  Alerts alerts;
  // 4 ports every 20 s: never 5 within 10 s.
  for (int round = 0; round < 3; ++round) {
    for (uint16_t p = 1; p <= 4; ++p) {
      engine.OnFlowStart(Flow("10.0.0.9", "10.0.0.1", 1, static_cast<uint16_t>(round * 10 + p),
                              kTcp, kT0 + round * 20 * kSecond + p),
                         alerts);
    }
  }
  EXPECT_TRUE(alerts.all.empty());
  for (int round = 0; round < 2; ++round) {  // two windows apart: two alerts
    for (uint16_t p = 1; p <= 6; ++p) {
      engine.OnFlowStart(Flow("10.0.0.9", "10.0.0.1", 1, static_cast<uint16_t>(100 + p), kTcp,
                              kT0 + (100 + round * 30) * kSecond + p),
                         alerts);
    }
  }
  EXPECT_EQ(alerts.Of("port_scan").size(), 2u);
}

TEST(RulesTest, StealthScansAreNamedByTheirFlags) {
  RulesEngine engine(DefaultRuleSet());
  Alerts alerts;
  const std::pair<std::string, uint8_t> kinds[] = {
      {"fin_scan", NG_TCP_FIN},
      {"xmas_scan", NG_TCP_FIN | NG_TCP_PSH | NG_TCP_URG},
      {"null_scan", 0},
  };
  int host = 1;
  for (const auto& [rule, flags] : kinds) {
    const std::string src = "10.0.1." + std::to_string(host++);
    for (uint16_t port = 1; port <= 12; ++port) {
      engine.OnFlowStart(Flow(src, "10.0.0.1", 40000, port, kTcp, kT0 + port, flags), alerts);
    }
    ASSERT_EQ(alerts.Of(rule).size(), 1u) << rule;
    EXPECT_EQ(alerts.Of(rule)[0].src_addr, src);
  }
  EXPECT_TRUE(alerts.Of("port_scan").empty()) << "no SYN: not the SYN/connect rule";
}

// An ACK scan is single bare ACKs answered by a RST, seen when they end. A busy server's
// connection tails, flows of their own once the FIN that ended a connection's flow has gone by,
// open with a bare ACK too: its ACK and FIN after the client's FIN, or its closing ACK alone,
// unanswered, after its own FIN. Both go to the clients' ephemeral ports; neither is a probe.
TEST(RulesTest, AckScanIsAcksAnsweredByRstNotConnectionTails) {
  RulesEngine engine(DefaultRuleSet());
  Alerts alerts;
  for (uint16_t i = 0; i < 40; ++i) {
    const std::string client = "10.0.2." + std::to_string(i % 4 + 1);
    const auto port = static_cast<uint16_t>(50000 + i);
    FlowRecord tail = Flow("10.0.0.80", client, 80, port, kTcp, kT0 + i, NG_TCP_ACK, 2, 1);
    tail.acc.dir[NG_DIR_FWD].flag_counts[0] = 1;  // its FIN
    FlowRecord last_ack = Flow("10.0.0.80", client, 80, port, kTcp, kT0 + i, NG_TCP_ACK, 1, 0);
    for (const FlowRecord* f : {&tail, &last_ack}) {
      engine.OnFlowStart(*f, alerts);
      engine.OnFlowEnd(*f, alerts);
    }
  }
  EXPECT_TRUE(alerts.Of("ack_scan").empty());
  for (uint16_t port = 1; port <= 30; ++port) {
    FlowRecord probe =
        Flow("10.0.1.9", "10.0.0.1", 40000, port, kTcp, kT0 + kSecond + port, NG_TCP_ACK, 1, 1);
    probe.acc.dir[NG_DIR_BWD].flag_counts[2] = 1;  // the RST
    engine.OnFlowStart(probe, alerts);
    engine.OnFlowEnd(probe, alerts);
  }
  const auto acks = alerts.Of("ack_scan");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].src_addr, "10.0.1.9");
  EXPECT_EQ(acks[0].mitre_technique, "T1046");
}

TEST(RulesTest, UdpScanPingSweepAndHostSweep) {
  RulesEngine engine(DefaultRuleSet());
  Alerts alerts;
  for (uint16_t port = 1; port <= 30; ++port) {
    engine.OnFlowStart(Flow("10.0.0.5", "10.0.0.1", 40000, port, kUdp, kT0 + port), alerts);
  }
  for (int h = 1; h <= 12; ++h) {
    engine.OnFlowStart(Flow("10.0.0.6", "10.0.2." + std::to_string(h), 0, 0, kIcmp, kT0 + h, 0),
                       alerts);
  }
  for (int h = 1; h <= 25; ++h) {
    engine.OnFlowStart(Flow("10.0.0.7", "10.0.3." + std::to_string(h), 40000, 445, kTcp, kT0 + h),
                       alerts);
  }
  ASSERT_EQ(alerts.Of("udp_scan").size(), 1u);
  EXPECT_EQ(alerts.Of("udp_scan")[0].src_addr, "10.0.0.5");
  ASSERT_EQ(alerts.Of("ping_sweep").size(), 1u);
  EXPECT_EQ(alerts.Of("ping_sweep")[0].src_addr, "10.0.0.6");
  ASSERT_EQ(alerts.Of("host_sweep").size(), 1u);
  EXPECT_EQ(alerts.Of("host_sweep")[0].dst_port, 445);
  EXPECT_EQ(Evidence(alerts.Of("ping_sweep")[0])["hosts_sample"].size(), 10u);
}

TEST(RulesTest, DistributedScanCountsSourcesPerTarget) {
  RulesEngine engine(DefaultRuleSet());
  Alerts alerts;
  for (int s = 1; s <= 25; ++s) {  // 25 sources, 2 probes each, no payload
    for (uint16_t p = 1; p <= 2; ++p) {
      engine.OnFlowEnd(Flow("10.9.0." + std::to_string(s), "10.0.0.1", 40000,
                            static_cast<uint16_t>(s * 2 + p), kTcp, kT0 + s, NG_TCP_SYN, 1, 1),
                       alerts);
    }
  }
  // Many clients with data to the same server: benign; so are their connections' tails, which
  // are flows of their own when the server's FIN ended the first (the client's ACK and FIN).
  for (int s = 1; s <= 25; ++s) {
    engine.OnFlowEnd(Flow("10.8.0." + std::to_string(s), "10.0.0.2", 40000, 443, kTcp, kT0 + s,
                          NG_TCP_SYN, 6, 6, 500),
                     alerts);
    engine.OnFlowEnd(Flow("10.8.0." + std::to_string(s), "10.0.0.2", 40000, 443, kTcp, kT0 + s,
                          NG_TCP_ACK, 2, 0),
                     alerts);
  }
  ASSERT_EQ(alerts.Of("distributed_scan").size(), 1u);
  EXPECT_EQ(alerts.Of("distributed_scan")[0].dst_addr, "10.0.0.1");
}

TEST(RulesTest, SynFloodPerDestinationNotPerSource) {
  RulesEngine engine(With("syn_flood", 100, 10));
  Alerts alerts;
  for (int i = 0; i < 2000; ++i) {  // random sources, one victim port
    const std::string src = "172.16." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    engine.OnFlowStart(Flow(src, "10.0.0.1", static_cast<uint16_t>(1024 + i), 80, kTcp,
                            kT0 + int64_t{i} * 1000000),
                       alerts);
  }
  // The flood goes on into the next window: alerted again, at the rate of the window.
  for (int i = 2000; i < 4000; ++i) {
    engine.OnFlowStart(Flow("172.17.0.1", "10.0.0.1", static_cast<uint16_t>(i), 80, kTcp,
                            kT0 + int64_t{i} * 5000000),
                       alerts);
  }
  const auto floods = alerts.Of("syn_flood");
  ASSERT_EQ(floods.size(), 2u);
  EXPECT_EQ(floods[0].severity, Severity::kWarning);  // raised when the window held 100
  EXPECT_EQ(floods[0].alert_class, "DoS-Flood");
  EXPECT_EQ(floods[0].mitre_technique, "T1498");
  EXPECT_EQ(floods[0].dst_addr, "10.0.0.1");
  EXPECT_TRUE(floods[0].source_sampled);  // keyed by the victim: the source is a sample
  EXPECT_NE(floods[0].evidence_json.find("\"source\":\"sampled\""), std::string::npos);
  EXPECT_GE(floods.back().severity, Severity::kHigh);  // >= 4x the threshold
  EXPECT_TRUE(alerts.Of("port_scan").empty());
}

TEST(RulesTest, UdpAndIcmpFloodsWeighOneInKSamples) {
  EngineOptions options;
  options.sample_every_k = 64;
  RulesEngine engine(With("udp_flood", 10000, 10), options);
  Alerts alerts;
  // 8 first packets, then 1-in-64 samples: 8 + 200 * 64 = 12808 packets in 2 s.
  for (int i = 0; i < 208; ++i) {
    engine.OnPacketSample(
        Packet("10.0.0.9", "10.0.0.1", 5000, 9999, kUdp, kT0 + int64_t{i} * 10000000, 1000,
               i < 8 ? NG_SAMPLE_FIRST_N : NG_SAMPLE_ONE_IN_K),
        alerts);
  }
  ASSERT_EQ(alerts.Of("udp_flood").size(), 1u);
  EXPECT_GE(Evidence(alerts.Of("udp_flood")[0])["packets"], 10000);
  // The same count of first packets only (no 1-in-K): 208 packets, no flood.
  RulesEngine quiet(With("udp_flood", 10000, 10), options);
  Alerts none;
  for (int i = 0; i < 208; ++i) {
    quiet.OnPacketSample(Packet("10.0.0.9", "10.0.0.1", static_cast<uint16_t>(5000 + i), 9999, kUdp,
                                kT0 + int64_t{i} * 10000000, 1000),
                         none);
  }
  EXPECT_TRUE(none.Of("udp_flood").empty());
}

// An echo flood that the victim answers: each direction's 1-in-K samples stand for its own
// packets, the requests count against the victim, the replies against nobody.
TEST(RulesTest, AnAnsweredIcmpFloodIsCountedAgainstTheVictimOnly) {
  EngineOptions options;
  options.sample_every_k = 64;
  RulesEngine engine(With("icmp_flood", 5000, 10), options);
  Alerts alerts;
  for (int i = 0; i < 2 * 100; ++i) {  // 100 samples each way: 6400 requests and replies
    const bool request = i % 2 == 0;
    PacketSample s = Packet(request ? "10.0.0.9" : "10.0.0.1", request ? "10.0.0.1" : "10.0.0.9", 0,
                            0, kIcmp, kT0 + int64_t{i} * 1000000, 98, NG_SAMPLE_ONE_IN_K);
    if (!request) s.icmp_type = 0;
    engine.OnPacketSample(s, alerts);
  }
  const auto floods = alerts.Of("icmp_flood");
  ASSERT_EQ(floods.size(), 1u);
  EXPECT_EQ(floods[0].src_addr, "10.0.0.9");
  EXPECT_EQ(floods[0].dst_addr, "10.0.0.1");
  EXPECT_EQ(floods[0].mitre_technique, "T1498");
  EXPECT_GE(Evidence(floods[0])["packets"], 5000);
}

TEST(RulesTest, ReflectionIsResponsesNobodyAskedFor) {
  RulesEngine engine(With("reflection_amplification", 50, 10));
  Alerts alerts;
  for (int i = 0; i < 60; ++i) {  // DNS "responses" starting flows towards the victim
    engine.OnFlowStart(Flow("198.51.100." + std::to_string(i), "10.0.0.1", 53,
                            static_cast<uint16_t>(30000 + i), kUdp, kT0 + i),
                       alerts);
  }
  for (int i = 0; i < 60; ++i) {  // the victim's own queries: benign
    engine.OnFlowStart(
        Flow("10.0.0.2", "198.51.100.1", static_cast<uint16_t>(30000 + i), 53, kUdp, kT0 + i),
        alerts);
  }
  ASSERT_EQ(alerts.Of("reflection_amplification").size(), 1u);
  EXPECT_EQ(alerts.Of("reflection_amplification")[0].dst_addr, "10.0.0.1");
}

TEST(RulesTest, BruteForceAndSprayingOnAuthenticationPorts) {
  RulesEngine engine(DefaultRuleSet());
  Alerts alerts;
  for (int i = 0; i < 32; ++i) {  // short SSH sessions, one server
    engine.OnFlowEnd(Flow("10.0.0.9", "10.0.0.1", static_cast<uint16_t>(40000 + i), 22, kTcp,
                          kT0 + i * kSecond, NG_TCP_SYN, 12, 10, 900, 2 * kSecond),
                     alerts);
  }
  for (int i = 0; i < 29; ++i) {  // a script's FTP logins, one per file: below the threshold
    engine.OnFlowEnd(Flow("10.0.0.6", "10.0.0.1", static_cast<uint16_t>(40000 + i), 21, kTcp,
                          kT0 + i * kSecond, NG_TCP_SYN, 12, 14, 300, kSecond / 10),
                     alerts);
  }
  for (int h = 1; h <= 12; ++h) {  // one login per host
    engine.OnFlowEnd(Flow("10.0.0.8", "10.0.4." + std::to_string(h), 40000, 3389, kTcp,
                          kT0 + h * kSecond, NG_TCP_SYN, 12, 10, 900, kSecond),
                     alerts);
  }
  for (int i = 0; i < 30; ++i) {  // many HTTP connections: not authentication
    engine.OnFlowEnd(Flow("10.0.0.7", "10.0.0.1", static_cast<uint16_t>(40000 + i), 80, kTcp,
                          kT0 + i * kSecond, NG_TCP_SYN, 5, 5, 300, kSecond),
                     alerts);
  }
  ASSERT_EQ(alerts.Of("brute_force").size(), 1u);
  EXPECT_EQ(alerts.Of("brute_force")[0].mitre_technique, "T1110");
  EXPECT_EQ(alerts.Of("brute_force")[0].dst_port, 22);
  ASSERT_EQ(alerts.Of("credential_spraying").size(), 1u);
  EXPECT_EQ(alerts.Of("credential_spraying")[0].mitre_technique, "T1110.003");
  EXPECT_EQ(alerts.Of("credential_spraying")[0].src_addr, "10.0.0.8");
}

TEST(RulesTest, DnsTunnelFromLongRandomLabelsNotFromOrdinaryLookups) {
  RulesEngine engine(DefaultRuleSet());
  Alerts alerts;
  const std::string kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  uint64_t seed = 42;
  for (int i = 0; i < 25; ++i) {
    std::string label;
    for (int c = 0; c < 40; ++c) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      label += kAlphabet[(seed >> 33) % kAlphabet.size()];
    }
    engine.OnPacketSample(
        DnsQuery("10.0.0.9", "10.0.0.53", label + ".t.evil.example", 16, kT0 + i * kSecond),
        alerts);
  }
  for (int i = 0; i < 25; ++i) {
    engine.OnPacketSample(
        DnsQuery("10.0.0.8", "10.0.0.53", "host" + std::to_string(i) + ".corp.example", 1,
                 kT0 + i * kSecond),
        alerts);
  }
  const auto tunnels = alerts.Of("dns_tunnel");
  ASSERT_EQ(tunnels.size(), 1u);
  EXPECT_EQ(tunnels[0].alert_class, "DNSTunnel");
  EXPECT_EQ(tunnels[0].mitre_technique, "T1071.004");
  EXPECT_EQ(tunnels[0].src_addr, "10.0.0.9");
  EXPECT_EQ(Evidence(tunnels[0])["domain"], "evil.example");
  EXPECT_TRUE(alerts.Of("dga").empty());
}

TEST(RulesTest, ArpSpoofWhenAnAddressChangesMacAndGratuitousStorms) {
  RulesEngine engine(DefaultRuleSet());
  Alerts alerts;
  engine.OnPacketSample(Arp("10.0.0.1", "10.0.0.2", 1, 2, kT0), alerts);
  engine.OnPacketSample(Arp("10.0.0.1", "10.0.0.2", 1, 2, kT0 + kSecond), alerts);
  EXPECT_TRUE(alerts.all.empty()) << "the same MAC again is benign";
  engine.OnPacketSample(Arp("10.0.0.1", "10.0.0.2", 66, 2, kT0 + 2 * kSecond), alerts);
  const auto spoofs = alerts.Of("arp_spoof");
  ASSERT_EQ(spoofs.size(), 1u);
  EXPECT_EQ(spoofs[0].mitre_technique, "T1557.002");
  EXPECT_EQ(spoofs[0].src_addr, "10.0.0.1");
  EXPECT_EQ(Evidence(spoofs[0])["old_mac"], "02:00:00:00:00:01");
  EXPECT_EQ(Evidence(spoofs[0])["new_mac"], "02:00:00:00:00:42");
  for (int i = 0; i < 25; ++i) {
    engine.OnPacketSample(Arp("10.0.0.7", "10.0.0.7", 7, 1, kT0 + int64_t{i} * 100000000), alerts);
  }
  EXPECT_EQ(alerts.Of("garp_storm").size(), 1u);
}

TEST(RulesTest, BeaconingNeedsRegularIntervals) {
  RulesEngine engine(DefaultRuleSet());
  Alerts alerts;
  for (int i = 0; i < 10; ++i) {  // every 30 s +- 1 s
    const int64_t jitter = (i % 2 ? 1 : -1) * kSecond;
    engine.OnFlowStart(Flow("10.0.0.9", "203.0.113.5", static_cast<uint16_t>(40000 + i), 443, kTcp,
                            kT0 + i * 30 * kSecond + jitter),
                       alerts);
  }
  int64_t t = kT0;
  const int kGaps[] = {3, 41, 7, 29, 2, 55, 13, 4, 33, 9};
  for (int i = 0; i < 10; ++i) {  // a person browsing: irregular
    t += kGaps[i] * kSecond;
    engine.OnFlowStart(
        Flow("10.0.0.8", "203.0.113.6", static_cast<uint16_t>(40000 + i), 443, kTcp, t), alerts);
  }
  const auto beacons = alerts.Of("beaconing");
  ASSERT_EQ(beacons.size(), 1u);
  EXPECT_EQ(beacons[0].src_addr, "10.0.0.9");
  EXPECT_EQ(beacons[0].mitre_technique, "T1071");
  EXPECT_NEAR(Evidence(beacons[0])["mean_interval_s"].get<double>(), 30, 1);
}

TEST(RulesTest, SlowHttpIsManyLongNearlySilentWebConnections) {
  RulesEngine engine(DefaultRuleSet());
  Alerts alerts;
  for (int i = 0; i < 25; ++i) {  // 100 s each, 20 bytes every 10 s: 2 B/s
    engine.OnFlowEnd(Flow("10.0.0.9", "10.0.0.80", static_cast<uint16_t>(40000 + i), 80, kTcp,
                          kT0 + i * kSecond, NG_TCP_SYN, 12, 3, 200, 100 * kSecond),
                     alerts);
  }
  for (int i = 0; i < 25; ++i) {  // long downloads: the client sent its request only, fast
    engine.OnFlowEnd(Flow("10.0.0.8", "10.0.0.81", static_cast<uint16_t>(40000 + i), 80, kTcp,
                          kT0 + i * kSecond, NG_TCP_SYN, 400, 900, 400000, 60 * kSecond),
                     alerts);
  }
  const auto slow = alerts.Of("slow_http");
  ASSERT_EQ(slow.size(), 1u);
  EXPECT_EQ(slow[0].alert_class, "DoS-SlowHTTP");
  EXPECT_EQ(slow[0].mitre_technique, "T1499");
  EXPECT_EQ(slow[0].dst_addr, "10.0.0.80");
}

TEST(RulesTest, SlowHttpAlertsWhileTheSlowConnectionsAreStillOpen) {
  RulesEngine engine(DefaultRuleSet());
  Alerts alerts;
  std::vector<FlowRecord> open;
  for (int i = 0; i < 25; ++i) {  // slowloris: a connection a second, 300 bytes sent so far
    open.push_back(Flow("10.0.0.9", "10.0.0.80", static_cast<uint16_t>(40000 + i), 80, kTcp,
                        kT0 + i * kSecond, NG_TCP_SYN, 12, 3, 300));
  }
  for (int i = 0; i < 10; ++i) {  // too few slow connections to another server
    open.push_back(Flow("10.0.0.7", "10.0.0.81", static_cast<uint16_t>(40000 + i), 80, kTcp, kT0,
                        NG_TCP_SYN, 12, 3, 300));
  }
  // An upload holding a connection as long, fast: 1 MB so far.
  open.push_back(
      Flow("10.0.0.8", "10.0.0.80", 50000, 80, kTcp, kT0, NG_TCP_SYN, 800, 400, 1 << 20));
  int64_t first_alert_ns = 0;
  for (int s = 1; s <= 90; ++s) {  // a sweep every second, the flows still open
    const int64_t now = kT0 + s * kSecond;
    for (const FlowRecord& f : open) {
      if (f.start_ns < now) engine.OnFlowOpen(f, now, alerts);
    }
    if (first_alert_ns == 0 && !alerts.all.empty()) first_alert_ns = now;
  }
  const auto slow = alerts.Of("slow_http");
  ASSERT_EQ(slow.size(), 1u) << "aggregated; sightings of the same connections are not counted";
  EXPECT_EQ(alerts.all.size(), 1u);
  // Connection 19 (opened at 19 s) is the 20th to have lasted 30 s, at the sweep of 49 s.
  EXPECT_EQ(first_alert_ns, kT0 + 49 * kSecond);
  EXPECT_EQ(slow[0].dst_addr, "10.0.0.80");
  EXPECT_EQ(slow[0].dst_port, 80);
  EXPECT_EQ(slow[0].src_addr, "10.0.0.9");
  EXPECT_EQ(Evidence(slow[0])["distinct_connections"], 20);
  EXPECT_EQ(slow[0].mitre_technique, "T1499");
}

// `packets` UDP samples spread over the second from `t`; moves `t` a second on.
void UdpSecond(RulesEngine& engine, Alerts& alerts, int64_t& t, int packets) {
  for (int i = 0; i < packets; ++i) {
    engine.OnPacketSample(
        Packet("10.0.0.9", "10.0.0.1", 5000, 6000, kUdp, t + i * (kSecond / packets), 500), alerts);
  }
  t += kSecond;
}

TEST(RulesTest, TrafficAnomalyAgainstTheLearnedBaseline) {
  RuleSet set = DefaultRuleSet();
  for (auto& r : set.rules) {
    if (r.name == "traffic_anomaly") {
      r.threshold = 100, r.window = std::chrono::seconds(1), r.params["warmup_buckets"] = 10;
    }
  }
  RulesEngine engine(set);
  Alerts alerts;
  int64_t t = kT0;
  const auto second = [&](int packets) { UdpSecond(engine, alerts, t, packets); };
  for (int s = 0; s < 20; ++s) second(200 + (s % 3) * 10);  // a steady 200-220 packets/s
  EXPECT_TRUE(alerts.Of("traffic_anomaly").empty());
  second(4000);  // 20x the baseline
  second(200);   // closes the burst's bucket
  const auto anomalies = alerts.Of("traffic_anomaly");
  ASSERT_EQ(anomalies.size(), 1u);
  EXPECT_EQ(anomalies[0].alert_class, "Anomaly");
  EXPECT_EQ(anomalies[0].severity, Severity::kCritical);
  EXPECT_EQ(Evidence(anomalies[0])["protocol"], "UDP");
  EXPECT_NEAR(Evidence(anomalies[0])["baseline_packets"].get<double>(), 210, 15);
}

// A short burst stays out of the baseline (the next burst alerts as the first did); a lasting
// rise alerts at its onset and for learn_after_buckets buckets in all, then is the new level: no
// more alerts at that level, while a rise above it alerts against it.
TEST(RulesTest, TrafficAnomalyLearnsALastingLevelShiftButNotABurst) {
  RuleSet set = DefaultRuleSet();
  for (auto& r : set.rules) {
    if (r.name == "traffic_anomaly") {
      r.threshold = 100, r.window = std::chrono::seconds(1), r.params["warmup_buckets"] = 10;
      r.params["learn_after_buckets"] = 4;
    }
  }
  RulesEngine engine(set);
  Alerts alerts;
  int64_t t = kT0;
  const auto second = [&](int packets) { UdpSecond(engine, alerts, t, packets); };
  auto anomalies = [&] { return alerts.Of("traffic_anomaly"); };
  for (int s = 0; s < 20; ++s) second(200 + (s % 3) * 10);
  for (int burst = 0; burst < 2; ++burst) {  // two 3-bucket bursts: fewer than 4 in a row
    for (int s = 0; s < 3; ++s) second(2000);
    for (int s = 0; s < 3; ++s) second(200 + s * 10);
  }
  ASSERT_EQ(anomalies().size(), 6u) << "every bucket of both bursts";
  EXPECT_NEAR(Evidence(anomalies()[5])["baseline_packets"].get<double>(), 210, 15);

  const int64_t onset = t;
  for (int s = 0; s < 10; ++s) second(4000 + (s % 3) * 10);  // a lasting rise
  ASSERT_EQ(anomalies().size(), 10u) << "the onset and the next 3 buckets, then learned";
  EXPECT_EQ(Evidence(anomalies()[6])["bucket_start_ns"].get<int64_t>(), onset);
  second(40000);  // 10x the new level
  second(4000);   // closes it
  ASSERT_EQ(anomalies().size(), 11u);
  EXPECT_NEAR(Evidence(anomalies()[10])["baseline_packets"].get<double>(), 4010, 20);
}

TEST(RulesTest, ARandomSourceFloodStaysInTheAdmissionFilter) {
  EngineOptions options;
  options.max_keys_per_rule = 1000;
  RulesEngine engine(DefaultRuleSet(), options);
  Alerts alerts;
  for (uint32_t i = 0; i < 100000; ++i) {
    const std::string src = "10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) +
                            "." + std::to_string(i & 255);
    engine.OnFlowStart(Flow(src, "10.200.0.1", 1234, 80, kTcp, kT0 + int64_t{i} * 1000), alerts);
  }
  // Only the victim (syn_flood, per destination) has a window; sources seen once have none.
  EXPECT_LE(engine.tracked_keys(), 10u);
  EXPECT_EQ(engine.evictions(), 0u);
  // Sources seen twice get windows, bounded per rule, the overflow counted.
  for (int round = 0; round < 2; ++round) {
    for (uint32_t i = 0; i < 3000; ++i) {
      engine.OnFlowStart(
          Flow("10.50." + std::to_string(i >> 8) + "." + std::to_string(i & 255), "10.200.0.2",
               static_cast<uint16_t>(1000 + round), 22, kTcp, kT0 + kSecond + i),
          alerts);
    }
  }
  // port_scan, host_sweep and beaconing each hold at most 1000 of the 3000 sources.
  EXPECT_LE(engine.tracked_keys(), 3u * 1000 + 10);
  // (a few first sightings were overwritten in the filter by the flood above: not all 6000)
  EXPECT_GE(engine.evictions(), 5000u);
}

TEST(RulesTest, DisabledRulesAreSilentAndStateExpires) {
  RulesEngine engine(With("port_scan", 5, 10));
  ASSERT_TRUE(engine.SetEnabled("port_scan", false));
  EXPECT_FALSE(engine.SetEnabled("no_such_rule", false));
  Alerts alerts;
  for (uint16_t p = 1; p <= 10; ++p) {
    engine.OnFlowStart(Flow("10.0.0.9", "10.0.0.1", 1, p, kTcp, kT0 + p), alerts);
  }
  EXPECT_TRUE(alerts.all.empty());
  ASSERT_TRUE(engine.SetEnabled("port_scan", true));
  for (uint16_t p = 1; p <= 10; ++p) {
    engine.OnFlowStart(Flow("10.0.0.9", "10.0.0.1", 1, p, kTcp, kT0 + p), alerts);
  }
  EXPECT_EQ(alerts.Of("port_scan").size(), 1u);
  auto port_scan_keys = [&] {
    for (const auto& r : engine.Rules()) {
      if (r.spec.name == "port_scan") return r.keys;
    }
    return size_t{0};
  };
  EXPECT_EQ(port_scan_keys(), 1u);
  engine.OnTick(kT0 + 100 * kSecond);  // the 10 s window has long emptied
  EXPECT_EQ(port_scan_keys(), 0u);
}

}  // namespace
}  // namespace netguard::testing
