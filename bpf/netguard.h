/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * netguard.h - every struct and constant that crosses the kernel/user boundary.
 *
 * Included by the BPF programs (bpf/netguard.bpf.c) and by the agent (C++). Nothing here is
 * mirrored anywhere else: the agent reads ring records and map values through these very types,
 * and tests/unit/layout_test.cpp checks the layouts against the BTF of the built object.
 *
 * Plain C, fixed-width types, explicit padding, no Linux-only headers outside the BPF/Linux
 * branch, so the user-space pcap path (and a Windows/Npcap build) can include it too.
 */
#ifndef NETGUARD_BPF_NETGUARD_H
#define NETGUARD_BPF_NETGUARD_H

#if defined(__bpf__)
#include <linux/bpf.h> /* struct bpf_spin_lock */
#include <linux/types.h>
#elif defined(__linux__)
#include <linux/types.h>
#else
#include <stdint.h>
typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;
typedef int64_t __s64;
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Defaults of the load-time settings (struct ng_config) ---- */
#define NG_DEFAULT_ACTIVITY_TIMEOUT_US 5000000ULL    /* 5 s: splits active and idle periods */
#define NG_DEFAULT_ACTIVE_TIMEOUT_NS 120000000000ULL /* 120 s: flows end this long after start */
#define NG_MAX_ACTIVE_TIMEOUT_NS 3600000000000ULL    /* bound that keeps sums of squares exact */
#define NG_DEFAULT_SAMPLE_FIRST_N 8                  /* sample the first N packets of every flow */
#define NG_DEFAULT_SAMPLE_EVERY_K 64                 /* then one in K (0 = never) */

/* Bytes of a sampled packet copied into a ring record, from the start of the frame: enough for
 * Ethernet + two VLAN tags + IPv4 with options or IPv6 with extensions + UDP + 256 bytes of DNS. */
#define NG_SAMPLE_BYTES 384

/* The programs wake a ring reader only once this many bytes wait (see ng_ring_flags()). */
#define NG_RING_WAKEUP_BYTES (64 * 1024)
#define NG_IPV6_MAX_EXT_HEADERS 8 /* bound of the IPv6 extension-header walk */
#define NG_LOCK_STRIPES 1024      /* power of two; see struct ng_lock_stripe */
#define NG_PIN_ROOT "/sys/fs/bpf/netguard"

/* Which side of the canonical key sent a packet. */
enum ng_side {
  NG_SIDE_A = 0, /* the endpoint with the smaller (address, port) */
  NG_SIDE_B = 1,
};

/* Direction of a packet relative to the flow's initiator (the sender of its first packet). */
enum ng_dir {
  NG_DIR_FWD = 0,
  NG_DIR_BWD = 1,
  NG_DIR_COUNT = 2,
};

enum ng_family {
  NG_FAMILY_IPV4 = 4,
  NG_FAMILY_IPV6 = 6,
};

/* TCP flag bits in header order; flag_counts[] is indexed by the bit number. */
enum ng_tcp_flag {
  NG_TCP_FIN = 0x01,
  NG_TCP_SYN = 0x02,
  NG_TCP_RST = 0x04,
  NG_TCP_PSH = 0x08,
  NG_TCP_ACK = 0x10,
  NG_TCP_URG = 0x20,
  NG_TCP_ECE = 0x40,
  NG_TCP_CWR = 0x80,
};
#define NG_TCP_FLAG_BITS 8

/* Bits of ng_config.end_flags: which TCP flags end a flow in the kernel. */
enum ng_end_on {
  NG_END_ON_FIN = 0x1, /* CICFlowMeter semantics: the FIN packet is the flow's last */
  NG_END_ON_RST = 0x2,
  /* CICFlowMeter 2017 quirk (agent/features cic2017): a flow's first packet never ends it, even
   * with FIN; the flow goes on until the next FIN (or timeout). */
  NG_END_NOT_ON_FIRST = 0x4,
  /* CICFlowMeter 2017 quirk: the packet that ends a flow (FIN) is accounted without updating the
   * active/idle periods, even after a gap longer than the activity timeout. */
  NG_END_NO_IDLE_ON_END = 0x8,
};

/*
 * Canonical bidirectional flow key: both directions of a conversation map to the same key.
 * Side A is the endpoint whose (address, port) compares smaller (ng_flow_key_make()).
 * 40 bytes, no implicit padding.
 */
struct ng_flow_key {
  __u32 addr_a[4]; /* network byte order; IPv4 uses addr_a[0], the rest is 0 */
  __u32 addr_b[4];
  __u16 port_a; /* host byte order; 0 for protocols without ports (ICMP, GRE, ...) */
  __u16 port_b;
  __u16 vlan_id; /* outermost 802.1Q/802.1ad VLAN ID, 0 when untagged */
  __u8 family;   /* enum ng_family */
  __u8 proto;    /* IPPROTO_* of the transport header */
};

