#include "core/flow_record.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace netguard {
namespace {

Endpoint Side(const FlowRecord& flow, bool side_a) {
  const ng_flow_key& k = flow.key;
  return {AddressText(side_a ? k.addr_a : k.addr_b, k.family), side_a ? k.port_a : k.port_b};
}

}  // namespace

std::string AddressText(const uint32_t words[4], uint8_t family) {
  if (family == NG_FAMILY_IPV4) {
    uint8_t bytes[4];
    std::memcpy(bytes, words, sizeof(bytes));
    char buf[INET_ADDRSTRLEN];
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
      if (i > 0) *p++ = '.';
      p = std::to_chars(p, buf + sizeof(buf), bytes[i]).ptr;
    }
    return std::string(buf, p);
  }
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, words, buf, sizeof(buf));
  return buf;
}

std::string_view ToString(FlowEndReason reason) {
  switch (reason) {
    case FlowEndReason::kFin:
      return "fin";
    case FlowEndReason::kRst:
      return "rst";
    case FlowEndReason::kActiveTimeout:
      return "active_timeout";
    case FlowEndReason::kIdleTimeout:
      return "idle_timeout";
    case FlowEndReason::kShutdown:
      return "shutdown";
  }
  return "unknown";
}

Endpoint Initiator(const FlowRecord& flow) { return Side(flow, flow.acc.initiator == NG_SIDE_A); }

Endpoint Responder(const FlowRecord& flow) { return Side(flow, flow.acc.initiator != NG_SIDE_A); }

std::string ProtocolName(uint8_t proto) {
  switch (proto) {
    case 6:
      return "TCP";
    case 17:
      return "UDP";
    case 1:
      return "ICMP";
    case 58:
      return "ICMPv6";
  }
  return std::to_string(proto);
}

}  // namespace netguard
