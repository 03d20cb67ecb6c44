// The `reputation:` and `response:` sections of the configuration: defaults (dry-run on),
// every key, and errors that name the key and the line.
#include <gtest/gtest.h>

#include "config/config.h"

namespace netguard::config {
namespace {

TEST(ResponseConfig, DefaultsShipInDryRun) {
  const Config c = LoadConfigText("", "t.yaml");
  EXPECT_TRUE(c.response.auto_block);
  EXPECT_TRUE(c.response.dry_run);
  EXPECT_EQ(c.response.min_severity, Severity::kHigh);
  EXPECT_EQ(c.response.base_ttl.count(), 600);
  EXPECT_EQ(c.reputation.half_life.count(), 3600);
  EXPECT_DOUBLE_EQ(c.reputation.malicious_threshold, 100);
}

TEST(ResponseConfig, EveryKeyIsRead) {
  const Config c = LoadConfigText(R"(
reputation:
  allowlist_files: [/etc/netguard/allow.txt]
  blocklist_files: [/etc/netguard/block.txt, /etc/netguard/feed.txt]
  half_life: 30m
  suspicious_threshold: 15.5
  malicious_threshold: 80
  max_addresses: 5000
  severity_points: {info: 0, warning: 5, high: 25.5, critical: 90}
  class_weights: {PortScan: 0.5, BruteForce: 2}
response:
  auto_block: true
  dry_run: false
  min_severity: warning
  min_score: 60
  base_ttl: 5m
  ttl_factor: 3
  max_ttl: 12h
  max_blocks_per_minute: 4
  never_block: [10.0.0.0/8]
  gateways: [192.168.1.1]
  dns_servers: ["2001:db8::53"]
)",
                                  "t.yaml");
  EXPECT_EQ(c.reputation.allowlist_files.size(), 1u);
  EXPECT_EQ(c.reputation.blocklist_files.size(), 2u);
  EXPECT_EQ(c.reputation.half_life.count(), 1800);
  EXPECT_DOUBLE_EQ(c.reputation.suspicious_threshold, 15.5);
  EXPECT_DOUBLE_EQ(c.reputation.malicious_threshold, 80);
  EXPECT_EQ(c.reputation.max_addresses, 5000u);
  EXPECT_DOUBLE_EQ(c.reputation.severity_points[2], 25.5);
  EXPECT_DOUBLE_EQ(c.reputation.class_weights.at("BruteForce"), 2);
  EXPECT_FALSE(c.response.dry_run);
  EXPECT_EQ(c.response.min_severity, Severity::kWarning);
  EXPECT_DOUBLE_EQ(c.response.min_score, 60);
  EXPECT_EQ(c.response.base_ttl.count(), 300);
  EXPECT_DOUBLE_EQ(c.response.ttl_factor, 3);
  EXPECT_EQ(c.response.max_ttl.count(), 43200);
  EXPECT_EQ(c.response.max_blocks_per_minute, 4u);
  EXPECT_EQ(c.response.never_block.at(0).ToString(), "10.0.0.0/8");
  EXPECT_EQ(c.response.gateways.at(0).ToString(), "192.168.1.1/32");
  EXPECT_EQ(c.response.dns_servers.at(0).ToString(), "2001:db8::53/128");
}

TEST(ResponseConfig, BadValuesNameTheKeyAndLine) {
  struct Case {
    const char* yaml;
    const char* expected;
  };
  const Case cases[] = {
      {"response:\n  min_severity: severe\n", "t.yaml:2: response.min_severity: expected info"},
      {"response:\n  ttl_factor: 0.5\n", "t.yaml:2: response.ttl_factor: must be between 1"},
      {"response:\n  ttl_factor: fast\n", "t.yaml:2: response.ttl_factor: expected a number"},
      {"response:\n  base_ttl: 2h\n  max_ttl: 1h\n", "response.base_ttl: must not exceed max_ttl"},
      {"response:\n  max_ttl: 31d\n", "t.yaml:2: response.max_ttl: expected a duration"},
      {"response:\n\n  never_block: [10.0.0.300]\n", "t.yaml:3: response.never_block:"},
      {"response:\n  max_blocks_per_minute: 0\n", "response.max_blocks_per_minute: must be"},
      {"response:\n  dryrun: true\n", "t.yaml:2: response.dryrun: unknown key"},
      {"reputation:\n  half_life: never\n", "t.yaml:2: reputation.half_life: expected a dur"},
      {"reputation:\n  severity_points: {urgent: 3}\n",
       "reputation.severity_points.urgent: unknown key"},
      {"reputation:\n  class_weights: {PortScan: -1}\n",
       "reputation.class_weights.PortScan: must be between 0"},
      {"reputation:\n  suspicious_threshold: 200\n",
       "reputation.suspicious_threshold: must not exceed malicious_threshold"},
      {"reputation:\n  allowlist_files: /etc/a\n",
       "t.yaml:2: reputation.allowlist_files: "
       "expected a list"},
  };
  for (const Case& c : cases) {
    try {
      LoadConfigText(c.yaml, "t.yaml");
      ADD_FAILURE() << "accepted: " << c.yaml;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(c.expected), std::string::npos)
          << e.what() << "\nexpected: " << c.expected;
    }
  }
}

}  // namespace
}  // namespace netguard::config
