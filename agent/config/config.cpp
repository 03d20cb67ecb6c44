#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

namespace netguard::config {
namespace {

using Handler = std::function<void(const YAML::Node& value, const std::string& key)>;
using Fields = std::map<std::string, Handler, std::less<>>;

// Walks a YAML document and reports errors with the file, line and dotted key.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void Fail(const YAML::Node& node, const std::string& key,
                         const std::string& message) const {
    throw ConfigError(file_, node.Mark().line + 1, key, message);
  }

  // Applies `fields` to the mapping `node` (under dotted path `prefix`); unknown keys are errors.
  void Map(const YAML::Node& node, const std::string& prefix, const Fields& fields) const {
    if (node.IsNull()) return;
    if (!node.IsMap()) Fail(node, prefix.empty() ? "(top level)" : prefix, "expected a mapping");
    for (const auto& item : node) {
      const std::string name = item.first.as<std::string>();
      const std::string key = prefix.empty() ? name : prefix + "." + name;
      const auto it = fields.find(name);
      if (it == fields.end()) Fail(item.first, key, "unknown key");
      it->second(item.second, key);
    }
  }

  std::string String(const YAML::Node& v, const std::string& key) const {
    if (!v.IsScalar()) Fail(v, key, "expected a string");
    return v.as<std::string>();
  }

  bool Bool(const YAML::Node& v, const std::string& key) const {
    bool out = false;
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, out)) {
      Fail(v, key, "expected true or false, got '" + Scalar(v) + "'");
    }
    return out;
  }

  uint64_t UInt(const YAML::Node& v, const std::string& key, uint64_t min, uint64_t max) const {
    const std::string text = Scalar(v);
    uint64_t out = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      Fail(v, key, "expected a non-negative integer, got '" + text + "'");
    }
    if (out < min || out > max) {
      Fail(v, key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return out;
  }

  // "250ms", "30s", "5m", "1h" (a bare number is seconds).
  std::chrono::milliseconds Duration(const YAML::Node& v, const std::string& key,
                                     std::chrono::milliseconds min,
                                     std::chrono::milliseconds max) const {
    const std::string text = Scalar(v);
    uint64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    const std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
    static const std::map<std::string_view, uint64_t, std::less<>> kUnits = {
        {"ms", 1}, {"s", 1000}, {"", 1000}, {"m", 60000}, {"h", 3600000}};
    const auto it = kUnits.find(unit);
    if (text.empty() || ec != std::errc() || it == kUnits.end() ||
        number > std::numeric_limits<int64_t>::max() / 3600000) {
      Fail(v, key, "expected a duration such as 500ms, 30s, 5m or 1h, got '" + text + "'");
    }
    const std::chrono::milliseconds out(static_cast<int64_t>(number * it->second));
    if (out < min || out > max) {
      Fail(v, key,
           "must be between " + std::to_string(min.count()) + "ms and " +
               std::to_string(max.count()) + "ms");
    }
    return out;
  }

  double Double(const YAML::Node& v, const std::string& key, double min, double max) const {
    const std::string text = Scalar(v);
    double out = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(out)) {
      Fail(v, key, "expected a number, got '" + text + "'");
    }
    if (out < min || out > max) {
      Fail(v, key, "must be between " + Number(min) + " and " + Number(max));
    }
    return out;
  }

  std::vector<std::string> StringList(const YAML::Node& v, const std::string& key) const {
    if (!v.IsSequence()) Fail(v, key, "expected a list");
    std::vector<std::string> out;
    for (const auto& item : v) out.push_back(String(item, key));
    return out;
  }

  std::vector<IpPrefix> PrefixList(const YAML::Node& v, const std::string& key) const {
    std::vector<IpPrefix> out;
    if (!v.IsSequence()) Fail(v, key, "expected a list of addresses or CIDR prefixes");
    for (const auto& item : v) {
      try {
        out.push_back(IpPrefix::Parse(String(item, key)));
      } catch (const std::invalid_argument& e) {
        Fail(item, key, e.what());
      }
    }
    return out;
  }

 private:
  std::string Scalar(const YAML::Node& v) const {
    return v.IsScalar() ? v.Scalar() : "(not a scalar)";
  }
  static std::string Number(double x) {
    std::ostringstream out;
    out << x;
    return out.str();
  }

  std::string file_;
};

