// Crafts Ethernet frames for BPF_PROG_RUN tests and benchmarks.
#ifndef NETGUARD_TESTS_SUPPORT_PACKET_BUILDER_H_
#define NETGUARD_TESTS_SUPPORT_PACKET_BUILDER_H_

#include <cstdint>
#include <string>
#include <vector>

namespace netguard::testing {

/// Fluent builder of one frame: Ethernet [VLAN tags] IPv4|IPv6 [extension headers]
/// TCP|UDP|ICMP|ICMPv6|other [payload], or ARP. Lengths and the IPv4 header checksum are
/// computed; everything can be overridden to craft malformed packets.
class PacketBuilder {
 public:
  static constexpr uint16_t kTpid8021Q = 0x8100;
  static constexpr uint16_t kTpid8021AD = 0x88a8;

  /// Adds a VLAN tag (outermost first).
  PacketBuilder& Vlan(uint16_t vid, uint16_t tpid = kTpid8021Q);
  /// IPv4 or IPv6 addresses (the family follows the text).
  PacketBuilder& Ip(const std::string& src, const std::string& dst);
  /// IPv4 options (padded to a multiple of 4 bytes with NOPs).
  PacketBuilder& Ipv4Options(size_t bytes);
  /// IPv4 fragment offset (in 8-byte units) and more-fragments flag.
  PacketBuilder& Ipv4Fragment(uint16_t offset_units, bool more_fragments);
  /// Appends an IPv6 extension header (0 hop-by-hop, 43 routing, 44 fragment, 60 dest-opts,
  /// 51 AH) of `length` bytes (multiple of 8; 8 for fragment). frag_offset is for type 44.
  PacketBuilder& Ipv6Ext(uint8_t type, size_t length = 8, uint16_t frag_offset_units = 0);
  PacketBuilder& Tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint16_t window = 64240,
                     size_t option_bytes = 0);
  PacketBuilder& Udp(uint16_t sport, uint16_t dport);
  PacketBuilder& Icmp(uint8_t type = 8, uint8_t code = 0);  // ICMPv6 when the family is IPv6
  /// Any other transport protocol number (no header is written).
  PacketBuilder& Proto(uint8_t proto);
  /// Payload of `length` bytes (pattern), or exact bytes.
  PacketBuilder& Payload(size_t length);
  PacketBuilder& Payload(std::vector<uint8_t> bytes);
  /// An ARP request (Ethernet/IPv4) instead of IP.
  PacketBuilder& Arp(const std::string& sender_ip, const std::string& target_ip);

  std::vector<uint8_t> Build() const;

 private:
  struct Ext {
    uint8_t type;
    size_t length;
    uint16_t frag_offset_units;
  };
  std::vector<std::pair<uint16_t, uint16_t>> vlans_;  // (tpid, vid)
  bool ipv6_ = false;
  bool arp_ = false;
  uint8_t src_[16] = {};
  uint8_t dst_[16] = {};
  size_t ipv4_options_ = 0;
  uint16_t frag_offset_ = 0;
  bool more_fragments_ = false;
  std::vector<Ext> ext_;
  uint8_t proto_ = 17;
  uint16_t sport_ = 0;
  uint16_t dport_ = 0;
  uint8_t tcp_flags_ = 0;
  uint16_t window_ = 0;
  size_t tcp_options_ = 0;
  uint8_t icmp_type_ = 8;
  uint8_t icmp_code_ = 0;
  std::vector<uint8_t> payload_;
};

}  // namespace netguard::testing

#endif  // NETGUARD_TESTS_SUPPORT_PACKET_BUILDER_H_
