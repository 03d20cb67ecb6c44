// The question of a sampled DNS query and the measures the DNS rules use.
#ifndef NETGUARD_AGENT_DETECT_RULES_DNS_H_
#define NETGUARD_AGENT_DETECT_RULES_DNS_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace netguard::detect::rules {

/// The first question of a DNS query.
struct DnsQuestion {
  std::string name;       // lower case, no trailing dot, e.g. "a1b2.tunnel.example.com"
  uint16_t qtype = 0;     // 1 A, 16 TXT, 10 NULL, ...
  std::string parent;     // the last two labels, e.g. "example.com"
  std::string subdomain;  // what comes before parent, may be empty
  size_t longest_label = 0;
};

/// Parses the first question of a DNS message; nullopt when the message is not a query or
/// the name is truncated or malformed (compression pointers are not valid in a question).
std::optional<DnsQuestion> ParseDnsQuery(std::span<const uint8_t> message);

/// Shannon entropy of the characters of `text`, in bits per character (0 for empty text).
double ShannonEntropy(std::string_view text);

}  // namespace netguard::detect::rules

#endif  // NETGUARD_AGENT_DETECT_RULES_DNS_H_
