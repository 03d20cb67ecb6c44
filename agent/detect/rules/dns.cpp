#include "detect/rules/dns.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>

namespace netguard::detect::rules {

std::optional<DnsQuestion> ParseDnsQuery(std::span<const uint8_t> m) {
  if (m.size() < 12 || (m[2] & 0x80) != 0) return std::nullopt;  // short, or a response
  const unsigned qdcount = static_cast<unsigned>(m[4]) << 8 | m[5];
  if (qdcount == 0) return std::nullopt;
  DnsQuestion q;
  size_t pos = 12;
  size_t last_start = 0, before_last_start = 0;
  for (;;) {
    if (pos >= m.size()) return std::nullopt;
    const size_t len = m[pos];
    if (len == 0) break;
    if (len > 63 || pos + 1 + len > m.size() || q.name.size() + len + 1 > 253) return std::nullopt;
    if (!q.name.empty()) q.name += '.';
    const size_t start = q.name.size();
    for (size_t i = 0; i < len; ++i) {
      q.name += static_cast<char>(std::tolower(m[pos + 1 + i]));
    }
    before_last_start = last_start;
    last_start = start;
    q.longest_label = std::max(q.longest_label, len);
    pos += 1 + len;
  }
  if (pos + 3 > m.size() || q.name.empty()) return std::nullopt;
  q.qtype = static_cast<uint16_t>(m[pos + 1] << 8 | m[pos + 2]);
  // Two labels or fewer: the whole name is the parent.
  const bool two_or_less = before_last_start == 0;
  q.parent = two_or_less ? q.name : q.name.substr(before_last_start);
  q.subdomain = two_or_less ? "" : q.name.substr(0, before_last_start - 1);
  return q;
}

double ShannonEntropy(std::string_view text) {
  if (text.empty()) return 0;
  std::array<uint32_t, 256> counts{};
  for (unsigned char c : text) ++counts[c];
  double h = 0;
  const double n = static_cast<double>(text.size());
  for (uint32_t c : counts) {
    if (c == 0) continue;
    const double p = c / n;
    h -= p * std::log2(p);
  }
  return h;
}

}  // namespace netguard::detect::rules
