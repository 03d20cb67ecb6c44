/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * packet_parse.h - the one packet parser, shared by the BPF programs and the user-space (pcap)
 * capture path so both see identical packets.
 *
 * Written against a bounds-checked cursor over [data, data_end): every read is preceded by a
 * check of the exact bytes it touches, which is what the BPF verifier needs and what keeps the
 * user-space path safe on malformed input. Fields are read by byte offset, in network order, so
 * no OS header (linux/ip.h, netinet/...) is needed.
 */
#ifndef NETGUARD_BPF_PACKET_PARSE_H
#define NETGUARD_BPF_PACKET_PARSE_H

#include "netguard.h"

#ifdef __bpf__
#define NG_INLINE static __always_inline
#else
#define NG_INLINE static inline __attribute__((always_inline))
#endif

#define NG_ETH_P_IP 0x0800
#define NG_ETH_P_ARP 0x0806
#define NG_ETH_P_8021Q 0x8100
#define NG_ETH_P_8021AD 0x88A8
#define NG_ETH_P_IPV6 0x86DD

#define NG_IPPROTO_HOPOPTS 0
#define NG_IPPROTO_ICMP 1
#define NG_IPPROTO_TCP 6
#define NG_IPPROTO_UDP 17
#define NG_IPPROTO_ROUTING 43
#define NG_IPPROTO_FRAGMENT 44
#define NG_IPPROTO_AH 51
#define NG_IPPROTO_ICMPV6 58
#define NG_IPPROTO_DSTOPTS 60

#define NG_DNS_PORT 53

/* Bounds-checked cursor over a frame. */
struct ng_cursor {
  const __u8* pos;
  const __u8* end;
};

/* What ng_parse_l3() found. */
enum ng_l3_kind {
  NG_L3_ERROR = -1, /* malformed or truncated: pkt->error says why */
  NG_L3_OTHER = 0,  /* not IP or ARP */
  NG_L3_IP = 1,
  NG_L3_ARP = 2,
};

/* What ng_parse_l4() found. */
enum ng_l4_kind {
  NG_L4_ERROR = -1,   /* malformed or truncated: pkt->error says why */
  NG_L4_FLOW = 0,     /* a packet to account to a flow */
  NG_L4_FRAGMENT = 1, /* a non-first IP fragment: no transport header */
};

/* One parsed packet. Addresses as on the wire (src = sender). */
struct ng_pkt {
  __u32 src[4]; /* network byte order; IPv4 in [0] */
  __u32 dst[4];
  __u16 sport; /* host byte order */
  __u16 dport;
  __u16 vlan_id;     /* outermost VLAN ID, 0 untagged */
  __u16 window;      /* TCP window, unscaled */
  __u32 wire_len;    /* frame length */
  __u32 ip_len;      /* IP header + payload, from the IP header's length fields */
  __u32 payload_len; /* transport payload bytes */
  __u16 l3_hdr_len;  /* IPv4 header with options, or IPv6 header with extension headers */
  __u16 l4_hdr_len;  /* TCP header with options, 8 for UDP/ICMP/ICMPv6, 0 for others */
  __u8 family;       /* enum ng_family, 0 before L3 */
  __u8 proto;        /* transport protocol */
  __u8 tcp_flags;
  __u8 dns_query; /* a DNS query (QR = 0) to port 53 */
  __u8 fragment;  /* 1 for a non-first IP fragment */
  __u8 error;     /* enum ng_parse_error when a parse step returned an error */
  __u8 pad[1];
  __u16 l2_hdr_len; /* Ethernet header with VLAN tags */
  /* A TC egress GSO packet leaves as gso_segs wire segments of gso_size payload bytes each
   * (the last one takes the rest); 0 or 1 segments: the packet is what the wire sees. */
  __u16 gso_segs;
  __u16 gso_size;
};

/* Returns the current position and advances by len, or NULL when len bytes are not there. */
NG_INLINE const __u8* ng_cursor_take(struct ng_cursor* c, __u32 len) {
  const __u8* p = c->pos;
  if (p + len > c->end) return 0;
  c->pos = p + len;
  return p;
}

#if defined(__bpf__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* One load each. clang cannot assume the alignment of a packet pointer, so the portable forms
 * below become one load per byte in BPF; the verifier allows unaligned packet reads on the
 * architectures the data plane is built for (x86-64, arm64: efficient unaligned access). */
NG_INLINE __u16 ng_be16(const __u8* p) { return __builtin_bswap16(*(const __u16*)p); }

/* a 32-bit word kept in network byte order */
NG_INLINE __u32 ng_word(const __u8* p) { return *(const __u32*)p; }
#else
NG_INLINE __u16 ng_be16(const __u8* p) { return (__u16)((__u16)p[0] << 8 | p[1]); }

