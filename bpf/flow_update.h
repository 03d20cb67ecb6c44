/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * flow_update.h - the per-packet accumulator update rule, shared by the BPF programs and the
 * user-space (pcap) capture path. One definition: both paths produce identical struct ng_flow
 * values for the same packets and timestamps.
 */
#ifndef NETGUARD_BPF_FLOW_UPDATE_H
#define NETGUARD_BPF_FLOW_UPDATE_H

#include "packet_parse.h"

/* Builds the canonical key of pkt's flow; returns the side (enum ng_side) of pkt's sender. */
NG_INLINE __u8 ng_flow_key_make(const struct ng_pkt* pkt, struct ng_flow_key* key) {
  /* any total order works as long as both directions agree: compare (address, port) */
  int order = 0;
  for (int i = 0; i < 4 && order == 0; i++) {
    if (pkt->src[i] != pkt->dst[i]) order = pkt->src[i] < pkt->dst[i] ? -1 : 1;
  }
  if (order == 0 && pkt->sport != pkt->dport) order = pkt->sport < pkt->dport ? -1 : 1;
  __u8 side = order <= 0 ? NG_SIDE_A : NG_SIDE_B;
  const __u32* a = side == NG_SIDE_A ? pkt->src : pkt->dst;
  const __u32* b = side == NG_SIDE_A ? pkt->dst : pkt->src;
  for (int i = 0; i < 4; i++) {
    key->addr_a[i] = a[i];
    key->addr_b[i] = b[i];
  }
  key->port_a = side == NG_SIDE_A ? pkt->sport : pkt->dport;
  key->port_b = side == NG_SIDE_A ? pkt->dport : pkt->sport;
  key->vlan_id = pkt->vlan_id;
  key->family = pkt->family;
  key->proto = pkt->proto;
  return side;
}

/* Lock stripe of a key: the same for both directions because the key is canonical. */
NG_INLINE __u32 ng_flow_key_stripe(const struct ng_flow_key* key) {
  __u32 words[sizeof(*key) / 4];
  __builtin_memcpy(words, key, sizeof(words));
  __u32 h = 0x811c9dc5;
  for (unsigned i = 0; i < sizeof(words) / 4; i++) h = (h ^ words[i]) * 0x01000193;
  return (h ^ (h >> 16)) & (NG_LOCK_STRIPES - 1);
}

/* Adds n copies of v. */
NG_INLINE void ng_running_add_n(struct ng_running* r, __s64 v, __u64 n) {
  if (n == 0) return;
  if (r->count == 0 || v < r->min) r->min = v;
  if (r->count == 0 || v > r->max) r->max = v;
  r->count += n;
  r->sum += v * (__s64)n;
  r->sum_sq += (__u64)(v * v) * n;
}

NG_INLINE void ng_running_add(struct ng_running* r, __s64 v) { ng_running_add_n(r, v, 1); }

/* The wire segments of a packet: GSO cuts a TC egress super-packet into `count` segments of
 * `size` payload bytes, the last taking the rest (`last`); any other packet is one segment. */
struct ng_segments {
  __u32 count;
  __u32 size;
  __u32 last;
};

NG_INLINE struct ng_segments ng_pkt_segments(const struct ng_pkt* pkt) {
  struct ng_segments s = {1, pkt->payload_len, pkt->payload_len};
  __u32 n = pkt->gso_segs;
  __u32 size = pkt->gso_size;
  if (n > 1 && size > 0 && (__u64)(n - 1) * size < pkt->payload_len) {
    s.count = n;
    s.size = size;
    s.last = pkt->payload_len - (n - 1) * size;
  }
  return s;
}

NG_INLINE __u64 ng_flow_packets(const struct ng_flow* f) {
  return f->dir[NG_DIR_FWD].payload.count + f->dir[NG_DIR_BWD].payload.count;
}

/* Starts f afresh with the first packet of a new flow, sent by side at ts_ns. */
NG_INLINE void ng_flow_start(struct ng_flow* f, const struct ng_pkt* pkt, __u8 side, __u64 ts_ns) {
  __builtin_memset(f, 0, sizeof(*f));
  f->first_ts_ns = ts_ns;
  f->last_ts_ns = ts_ns;
  f->active_start_us = (__s64)(ts_ns / 1000);
  f->first_payload_len = ng_pkt_segments(pkt).size;
  f->initiator = side;
  f->first_tcp_flags = pkt->tcp_flags;
  f->state = NG_FLOW_ACTIVE;
}

