// netguardd's configuration: one YAML file, every key validated, documented defaults.
#ifndef NETGUARD_AGENT_CONFIG_CONFIG_H_
#define NETGUARD_AGENT_CONFIG_CONFIG_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/ip_prefix.h"
#include "core/alert.h"

namespace netguard::config {

/// A configuration error that names the key and the line, e.g.
/// "netguard.yaml:12: flows.idle_timeout: expected a duration such as 30s, got 'soon'".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, int line, std::string key, const std::string& message);
  const std::string& key() const { return key_; }
  int line() const { return line_; }

 private:
  std::string key_;
  int line_;
};

enum class CaptureBackend { kEbpf, kPcapLive, kPcapFile };

struct CaptureConfig {
  CaptureBackend backend = CaptureBackend::kEbpf;
  std::vector<std::string> interfaces;
  bool xdp_generic_only = false;  // xdp_mode: generic (else native, falling back to generic)
  std::string bpf_pin_dir = "/sys/fs/bpf/netguard";
  uint32_t flow_table_size = 65536;
  uint32_t ring_buffer_bytes = 8u << 20;

  friend bool operator==(const CaptureConfig&, const CaptureConfig&) = default;
};

struct FlowConfig {
  std::chrono::seconds idle_timeout{30};
  std::chrono::seconds active_timeout{120};
  std::chrono::milliseconds activity_timeout{5000};
  bool end_on_fin = true;
  bool end_on_rst = true;
  std::chrono::milliseconds sweep_interval{1000};
  // "corrected" (the settings above) or "cic2017": the CICFlowMeter 2017 lifecycle of
  // features::LifecycleFor (FIN ends a flow except on its first packet, RST does not, no idle
  // timeout), in the kernel and in pcap-live alike. Overrides end_on_fin, end_on_rst and
  // idle_timeout.
  std::string feature_mode = "corrected";

  friend bool operator==(const FlowConfig&, const FlowConfig&) = default;
};

struct SamplingConfig {
  uint32_t first_packets = 8;
  uint32_t one_in = 64;  // 0 disables
  bool dns_queries = true;
  bool arp = true;

  friend bool operator==(const SamplingConfig&, const SamplingConfig&) = default;
};

struct StoreConfig {
  std::string path = "/var/lib/netguard/netguard.db";
  uint64_t max_flows = 1000000;

  friend bool operator==(const StoreConfig&, const StoreConfig&) = default;
};

struct TcpListenerConfig {
  std::string address;  // host:port
  std::string tls_cert;
  std::string tls_key;
  std::string token_file;
  bool insecure = false;  // plaintext without token: only allowed on loopback

  friend bool operator==(const TcpListenerConfig&, const TcpListenerConfig&) = default;
};

struct ApiConfig {
  std::string socket = "/run/netguard/netguard.sock";
  std::string socket_group = "netguard";
  std::optional<TcpListenerConfig> tcp;

  friend bool operator==(const ApiConfig&, const ApiConfig&) = default;
};

struct PortScanConfig {
  bool enabled = true;
  uint32_t distinct_ports = 25;     // distinct destination ports of one source ...
  std::chrono::seconds window{60};  // ... within this sliding window
  bool given = false;  // the section is in the file: it overrides the rules file's port_scan

  friend bool operator==(const PortScanConfig& a, const PortScanConfig& b) {
    return a.enabled == b.enabled && a.distinct_ports == b.distinct_ports && a.window == b.window;
  }
};

inline constexpr char kDefaultRulesFile[] = "/etc/netguard/rules.yaml";

/// The behavioural rules engine (agent/detect/rules, docs/rules.md).
struct RulesConfig {
  /// Rules YAML. Empty, or this default path when the file is absent: the built-in defaults.
  std::string file = kDefaultRulesFile;
  uint32_t max_keys_per_rule = 50000;  // windows per rule before LRU eviction

  friend bool operator==(const RulesConfig&, const RulesConfig&) = default;
};

