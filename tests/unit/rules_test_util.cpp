#include "rules_test_util.h"

#include <arpa/inet.h>

#include <stdexcept>

#include "flow_update.h"

namespace netguard::testing {
namespace {

uint32_t V4(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) throw std::invalid_argument(text);
  return a.s_addr;
}

// Fills the canonical key and returns the side of `src`.
uint8_t Key(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport,
            uint8_t proto, ng_flow_key& key) {
  ng_pkt pkt{};
  pkt.src[0] = V4(src);
  pkt.dst[0] = V4(dst);
  pkt.sport = sport;
  pkt.dport = dport;
  pkt.family = NG_FAMILY_IPV4;
  pkt.proto = proto;
  return ng_flow_key_make(&pkt, &key);
}

}  // namespace

std::vector<Alert> Alerts::Of(const std::string& name) const {
  std::vector<Alert> out;
  for (const Alert& a : all) {
    if (a.detector == "rule." + name) out.push_back(a);
  }
  return out;
}

FlowRecord Flow(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport,
                uint8_t proto, int64_t start_ns, uint8_t flags, uint32_t fwd, uint32_t bwd,
                uint32_t fwd_payload, int64_t duration_ns) {
  FlowRecord f;
  f.acc.initiator = Key(src, dst, sport, dport, proto, f.key);
  f.acc.first_tcp_flags = proto == 6 ? flags : 0;
  f.acc.dir[NG_DIR_FWD].payload.count = fwd;
  f.acc.dir[NG_DIR_FWD].payload.sum = fwd_payload;
  f.acc.dir[NG_DIR_FWD].data_pkts = fwd_payload > 0 ? 1 : 0;
  f.acc.dir[NG_DIR_FWD].wire_bytes = fwd * 60ull + fwd_payload;
  if (proto == 6 && (flags & NG_TCP_SYN)) f.acc.dir[NG_DIR_FWD].flag_counts[1] = 1;
  f.acc.dir[NG_DIR_BWD].payload.count = bwd;
  f.acc.dir[NG_DIR_BWD].wire_bytes = bwd * 60ull;
  f.start_ns = start_ns;
  f.end_ns = start_ns + duration_ns;
  return f;
}

PacketSample Packet(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport,
                    uint8_t proto, int64_t time_ns, uint32_t wire_len, uint8_t reason) {
  PacketSample s;
  s.side = Key(src, dst, sport, dport, proto, s.key);
  s.time_ns = time_ns;
  s.wire_len = wire_len;
  s.reason = reason;
  if (proto == 1 || proto == 58) s.icmp_type = proto == 1 ? 8 : 128;  // echo request
  return s;
}

PacketSample DnsQuery(const std::string& src, const std::string& dst, const std::string& name,
                      uint16_t qtype, int64_t time_ns) {
  PacketSample s = Packet(src, dst, 40000, 53, 17, time_ns, 100, NG_SAMPLE_DNS_QUERY);
  s.dns = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    s.dns.push_back(static_cast<uint8_t>(dot - start));
    s.dns.insert(s.dns.end(), name.begin() + static_cast<long>(start),
                 name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  s.dns.push_back(0);
  s.dns.push_back(static_cast<uint8_t>(qtype >> 8));
  s.dns.push_back(static_cast<uint8_t>(qtype));
  s.dns.push_back(0);
  s.dns.push_back(1);
  return s;
}

PacketSample Arp(const std::string& sender_ip, const std::string& target_ip, uint8_t mac_last,
                 uint16_t op, int64_t time_ns) {
  PacketSample s;
  s.time_ns = time_ns;
  s.reason = NG_SAMPLE_ARP;
  s.wire_len = 42;
  s.is_arp = true;
  s.arp_ipv4 = true;
  s.arp.op = op;
  s.arp.sender_mac = {0x02, 0, 0, 0, 0, mac_last};
  s.arp.sender_ip = V4(sender_ip);
  s.arp.target_ip = V4(target_ip);
  return s;
}

}  // namespace netguard::testing
