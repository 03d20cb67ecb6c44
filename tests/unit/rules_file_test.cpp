// The rules file: built-in overrides, custom rules with compound conditions, errors that name
// the rule and the line, and a reload that keeps the running set and its windows.
#include "detect/rules/rules_file.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "detect/rules/dns.h"
#include "detect/rules/engine.h"
#include "rules_test_util.h"

namespace netguard::testing {
namespace {

using detect::rules::LoadRulesText;
using detect::rules::RulesEngine;
using detect::rules::RulesError;

constexpr uint8_t kTcp = 6, kUdp = 17;

// The error LoadRulesText throws for `yaml`.
RulesError ErrorOf(const std::string& yaml) {
  try {
    LoadRulesText(yaml, "rules.yaml");
  } catch (const RulesError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted:\n" << yaml;
  return RulesError("", 0, "", "");
}

const char kCustom[] = R"(rules:
  port_scan:
    threshold: 40
    window: 2m
  dns_tunnel:
    min_entropy: 3.2
custom:
  - name: big_udp_to_odd_ports
    description: large UDP datagrams to anything but DNS and QUIC
    on: packet
    match:
      proto: udp
      size: {gt: 1000}
      not: {dst_port: [53, 443]}
    key: source
    count: distinct_ports
    threshold: 3
    window: 30s
    class: Exfiltration
    technique: T1048
  - name: telnet_syn
    on: flow_start
    match:
      any:
        - {proto: tcp, dst_port: 23, flags: SYN, flags_unset: ACK}
        - {proto: tcp, dst_port: 2323}
    key: destination
    threshold: 2
)";

TEST(RulesFileTest, OverridesBuiltinsAndAddsCustomRules) {
  const auto set = LoadRulesText(kCustom, "rules.yaml");
  EXPECT_EQ(set.source, "rules.yaml");
  auto find = [&](const std::string& n) {
    return *std::find_if(set.rules.begin(), set.rules.end(),
                         [&](const auto& r) { return r.name == n; });
  };
  EXPECT_EQ(find("port_scan").threshold, 40u);
  EXPECT_EQ(find("port_scan").window, std::chrono::seconds(120));
  EXPECT_EQ(find("port_scan").line, 3);
  EXPECT_EQ(find("dns_tunnel").params.at("min_entropy"), 3.2);
  EXPECT_EQ(find("big_udp_to_odd_ports").kind, "custom");
  EXPECT_EQ(find("big_udp_to_odd_ports").line, 8);
  EXPECT_NE(find("telnet_syn").match.text.find("2323"), std::string::npos);
}

TEST(RulesFileTest, CustomCompoundConditionsCountWhatTheySay) {
  RulesEngine engine(LoadRulesText(kCustom, "rules.yaml"));
  Alerts alerts;
  for (uint16_t port : {53, 443, 53, 443}) {  // excluded ports: nothing
    engine.OnPacketSample(Packet("10.0.0.9", "10.0.0.1", 5000, port, kUdp, kT0 + port, 1400),
                          alerts);
  }
  for (uint16_t port : {7000, 7001}) {  // small datagrams: nothing
    engine.OnPacketSample(Packet("10.0.0.9", "10.0.0.1", 5000, port, kUdp, kT0 + port, 200),
                          alerts);
  }
  EXPECT_TRUE(alerts.all.empty());
  for (uint16_t port : {7000, 7001, 7002}) {
    engine.OnPacketSample(Packet("10.0.0.9", "10.0.0.1", 5000, port, kUdp, kT0 + port, 1400),
                          alerts);
  }
  const auto big = alerts.Of("big_udp_to_odd_ports");
  ASSERT_EQ(big.size(), 1u);
  EXPECT_EQ(big[0].alert_class, "Exfiltration");
  EXPECT_EQ(big[0].mitre_technique, "T1048");
  EXPECT_EQ(nlohmann::json::parse(big[0].evidence_json)["distinct_ports"], 3);

  engine.OnFlowStart(Flow("10.0.0.5", "10.0.0.23", 4000, 23, kTcp, kT0), alerts);
  engine.OnFlowStart(Flow("10.0.0.6", "10.0.0.23", 4000, 23, kTcp, kT0 + 1, NG_TCP_ACK), alerts);
  EXPECT_TRUE(alerts.Of("telnet_syn").empty()) << "the ACK-only flow must not count";
  engine.OnFlowStart(Flow("10.0.0.7", "10.0.0.23", 4000, 2323, kTcp, kT0 + 2, 0), alerts);
  ASSERT_EQ(alerts.Of("telnet_syn").size(), 1u);
  EXPECT_EQ(alerts.Of("telnet_syn")[0].dst_addr, "10.0.0.23");
}

TEST(RulesFileTest, ErrorsNameTheRuleAndTheLine) {
  RulesError e = ErrorOf("rules:\n  port_scan:\n    threshold: 0\n");
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.rule(), "port_scan");
  EXPECT_NE(std::string(e.what()).find("rules.yaml:3: rule port_scan: threshold"),
            std::string::npos)
      << e.what();

