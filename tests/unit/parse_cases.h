// The frames both parser suites run: tests/unit/parse_test.cpp feeds them to the shared parser
// compiled in user space, tests/bpf/parse_bpf_test.cpp to the loaded XDP and TC programs. Each
// case says what the parser must conclude, so both paths are held to the same answers.
#ifndef NETGUARD_TESTS_UNIT_PARSE_CASES_H_
#define NETGUARD_TESTS_UNIT_PARSE_CASES_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "netguard.h"
#include "support/packet_builder.h"

namespace netguard::testing {

enum class Outcome {
  kFlow,      // accounted to a flow
  kFragment,  // non-first IP fragment: counted, not tracked
  kArp,
  kNonIp,
  kError,  // parse error `error`
};

struct ParseCase {
  std::string name{};
  std::vector<uint8_t> frame{};
  Outcome outcome = Outcome::kFlow;
  ng_parse_error error = NG_ERR_COUNT;  // for kError
  // Expected parse results for kFlow (addresses and family also for kFragment).
  std::string src{};
  std::string dst{};
  uint8_t family = 0;
  uint8_t proto = 0;
  uint16_t vlan_id = 0;
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint16_t l3_hdr_len = 0;
  uint16_t l4_hdr_len = 0;
  uint32_t payload_len = 0;
  uint8_t tcp_flags = 0;
  uint16_t window = 0;
  bool dns_query = false;
};

inline const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kFlow:
      return "flow";
    case Outcome::kFragment:
      return "fragment";
    case Outcome::kArp:
      return "arp";
    case Outcome::kNonIp:
      return "non-ip";
    case Outcome::kError:
      return "error";
  }
  return "?";
}

// gtest printers, so that failures name the outcome and the case.
inline void PrintTo(Outcome o, std::ostream* os) { *os << OutcomeName(o); }
inline void PrintTo(const ParseCase& c, std::ostream* os) {
  *os << c.name << " (" << c.frame.size() << " bytes)";
}

namespace parse_cases {

inline constexpr uint8_t kFin = NG_TCP_FIN;
inline constexpr uint8_t kSyn = NG_TCP_SYN;
inline constexpr uint8_t kRst = NG_TCP_RST;
inline constexpr uint8_t kPsh = NG_TCP_PSH;
inline constexpr uint8_t kAck = NG_TCP_ACK;

inline void Set16(std::vector<uint8_t>& f, size_t at, uint16_t v) {
  f.at(at) = static_cast<uint8_t>(v >> 8);
  f.at(at + 1) = static_cast<uint8_t>(v);
}

inline std::vector<uint8_t> Cut(std::vector<uint8_t> f, size_t size) {
  f.resize(size);
  return f;
}

/// Sets the IPv4 total length (header at byte 14) to what the frame holds.
inline std::vector<uint8_t> FitIpv4(std::vector<uint8_t> f) {
  Set16(f, 14 + 2, static_cast<uint16_t>(f.size() - 14));
  return f;
}

/// Sets the IPv6 payload length (header at byte 14) to what the frame holds.
inline std::vector<uint8_t> FitIpv6(std::vector<uint8_t> f) {
  Set16(f, 14 + 4, static_cast<uint16_t>(f.size() - 14 - 40));
  return f;
}

/// A DNS message: 12-byte header with the given flags, one question for example.com A IN.
inline std::vector<uint8_t> Dns(uint16_t flags, bool tcp_length_prefix = false) {
  std::vector<uint8_t> msg = {0x12, 0x34};  // ID
  msg.push_back(static_cast<uint8_t>(flags >> 8));
  msg.push_back(static_cast<uint8_t>(flags));
  msg.insert(msg.end(), {0, 1, 0, 0, 0, 0, 0, 0});  // 1 question, no other records
  const uint8_t question[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,  // name
                              0, 1,   0,   1};  // type A, class IN
  msg.insert(msg.end(), std::begin(question), std::end(question));
  if (tcp_length_prefix) {
    const auto len = static_cast<uint16_t>(msg.size());
    msg.insert(msg.begin(), {static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)});
  }
  return msg;
}