NG_INLINE __u32 ng_word(const __u8* p) {
  /* a 32-bit word kept in network byte order */
  __u32 w;
  __builtin_memcpy(&w, p, 4);
  return w;
}
#endif

NG_INLINE int ng_fail(struct ng_pkt* pkt, enum ng_parse_error err) {
  pkt->error = (__u8)err;
  return -1;
}

/* Parses Ethernet, up to two VLAN tags and the IPv4/IPv6 header (IPv6 extension headers
 * included) or ARP. On NG_L3_IP the cursor stands at the transport header. */
NG_INLINE int ng_parse_l3(struct ng_cursor* c, __u32 wire_len, struct ng_pkt* pkt) {
  const __u8* eth = ng_cursor_take(c, 14);
  if (!eth) return ng_fail(pkt, NG_ERR_ETH_TRUNCATED);
  pkt->wire_len = wire_len;
  __u16 proto = ng_be16(eth + 12);

  for (int i = 0; i < 2; i++) {
    if (proto != NG_ETH_P_8021Q && proto != NG_ETH_P_8021AD) break;
    const __u8* tag = ng_cursor_take(c, 4);
    if (!tag) return ng_fail(pkt, NG_ERR_VLAN_TRUNCATED);
    if (i == 0) pkt->vlan_id = ng_be16(tag) & 0x0fff;
    proto = ng_be16(tag + 2);
  }

  if (proto == NG_ETH_P_ARP) {
    /* Ethernet/IPv4 ARP is 28 bytes; other hardware types need only the fixed part */
    const __u8* arp = ng_cursor_take(c, 8);
    if (!arp) return ng_fail(pkt, NG_ERR_ARP_TRUNCATED);
    if (ng_be16(arp) == 1 && ng_be16(arp + 2) == NG_ETH_P_IP && !ng_cursor_take(c, 20))
      return ng_fail(pkt, NG_ERR_ARP_TRUNCATED);
    return NG_L3_ARP;
  }

  __u32 l3_start = (__u32)(c->pos - eth);
  pkt->l2_hdr_len = (__u16)l3_start;
  if (proto == NG_ETH_P_IP) {
    const __u8* ip = ng_cursor_take(c, 20);
    if (!ip) return ng_fail(pkt, NG_ERR_IPV4_TRUNCATED);
    __u32 ihl = (__u32)(ip[0] & 0x0f) * 4;
    if ((ip[0] >> 4) != 4 || ihl < 20) return ng_fail(pkt, NG_ERR_IPV4_BAD_HEADER);
    if (!ng_cursor_take(c, ihl - 20)) return ng_fail(pkt, NG_ERR_IPV4_TRUNCATED);
    __u32 tot_len = ng_be16(ip + 2);
    if (tot_len < ihl || tot_len > wire_len - l3_start) return ng_fail(pkt, NG_ERR_IPV4_BAD_LENGTH);
    pkt->family = NG_FAMILY_IPV4;
    pkt->proto = ip[9];
    pkt->src[0] = ng_word(ip + 12);
    pkt->dst[0] = ng_word(ip + 16);
    pkt->ip_len = tot_len;
    pkt->l3_hdr_len = (__u16)ihl;
    pkt->fragment = (ng_be16(ip + 6) & 0x1fff) != 0;
    return NG_L3_IP;
  }

  if (proto != NG_ETH_P_IPV6) return NG_L3_OTHER;

  const __u8* ip6 = ng_cursor_take(c, 40);
  if (!ip6) return ng_fail(pkt, NG_ERR_IPV6_TRUNCATED);
  if ((ip6[0] >> 4) != 6) return ng_fail(pkt, NG_ERR_IPV6_BAD_LENGTH);
  __u32 payload_len = ng_be16(ip6 + 4);
  if (payload_len == 0) /* jumbogram or BIG TCP super-packet: the frame tells */
    payload_len = wire_len - l3_start - 40;
  if (payload_len > wire_len - l3_start - 40) return ng_fail(pkt, NG_ERR_IPV6_BAD_LENGTH);
  pkt->family = NG_FAMILY_IPV6;
  for (int i = 0; i < 4; i++) {
    pkt->src[i] = ng_word(ip6 + 8 + 4 * i);
    pkt->dst[i] = ng_word(ip6 + 24 + 4 * i);
  }
  pkt->ip_len = payload_len + 40;

  __u8 next = ip6[6];
  __u32 hdr_len = 40;
  for (int i = 0; i < NG_IPV6_MAX_EXT_HEADERS; i++) {
    if (next != NG_IPPROTO_HOPOPTS && next != NG_IPPROTO_ROUTING && next != NG_IPPROTO_DSTOPTS &&
        next != NG_IPPROTO_FRAGMENT && next != NG_IPPROTO_AH) {
      pkt->proto = next;
      pkt->l3_hdr_len = (__u16)hdr_len;
      return hdr_len > pkt->ip_len ? ng_fail(pkt, NG_ERR_IPV6_BAD_LENGTH) : NG_L3_IP;
    }
    const __u8* ext = ng_cursor_take(c, 8);
    if (!ext) return ng_fail(pkt, NG_ERR_IPV6_EXT_TRUNCATED);
    __u32 len;
    if (next == NG_IPPROTO_FRAGMENT) {
      len = 8;
      pkt->fragment = (ng_be16(ext + 2) & 0xfff8) != 0;
    } else if (next == NG_IPPROTO_AH) {
      len = ((__u32)ext[1] + 2) * 4;
    } else {
      len = ((__u32)ext[1] + 1) * 8;
    }
    if (len < 8 || !ng_cursor_take(c, len - 8)) return ng_fail(pkt, NG_ERR_IPV6_EXT_TRUNCATED);
    hdr_len += len;
    next = ext[0];
  }
  /* NG_IPV6_MAX_EXT_HEADERS headers are allowed: the limit is only exceeded by one more */
  if (next != NG_IPPROTO_HOPOPTS && next != NG_IPPROTO_ROUTING && next != NG_IPPROTO_DSTOPTS &&
      next != NG_IPPROTO_FRAGMENT && next != NG_IPPROTO_AH) {
    pkt->proto = next;
    pkt->l3_hdr_len = (__u16)hdr_len;
    return hdr_len > pkt->ip_len ? ng_fail(pkt, NG_ERR_IPV6_BAD_LENGTH) : NG_L3_IP;
  }
  return ng_fail(pkt, NG_ERR_IPV6_EXT_LIMIT);
}