using std::chrono::milliseconds;
using std::chrono::seconds;
constexpr milliseconds kOneHour{3600000};

void ReadCapture(const Reader& r, const YAML::Node& node, const std::string& key,
                 CaptureConfig& c) {
  r.Map(node, key,
        {{"backend",
          [&](const YAML::Node& v, const std::string& k) {
            const std::string b = r.String(v, k);
            if (b == "ebpf") {
              c.backend = CaptureBackend::kEbpf;
            } else if (b == "pcap-live") {
              c.backend = CaptureBackend::kPcapLive;
            } else if (b == "pcap-file") {
              c.backend = CaptureBackend::kPcapFile;
            } else {
              r.Fail(v, k, "expected ebpf, pcap-live or pcap-file, got '" + b + "'");
            }
          }},
         {"interfaces",
          [&](const YAML::Node& v, const std::string& k) { c.interfaces = r.StringList(v, k); }},
         {"xdp_mode",
          [&](const YAML::Node& v, const std::string& k) {
            const std::string m = r.String(v, k);
            if (m != "auto" && m != "generic") r.Fail(v, k, "expected auto or generic");
            c.xdp_generic_only = m == "generic";
          }},
         {"bpf_pin_dir",
          [&](const YAML::Node& v, const std::string& k) {
            c.bpf_pin_dir = r.String(v, k);
            if (c.bpf_pin_dir.rfind("/sys/fs/bpf/", 0) != 0) {
              r.Fail(v, k, "must be a directory under /sys/fs/bpf/");
            }
          }},
         {"flow_table_size",
          [&](const YAML::Node& v, const std::string& k) {
            c.flow_table_size = static_cast<uint32_t>(r.UInt(v, k, 1024, 1u << 24));
          }},
         {"ring_buffer_bytes", [&](const YAML::Node& v, const std::string& k) {
            const uint64_t n = r.UInt(v, k, 1u << 16, 1u << 30);
            if ((n & (n - 1)) != 0) r.Fail(v, k, "must be a power of two");
            c.ring_buffer_bytes = static_cast<uint32_t>(n);
          }}});
}

void ReadFlows(const Reader& r, const YAML::Node& node, const std::string& key, FlowConfig& f) {
  r.Map(node, key,
        {{"idle_timeout",
          [&](const YAML::Node& v, const std::string& k) {
            f.idle_timeout =
                std::chrono::duration_cast<seconds>(r.Duration(v, k, seconds(1), kOneHour));
          }},
         {"active_timeout",
          [&](const YAML::Node& v, const std::string& k) {
            f.active_timeout =
                std::chrono::duration_cast<seconds>(r.Duration(v, k, seconds(1), kOneHour));
          }},
         {"activity_timeout",
          [&](const YAML::Node& v, const std::string& k) {
            f.activity_timeout = r.Duration(v, k, milliseconds(1), kOneHour);
          }},
         {"end_on_fin",
          [&](const YAML::Node& v, const std::string& k) { f.end_on_fin = r.Bool(v, k); }},
         {"end_on_rst",
          [&](const YAML::Node& v, const std::string& k) { f.end_on_rst = r.Bool(v, k); }},
         {"sweep_interval",
          [&](const YAML::Node& v, const std::string& k) {
            f.sweep_interval = r.Duration(v, k, milliseconds(10), seconds(60));
          }},
         {"feature_mode", [&](const YAML::Node& v, const std::string& k) {
            f.feature_mode = r.String(v, k);
            if (f.feature_mode != "corrected" && f.feature_mode != "cic2017") {
              r.Fail(v, k, "expected corrected or cic2017, got '" + f.feature_mode + "'");
            }
          }}});
}

void ReadSampling(const Reader& r, const YAML::Node& node, const std::string& key,
                  SamplingConfig& s) {
  r.Map(node, key,
        {{"first_packets",
          [&](const YAML::Node& v, const std::string& k) {
            s.first_packets = static_cast<uint32_t>(r.UInt(v, k, 0, 1000));
          }},
         {"one_in",
          [&](const YAML::Node& v, const std::string& k) {
            s.one_in = static_cast<uint32_t>(r.UInt(v, k, 0, 1u << 20));
          }},
         {"dns_queries",
          [&](const YAML::Node& v, const std::string& k) { s.dns_queries = r.Bool(v, k); }},
         {"arp", [&](const YAML::Node& v, const std::string& k) { s.arp = r.Bool(v, k); }}});
}