inline PacketBuilder V4() { return PacketBuilder().Ip("10.0.0.1", "10.0.0.2"); }
inline PacketBuilder V6() { return PacketBuilder().Ip("2001:db8::1", "2001:db8::2"); }

}  // namespace parse_cases

/// Every frame of the parser suites, valid ones first.
inline std::vector<ParseCase> ParseCases() {
  using namespace parse_cases;
  constexpr uint8_t kV4 = NG_FAMILY_IPV4;
  constexpr uint8_t kV6 = NG_FAMILY_IPV6;
  std::vector<ParseCase> cases;

  // ---- IPv4 transports ----
  cases.push_back({.name = "ipv4_tcp_syn_options",
                   .frame = V4().Tcp(40000, 80, kSyn, 64240, 12).Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 6,
                   .sport = 40000,
                   .dport = 80,
                   .l3_hdr_len = 20,
                   .l4_hdr_len = 32,
                   .payload_len = 0,
                   .tcp_flags = kSyn,
                   .window = 64240});
  cases.push_back({.name = "ipv4_tcp_payload",
                   .frame = V4().Tcp(40000, 80, kPsh | kAck, 502).Payload(100).Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 6,
                   .sport = 40000,
                   .dport = 80,
                   .l3_hdr_len = 20,
                   .l4_hdr_len = 20,
                   .payload_len = 100,
                   .tcp_flags = kPsh | kAck,
                   .window = 502});
  cases.push_back({.name = "ipv4_udp",
                   .frame = V4().Udp(5353, 9999).Payload(17).Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 17,
                   .sport = 5353,
                   .dport = 9999,
                   .l3_hdr_len = 20,
                   .l4_hdr_len = 8,
                   .payload_len = 17});
  cases.push_back({.name = "ipv4_icmp",
                   .frame = V4().Icmp(8, 0).Payload(56).Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 1,
                   .l3_hdr_len = 20,
                   .l4_hdr_len = 8,
                   .payload_len = 56});
  cases.push_back({.name = "ipv4_gre_other_transport",
                   .frame = V4().Proto(47).Payload(24).Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 47,
                   .l3_hdr_len = 20,
                   .l4_hdr_len = 0,
                   .payload_len = 24});
  {
    // Ethernet padding to 60 bytes is not payload: lengths come from the IP header.
    auto frame = V4().Udp(1000, 2000).Payload(4).Build();
    frame.resize(60, 0);
    cases.push_back({.name = "ipv4_udp_ethernet_padding",
                     .frame = frame,
                     .src = "10.0.0.1",
                     .dst = "10.0.0.2",
                     .family = kV4,
                     .proto = 17,
                     .sport = 1000,
                     .dport = 2000,
                     .l3_hdr_len = 20,
                     .l4_hdr_len = 8,
                     .payload_len = 4});
  }
  cases.push_back({.name = "ipv4_options_8",
                   .frame = V4().Ipv4Options(8).Udp(1000, 2000).Payload(10).Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 17,
                   .sport = 1000,
                   .dport = 2000,
                   .l3_hdr_len = 28,
                   .l4_hdr_len = 8,
                   .payload_len = 10});
  cases.push_back({.name = "ipv4_options_40_max_ihl",
                   .frame = V4().Ipv4Options(40).Tcp(40000, 80, kAck, 1000).Payload(3).Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 6,
                   .sport = 40000,
                   .dport = 80,
                   .l3_hdr_len = 60,
                   .l4_hdr_len = 20,
                   .payload_len = 3,
                   .tcp_flags = kAck,
                   .window = 1000});
  cases.push_back({.name = "ipv4_first_fragment",
                   .frame = V4().Ipv4Fragment(0, true).Udp(1000, 2000).Payload(64).Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 17,
                   .sport = 1000,
                   .dport = 2000,
                   .l3_hdr_len = 20,
                   .l4_hdr_len = 8,
                   .payload_len = 64});

  // ---- IPv6 ----
  cases.push_back({.name = "ipv6_tcp",
                   .frame = V6().Tcp(40000, 443, kSyn | kAck, 65535, 20).Payload(10).Build(),
                   .src = "2001:db8::1",
                   .dst = "2001:db8::2",
                   .family = kV6,
                   .proto = 6,
                   .sport = 40000,
                   .dport = 443,
                   .l3_hdr_len = 40,
                   .l4_hdr_len = 40,
                   .payload_len = 10,
                   .tcp_flags = kSyn | kAck,
                   .window = 65535});
  cases.push_back({.name = "ipv6_udp",
                   .frame = V6().Udp(546, 547).Payload(30).Build(),
                   .src = "2001:db8::1",
                   .dst = "2001:db8::2",
                   .family = kV6,
                   .proto = 17,
                   .sport = 546,
                   .dport = 547,
                   .l3_hdr_len = 40,
                   .l4_hdr_len = 8,
                   .payload_len = 30});
  cases.push_back({.name = "ipv6_icmpv6",
                   .frame = V6().Icmp(128, 0).Payload(32).Build(),
                   .src = "2001:db8::1",
                   .dst = "2001:db8::2",
                   .family = kV6,
                   .proto = 58,
                   .l3_hdr_len = 40,
                   .l4_hdr_len = 8,
                   .payload_len = 32});
  cases.push_back({.name = "ipv6_ext_hbh_routing_dstopts_fragment",
                   .frame = V6().Ipv6Ext(0, 8)
                                .Ipv6Ext(43, 24)
                                .Ipv6Ext(60, 16)
                                .Ipv6Ext(44, 8, 0)
                                .Udp(1000, 2000)
                                .Payload(5)
                                .Build(),
                   .src = "2001:db8::1",
                   .dst = "2001:db8::2",
                   .family = kV6,
                   .proto = 17,
                   .sport = 1000,
                   .dport = 2000,
                   .l3_hdr_len = 40 + 56,
                   .l4_hdr_len = 8,
                   .payload_len = 5});
  cases.push_back({.name = "ipv6_ext_ah",
                   .frame = V6().Ipv6Ext(51, 16).Tcp(40000, 22, kAck, 300).Payload(7).Build(),
                   .src = "2001:db8::1",
                   .dst = "2001:db8::2",
                   .family = kV6,
                   .proto = 6,
                   .sport = 40000,
                   .dport = 22,
                   .l3_hdr_len = 56,
                   .l4_hdr_len = 20,
                   .payload_len = 7,
                   .tcp_flags = kAck,
                   .window = 300});
  {
    // NG_IPV6_MAX_EXT_HEADERS extension headers are allowed; one more is the limit error.
    PacketBuilder at_limit = V6();
    for (int i = 0; i < NG_IPV6_MAX_EXT_HEADERS; ++i) at_limit.Ipv6Ext(60, 8);
    cases.push_back({.name = "ipv6_ext_at_limit",
                     .frame = at_limit.Udp(1000, 2000).Payload(1).Build(),
                     .src = "2001:db8::1",
                     .dst = "2001:db8::2",
                     .family = kV6,
                     .proto = 17,
                     .sport = 1000,
                     .dport = 2000,
                     .l3_hdr_len = 40 + 8 * NG_IPV6_MAX_EXT_HEADERS,
                     .l4_hdr_len = 8,
                     .payload_len = 1});
  }

  // ---- VLAN ----
  cases.push_back({.name = "vlan_ipv4_udp",
                   .frame = V4().Vlan(100).Udp(1000, 2000).Payload(8).Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 17,
                   .vlan_id = 100,
                   .sport = 1000,
                   .dport = 2000,
                   .l3_hdr_len = 20,
                   .l4_hdr_len = 8,
                   .payload_len = 8});
  cases.push_back({.name = "vlan_pcp_bits_masked_ipv6",
                   .frame = V6().Vlan(0xe000 | 42).Udp(1000, 2000).Payload(8).Build(),
                   .src = "2001:db8::1",
                   .dst = "2001:db8::2",
                   .family = kV6,
                   .proto = 17,
                   .vlan_id = 42,
                   .sport = 1000,
                   .dport = 2000,
                   .l3_hdr_len = 40,
                   .l4_hdr_len = 8,
                   .payload_len = 8});
  cases.push_back({.name = "qinq_8021ad_outer_vid",
                   .frame = V4().Vlan(200, PacketBuilder::kTpid8021AD)
                                .Vlan(300)
                                .Tcp(40000, 80, kAck, 900)
                                .Payload(12)
                                .Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 6,
                   .vlan_id = 200,
                   .sport = 40000,
                   .dport = 80,
                   .l3_hdr_len = 20,
                   .l4_hdr_len = 20,
                   .payload_len = 12,
                   .tcp_flags = kAck,
                   .window = 900});
  cases.push_back({.name = "double_8021q",
                   .frame = V4().Vlan(10).Vlan(20).Icmp().Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 1,
                   .vlan_id = 10,
                   .l3_hdr_len = 20,
                   .l4_hdr_len = 8,
                   .payload_len = 0});

  // ---- DNS ----
  cases.push_back({.name = "dns_query_udp",
                   .frame = V4().Udp(33333, 53).Payload(Dns(0x0100)).Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 17,
                   .sport = 33333,
                   .dport = 53,
                   .l3_hdr_len = 20,
                   .l4_hdr_len = 8,
                   .payload_len = 29,
                   .dns_query = true});
  cases.push_back({.name = "dns_response_to_port_53_is_not_a_query",
                   .frame = V4().Udp(33333, 53).Payload(Dns(0x8180)).Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 17,
                   .sport = 33333,
                   .dport = 53,
                   .l3_hdr_len = 20,
                   .l4_hdr_len = 8,
                   .payload_len = 29});
  cases.push_back({.name = "dns_short_payload_is_not_a_query",
                   .frame = V4().Udp(33333, 53).Payload(11).Build(),
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 17,
                   .sport = 33333,
                   .dport = 53,
                   .l3_hdr_len = 20,
                   .l4_hdr_len = 8,
                   .payload_len = 11});
  cases.push_back(
      {.name = "dns_query_tcp",
       .frame = V6().Tcp(40000, 53, kPsh | kAck, 512, 12).Payload(Dns(0x0100, true)).Build(),
       .src = "2001:db8::1",
       .dst = "2001:db8::2",
       .family = kV6,
       .proto = 6,
       .sport = 40000,
       .dport = 53,
       .l3_hdr_len = 40,
       .l4_hdr_len = 32,
       .payload_len = 31,
       .tcp_flags = kPsh | kAck,
       .window = 512,
       .dns_query = true});

  // ---- untracked: fragments, ARP, non-IP ----
  cases.push_back({.name = "ipv4_nonfirst_fragment",
                   .frame = V4().Ipv4Fragment(185, false).Udp(1000, 2000).Payload(20).Build(),
                   .outcome = Outcome::kFragment,
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 17,
                   .l3_hdr_len = 20});
  cases.push_back({.name = "ipv4_middle_fragment",
                   .frame = V4().Ipv4Fragment(1, true).Proto(17).Payload(40).Build(),
                   .outcome = Outcome::kFragment,
                   .src = "10.0.0.1",
                   .dst = "10.0.0.2",
                   .family = kV4,
                   .proto = 17,
                   .l3_hdr_len = 20});
  cases.push_back({.name = "ipv6_nonfirst_fragment",
                   .frame = V6().Ipv6Ext(44, 8, 100).Udp(1000, 2000).Payload(20).Build(),
                   .outcome = Outcome::kFragment,
                   .src = "2001:db8::1",
                   .dst = "2001:db8::2",
                   .family = kV6,
                   .proto = 17,
                   .l3_hdr_len = 48});
  cases.push_back({.name = "arp_request",
                   .frame = PacketBuilder().Arp("10.0.0.1", "10.0.0.2").Build(),
                   .outcome = Outcome::kArp});
  cases.push_back({.name = "arp_in_vlan",
                   .frame = PacketBuilder().Vlan(7).Arp("10.0.0.1", "10.0.0.2").Build(),
                   .outcome = Outcome::kArp,
                   .vlan_id = 7});
  {
    // A non-Ethernet hardware type needs only the 8-byte fixed part.
    auto frame = Cut(PacketBuilder().Arp("10.0.0.1", "10.0.0.2").Build(), 14 + 8);
    Set16(frame, 14, 6);  // htype IEEE 802
    cases.push_back(
        {.name = "arp_other_hardware_fixed_part", .frame = frame, .outcome = Outcome::kArp});
  }
  {
    auto frame = V4().Udp(1, 2).Build();
    Set16(frame, 12, 0x88cc);  // LLDP
    cases.push_back({.name = "lldp_non_ip", .frame = frame, .outcome = Outcome::kNonIp});
  }
  cases.push_back({.name = "three_vlan_tags_non_ip",
                   .frame = V4().Vlan(1).Vlan(2).Vlan(3).Udp(1, 2).Build(),
                   .outcome = Outcome::kNonIp,
                   .vlan_id = 1});

  // ---- malformed and truncated, layer by layer ----
  const auto error = [&](std::string name, std::vector<uint8_t> frame, ng_parse_error err) {
    cases.push_back({.name = std::move(name),
                     .frame = std::move(frame),
                     .outcome = Outcome::kError,
                     .error = err});
  };
  const auto udp4 = V4().Udp(1000, 2000).Payload(16).Build();
  const auto tcp4 = V4().Tcp(40000, 80, kAck).Payload(16).Build();
  const auto udp6 = V6().Udp(1000, 2000).Payload(16).Build();

  error("eth_truncated_13", Cut(udp4, 13), NG_ERR_ETH_TRUNCATED);
  error("eth_truncated_empty", {}, NG_ERR_ETH_TRUNCATED);
  error("vlan_truncated", Cut(V4().Vlan(100).Udp(1, 2).Build(), 14 + 3), NG_ERR_VLAN_TRUNCATED);
  error("qinq_inner_tag_truncated",
        Cut(V4().Vlan(200, PacketBuilder::kTpid8021AD).Vlan(300).Udp(1, 2).Build(), 14 + 4 + 3),
        NG_ERR_VLAN_TRUNCATED);
  error("arp_fixed_part_truncated", Cut(PacketBuilder().Arp("10.0.0.1", "10.0.0.2").Build(), 21),
        NG_ERR_ARP_TRUNCATED);
  error("arp_ipv4_body_truncated", Cut(PacketBuilder().Arp("10.0.0.1", "10.0.0.2").Build(), 41),
        NG_ERR_ARP_TRUNCATED);
  error("ipv4_truncated", Cut(udp4, 14 + 19), NG_ERR_IPV4_TRUNCATED);
  error("ipv4_options_truncated", Cut(V4().Ipv4Options(8).Udp(1, 2).Build(), 14 + 24),
        NG_ERR_IPV4_TRUNCATED);
  {
    auto bad_ihl = udp4;
    bad_ihl[14] = 0x44;  // IHL 4 (16 bytes)
    error("ipv4_bad_ihl", bad_ihl, NG_ERR_IPV4_BAD_HEADER);
    auto bad_version = udp4;
    bad_version[14] = 0x65;  // version 6 in an IPv4 ethertype
    error("ipv4_bad_version", bad_version, NG_ERR_IPV4_BAD_HEADER);
    auto too_long = udp4;
    Set16(too_long, 14 + 2, static_cast<uint16_t>(udp4.size() - 14 + 1));
    error("ipv4_total_length_beyond_frame", too_long, NG_ERR_IPV4_BAD_LENGTH);
    auto too_short = udp4;
    Set16(too_short, 14 + 2, 19);
    error("ipv4_total_length_below_header", too_short, NG_ERR_IPV4_BAD_LENGTH);
  }
  error("ipv6_truncated", Cut(udp6, 14 + 39), NG_ERR_IPV6_TRUNCATED);
  {
    auto bad_version = udp6;
    bad_version[14] = 0x40;
    error("ipv6_bad_version", bad_version, NG_ERR_IPV6_BAD_LENGTH);
    auto too_long = udp6;
    Set16(too_long, 14 + 4, static_cast<uint16_t>(udp6.size() - 14 - 40 + 1));
    error("ipv6_payload_length_beyond_frame", too_long, NG_ERR_IPV6_BAD_LENGTH);
    // The frame holds the extension header, but the IPv6 payload length ends before it.
    auto ext_beyond = V6().Ipv6Ext(0, 8).Udp(1, 2).Build();
    Set16(ext_beyond, 14 + 4, 4);
    error("ipv6_ext_beyond_payload_length", ext_beyond, NG_ERR_IPV6_BAD_LENGTH);
  }
  error("ipv6_ext_truncated_fixed_part",
        FitIpv6(Cut(V6().Ipv6Ext(0, 8).Udp(1, 2).Build(), 14 + 40 + 6)), NG_ERR_IPV6_EXT_TRUNCATED);
  error("ipv6_ext_truncated_body",
        FitIpv6(Cut(V6().Ipv6Ext(43, 32).Udp(1, 2).Build(), 14 + 40 + 20)),
        NG_ERR_IPV6_EXT_TRUNCATED);
  {
    PacketBuilder over = V6();
    for (int i = 0; i < NG_IPV6_MAX_EXT_HEADERS + 1; ++i) over.Ipv6Ext(60, 8);
    error("ipv6_ext_over_limit", over.Udp(1000, 2000).Payload(1).Build(), NG_ERR_IPV6_EXT_LIMIT);
  }
  error("tcp_truncated", FitIpv4(Cut(tcp4, 14 + 20 + 19)), NG_ERR_TCP_TRUNCATED);
  error("ipv6_tcp_truncated", FitIpv6(Cut(V6().Tcp(1, 2, kSyn).Build(), 14 + 40 + 12)),
        NG_ERR_TCP_TRUNCATED);
  {
    auto doff4 = tcp4;
    doff4[14 + 20 + 12] = 0x40;  // data offset 4 words
    error("tcp_doff_below_5", doff4, NG_ERR_TCP_BAD_OFFSET);
    auto doff_beyond = V4().Tcp(40000, 80, kAck).Build();
    doff_beyond[14 + 20 + 12] = 0x60;  // 24 bytes, the segment has 20
    error("tcp_doff_beyond_ip_payload", doff_beyond, NG_ERR_TCP_BAD_OFFSET);
  }
  error("udp_truncated", FitIpv4(Cut(udp4, 14 + 20 + 7)), NG_ERR_UDP_TRUNCATED);
  {
    auto short_ip = udp4;  // the frame has the header, the IP length does not
    Set16(short_ip, 14 + 2, 20 + 4);
    error("udp_ip_length_below_header", short_ip, NG_ERR_UDP_TRUNCATED);
  }
  error("ipv6_udp_truncated", FitIpv6(Cut(udp6, 14 + 40 + 5)), NG_ERR_UDP_TRUNCATED);
  error("icmp_truncated", FitIpv4(Cut(V4().Icmp().Payload(8).Build(), 14 + 20 + 7)),
        NG_ERR_ICMP_TRUNCATED);
  error("icmpv6_truncated", FitIpv6(Cut(V6().Icmp(128).Build(), 14 + 40 + 4)),
        NG_ERR_ICMP_TRUNCATED);
  return cases;
}

}  // namespace netguard::testing

#endif  // NETGUARD_TESTS_UNIT_PARSE_CASES_H_