/// IP reputation (agent/respond/reputation.h). The list files hold one address or CIDR per
/// line ('#' comments); a file with a bad line is rejected whole (file:line named).
struct ReputationConfig {
  std::vector<std::string> allowlist_files;  // never blocked, like `allowlist`
  std::vector<std::string> blocklist_files;  // known bad: "malicious" whatever their score
  std::chrono::seconds half_life{3600};      // a score halves in this time without alerts
  double suspicious_threshold = 20;
  double malicious_threshold = 100;  // promotion to malicious (demoted below half of it)
  uint32_t max_addresses = 100000;   // tracked addresses (memory and store)
  // Points per alert by severity: info, warning, high, critical ...
  std::array<double, 4> severity_points{1, 10, 40, 100};
  // ... times the weight of the alert's class (absent: 1).
  std::map<std::string, double, std::less<>> class_weights;

  friend bool operator==(const ReputationConfig&, const ReputationConfig&) = default;
};

/// The auto-block policy (agent/respond/auto_block.h). Ships in dry-run.
struct ResponseConfig {
  bool auto_block = true;  // evaluate the policy on every alert
  bool dry_run = true;     // record "would block", block nothing
  Severity min_severity = Severity::kHigh;
  double min_score = 100;  // 0: the score alone never blocks
  std::chrono::seconds base_ttl{600};
  double ttl_factor = 2;
  std::chrono::seconds max_ttl{86400};
  uint32_t max_blocks_per_minute = 10;
  std::vector<IpPrefix> never_block;  // besides the allowlist and the host's own addresses
  std::vector<IpPrefix> gateways;     // besides the default-route gateways
  std::vector<IpPrefix> dns_servers;  // besides /etc/resolv.conf's nameservers

  friend bool operator==(const ResponseConfig&, const ResponseConfig&) = default;
};

/// The HTTP/JSON face and the dashboard (agent/api/http_api.h).
struct HttpConfig {
  bool enabled = true;
  std::string address = "127.0.0.1:8787";  // host:port; not loopback: TLS and token required
  std::string dashboard_dir = "/usr/share/netguard/dashboard";
  std::string token_file;  // empty: api.tcp.token_file (changes are refused without a token)
  std::string tls_cert;
  std::string tls_key;

  friend bool operator==(const HttpConfig&, const HttpConfig&) = default;
};

/// Offline country lookups (LookupCountries): a MaxMind .mmdb when set and readable, else
/// Debian's legacy GeoIP .dat files.
struct GeoIpConfig {
  std::string mmdb;                                          // MaxMind .mmdb (both families)
  std::string database = "/usr/share/GeoIP/GeoIP.dat";       // legacy IPv4 (the fallback)
  std::string database_v6 = "/usr/share/GeoIP/GeoIPv6.dat";  // legacy IPv6 (the fallback)

  friend bool operator==(const GeoIpConfig&, const GeoIpConfig&) = default;
};

struct ModelConfig {
  bool enabled = true;  // ML detection; without a usable bundle the agent runs on its rules
  std::string path = "/usr/share/netguard/models/default";  // bundle directory (docs/models.md)
  bool anomalies = true;  // K-Means: benign verdicts far from every benign centroid alert

  friend bool operator==(const ModelConfig&, const ModelConfig&) = default;
};

struct Config {
  CaptureConfig capture;
  FlowConfig flows;
  SamplingConfig sampling;
  StoreConfig store;
  ApiConfig api;
  std::vector<IpPrefix> allowlist;
  std::string log_level = "info";
  PortScanConfig port_scan;
  ReputationConfig reputation;
  ResponseConfig response;
  HttpConfig http;
  GeoIpConfig geoip;
  RulesConfig rules;
  ModelConfig model;

  friend bool operator==(const Config&, const Config&) = default;
};

/// Loads and validates `path`. Keys not given keep their defaults; unknown keys are errors.
/// Throws ConfigError.
Config LoadConfigFile(const std::string& path);
/// The same from YAML text; `name` is used in error messages.
Config LoadConfigText(const std::string& yaml, const std::string& name);

}  // namespace netguard::config

#endif  // NETGUARD_AGENT_CONFIG_CONFIG_H_
