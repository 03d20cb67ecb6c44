// volumetric_ddos against its per-destination baseline: a busy server's usual crowd of clients
// is not a flood once learned, a surge over it is; a fresh baseline leaves the fixed thresholds
// to decide; the baselines live in the destinations' windows, bounded by the rule's LRU.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "detect/rules/engine.h"
#include "detect/rules/rules_file.h"
#include "rules_test_util.h"

namespace netguard::testing {
namespace {

using detect::rules::DefaultRuleSet;
using detect::rules::EngineOptions;
using detect::rules::LoadRulesText;
using detect::rules::RulesEngine;
using detect::rules::RulesError;
using detect::rules::RuleSet;

constexpr uint8_t kTcp = 6, kUdp = 17;
constexpr int64_t kWindow = 10 * kSecond;

// The defaults with volumetric_ddos' min_bytes at 200 kB (300 sources of one 1500-byte sample
// each meet it) and the baseline settings given.
RuleSet Volumetric(double warmup, double learn_after = 30) {
  RuleSet set = DefaultRuleSet();
  for (auto& r : set.rules) {
    if (r.name != "volumetric_ddos") continue;
    r.params["min_bytes"] = 200e3;
    r.params["warmup_windows"] = warmup;
    r.params["learn_after_windows"] = learn_after;
  }
  return set;
}

std::string Address(uint32_t i) {
  return "10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." +
         std::to_string(i & 255);
}

// One 10 s window of `sources` clients (the same ones from window to window), one 1500-byte
// sample each, spread over the window, to 10.200.0.1.
struct Server {
  RulesEngine engine;
  Alerts alerts;
  int64_t t = kT0;
  explicit Server(RuleSet set) : engine(std::move(set)) {}
  void Window(uint32_t sources) {
    for (uint32_t i = 0; i < sources; ++i) {
      engine.OnPacketSample(Packet(Address(0x010000 + i), "10.200.0.1", 40000, 443, kUdp,
                                   t + static_cast<int64_t>(i) * (kWindow / sources), 1500),
                            alerts);
    }
    t += kWindow;
  }
  std::vector<Alert> Ddos() const { return alerts.Of("volumetric_ddos"); }
};

nlohmann::json Evidence(const Alert& a) { return nlohmann::json::parse(a.evidence_json); }

TEST(RulesDdosTest, ABusyServerIsNotAFloodOnceLearnedButASurgeOverItIs) {
  Server server(Volumetric(/*warmup=*/10));
  for (int w = 0; w < 12; ++w) server.Window(290 + (w % 3) * 10);  // a steady ~300 clients
  const size_t during_warmup = server.Ddos().size();
  EXPECT_GE(during_warmup, 1u) << "before warmup the fixed thresholds alone decide";
  for (int w = 0; w < 5; ++w) server.Window(300);
  EXPECT_EQ(server.Ddos().size(), during_warmup) << "its usual ~300 clients, learned";

  server.Window(3000);  // a surge of sources
  const auto ddos = server.Ddos();
  ASSERT_EQ(ddos.size(), during_warmup + 1);
  const Alert& a = ddos.back();
  EXPECT_EQ(a.mitre_technique, "T1498");
  EXPECT_EQ(a.alert_class, "DoS-Flood");
  EXPECT_EQ(a.dst_addr, "10.200.0.1");
  const auto ev = Evidence(a);
  EXPECT_EQ(ev["baseline"], "sources");
  EXPECT_GE(ev["baseline_windows"].get<int>(), 10);
  EXPECT_NEAR(ev["baseline_sources"].get<double>(), 300, 15);
  EXPECT_LT(ev["baseline_sources_std"].get<double>(), 20);
  EXPECT_GT(ev["baseline_bytes"].get<double>(), 0);
  EXPECT_TRUE(ev.contains("baseline_bytes_std"));
  EXPECT_GE(ev["distinct_sources"].get<double>(), 2 * 300);

  // Back to normal. The rolling window still holds the surge's sources early in the next
  // window (that window's alert), then not: the surge did not enter the baseline.
  server.Window(300);
  server.Window(300);
  const size_t after_surge = server.Ddos().size();
  EXPECT_LE(after_surge, during_warmup + 2);
  for (int w = 0; w < 3; ++w) server.Window(300);
  EXPECT_EQ(server.Ddos().size(), after_surge);
  server.Window(3000);
  ASSERT_EQ(server.Ddos().size(), after_surge + 1);
  EXPECT_NEAR(Evidence(server.Ddos().back())["baseline_sources"].get<double>(), 300, 15);
}

TEST(RulesDdosTest, AFreshAgentAlertsOnABigFloodOnTheFixedThresholds) {
  Server server(DefaultRuleSet());
  // 3000 sources of 40 kB each (a 1-in-K sample stands for K packets): over 100 MB.
  for (uint32_t i = 0; i < 3000; ++i) {
    server.engine.OnPacketSample(Packet(Address(0x020000 + i), "10.200.0.1", 40000, 443, kUdp,
                                        kT0 + i * 1000, 1500, NG_SAMPLE_ONE_IN_K),
                                 server.alerts);
  }
  const auto ddos = server.Ddos();
  ASSERT_EQ(ddos.size(), 1u);
  EXPECT_EQ(ddos[0].mitre_technique, "T1498");
  const auto ev = Evidence(ddos[0]);
  EXPECT_EQ(ev["baseline"], "warmup");
  EXPECT_EQ(ev["baseline_windows"], 0);
}

// 1000 usual clients leave no room under the distinct cap (1601) for a 2x surge of sources: the
// bytes judge instead.
TEST(RulesDdosTest, NearTheDistinctCapTheBytesJudge) {
  Server server(Volumetric(/*warmup=*/10));
  for (int w = 0; w < 12; ++w) server.Window(1000);
  const size_t before = server.Ddos().size();
  for (int w = 0; w < 3; ++w) server.Window(1000);
  EXPECT_EQ(server.Ddos().size(), before);
  server.Window(3000);
  ASSERT_EQ(server.Ddos().size(), before + 1);
  const auto ev = Evidence(server.Ddos().back());
  EXPECT_EQ(ev["baseline"], "bytes");
  EXPECT_NEAR(ev["baseline_bytes"].get<double>(), 1000 * 1500.0, 1000 * 150.0);
}

// A rise that lasts learn_after_windows windows is the new level; a surge above it alerts.
TEST(RulesDdosTest, ALastingRiseBecomesTheBaseline) {
  Server server(Volumetric(/*warmup=*/5, /*learn_after=*/3));
  for (int w = 0; w < 6; ++w) server.Window(300);
  const size_t before = server.Ddos().size();
  for (int w = 0; w < 6; ++w) server.Window(800 + (w % 2) * 10);
  EXPECT_EQ(server.Ddos().size(), before + 3) << "alerts for 3 windows, then learned";
  server.Window(3000);
  ASSERT_EQ(server.Ddos().size(), before + 4);
  EXPECT_NEAR(Evidence(server.Ddos().back())["baseline_sources"].get<double>(), 805, 30);
}

TEST(RulesDdosTest, BaselinesAreBoundedWithTheDestinationWindows) {
  RulesEngine engine(DefaultRuleSet());
  Alerts alerts;
  auto volumetric = [&] {
    for (const auto& r : engine.Rules()) {
      if (r.spec.name == "volumetric_ddos") return r;
    }
    return detect::rules::RuleStatus{};
  };
  // A random-source flood to one destination: one window, one baseline.
  for (uint32_t i = 0; i < 100000; ++i) {
    engine.OnPacketSample(
        Packet(Address(0x030000 + i), "10.200.0.1", 40000, 443, kUdp, kT0 + i * 1000, 100), alerts);
  }
  EXPECT_EQ(volumetric().keys, 1u);
  // 10^5 destinations, two samples each: at most max_keys_per_rule windows, the rest evicted.
  const size_t max_keys = EngineOptions{}.max_keys_per_rule;
  for (uint32_t i = 0; i < 100000; ++i) {
    for (int k = 0; k < 2; ++k) {
      engine.OnPacketSample(Packet("10.9.9.9", Address(0x400000 + i), 40000, 443, kUdp,
                                   kT0 + kSecond + i * 1000 + k, 100),
                            alerts);
    }
  }
  EXPECT_EQ(volumetric().keys, max_keys);
  EXPECT_GE(volumetric().evictions, 100000u - max_keys);
}

TEST(RulesDdosTest, BaselineSettingsAreValidated) {
  auto error = [](const std::string& yaml) -> std::string {
    try {
      detect::rules::LoadRulesText(yaml, "rules.yaml");
    } catch (const detect::rules::RulesError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error("rules:\n  volumetric_ddos:\n    alpha: 0\n")
                .find("rules.yaml:3: rule volumetric_ddos: alpha: must be between"),
            std::string::npos);
  EXPECT_NE(error("rules:\n  volumetric_ddos: {warmup_windows: 2.5}\n")
                .find("rule volumetric_ddos: warmup_windows: expected a whole number"),
            std::string::npos);
  EXPECT_NE(error("rules:\n  volumetric_ddos:\n    min_ratio: 0.5\n").find("rules.yaml:3"),
            std::string::npos);
  EXPECT_NE(error("rules:\n  volumetric_ddos: {sigma: x}\n").find("sigma: expected a number"),
            std::string::npos);
  EXPECT_EQ(error("rules:\n  volumetric_ddos: {sigma: 3, warmup_windows: 0}\n"), "");
}

// The flood rules key by victim; their alert names the sender of the triggering packet. That
// sender is "dominant" (reputation and auto-block may act on it) only when it leads the
// window's weighted majority vote by dominant_share (0.9) of the window: a single-source flood.
// Spoofed sources, or a sender of half the flood, stay "sampled".
TEST(RulesDdosTest, AFloodFromOneSenderNamesItSpoofedOrSharedFloodsStaySampled) {
  RulesEngine engine(LoadRulesText("rules:\n  syn_flood: {threshold: 100}\n", "rules.yaml"));
  Alerts alerts;
  auto syn = [&](const std::string& src, const std::string& dst, int i) {
    engine.OnFlowStart(
        Flow(src, dst, static_cast<uint16_t>(1024 + i), 80, kTcp, kT0 + int64_t{i} * 1000000),
        alerts);
  };
  for (int i = 0; i < 150; ++i) {  // 10.0.0.1: one sender, 1 SYN in 30 from elsewhere
    syn(i % 30 == 7 ? Address(0x020000 + i) : "10.9.9.9", "10.0.0.1", i);
  }
  for (int i = 0; i < 150; ++i) syn(Address(0x030000 + i), "10.0.0.2", i);  // spoofed
  for (int i = 0; i < 150; ++i) {  // 10.0.0.3: half from 10.9.9.8
    syn(i % 2 ? "10.9.9.8" : Address(0x040000 + i), "10.0.0.3", i);
  }
  const auto floods = alerts.Of("syn_flood");
  ASSERT_EQ(floods.size(), 3u);
  EXPECT_EQ(floods[0].dst_addr, "10.0.0.1");
  EXPECT_EQ(floods[0].src_addr, "10.9.9.9");
  EXPECT_FALSE(floods[0].source_sampled);
  EXPECT_EQ(Evidence(floods[0])["source"], "dominant");
  EXPECT_GE(Evidence(floods[0])["source_share_min"].get<double>(), 0.9);
  for (size_t i : {1u, 2u}) {
    EXPECT_TRUE(floods[i].source_sampled) << floods[i].dst_addr;
    EXPECT_EQ(Evidence(floods[i])["source"], "sampled") << floods[i].dst_addr;
    EXPECT_FALSE(Evidence(floods[i]).contains("source_share_min"));
  }

  // dominant_share 0: never named; out of [0, 1]: refused.
  RulesEngine off(
      LoadRulesText("rules:\n  udp_flood: {threshold: 100, dominant_share: 0}\n", "rules.yaml"));
  Alerts quiet;
  for (int i = 0; i < 150; ++i) {
    off.OnPacketSample(Packet("10.9.9.9", "10.0.0.1", 5000, 9999, kUdp, kT0 + i * 1000000, 100),
                       quiet);
  }
  ASSERT_EQ(quiet.Of("udp_flood").size(), 1u);
  EXPECT_TRUE(quiet.Of("udp_flood")[0].source_sampled);
  EXPECT_THROW(LoadRulesText("rules:\n  icmp_flood: {dominant_share: 1.5}\n", "rules.yaml"),
               RulesError);
}

}  // namespace
}  // namespace netguard::testing
