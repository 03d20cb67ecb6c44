// PacketSample: one sampled packet (first packets of a flow, DNS queries, ARP, 1-in-K), decoded
// from the frame bytes the data plane copied (struct ng_packet_sample) or libpcap captured.
#ifndef NETGUARD_AGENT_CORE_PACKET_SAMPLE_H_
#define NETGUARD_AGENT_CORE_PACKET_SAMPLE_H_

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "netguard.h"

namespace netguard {

/// The ARP fields of an Ethernet/IPv4 ARP packet.
struct ArpFields {
  uint16_t op = 0;  // 1 request, 2 reply
  std::array<uint8_t, 6> sender_mac{};
  uint32_t sender_ip = 0;  // network byte order
  std::array<uint8_t, 6> target_mac{};
  uint32_t target_ip = 0;  // network byte order
};

/// A sampled packet. `key` and `side` are those of its flow (zero for ARP); the L3/L4 fields are
/// decoded from the captured bytes.
struct PacketSample {
  int64_t time_ns = 0;  // wall clock, ns since the epoch
  uint8_t reason = 0;   // enum ng_sample_reason
  uint8_t hook = 0;     // enum ng_hook (pcap: NG_HOOK_XDP)
  uint32_t ifindex = 0;
  ng_flow_key key{};
  uint8_t side = 0;       // enum ng_side of the sender
  uint32_t wire_len = 0;  // whole frame
  uint8_t tcp_flags = 0;
  uint32_t payload_len = 0;  // transport payload bytes (from the IP header's lengths)
  uint8_t icmp_type = 0;     // ICMP / ICMPv6 type; 0 for other protocols
  bool is_arp = false;
  ArpFields arp;  // valid when is_arp and the ARP is Ethernet/IPv4
  bool arp_ipv4 = false;
  std::array<uint8_t, 6> src_mac{};
  std::array<uint8_t, 6> dst_mac{};
  /// DNS message bytes (UDP payload, or TCP payload after the 2-byte length) as far as they
  /// were captured; empty unless reason is NG_SAMPLE_DNS_QUERY.
  std::vector<uint8_t> dns;
};

/// Decodes a captured frame (from the Ethernet header). Returns false when the frame does not
/// parse (the sample is then left with what was decoded).
bool DecodeSampleFrame(std::span<const uint8_t> frame, PacketSample& out);

/// Builds a PacketSample from a ring record; `time_ns` is the record's timestamp on the wall
/// clock. Returns false when the captured bytes do not parse.
bool DecodePacketSample(const ng_packet_sample& record, int64_t time_ns, PacketSample& out);

/// The sender's address of a flow sample (side A or B of the key).
const uint32_t* SampleSender(const PacketSample& s);
/// The receiver's address of a flow sample.
const uint32_t* SampleReceiver(const PacketSample& s);

}  // namespace netguard

#endif  // NETGUARD_AGENT_CORE_PACKET_SAMPLE_H_
