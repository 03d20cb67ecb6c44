// netguardd's configuration: one YAML file, every key validated, documented defaults.
#ifndef NETGUARD_AGENT_CONFIG_CONFIG_H_
#define NETGUARD_AGENT_CONFIG_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/ip_prefix.h"

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
  uint32_t distinct_ports = 25;       // distinct destination ports of one source ...
  std::chrono::seconds window{60};    // ... within this sliding window

  friend bool operator==(const PortScanConfig&, const PortScanConfig&) = default;
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
