// IPv4/IPv6 prefixes in CIDR notation.
#ifndef NETGUARD_AGENT_COMMON_IP_PREFIX_H_
#define NETGUARD_AGENT_COMMON_IP_PREFIX_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace netguard {

/// An address prefix such as 10.0.0.0/8 or 2001:db8::/32, with host bits cleared.
struct IpPrefix {
  enum class Family : uint8_t { kIpv4 = 4, kIpv6 = 6 };

  Family family = Family::kIpv4;
  std::array<uint8_t, 16> addr{};  // network byte order; IPv4 uses the first 4 bytes
  uint8_t length = 0;              // prefix length in bits

  /// Parses "ADDR" (a host: /32 or /128) or "ADDR/LEN". Host bits beyond LEN are cleared, so
  /// 10.1.2.3/8 is 10.0.0.0/8. Throws std::invalid_argument naming the bad part.
  static IpPrefix Parse(std::string_view text);

  /// Canonical text, e.g. "10.0.0.0/8" or "2001:db8::/32".
  std::string ToString() const;

  /// Bits in an address of this family: 32 or 128.
  uint8_t max_length() const { return family == Family::kIpv4 ? 32 : 128; }

  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

}  // namespace netguard

#endif  // NETGUARD_AGENT_COMMON_IP_PREFIX_H_