void ReadApi(const Reader& r, const YAML::Node& node, const std::string& key, ApiConfig& a) {
  r.Map(node, key,
        {{"socket", [&](const YAML::Node& v, const std::string& k) { a.socket = r.String(v, k); }},
         {"socket_group",
          [&](const YAML::Node& v, const std::string& k) { a.socket_group = r.String(v, k); }},
         {"tcp", [&](const YAML::Node& v, const std::string& k) {
            TcpListenerConfig t;
            r.Map(v, k,
                  {{"address", [&](const YAML::Node& x,
                                   const std::string& kk) { t.address = r.String(x, kk); }},
                   {"tls_cert", [&](const YAML::Node& x,
                                    const std::string& kk) { t.tls_cert = r.String(x, kk); }},
                   {"tls_key", [&](const YAML::Node& x,
                                   const std::string& kk) { t.tls_key = r.String(x, kk); }},
                   {"token_file", [&](const YAML::Node& x,
                                      const std::string& kk) { t.token_file = r.String(x, kk); }},
                   {"insecure", [&](const YAML::Node& x, const std::string& kk) {
                      t.insecure = r.Bool(x, kk);
                    }}});
            if (t.address.empty()) r.Fail(v, k + ".address", "is required when tcp is set");
            const bool loopback = t.address.rfind("127.", 0) == 0 ||
                                  t.address.rfind("[::1]", 0) == 0 ||
                                  t.address.rfind("localhost:", 0) == 0;
            if (t.insecure && !loopback) {
              r.Fail(v, k + ".insecure", "insecure TCP is only allowed on a loopback address");
            }
            if (!t.insecure && (t.tls_cert.empty() || t.tls_key.empty() || t.token_file.empty())) {
              r.Fail(v, k, "needs tls_cert, tls_key and token_file (or insecure on loopback)");
            }
            a.tcp = t;
          }}});
}

constexpr milliseconds kThirtyDays{30LL * 24 * 3600 * 1000};

void ReadReputation(const Reader& r, const YAML::Node& node, const std::string& key,
                    ReputationConfig& c) {
  r.Map(node, key,
        {{"allowlist_files", [&](const YAML::Node& v,
                                 const std::string& k) { c.allowlist_files = r.StringList(v, k); }},
         {"blocklist_files", [&](const YAML::Node& v,
                                 const std::string& k) { c.blocklist_files = r.StringList(v, k); }},
         {"half_life",
          [&](const YAML::Node& v, const std::string& k) {
            c.half_life =
                std::chrono::duration_cast<seconds>(r.Duration(v, k, seconds(1), kThirtyDays));
          }},
         {"suspicious_threshold",
          [&](const YAML::Node& v, const std::string& k) {
            c.suspicious_threshold = r.Double(v, k, 0, 1e9);
          }},
         {"malicious_threshold",
          [&](const YAML::Node& v, const std::string& k) {
            c.malicious_threshold = r.Double(v, k, 0.001, 1e9);
          }},
         {"max_addresses",
          [&](const YAML::Node& v, const std::string& k) {
            c.max_addresses = static_cast<uint32_t>(r.UInt(v, k, 1, 10000000));
          }},
         {"severity_points",
          [&](const YAML::Node& v, const std::string& k) {
            Fields points;
            const char* names[] = {"info", "warning", "high", "critical"};
            for (size_t i = 0; i < 4; ++i) {
              points[names[i]] = [&, i](const YAML::Node& x, const std::string& kk) {
                c.severity_points[i] = r.Double(x, kk, 0, 1e9);
              };
            }
            r.Map(v, k, points);
          }},
         {"class_weights", [&](const YAML::Node& v, const std::string& k) {
            if (!v.IsMap()) r.Fail(v, k, "expected a mapping of alert class to weight");
            c.class_weights.clear();
            for (const auto& item : v) {
              const std::string name = item.first.as<std::string>();
              c.class_weights[name] = r.Double(item.second, k + "." + name, 0, 1e6);
            }
          }}});
  if (c.suspicious_threshold > c.malicious_threshold) {
    r.Fail(node, key + ".suspicious_threshold", "must not exceed malicious_threshold");
  }
}

