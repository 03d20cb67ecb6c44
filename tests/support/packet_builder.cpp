#include "support/packet_builder.h"

#include <arpa/inet.h>

#include <stdexcept>

namespace netguard::testing {
namespace {

void Put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void Set16(std::vector<uint8_t>& out, size_t at, uint16_t v) {
  out[at] = static_cast<uint8_t>(v >> 8);
  out[at + 1] = static_cast<uint8_t>(v);
}

uint16_t Checksum(const uint8_t* data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void ParseAddress(const std::string& text, uint8_t* out, bool& ipv6) {
  if (inet_pton(AF_INET, text.c_str(), out) == 1) {
    ipv6 = false;
  } else if (inet_pton(AF_INET6, text.c_str(), out) == 1) {
    ipv6 = true;
  } else {
    throw std::invalid_argument("bad address " + text);
  }
}

}  // namespace

PacketBuilder& PacketBuilder::Vlan(uint16_t vid, uint16_t tpid) {
  vlans_.emplace_back(tpid, vid);
  return *this;
}

PacketBuilder& PacketBuilder::Ip(const std::string& src, const std::string& dst) {
  bool dst_v6 = false;
  ParseAddress(src, src_, ipv6_);
  ParseAddress(dst, dst_, dst_v6);
  if (dst_v6 != ipv6_) throw std::invalid_argument("mixed address families");
  return *this;
}

PacketBuilder& PacketBuilder::Ipv4Options(size_t bytes) {
  ipv4_options_ = (bytes + 3) / 4 * 4;
  return *this;
}

PacketBuilder& PacketBuilder::Ipv4Fragment(uint16_t offset_units, bool more_fragments) {
  frag_offset_ = offset_units;
  more_fragments_ = more_fragments;
  return *this;
}

PacketBuilder& PacketBuilder::Ipv6Ext(uint8_t type, size_t length, uint16_t frag_offset_units) {
  ext_.push_back({type, length, frag_offset_units});
  return *this;
}

PacketBuilder& PacketBuilder::Tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint16_t window,
                                  size_t option_bytes) {
  proto_ = 6;
  sport_ = sport;
  dport_ = dport;
  tcp_flags_ = flags;
  window_ = window;
  tcp_options_ = (option_bytes + 3) / 4 * 4;
  return *this;
}

PacketBuilder& PacketBuilder::Udp(uint16_t sport, uint16_t dport) {
  proto_ = 17;
  sport_ = sport;
  dport_ = dport;
  return *this;
}

PacketBuilder& PacketBuilder::Icmp(uint8_t type, uint8_t code) {
  proto_ = 0;  // resolved at Build(): 1 or 58
  icmp_type_ = type;
  icmp_code_ = code;
  return *this;
}

PacketBuilder& PacketBuilder::Proto(uint8_t proto) {
  proto_ = proto;
  return *this;
}

PacketBuilder& PacketBuilder::Payload(size_t length) {
  payload_.resize(length);
  for (size_t i = 0; i < length; ++i) payload_[i] = static_cast<uint8_t>('a' + i % 26);
  return *this;
}

PacketBuilder& PacketBuilder::Payload(std::vector<uint8_t> bytes) {
  payload_ = std::move(bytes);
  return *this;
}

PacketBuilder& PacketBuilder::Arp(const std::string& sender_ip, const std::string& target_ip) {
  arp_ = true;
  ParseAddress(sender_ip, src_, ipv6_);
  ParseAddress(target_ip, dst_, ipv6_);
  return *this;
}

std::vector<uint8_t> PacketBuilder::Build() const {
  std::vector<uint8_t> out = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};  // dst, src MAC
  for (const auto& [tpid, vid] : vlans_) {
    Put16(out, tpid);
    Put16(out, vid);
  }
  if (arp_) {
    Put16(out, 0x0806);
    const uint8_t arp[] = {0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 0x01};
    out.insert(out.end(), std::begin(arp), std::end(arp));
    out.insert(out.end(), src_, src_ + 4);
    out.insert(out.end(), 6, 0);
    out.insert(out.end(), dst_, dst_ + 4);
    return out;
  }

  const uint8_t proto = proto_ == 0 ? (ipv6_ ? 58 : 1) : proto_;
  std::vector<uint8_t> l4;
  if (proto == 6) {
    Put16(l4, sport_);
    Put16(l4, dport_);
    l4.insert(l4.end(), {0, 0, 0, 1, 0, 0, 0, 0});  // seq, ack
    l4.push_back(static_cast<uint8_t>((20 + tcp_options_) / 4 << 4));
    l4.push_back(tcp_flags_);
    Put16(l4, window_);
    l4.insert(l4.end(), {0, 0, 0, 0});     // checksum, urgent pointer
    l4.insert(l4.end(), tcp_options_, 1);  // NOP options
  } else if (proto == 17) {
    Put16(l4, sport_);
    Put16(l4, dport_);
    Put16(l4, static_cast<uint16_t>(8 + payload_.size()));
    Put16(l4, 0);
  } else if (proto == 1 || proto == 58) {
    l4 = {icmp_type_, icmp_code_, 0, 0, 0, 1, 0, 1};
  }
  l4.insert(l4.end(), payload_.begin(), payload_.end());

  if (!ipv6_) {
    Put16(out, 0x0800);
    const size_t ip = out.size();
    const size_t ihl = 20 + ipv4_options_;
    out.push_back(static_cast<uint8_t>(0x40 | ihl / 4));
    out.push_back(0);
    Put16(out, static_cast<uint16_t>(ihl + l4.size()));
    Put16(out, 0x1234);
    Put16(out, static_cast<uint16_t>((more_fragments_ ? 0x2000 : 0) | frag_offset_));
    out.push_back(64);
    out.push_back(proto);
    Put16(out, 0);
    out.insert(out.end(), src_, src_ + 4);
    out.insert(out.end(), dst_, dst_ + 4);
    out.insert(out.end(), ipv4_options_, 1);  // NOP options
    Set16(out, ip + 10, Checksum(out.data() + ip, ihl));
  } else {
    Put16(out, 0x86dd);
    size_t ext_bytes = 0;
    for (const Ext& e : ext_) ext_bytes += e.length;
    out.insert(out.end(), {0x60, 0, 0, 0});
    Put16(out, static_cast<uint16_t>(ext_bytes + l4.size()));
    out.push_back(ext_.empty() ? proto : ext_.front().type);
    out.push_back(64);
    out.insert(out.end(), src_, src_ + 16);
    out.insert(out.end(), dst_, dst_ + 16);
    for (size_t i = 0; i < ext_.size(); ++i) {
      const Ext& e = ext_[i];
      const uint8_t next = i + 1 < ext_.size() ? ext_[i + 1].type : proto;
      const size_t at = out.size();
      out.resize(at + e.length, 0);
      out[at] = next;
      if (e.type == 44) {
        Set16(out, at + 2, static_cast<uint16_t>(e.frag_offset_units << 3));
      } else if (e.type == 51) {
        out[at + 1] = static_cast<uint8_t>(e.length / 4 - 2);
      } else {
        out[at + 1] = static_cast<uint8_t>(e.length / 8 - 1);
      }
    }
  }
  out.insert(out.end(), l4.begin(), l4.end());
  return out;
}

}  // namespace netguard::testing
