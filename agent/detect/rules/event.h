// Event: one flow start, flow end or sampled packet, as every rule sees it.
#ifndef NETGUARD_AGENT_DETECT_RULES_EVENT_H_
#define NETGUARD_AGENT_DETECT_RULES_EVENT_H_

#include <cstdint>

#include "core/flow_record.h"
#include "core/packet_sample.h"
#include "detect/rules/dns.h"
#include "detect/rules/rule_spec.h"

namespace netguard::detect::rules {

struct Event {
  Trigger trigger = Trigger::kFlowStart;
  int64_t time_ns = 0;
  uint8_t family = 0;
  uint8_t proto = 0;
  const uint32_t* src = nullptr;  // initiator (flows) or sender (packets); 4 words
  const uint32_t* dst = nullptr;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t flags = 0;       // TCP flags of the first packet (flows) or of the packet
  uint32_t size = 0;       // frame length (packets) or mean frame length (flows)
  uint64_t payload = 0;    // payload bytes of the packet or of the flow (both directions)
  double packets = 0;      // packets of the flow, or those a sample stands for (1 or K)
  double bytes = 0;        // frame bytes, likewise
  double duration_ms = 0;  // flows only
  const FlowRecord* flow = nullptr;
  const PacketSample* sample = nullptr;
  const DnsQuestion* dns = nullptr;  // a parsed DNS query sample
};

/// Whether `event` satisfies a custom rule's condition.
bool Matches(const Condition& condition, const Event& event);

}  // namespace netguard::detect::rules

#endif  // NETGUARD_AGENT_DETECT_RULES_EVENT_H_
