// FlowRecord: one finished flow, the unit every capture backend produces and every detector reads.
#ifndef NETGUARD_AGENT_CORE_FLOW_RECORD_H_
#define NETGUARD_AGENT_CORE_FLOW_RECORD_H_

#include <cstdint>
#include <string>

#include "netguard.h"

namespace netguard {

/// Why a flow was handed on.
enum class FlowEndReason : uint8_t {
  kFin = 1,            // TCP FIN (kernel)
  kRst = 2,            // TCP RST (kernel)
  kActiveTimeout = 3,  // longer than the active timeout (kernel on a packet, agent on a sweep)
  kIdleTimeout = 4,    // no packet for the idle timeout (agent sweep)
  kShutdown = 5,       // flushed when capture stopped
};
std::string_view ToString(FlowEndReason reason);

/// One flow with its accumulator snapshot. Timestamps are wall-clock nanoseconds since the Unix
/// epoch (the eBPF backend converts from CLOCK_MONOTONIC; pcap gives capture time).
struct FlowRecord {
  int64_t id = 0;  // store id, 0 until stored
  ng_flow_key key{};
  ng_flow acc{};
  FlowEndReason end_reason = FlowEndReason::kIdleTimeout;
  uint32_t ifindex = 0;
  int64_t start_ns = 0;  // first packet, wall clock
  int64_t end_ns = 0;    // last packet, wall clock
};

/// One side of a flow as text, e.g. {"10.0.0.1", 443}.
struct Endpoint {
  std::string address;
  uint16_t port = 0;
};

/// Text of an address as the flow key holds it (network byte order words; IPv4 in words[0]).
/// IPv4 is formatted directly (inet_ntop goes through sprintf: a third of a flow's store cost).
std::string AddressText(const uint32_t words[4], uint8_t family);

/// The sender of the flow's first packet (the "source" of a CICFlowMeter row).
Endpoint Initiator(const FlowRecord& flow);
/// The other side.
Endpoint Responder(const FlowRecord& flow);
/// "TCP", "UDP", "ICMP", "ICMPv6" or the protocol number.
std::string ProtocolName(uint8_t proto);

}  // namespace netguard

#endif  // NETGUARD_AGENT_CORE_FLOW_RECORD_H_