void ReadResponse(const Reader& r, const YAML::Node& node, const std::string& key,
                  ResponseConfig& c) {
  r.Map(node, key,
        {{"auto_block",
          [&](const YAML::Node& v, const std::string& k) { c.auto_block = r.Bool(v, k); }},
         {"dry_run", [&](const YAML::Node& v, const std::string& k) { c.dry_run = r.Bool(v, k); }},
         {"min_severity",
          [&](const YAML::Node& v, const std::string& k) {
            const std::optional<Severity> s = ParseSeverity(r.String(v, k));
            if (!s) r.Fail(v, k, "expected info, warning, high or critical");
            c.min_severity = *s;
          }},
         {"min_score",
          [&](const YAML::Node& v, const std::string& k) { c.min_score = r.Double(v, k, 0, 1e9); }},
         {"base_ttl",
          [&](const YAML::Node& v, const std::string& k) {
            c.base_ttl =
                std::chrono::duration_cast<seconds>(r.Duration(v, k, seconds(1), kThirtyDays));
          }},
         {"ttl_factor", [&](const YAML::Node& v,
                            const std::string& k) { c.ttl_factor = r.Double(v, k, 1, 100); }},
         {"max_ttl",
          [&](const YAML::Node& v, const std::string& k) {
            c.max_ttl =
                std::chrono::duration_cast<seconds>(r.Duration(v, k, seconds(1), kThirtyDays));
          }},
         {"max_blocks_per_minute",
          [&](const YAML::Node& v, const std::string& k) {
            c.max_blocks_per_minute = static_cast<uint32_t>(r.UInt(v, k, 1, 100000));
          }},
         {"never_block",
          [&](const YAML::Node& v, const std::string& k) { c.never_block = r.PrefixList(v, k); }},
         {"gateways",
          [&](const YAML::Node& v, const std::string& k) { c.gateways = r.PrefixList(v, k); }},
         {"dns_servers",
          [&](const YAML::Node& v, const std::string& k) { c.dns_servers = r.PrefixList(v, k); }}});
  if (c.base_ttl > c.max_ttl) r.Fail(node, key + ".base_ttl", "must not exceed max_ttl");
}

void ReadHttp(const Reader& r, const YAML::Node& node, const std::string& key, HttpConfig& h) {
  const auto text = [&](std::string& out) {
    return [&r, &out](const YAML::Node& v, const std::string& k) { out = r.String(v, k); };
  };
  r.Map(node, key,
        {{"enabled", [&](const YAML::Node& v, const std::string& k) { h.enabled = r.Bool(v, k); }},
         {"address",
          [&](const YAML::Node& v, const std::string& k) {
            h.address = r.String(v, k);
            const size_t colon = h.address.rfind(':');
            if (colon == std::string::npos || colon == 0 || colon + 1 == h.address.size()) {
              r.Fail(v, k, "expected HOST:PORT, got '" + h.address + "'");
            }
          }},
         {"dashboard_dir", text(h.dashboard_dir)},
         {"token_file", text(h.token_file)},
         {"tls_cert", text(h.tls_cert)},
         {"tls_key", text(h.tls_key)}});
  if (h.tls_cert.empty() != h.tls_key.empty()) {
    r.Fail(node, key, "tls_cert and tls_key go together");
  }
}

}  // namespace

ConfigError::ConfigError(std::string file, int line, std::string key, const std::string& message)
    : std::runtime_error(file + ":" + std::to_string(line) + ": " + key + ": " + message),
      key_(std::move(key)),
      line_(line) {}