/*
 * Accounts one packet of an active flow as the wire sees it: a GSO super-packet counts as its
 * segments, sent back to back (inter-arrival 0), each with its own headers; FIN and PSH stay on
 * the last segment and CWR on the first, as tcp_gso_segment() does.
 *
 * Times are kept in microseconds, each timestamp truncated once (ts_ns / 1000) before any
 * difference, so the IATs of a flow add up exactly to its duration in microseconds
 * (CICFlowMeter's unit).
 */
NG_INLINE void ng_flow_add(struct ng_flow* f, const struct ng_pkt* pkt, __u8 side, __u64 ts_ns,
                           __u64 activity_timeout_us) {
  __s64 ts_us = (__s64)(ts_ns / 1000);
  struct ng_dir_stats* d = &f->dir[side == f->initiator ? NG_DIR_FWD : NG_DIR_BWD];
  const struct ng_segments seg = ng_pkt_segments(pkt);
  const __u32 extra = seg.count - 1; /* segments after the first */
  const int first_in_dir = d->payload.count == 0;

  if (ng_flow_packets(f) > 0) {
    __s64 last_us = (__s64)(f->last_ts_ns / 1000);
    __s64 gap = ts_us - last_us;
    ng_running_add(&f->iat, gap);
    if (gap > (__s64)activity_timeout_us) {
      /* the active period ended at the previous packet; this one opens a new one */
      if (last_us - f->active_start_us > 0)
        ng_running_add(&f->active, last_us - f->active_start_us);
      ng_running_add(&f->idle, gap);
      f->active_start_us = ts_us;
    }
  }
  ng_running_add_n(&f->iat, 0, extra);
  if (!first_in_dir) ng_running_add(&d->iat, ts_us - d->last_us);
  ng_running_add_n(&d->iat, 0, extra);
  d->last_us = ts_us;

  ng_running_add_n(&d->payload, seg.size, extra);
  ng_running_add(&d->payload, seg.last);
  d->wire_bytes +=
      pkt->wire_len + (__u64)extra * (pkt->l2_hdr_len + pkt->l3_hdr_len + pkt->l4_hdr_len);
  d->l3_hdr_bytes += (__u64)seg.count * pkt->l3_hdr_len;
  d->l4_hdr_bytes += (__u64)seg.count * pkt->l4_hdr_len;
  if (first_in_dir || pkt->l4_hdr_len < d->l4_hdr_min) d->l4_hdr_min = pkt->l4_hdr_len;
  d->data_pkts += (seg.size > 0 ? extra : 0) + (seg.last > 0 ? 1 : 0);
  if (pkt->proto == NG_IPPROTO_TCP) {
    for (int bit = 0; bit < NG_TCP_FLAG_BITS; bit++) {
      const __u32 once = (1u << bit) & (NG_TCP_FIN | NG_TCP_PSH | NG_TCP_CWR);
      d->flag_counts[bit] += ((pkt->tcp_flags >> bit) & 1) * (once ? 1 : seg.count);
    }
    if (first_in_dir) d->init_win = pkt->window;
    d->last_win = pkt->window;
  }
  f->last_ts_ns = ts_ns;
}

/* Bits returned by ng_flow_step(). */
enum ng_step_result {
  NG_STEP_EXPIRED = 0x1,  /* the previous flow passed its active timeout: *expired holds it */
  NG_STEP_STARTED = 0x2,  /* this packet started a flow: *started holds it after the packet */
  NG_STEP_FINISHED = 0x4, /* this packet ended the flow (FIN/RST): *finished holds it */
};

/* Load-time parameters of ng_flow_step(), from struct ng_config. */
struct ng_step_params {
  __u64 activity_timeout_us;
  __u64 active_timeout_ns;
  __u8 end_flags; /* enum ng_end_on */
};

