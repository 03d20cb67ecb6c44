#include "core/packet_sample.h"

#include <algorithm>
#include <cstring>

#include "packet_parse.h"

namespace netguard {

bool DecodeSampleFrame(std::span<const uint8_t> frame, PacketSample& out) {
  if (frame.size() >= 12) {
    std::copy_n(frame.data(), 6, out.dst_mac.begin());
    std::copy_n(frame.data() + 6, 6, out.src_mac.begin());
  }
  ng_cursor cursor{frame.data(), frame.data() + frame.size()};
  ng_pkt pkt{};
  // The IP length checks compare with the wire length; a sample holds only the frame's start.
  const int l3 = ng_parse_l3(&cursor, out.wire_len, &pkt);
  if (l3 == NG_L3_ARP) {
    out.is_arp = true;
    // Ethernet, then up to two VLAN tags (ng_parse_l3 checked they are there).
    size_t offset = 14;
    for (int i = 0; i < 2; ++i) {
      const uint16_t type = ng_be16(frame.data() + offset - 2);
      if (type != NG_ETH_P_8021Q && type != NG_ETH_P_8021AD) break;
      offset += 4;
    }
    const uint8_t* arp = frame.data() + offset;
    const bool ipv4 = frame.size() >= offset + 28 && ng_be16(arp) == 1 &&
                      ng_be16(arp + 2) == NG_ETH_P_IP && arp[4] == 6 && arp[5] == 4;
    if (!ipv4) return true;
    out.arp_ipv4 = true;
    out.arp.op = ng_be16(arp + 6);
    std::copy_n(arp + 8, 6, out.arp.sender_mac.begin());
    std::memcpy(&out.arp.sender_ip, arp + 14, 4);
    std::copy_n(arp + 18, 6, out.arp.target_mac.begin());
    std::memcpy(&out.arp.target_ip, arp + 24, 4);
    return true;
  }
  if (l3 != NG_L3_IP) return false;
  if (ng_parse_l4(&cursor, &pkt) != NG_L4_FLOW) return false;
  out.tcp_flags = pkt.tcp_flags;
  out.payload_len = pkt.payload_len;
  // The cursor stands after the transport's fixed 8 bytes, the first of which is the type.
  if (pkt.proto == NG_IPPROTO_ICMP || pkt.proto == NG_IPPROTO_ICMPV6)
    out.icmp_type = cursor.pos[-8];
  if (out.reason != NG_SAMPLE_DNS_QUERY) return true;
  // The cursor stands after the fixed transport header; skip TCP options and the length prefix.
  const uint8_t* payload = cursor.pos;
  if (pkt.proto == NG_IPPROTO_TCP) payload += (pkt.l4_hdr_len - 20) + 2;
  if (payload < cursor.end) out.dns.assign(payload, cursor.end);
  return true;
}

bool DecodePacketSample(const ng_packet_sample& record, int64_t time_ns, PacketSample& out) {
  out.time_ns = time_ns;
  out.reason = record.hdr.reason;
  out.hook = record.hdr.hook;
  out.ifindex = record.hdr.ifindex;
  out.key = record.key;
  out.side = record.side;
  out.wire_len = record.wire_len;
  const size_t cap = std::min<size_t>(record.cap_len, sizeof(record.data));
  return DecodeSampleFrame({record.data, cap}, out);
}

const uint32_t* SampleSender(const PacketSample& s) {
  return s.side == NG_SIDE_A ? s.key.addr_a : s.key.addr_b;
}

const uint32_t* SampleReceiver(const PacketSample& s) {
  return s.side == NG_SIDE_A ? s.key.addr_b : s.key.addr_a;
}

}  // namespace netguard