/*
 * Running statistics of one integer quantity: count, sum, sum of squares, min, max, from which
 * mean, sample variance and standard deviation follow exactly (as long double in user space).
 *
 * Why the sums of squares stay exact in 64 bits:
 * - Payload lengths are < 2^20 (veth/GSO super-packets included), so a square is < 2^40 and
 *   10^6 packets sum to < 2^60; 2^24 packets of 64 KiB still fit.
 * - Inter-arrival times, active and idle periods are in microseconds and non-negative in a
 *   monotonic clock; their sum over one flow is at most the flow's duration D, and for
 *   non-negative x_i, sum(x_i^2) <= (sum x_i)^2 = D^2. The program ends every flow at the active
 *   timeout (<= NG_MAX_ACTIVE_TIMEOUT_NS = 3600 s, enforced by the loader), so D < 3.6e9 us and
 *   D^2 < 1.3e19 < 2^64. With the default 120 s, D^2 = 1.44e16, three orders below the limit,
 *   whatever the packet count (10^6 packets over 120 s included).
 * - A timestamp that steps backwards (two CPUs racing, or an out-of-order capture) yields a
 *   small negative IAT; it is kept signed, as CICFlowMeter does, and its square is tiny.
 */
struct ng_running {
  __u64 count;
  __s64 sum;
  __u64 sum_sq;
  __s64 min; /* valid when count > 0 */
  __s64 max;
};

/* Per-direction accumulators. Packets in this direction = payload.count. 160 bytes. */
struct ng_dir_stats {
  struct ng_running payload;           /* transport payload length of each packet, bytes */
  struct ng_running iat;               /* us between consecutive packets of this direction */
  __u64 wire_bytes;                    /* frame length from the Ethernet header on */
  __u64 l3_hdr_bytes;                  /* IP header bytes, IPv6 extension headers included */
  __u64 l4_hdr_bytes;                  /* TCP header with options, or 8 for UDP/ICMP/ICMPv6 */
  __s64 last_us;                       /* timestamp of the last packet in this direction, us */
  __u32 flag_counts[NG_TCP_FLAG_BITS]; /* packets with each TCP flag set, by bit number */
  __u32 data_pkts;                     /* packets with payload >= 1 byte */
  __u16 l4_hdr_min;                    /* smallest transport header seen */
  __u16 init_win; /* TCP window (unscaled) of the first packet in this direction */
  __u16 last_win; /* TCP window of the last packet in this direction */
  __u8 pad[6];
};

enum ng_flow_state {
  NG_FLOW_EMPTY = 0, /* created, or ended by FIN/RST: the next packet starts a new flow */
  NG_FLOW_ACTIVE = 1,
};

/*
 * Value of the flow map: every CICFlowMeter feature is derived from this exactly (agent/features).
 * Protected by the lock stripe of its key (struct ng_lock_stripe). 472 bytes.
 */
struct ng_flow {
  struct ng_dir_stats dir[NG_DIR_COUNT]; /* indexed by enum ng_dir */
  struct ng_running iat;    /* us between consecutive packets of the flow, any direction */
  struct ng_running active; /* lengths of closed active periods, us (> 0 only) */
  struct ng_running idle;   /* gaps longer than the activity timeout, us */
  __u64 first_ts_ns;        /* timestamp of the first packet (CLOCK_MONOTONIC or capture time) */
  __u64 last_ts_ns;         /* timestamp of the latest packet */
  __s64 active_start_us;    /* start of the current (still open) active period */
  __u32 first_payload_len;  /* payload length of the first packet */
  __u8 initiator;           /* enum ng_side of the first packet's sender */
  __u8 first_tcp_flags;     /* TCP flags of the first packet */
  __u8 state;               /* enum ng_flow_state */
  __u8 pad[1];
};

/* One spin lock per stripe, padded to a cache line so stripes do not share lines. LRU hash maps
 * cannot hold a bpf_spin_lock, so a key's updates are serialised by stripe ng_flow_key_hash(). */
struct ng_lock_stripe {
#ifdef __bpf__
  struct bpf_spin_lock lock;
#else
  __u32 lock;
#endif
  __u8 pad[60];
};

/* ---- Blocklist (LPM tries, pinned) ---- */
struct ng_lpm_v4 {
  __u32 prefixlen; /* 0..32 */
  __u32 addr;      /* network byte order */
};

struct ng_lpm_v6 {
  __u32 prefixlen; /* 0..128 */
  __u32 addr[4];   /* network byte order */
};

/* Value of a blocklist entry: what it dropped, updated atomically by XDP. */
struct ng_block_counters {
  __u64 packets;
  __u64 bytes;
};

/* ---- Ring buffer records ---- */
enum ng_record_type {
  NG_REC_FLOW_START = 1, /* struct ng_flow_event */
  NG_REC_FLOW_END = 2,   /* struct ng_flow_event */
  NG_REC_PACKET = 3,     /* struct ng_packet_sample */
};

enum ng_hook {
  NG_HOOK_XDP = 0, /* ingress */
  NG_HOOK_TC = 1,  /* egress */
  NG_HOOK_COUNT = 2,
};

