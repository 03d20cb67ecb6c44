#include "respond/never_block.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "respond/block_manager.h"

namespace netguard::respond {
namespace {

std::optional<std::string> Find(const std::vector<IpPrefix>& list, const IpPrefix& prefix,
                                const std::string& what) {
  for (const IpPrefix& p : list) {
    if (Overlaps(p, prefix)) return what + " (" + p.ToString() + ")";
  }
  return std::nullopt;
}

// 32 hex digits of /proc/net/ipv6_route -> 16 bytes; false if malformed.
bool HexBytes(const std::string& hex, uint8_t* out, size_t n) {
  if (hex.size() != 2 * n) return false;
  for (size_t i = 0; i < n; ++i) {
    unsigned value = 0;
    if (std::sscanf(hex.c_str() + 2 * i, "%2x", &value) != 1) return false;
    out[i] = static_cast<uint8_t>(value);
  }
  return true;
}

}  // namespace

std::vector<IpPrefix> ResolvConfNameservers(const std::string& path) {
  std::vector<IpPrefix> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string keyword, address;
    if (!(words >> keyword >> address) || keyword != "nameserver") continue;
    // A link-local v6 resolver may carry a zone ("fe80::1%eth0"): the address is what counts.
    address = address.substr(0, address.find('%'));
    try {
      out.push_back(IpPrefix::Parse(address));
    } catch (const std::invalid_argument&) {
      // Not ours to validate: the resolver library ignores such lines too.
    }
  }
  return out;
}

std::vector<IpPrefix> DefaultGateways(const std::string& route_v4, const std::string& route_v6) {
  std::vector<IpPrefix> out;
  {
    std::ifstream in(route_v4);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string iface, destination, gateway, flags, refcnt, use, metric, mask;
      if (!(fields >> iface >> destination >> gateway >> flags >> refcnt >> use >> metric >>
            mask)) {
        continue;
      }
      if (destination != "00000000" || mask != "00000000") continue;
      // The kernel prints the address as a host-order u32: copying it back gives the bytes.
      uint32_t value = 0;
      if (std::sscanf(gateway.c_str(), "%8x", &value) != 1 || value == 0) continue;
      IpPrefix p{.family = IpPrefix::Family::kIpv4, .addr = {}, .length = 32};
      std::memcpy(p.addr.data(), &value, 4);
      out.push_back(p);
    }
  }
  {
    std::ifstream in(route_v6);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string destination, dest_len, source, source_len, next_hop;
      if (!(fields >> destination >> dest_len >> source >> source_len >> next_hop)) continue;
      if (dest_len != "00") continue;
      IpPrefix p{.family = IpPrefix::Family::kIpv6, .addr = {}, .length = 128};
      if (!HexBytes(next_hop, p.addr.data(), 16)) continue;
      if (p.addr == std::array<uint8_t, 16>{}) continue;  // no gateway (on-link)
      out.push_back(p);
    }
  }
  return out;
}

NeverBlock::NeverBlock(NeverBlockConfig config, SystemSources sources)
    : config_(std::move(config)), sources_(std::move(sources)) {
  if (!sources_.host_addresses) sources_.host_addresses = HostAddresses;
  Refresh();
}

void NeverBlock::Refresh() {
  std::vector<IpPrefix> host = sources_.host_addresses();
  std::vector<IpPrefix> resolvers = ResolvConfNameservers(sources_.resolv_conf);
  std::vector<IpPrefix> gateways = DefaultGateways(sources_.route_v4, sources_.route_v6);
  std::lock_guard lock(mu_);
  host_ = std::move(host);
  resolvers_ = std::move(resolvers);
  default_gateways_ = std::move(gateways);
}

void NeverBlock::set_config(NeverBlockConfig config) {
  std::lock_guard lock(mu_);
  config_ = std::move(config);
}

std::optional<std::string> NeverBlock::Why(const IpPrefix& prefix) const {
  std::lock_guard lock(mu_);
  if (auto why = Find(config_.allowlist, prefix, "allowlisted")) return why;
  if (auto why = Find(config_.never_block, prefix, "in response.never_block")) return why;
  if (auto why = Find(host_, prefix, "this host's address")) return why;
  if (auto why = Find(config_.gateways, prefix, "a configured gateway")) return why;
  if (auto why = Find(default_gateways_, prefix, "a default-route gateway")) return why;
  if (auto why = Find(config_.dns_servers, prefix, "a configured DNS server")) return why;
  return Find(resolvers_, prefix, "a DNS server from " + sources_.resolv_conf);
}

}  // namespace netguard::respond