  e = ErrorOf("rules:\n  no_such:\n    threshold: 3\n");
  EXPECT_EQ(e.line(), 2);
  EXPECT_EQ(e.rule(), "no_such");

  e = ErrorOf("rules:\n  syn_flood:\n    bogus: 3\n");
  EXPECT_EQ(e.line(), 3);
  EXPECT_NE(std::string(e.what()).find("unknown setting 'bogus'"), std::string::npos);

  e = ErrorOf(
      "custom:\n  - name: x\n    threshold: 2\n    match:\n      proto: tcp\n"
      "      flags: [SYN, BOGUS]\n");
  EXPECT_EQ(e.line(), 6);
  EXPECT_EQ(e.rule(), "x");
  EXPECT_NE(std::string(e.what()).find("BOGUS"), std::string::npos);

  e = ErrorOf("custom:\n  - name: y\n    match: {size: {gt: 10}}\n");
  EXPECT_EQ(e.rule(), "y");
  EXPECT_NE(std::string(e.what()).find("needs a threshold"), std::string::npos);

  e = ErrorOf("custom:\n  - name: port_scan\n    threshold: 2\n    match: {proto: udp}\n");
  EXPECT_NE(std::string(e.what()).find("already used"), std::string::npos);

  e = ErrorOf("custom:\n  - name: z\n    threshold: 2\n    window: 10x\n    match: {}\n");
  EXPECT_EQ(e.line(), 4);

  e = ErrorOf("rules:\n  port_scan: {threshold: [1\n");
  EXPECT_NE(std::string(e.what()).find("YAML syntax"), std::string::npos);
}

TEST(RulesFileTest, ReplaceKeepsWindowsOfRulesKeptByName) {
  RulesEngine engine(LoadRulesText("rules:\n  port_scan: {threshold: 60}\n", "a.yaml"));
  Alerts alerts;
  for (uint16_t p = 1; p <= 30; ++p) {
    engine.OnFlowStart(Flow("10.0.0.9", "10.0.0.1", 1, p, kTcp, kT0 + p), alerts);
  }
  EXPECT_TRUE(alerts.all.empty());
  // A bad file never reaches the engine: the caller keeps the running set.
  EXPECT_THROW(LoadRulesText("rules:\n  port_scan: {threshold: -1}\n", "b.yaml"), RulesError);
  engine.Replace(LoadRulesText("rules:\n  port_scan: {threshold: 20}\n", "c.yaml"));
  EXPECT_EQ(engine.source(), "c.yaml");
  engine.OnFlowStart(Flow("10.0.0.9", "10.0.0.1", 1, 31, kTcp, kT0 + 31), alerts);
  ASSERT_EQ(alerts.Of("port_scan").size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(alerts.all[0].evidence_json)["distinct_targets"], 31);
}

TEST(RulesFileTest, DnsQuestionParsing) {
  const PacketSample q = DnsQuery("10.0.0.9", "10.0.0.53", "A.B.Example.COM", 16, kT0);
  const auto parsed = detect::rules::ParseDnsQuery(q.dns);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->name, "a.b.example.com");
  EXPECT_EQ(parsed->parent, "example.com");
  EXPECT_EQ(parsed->subdomain, "a.b");
  EXPECT_EQ(parsed->qtype, 16);
  std::vector<uint8_t> truncated(q.dns.begin(), q.dns.begin() + 16);
  EXPECT_FALSE(detect::rules::ParseDnsQuery(truncated));
  EXPECT_DOUBLE_EQ(detect::rules::ShannonEntropy("aaaa"), 0);
  EXPECT_DOUBLE_EQ(detect::rules::ShannonEntropy("abcd"), 2);
}

