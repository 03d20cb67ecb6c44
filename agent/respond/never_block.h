// The addresses the auto-block policy must never block: the allowlist, this host's own
// addresses, gateways and DNS servers (configured, and read from the system).
#ifndef NETGUARD_AGENT_RESPOND_NEVER_BLOCK_H_
#define NETGUARD_AGENT_RESPOND_NEVER_BLOCK_H_

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_prefix.h"

namespace netguard::respond {

/// Where the system's own never-block addresses come from (tests point them at fixtures).
struct SystemSources {
  std::string resolv_conf = "/etc/resolv.conf";   // nameserver lines
  std::string route_v4 = "/proc/net/route";       // default-route gateways (IPv4)
  std::string route_v6 = "/proc/net/ipv6_route";  // default-route gateways (IPv6)
  /// This host's interface addresses (all interfaces, v4 and v6).
  std::function<std::vector<IpPrefix>()> host_addresses;  // empty: respond::HostAddresses
};

/// The configured never-block prefixes, by class.
struct NeverBlockConfig {
  std::vector<IpPrefix> allowlist;    // config allowlist + allowlist files
  std::vector<IpPrefix> never_block;  // response.never_block
  std::vector<IpPrefix> gateways;     // response.gateways
  std::vector<IpPrefix> dns_servers;  // response.dns_servers
};

/// The nameserver addresses of a resolv.conf file (missing file: none; bad lines skipped).
std::vector<IpPrefix> ResolvConfNameservers(const std::string& path);
/// The gateways of the default routes in /proc/net/route and /proc/net/ipv6_route format
/// (missing files: none).
std::vector<IpPrefix> DefaultGateways(const std::string& route_v4, const std::string& route_v6);

/// Thread-safe. The system part (host addresses, resolv.conf, default gateways) is re-read by
/// Refresh(); the policy calls it before every block decision, so an address added to an
/// interface a moment ago is already spared.
class NeverBlock {
 public:
  explicit NeverBlock(NeverBlockConfig config, SystemSources sources = {});

  /// Re-reads the system's addresses.
  void Refresh();
  /// Replaces the configured part (SIGHUP).
  void set_config(NeverBlockConfig config);
  /// Why `prefix` must never be blocked ("allowlisted (10.0.0.0/8)", "this host's address
  /// 10.0.0.1/32", "a DNS server from /etc/resolv.conf (10.0.0.53/32)", ...), or nullopt.
  std::optional<std::string> Why(const IpPrefix& prefix) const;

 private:
  mutable std::mutex mu_;
  NeverBlockConfig config_;
  SystemSources sources_;
  std::vector<IpPrefix> host_;
  std::vector<IpPrefix> resolvers_;
  std::vector<IpPrefix> default_gateways_;
};

}  // namespace netguard::respond

#endif  // NETGUARD_AGENT_RESPOND_NEVER_BLOCK_H_