enum ng_flow_event_reason {
  NG_REASON_START = 0,
  NG_REASON_FIN = 1,
  NG_REASON_RST = 2,
  NG_REASON_ACTIVE_TIMEOUT = 3, /* a packet came later than the active timeout after start */
};

/* Common head of every ring record. */
struct ng_record_hdr {
  __u16 type;  /* enum ng_record_type */
  __u8 hook;   /* enum ng_hook */
  __u8 reason; /* enum ng_flow_event_reason or enum ng_sample_reason */
  __u32 ifindex;
  __u64 ts_ns; /* timestamp of the packet that produced the record */
};

/* Flow start or end with the accumulator snapshot at that moment. */
struct ng_flow_event {
  struct ng_record_hdr hdr;
  struct ng_flow_key key;
  struct ng_flow flow;
};

enum ng_sample_reason {
  NG_SAMPLE_FIRST_N = 1,
  NG_SAMPLE_DNS_QUERY = 2,
  NG_SAMPLE_ARP = 3,
  NG_SAMPLE_ONE_IN_K = 4,
};

/* A sampled packet: the first cap_len bytes of the frame. */
struct ng_packet_sample {
  struct ng_record_hdr hdr;
  struct ng_flow_key key; /* zero for ARP */
  __u32 wire_len;         /* length of the whole frame */
  __u16 cap_len;          /* bytes valid in data[] */
  __u8 side;              /* enum ng_side of the sender (flows only) */
  __u8 pad[1];
  __u8 data[NG_SAMPLE_BYTES];
};

/* ---- Per-CPU statistics (index of the ng_stats array; the agent sums the CPUs) ---- */
enum ng_parse_error {
  NG_ERR_ETH_TRUNCATED = 0,
  NG_ERR_VLAN_TRUNCATED,
  NG_ERR_ARP_TRUNCATED,
  NG_ERR_IPV4_TRUNCATED,
  NG_ERR_IPV4_BAD_HEADER, /* version != 4 or IHL < 5 */
  NG_ERR_IPV4_BAD_LENGTH, /* total length shorter than the header or longer than the frame */
  NG_ERR_IPV6_TRUNCATED,
  NG_ERR_IPV6_BAD_LENGTH,
  NG_ERR_IPV6_EXT_TRUNCATED,
  NG_ERR_IPV6_EXT_LIMIT, /* more than NG_IPV6_MAX_EXT_HEADERS extension headers */
  NG_ERR_TCP_TRUNCATED,
  NG_ERR_TCP_BAD_OFFSET, /* data offset < 5 or beyond the IP payload */
  NG_ERR_UDP_TRUNCATED,
  NG_ERR_ICMP_TRUNCATED,
  NG_ERR_COUNT,
};

enum ng_stat {
  NG_STAT_XDP_PACKETS = 0, /* packets seen at XDP ingress */
  NG_STAT_XDP_PASSED,      /* returned XDP_PASS */
  NG_STAT_XDP_DROPPED,     /* dropped by the blocklist */
  NG_STAT_XDP_DROPPED_BYTES,
  NG_STAT_TC_PACKETS, /* packets seen at TC egress (always passed) */
  NG_STAT_NON_IP,     /* neither IP nor ARP: passed untracked */
  NG_STAT_ARP,
  NG_STAT_IP_FRAGMENTS, /* non-first fragments: no transport header, passed untracked */
  NG_STAT_FLOWS_STARTED,
  NG_STAT_FLOWS_ENDED_FIN,
  NG_STAT_FLOWS_ENDED_RST,
  NG_STAT_FLOWS_ENDED_TIMEOUT,
  NG_STAT_FLOW_INSERT_FAILED, /* the flow map refused a new entry: packet not accounted */
  NG_STAT_RING_DROPS,         /* a ring record could not be reserved: record lost */
  NG_STAT_SAMPLES,            /* packet samples written */
  NG_STAT_PARSE_ERROR_FIRST,  /* + enum ng_parse_error */
  NG_STAT_COUNT = NG_STAT_PARSE_ERROR_FIRST + NG_ERR_COUNT,
};

/* Load-time settings, set through skel->rodata between open and load. */
struct ng_config {
  __u64 activity_timeout_us; /* gap that closes an active period (CIC: 5 s) */
  __u64 active_timeout_ns;   /* a flow ends this long after its first packet */
  __u32 sample_first_n;
  __u32 sample_every_k; /* 0 disables 1-in-K sampling */
  __u8 end_flags;       /* enum ng_end_on bits */
  __u8 sample_dns;      /* sample every DNS query */
  __u8 sample_arp;      /* sample every ARP packet */
  __u8 ts_from_meta;    /* test mode: XDP reads the timestamp (u64 ns) from the 8 bytes of XDP
                           metadata, TC from skb->tstamp, instead of bpf_ktime_get_ns() */
  __u8 pad[4];
};

#ifdef __cplusplus
}
#endif

#endif /* NETGUARD_BPF_NETGUARD_H */