/* Parses the transport header after ng_parse_l3() returned NG_L3_IP. */
NG_INLINE int ng_parse_l4(struct ng_cursor* c, struct ng_pkt* pkt) {
  if (pkt->fragment) return NG_L4_FRAGMENT;
  __u32 l4_len = pkt->ip_len - pkt->l3_hdr_len; /* transport header + payload */

  if (pkt->proto == NG_IPPROTO_TCP) {
    const __u8* tcp = ng_cursor_take(c, 20);
    if (!tcp) return ng_fail(pkt, NG_ERR_TCP_TRUNCATED);
    __u32 doff = (__u32)(tcp[12] >> 4) * 4;
    if (doff < 20 || doff > l4_len) return ng_fail(pkt, NG_ERR_TCP_BAD_OFFSET);
    pkt->sport = ng_be16(tcp);
    pkt->dport = ng_be16(tcp + 2);
    pkt->tcp_flags = tcp[13];
    pkt->window = ng_be16(tcp + 14);
    pkt->l4_hdr_len = (__u16)doff;
    pkt->payload_len = l4_len - doff;
    /* DNS over TCP: 2-byte length prefix, then the header; QR is the top bit of byte 2 */
    if (pkt->dport == NG_DNS_PORT && pkt->payload_len >= 14 && ng_cursor_take(c, doff - 20) &&
        c->pos + 5 <= c->end)
      pkt->dns_query = (c->pos[4] & 0x80) == 0;
    return NG_L4_FLOW;
  }

  if (pkt->proto == NG_IPPROTO_UDP || pkt->proto == NG_IPPROTO_ICMP ||
      pkt->proto == NG_IPPROTO_ICMPV6) {
    const __u8* l4 = ng_cursor_take(c, 8);
    if (!l4 || l4_len < 8)
      return ng_fail(pkt,
                     pkt->proto == NG_IPPROTO_UDP ? NG_ERR_UDP_TRUNCATED : NG_ERR_ICMP_TRUNCATED);
    pkt->l4_hdr_len = 8;
    pkt->payload_len = l4_len - 8;
    if (pkt->proto == NG_IPPROTO_UDP) {
      pkt->sport = ng_be16(l4);
      pkt->dport = ng_be16(l4 + 2);
      if (pkt->dport == NG_DNS_PORT && pkt->payload_len >= 12 && c->pos + 3 <= c->end)
        pkt->dns_query = (c->pos[2] & 0x80) == 0;
    }
    return NG_L4_FLOW;
  }

  /* other transports (GRE, SCTP, ESP, ...) are accounted per address pair */
  pkt->payload_len = l4_len;
  return NG_L4_FLOW;
}

#endif /* NETGUARD_BPF_PACKET_PARSE_H */