/*
 * The whole lifecycle of one packet in flow entry f: expire the old flow at the active timeout,
 * start a new flow when the entry is empty, account the packet, and end the flow on FIN/RST.
 * Snapshots go to expired/started/finished as the result bits say; *end_reason receives the
 * enum ng_flow_event_reason of a FINISHED flow. The caller serialises calls on the same entry.
 * A snapshot pointer may be NULL when its snapshot is not wanted (user space: a flows CSV has
 * no use for the started snapshot, nor a replayed first packet for any); the kernel program
 * passes all three.
 */
NG_INLINE __u32 ng_flow_step(struct ng_flow* f, const struct ng_pkt* pkt, __u8 side, __u64 ts_ns,
                             const struct ng_step_params* params, struct ng_flow* expired,
                             struct ng_flow* started, struct ng_flow* finished, __u8* end_reason) {
  __u32 result = 0;
  if (f->state == NG_FLOW_ACTIVE && (__s64)(ts_ns - f->first_ts_ns) > 0 &&
      ts_ns - f->first_ts_ns > params->active_timeout_ns) {
    if (expired) __builtin_memcpy(expired, f, sizeof(*f));
    f->state = NG_FLOW_EMPTY;
    result |= NG_STEP_EXPIRED;
  }
  if (f->state != NG_FLOW_ACTIVE) {
    ng_flow_start(f, pkt, side, ts_ns);
    result |= NG_STEP_STARTED;
  }
  __u8 reason = 0;
  const int may_end = !(result & NG_STEP_STARTED) || !(params->end_flags & NG_END_NOT_ON_FIRST);
  if (pkt->proto == NG_IPPROTO_TCP && may_end) {
    if ((params->end_flags & NG_END_ON_FIN) && (pkt->tcp_flags & NG_TCP_FIN))
      reason = NG_REASON_FIN;
    else if ((params->end_flags & NG_END_ON_RST) && (pkt->tcp_flags & NG_TCP_RST))
      reason = NG_REASON_RST;
  }
  /* NG_END_NO_IDLE_ON_END: an ending packet never closes an active period (no gap exceeds it) */
  const __u64 activity_timeout = reason && (params->end_flags & NG_END_NO_IDLE_ON_END)
                                     ? (__u64)0x7fffffffffffffffULL
                                     : params->activity_timeout_us;
  ng_flow_add(f, pkt, side, ts_ns, activity_timeout);
  if ((result & NG_STEP_STARTED) && started) __builtin_memcpy(started, f, sizeof(*f));

  if (reason) {
    if (finished) __builtin_memcpy(finished, f, sizeof(*f));
    f->state = NG_FLOW_EMPTY;
    *end_reason = reason;
    result |= NG_STEP_FINISHED;
  }
  return result;
}

/* Load-time sampling parameters of ng_sample_reason(), from struct ng_config. */
struct ng_sample_params {
  __u32 first_n; /* the first N packets of a flow */
  __u32 every_k; /* then one in K of each direction; 0 = none */
  __u8 dns;      /* every DNS query */
};

/*
 * Whether to sample pkt, sent by side, just accounted to f by ng_flow_step() (a flow the
 * packet finished keeps its counts until its entry starts afresh): every DNS query, the first N
 * packets of the flow, then one packet in K of each direction, counted by that direction's own
 * packets (its K-th, 2K-th, ... segment), so that a 1-in-K sample stands for K packets from its
 * sender to its receiver whatever the other direction does. Returns an enum ng_sample_reason,
 * 0 for no sample.
 */
NG_INLINE __u8 ng_sample_reason(const struct ng_flow* f, const struct ng_pkt* pkt, __u8 side,
                                const struct ng_sample_params* params) {
  if (pkt->dns_query && params->dns) return NG_SAMPLE_DNS_QUERY;
  if (ng_flow_packets(f) <= params->first_n) return NG_SAMPLE_FIRST_N;
  const __u64 k = params->every_k;
  if (k == 0) return 0;
  const __u64 sent = f->dir[side == f->initiator ? NG_DIR_FWD : NG_DIR_BWD].payload.count;
  /* a GSO super-packet counts as its segments: sampled when they reach or pass a multiple of K */
  return sent % k < ng_pkt_segments(pkt).count ? NG_SAMPLE_ONE_IN_K : 0;
}

#endif /* NETGUARD_BPF_FLOW_UPDATE_H */