Config LoadConfigText(const std::string& yaml, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(name, e.mark.line + 1, "(syntax)", e.msg);
  }
  Config c;
  const Reader r(name);
  r.Map(
      root, "",
      {{"capture",
        [&](const YAML::Node& v, const std::string& k) { ReadCapture(r, v, k, c.capture); }},
       {"flows", [&](const YAML::Node& v, const std::string& k) { ReadFlows(r, v, k, c.flows); }},
       {"sampling",
        [&](const YAML::Node& v, const std::string& k) { ReadSampling(r, v, k, c.sampling); }},
       {"store",
        [&](const YAML::Node& v, const std::string& k) {
          r.Map(v, k,
                {{"path", [&](const YAML::Node& x,
                              const std::string& kk) { c.store.path = r.String(x, kk); }},
                 {"max_flows", [&](const YAML::Node& x, const std::string& kk) {
                    c.store.max_flows = r.UInt(x, kk, 1000, 1000000000);
                  }}});
        }},
       {"api", [&](const YAML::Node& v, const std::string& k) { ReadApi(r, v, k, c.api); }},
       {"allowlist",
        [&](const YAML::Node& v, const std::string& k) { c.allowlist = r.PrefixList(v, k); }},
       {"log_level",
        [&](const YAML::Node& v, const std::string& k) {
          c.log_level = r.String(v, k);
          static const std::vector<std::string> kLevels = {"trace", "debug", "info",
                                                           "warn",  "error", "off"};
          if (std::find(kLevels.begin(), kLevels.end(), c.log_level) == kLevels.end()) {
            r.Fail(v, k, "expected trace, debug, info, warn, error or off");
          }
        }},
       {"port_scan",
        [&](const YAML::Node& v, const std::string& k) {
          c.port_scan.given = true;
          r.Map(v, k,
                {{"enabled", [&](const YAML::Node& x,
                                 const std::string& kk) { c.port_scan.enabled = r.Bool(x, kk); }},
                 {"distinct_ports",
                  [&](const YAML::Node& x, const std::string& kk) {
                    c.port_scan.distinct_ports = static_cast<uint32_t>(r.UInt(x, kk, 2, 65535));
                  }},
                 {"window", [&](const YAML::Node& x, const std::string& kk) {
                    c.port_scan.window = std::chrono::duration_cast<seconds>(
                        r.Duration(x, kk, seconds(1), kOneHour));
                  }}});
        }},
       {"reputation",
        [&](const YAML::Node& v, const std::string& k) { ReadReputation(r, v, k, c.reputation); }},
       {"response",
        [&](const YAML::Node& v, const std::string& k) { ReadResponse(r, v, k, c.response); }},
       {"http", [&](const YAML::Node& v, const std::string& k) { ReadHttp(r, v, k, c.http); }},
       {"geoip",
        [&](const YAML::Node& v, const std::string& k) {
          r.Map(v, k,
                {{"mmdb", [&](const YAML::Node& x,
                              const std::string& kk) { c.geoip.mmdb = r.String(x, kk); }},
                 {"database",
                  [&](const YAML::Node& x, const std::string& kk) {
                    c.geoip.database = r.String(x, kk);
                    if (c.geoip.database.ends_with(".mmdb")) {
                      r.Fail(x, kk, "is the legacy GeoIP.dat; a MaxMind .mmdb goes in geoip.mmdb");
                    }
                  }},
                 {"database_v6", [&](const YAML::Node& x, const std::string& kk) {
                    c.geoip.database_v6 = r.String(x, kk);
                  }}});
        }},
       {"rules",
        [&](const YAML::Node& v, const std::string& k) {
          r.Map(v, k,
                {{"file", [&](const YAML::Node& x,
                              const std::string& kk) { c.rules.file = r.String(x, kk); }},
                 {"max_keys_per_rule", [&](const YAML::Node& x, const std::string& kk) {
                    c.rules.max_keys_per_rule = static_cast<uint32_t>(r.UInt(x, kk, 100, 10000000));
                  }}});
        }},
       {"model", [&](const YAML::Node& v, const std::string& k) {
          r.Map(v, k,
                {{"enabled", [&](const YAML::Node& x,
                                 const std::string& kk) { c.model.enabled = r.Bool(x, kk); }},
                 {"path",
                  [&](const YAML::Node& x, const std::string& kk) {
                    c.model.path = r.String(x, kk);
                    if (c.model.path.empty()) r.Fail(x, kk, "must name a bundle directory");
                  }},
                 {"anomalies", [&](const YAML::Node& x, const std::string& kk) {
                    c.model.anomalies = r.Bool(x, kk);
                  }}});
        }}});
  if (c.flows.activity_timeout >= c.flows.active_timeout) {
    throw ConfigError(name, root["flows"] ? root["flows"].Mark().line + 1 : 0,
                      "flows.activity_timeout", "must be shorter than flows.active_timeout");
  }
  return c;
}

Config LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path, 0, "(file)", "cannot read the file");
  std::stringstream text;
  text << in.rdbuf();
  return LoadConfigText(text.str(), path);
}

}  // namespace netguard::config