// ngctl rules enable|disable (SetEnabled) outlives reloads; an edit of that rule's `enabled`
// in the file is the newer word and ends the override, as does setting a rule back to its file
// value.
TEST(RulesFileTest, ApiEnableDisableSurvivesReloadsUntilTheFileChangesThatRule) {
  const std::string file =
      "rules:\n  port_scan: {threshold: 3}\n  fin_scan: {enabled: false}\n  udp_scan: {}\n";
  RulesEngine engine(LoadRulesText(file, "rules.yaml"));
  auto enabled = [&](const std::string& name) {
    for (const auto& r : engine.Rules()) {
      if (r.spec.name == name) return r.spec.enabled;
    }
    ADD_FAILURE() << "no rule " << name;
    return false;
  };
  ASSERT_TRUE(engine.SetEnabled("port_scan", false));
  ASSERT_TRUE(engine.SetEnabled("fin_scan", true));
  ASSERT_TRUE(engine.SetEnabled("udp_scan", false));
  ASSERT_TRUE(engine.SetEnabled("udp_scan", true));  // back to the file's value: no override
  const auto kept = engine.Replace(LoadRulesText(file, "rules.yaml"));
  EXPECT_EQ(kept, (std::vector<std::string>{"port_scan disabled", "fin_scan enabled"}));
  EXPECT_FALSE(enabled("port_scan"));
  EXPECT_TRUE(enabled("fin_scan"));
  EXPECT_TRUE(enabled("udp_scan"));
  Alerts alerts;
  for (uint16_t p = 1; p <= 5; ++p) {
    engine.OnFlowStart(Flow("10.0.0.9", "10.0.0.1", 1, p, kTcp, kT0 + p), alerts);
  }
  EXPECT_TRUE(alerts.Of("port_scan").empty()) << "disabled through the API, then reloaded";

  // A second reload keeps them.
  EXPECT_EQ(engine.Replace(LoadRulesText(file + "  icmp_flood: {}\n", "rules.yaml")).size(), 2u);
  EXPECT_FALSE(enabled("port_scan"));
  // The operator edits port_scan's `enabled` in the file (to what the override said): from then
  // on the file governs it, so editing it back enables it; fin_scan's override stays.
  const std::string edited =
      "rules:\n  port_scan: {threshold: 3, enabled: false}\n"
      "  fin_scan: {enabled: false}\n";
  EXPECT_EQ(engine.Replace(LoadRulesText(edited, "rules.yaml")),
            (std::vector<std::string>{"fin_scan enabled"}));
  EXPECT_FALSE(enabled("port_scan"));
  EXPECT_EQ(engine.Replace(LoadRulesText(file, "rules.yaml")),
            (std::vector<std::string>{"fin_scan enabled"}));
  EXPECT_TRUE(enabled("port_scan"));
  EXPECT_TRUE(enabled("fin_scan"));
  for (uint16_t p = 1; p <= 5; ++p) {
    engine.OnFlowStart(Flow("10.0.0.9", "10.0.0.1", 1, p, kTcp, kT0 + kSecond + p), alerts);
  }
  EXPECT_EQ(alerts.Of("port_scan").size(), 1u);
}

TEST(RulesFileTest, ShippedFileEqualsBuiltInDefaults) {
  const auto shipped = detect::rules::LoadRulesFile(NETGUARD_SOURCE_DIR "/packaging/rules.yaml");
  const auto defaults = detect::rules::DefaultRuleSet();
  ASSERT_EQ(shipped.rules.size(), defaults.rules.size());
  for (size_t i = 0; i < defaults.rules.size(); ++i) {
    const auto& a = shipped.rules[i];
    const auto& b = defaults.rules[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.threshold, b.threshold) << a.name;
    EXPECT_EQ(a.window, b.window) << a.name;
    EXPECT_EQ(a.ports, b.ports) << a.name;
    EXPECT_EQ(a.params, b.params) << a.name;
    EXPECT_EQ(a.high_factor, b.high_factor) << a.name;
    EXPECT_EQ(a.critical_factor, b.critical_factor) << a.name;
    EXPECT_GT(a.line, 0) << a.name << " is not in the shipped file";
  }
}

}  // namespace
}  // namespace netguard::testing
