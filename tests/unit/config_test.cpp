#include "config/config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace netguard::config {
namespace {

// Loads `yaml` expecting a ConfigError; returns it.
ConfigError LoadError(const std::string& yaml) {
  try {
    LoadConfigText(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for:\n" << yaml;
  return ConfigError("", 0, "", "");
}

TEST(ConfigTest, ShippedFileEqualsBuiltInDefaults) {
  const Config shipped = LoadConfigFile(NETGUARD_SOURCE_DIR "/packaging/netguard.yaml");
  EXPECT_TRUE(shipped == Config{}) << "packaging/netguard.yaml and config.h defaults differ";
}

TEST(ConfigTest, EmptyDocumentGivesDefaults) {
  EXPECT_TRUE(LoadConfigText("", "empty.yaml") == Config{});
}

TEST(ConfigTest, ReadsEveryKindOfValue) {
  const Config c = LoadConfigText(R"(
capture:
  interfaces: [eth0, eth1]
  xdp_mode: generic
flows:
  idle_timeout: 2m
  activity_timeout: 500ms
  feature_mode: cic2017
sampling:
  one_in: 0
store:
  max_flows: 5000
allowlist: [10.1.2.3/8, 2001:db8::1]
port_scan:
  distinct_ports: 10
  window: 30s
api:
  tcp:
    address: 127.0.0.1:50051
    insecure: true
)",
                                  "t.yaml");
  EXPECT_EQ(c.capture.interfaces, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_TRUE(c.capture.xdp_generic_only);
  EXPECT_EQ(c.flows.idle_timeout, std::chrono::seconds(120));
  EXPECT_EQ(c.flows.activity_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(c.flows.feature_mode, "cic2017");
  EXPECT_EQ(c.sampling.one_in, 0u);
  EXPECT_EQ(c.store.max_flows, 5000u);
  ASSERT_EQ(c.allowlist.size(), 2u);
  EXPECT_EQ(c.allowlist[0].ToString(), "10.0.0.0/8");
  EXPECT_EQ(c.allowlist[1].ToString(), "2001:db8::1/128");
  EXPECT_EQ(c.port_scan.distinct_ports, 10u);
  EXPECT_EQ(c.port_scan.window, std::chrono::seconds(30));
  ASSERT_TRUE(c.api.tcp.has_value());
  EXPECT_TRUE(c.api.tcp->insecure);
}

TEST(ConfigTest, ErrorsNameTheKeyAndTheLine) {
  ConfigError e = LoadError("flows:\n  idle_timeout: soon\n");
  EXPECT_EQ(e.key(), "flows.idle_timeout");
  EXPECT_EQ(e.line(), 2);
  EXPECT_NE(std::string(e.what()).find("test.yaml:2: flows.idle_timeout"), std::string::npos);

  e = LoadError("capture:\n  backend: ebpf\n  bogus: 1\n");
  EXPECT_EQ(e.key(), "capture.bogus");
  EXPECT_EQ(e.line(), 3);
  EXPECT_NE(std::string(e.what()).find("unknown key"), std::string::npos);
}

TEST(ConfigTest, RejectsBadValues) {
  EXPECT_EQ(LoadError("capture: {backend: dpdk}").key(), "capture.backend");
  EXPECT_EQ(LoadError("capture: {ring_buffer_bytes: 100000}").key(), "capture.ring_buffer_bytes");
  EXPECT_EQ(LoadError("capture: {bpf_pin_dir: /tmp/x}").key(), "capture.bpf_pin_dir");
  EXPECT_EQ(LoadError("flows: {active_timeout: 2h}").key(), "flows.active_timeout");
  EXPECT_EQ(LoadError("flows: {end_on_fin: maybe}").key(), "flows.end_on_fin");
  EXPECT_EQ(LoadError("flows: {feature_mode: cic2018}").key(), "flows.feature_mode");
  EXPECT_EQ(LoadError("store: {max_flows: -5}").key(), "store.max_flows");
  EXPECT_EQ(LoadError("allowlist: [10.0.0.0/33]").key(), "allowlist");
  EXPECT_EQ(LoadError("allowlist: 10.0.0.1").key(), "allowlist");
  EXPECT_EQ(LoadError("log_level: loud").key(), "log_level");
  EXPECT_EQ(LoadError("port_scan: {distinct_ports: 1}").key(), "port_scan.distinct_ports");
  EXPECT_EQ(LoadError("flows: {activity_timeout: 3m, active_timeout: 2m}").key(),
            "flows.activity_timeout");
  EXPECT_EQ(LoadError("capture: [1, 2]").key(), "capture");
  EXPECT_EQ(LoadError("flows: {idle_timeout: [1").key(), "(syntax)");
}

TEST(ConfigTest, TcpListenerNeedsTlsAndTokenUnlessInsecureLoopback) {
  EXPECT_EQ(LoadError("api: {tcp: {address: '0.0.0.0:50051', insecure: true}}").key(),
            "api.tcp.insecure");
  EXPECT_EQ(LoadError("api: {tcp: {address: '127.0.0.1:50051'}}").key(), "api.tcp");
  EXPECT_EQ(LoadError("api: {tcp: {insecure: true}}").key(), "api.tcp.address");
}

TEST(ConfigTest, MissingFileIsAClearError) {
  try {
    LoadConfigFile("/nonexistent/netguard.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/netguard.yaml"), std::string::npos);
  }
}

TEST(ConfigTest, HttpAndGeoipSections) {
  // By default the HTTP face listens on loopback only, and countries come from geoip-database.
  const Config defaults = LoadConfigText("{}", "defaults.yaml");
  EXPECT_TRUE(defaults.http.enabled);
  EXPECT_EQ(defaults.http.address, "127.0.0.1:8787");
  EXPECT_EQ(defaults.geoip.mmdb, "");
  EXPECT_EQ(defaults.geoip.database, "/usr/share/GeoIP/GeoIP.dat");
  const Config c = LoadConfigText(
      "http: {enabled: false, address: '[::1]:9000', token_file: /etc/t, tls_cert: /c, tls_key: "
      "/k}\ngeoip: {mmdb: /g.mmdb, database: /g.dat}",
      "test.yaml");
  EXPECT_FALSE(c.http.enabled);
  EXPECT_EQ(c.http.address, "[::1]:9000");
  EXPECT_EQ(c.http.token_file, "/etc/t");
  EXPECT_EQ(c.http.tls_key, "/k");
  EXPECT_EQ(c.geoip.mmdb, "/g.mmdb");
  EXPECT_EQ(c.geoip.database, "/g.dat");
  EXPECT_EQ(c.geoip.database_v6, "/usr/share/GeoIP/GeoIPv6.dat");
  EXPECT_EQ(LoadError("geoip: {database: /g.mmdb}").key(), "geoip.database");
  EXPECT_EQ(LoadError("http: {address: nowhere}").key(), "http.address");
  EXPECT_EQ(LoadError("http: {tls_cert: /c}").key(), "http");
  EXPECT_EQ(LoadError("http: {port: 1}").key(), "http.port");
  EXPECT_EQ(LoadError("geoip: {file: x}").key(), "geoip.file");
}

TEST(ConfigTest, ModelSection) {
  const Config c =
      LoadConfigText("model:\n  enabled: false\n  path: /opt/b\n  anomalies: false\n", "m.yaml");
  EXPECT_FALSE(c.model.enabled);
  EXPECT_EQ(c.model.path, "/opt/b");
  EXPECT_FALSE(c.model.anomalies);
  EXPECT_EQ(Config{}.model.path, "/usr/share/netguard/models/default");
  EXPECT_EQ(LoadError("model: {path: ''}").key(), "model.path");
  EXPECT_EQ(LoadError("model: {enabled: sometimes}").key(), "model.enabled");
  EXPECT_EQ(LoadError("model: {threshold: 1}").key(), "model.threshold");
}

}  // namespace
}  // namespace netguard::config
