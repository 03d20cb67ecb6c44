#include "core/flow_record.h"

#include <arpa/inet.h>

namespace netguard {
namespace {

Endpoint Side(const FlowRecord& flow, bool side_a) {
  const ng_flow_key& k = flow.key;
  char buf[INET6_ADDRSTRLEN] = {};
  const void* addr = side_a ? static_cast<const void*>(k.addr_a) : static_cast<const void*>(k.addr_b);
  inet_ntop(k.family == NG_FAMILY_IPV4 ? AF_INET : AF_INET6, addr, buf, sizeof(buf));
  return {buf, side_a ? k.port_a : k.port_b};
}

}  // namespace

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
