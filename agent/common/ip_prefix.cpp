#include "common/ip_prefix.h"

#include <arpa/inet.h>

#include <charconv>
#include <stdexcept>

namespace netguard {

IpPrefix IpPrefix::Parse(std::string_view text) {
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument("invalid prefix '" + std::string(text) + "': " + why);
  };
  const size_t slash = text.find('/');
  const std::string host(text.substr(0, slash));
  IpPrefix prefix;
  if (inet_pton(AF_INET, host.c_str(), prefix.addr.data()) == 1) {
    prefix.family = Family::kIpv4;
  } else if (inet_pton(AF_INET6, host.c_str(), prefix.addr.data()) == 1) {
    prefix.family = Family::kIpv6;
  } else {
    throw bad("'" + host + "' is not an IPv4 or IPv6 address");
  }

  prefix.length = prefix.max_length();
  if (slash != std::string_view::npos) {
    const std::string_view len = text.substr(slash + 1);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), value);
    if (len.empty() || ec != std::errc() || end != len.data() + len.size()) {
      throw bad("prefix length '" + std::string(len) + "' is not a number");
    }
    if (value > prefix.max_length()) {
      throw bad("prefix length " + std::to_string(value) + " exceeds " +
                std::to_string(prefix.max_length()));
    }
    prefix.length = static_cast<uint8_t>(value);
  }

  for (unsigned bit = prefix.length; bit < prefix.max_length(); ++bit) {
    prefix.addr[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return prefix;
}

std::string IpPrefix::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == Family::kIpv4 ? AF_INET : AF_INET6, addr.data(), buf, sizeof(buf));
  return std::string(buf) + "/" + std::to_string(length);
}

}  // namespace netguard
