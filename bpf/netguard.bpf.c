// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * netguard.bpf.c - the data plane.
 *
 * ng_xdp_ingress: blocklist (LPM by source prefix) -> XDP_DROP; otherwise per-flow accounting and
 * sampling, XDP_PASS. ng_tc_egress: the same accounting for outbound packets, always TC_ACT_OK.
 * Malformed or truncated packets always pass and are counted by reason.
 */
#include "netguard.h"

#include <bpf/bpf_helpers.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "flow_update.h"
#include "maps.bpf.h"

#define NG_EEXIST 17
#define NG_TC_PULL_BYTES 256 /* enough linear bytes for every header the parser reads */

const volatile struct ng_config ng_cfg = {
    .activity_timeout_us = NG_DEFAULT_ACTIVITY_TIMEOUT_US,
    .active_timeout_ns = NG_DEFAULT_ACTIVE_TIMEOUT_NS,
    .sample_first_n = NG_DEFAULT_SAMPLE_FIRST_N,
    .sample_every_k = NG_DEFAULT_SAMPLE_EVERY_K,
    .end_flags = NG_END_ON_FIN | NG_END_ON_RST,
    .sample_dns = 1,
    .sample_arp = 1,
    .ts_from_meta = 0,
};

/* A new flow entry is inserted zeroed (state NG_FLOW_EMPTY) and started under its lock. */
const volatile struct ng_flow ng_zero_flow;

/* Unused by the programs: a packet sample is only ever a ring reservation, which leaves no trace
 * in BTF; this puts struct ng_packet_sample in the object's BTF for tests/unit/layout_test.cpp. */
const volatile struct ng_packet_sample* const ng_btf_packet_sample = 0;

static __always_inline void ng_count(__u32 stat, __u64 n) {
  __u64* value = bpf_map_lookup_elem(&ng_stats, &stat);
  if (value) *value += n;
}

static __always_inline struct ng_block_counters* ng_blocked(const struct ng_pkt* pkt) {
  if (pkt->family == NG_FAMILY_IPV4) {
    struct ng_lpm_v4 key = {.prefixlen = 32, .addr = pkt->src[0]};
    return bpf_map_lookup_elem(&ng_block_v4, &key);
  }
  struct ng_lpm_v6 key = {.prefixlen = 128};
  __builtin_memcpy(key.addr, pkt->src, sizeof(key.addr));
  return bpf_map_lookup_elem(&ng_block_v6, &key);
}

/* Wake the agent only once the ring holds a batch worth reading: a wake-up per record costs the
 * sending CPU an interrupt (~55 ns per packet measured, docs/benchmarks.md). The agent also
 * reads the ring on a short timer (RingReader::Poll), so a record waits at most that long. */
/* `waiting`: bytes in the ring including this record of `size` bytes. Wakes the reader once, as
 * the waiting data crosses NG_RING_WAKEUP_BYTES; a record below or beyond it wakes nobody. */
static __always_inline __u64 ng_ring_flags(__u64 waiting, __u64 size) {
  return waiting >= NG_RING_WAKEUP_BYTES && waiting - size < NG_RING_WAKEUP_BYTES
             ? BPF_RB_FORCE_WAKEUP
             : BPF_RB_NO_WAKEUP;
}

static __always_inline void ng_emit(struct ng_flow_event* ev, __u16 type, __u8 reason, __u8 hook,
                                    __u32 ifindex, __u64 ts_ns, const struct ng_flow_key* key) {
  ev->hdr.type = type;
  ev->hdr.hook = hook;
  ev->hdr.reason = reason;
  ev->hdr.ifindex = ifindex;
  ev->hdr.ts_ns = ts_ns;
  ev->key = *key;
  if (bpf_ringbuf_output(
          &ng_events, ev, sizeof(*ev),
          ng_ring_flags(bpf_ringbuf_query(&ng_events, BPF_RB_AVAIL_DATA) + sizeof(*ev),
                        sizeof(*ev))))
    ng_count(NG_STAT_RING_DROPS, 1);
}

/* What ng_track() decided about sampling the packet. */
struct ng_sample_plan {
  struct ng_flow_key key;
  __u8 reason; /* enum ng_sample_reason, 0 = no sample */
  __u8 side;
};

/*
 * Accounts a parsed packet to its flow and emits flow start/end records. Fills plan with the
 * sampling decision (ng_sample_reason): every DNS query, the first N packets of a flow, then one
 * in K of each direction.
 */
__attribute__((noinline)) int ng_track(const struct ng_pkt* pkt, __u64 ts_ns, __u32 hook,
                                       __u32 ifindex, struct ng_sample_plan* plan) {
  if (!pkt || !plan || hook >= NG_HOOK_COUNT) return 0;
  struct ng_flow_key* key = &plan->key;
  __u8 side = ng_flow_key_make(pkt, key);
  plan->side = side;

  struct ng_flow* flow = bpf_map_lookup_elem(&ng_flows, key);
  if (!flow) {
    long err = bpf_map_update_elem(&ng_flows, key, (const void*)&ng_zero_flow, BPF_NOEXIST);
    if (err == 0 || err == -NG_EEXIST) /* -EEXIST: another CPU inserted it first */
      flow = bpf_map_lookup_elem(&ng_flows, key);
    if (!flow) {
      ng_count(NG_STAT_FLOW_INSERT_FAILED, 1);
      return 0;
    }
  }

  __u32 stripe = ng_flow_key_stripe(key);
  struct ng_lock_stripe* lock = bpf_map_lookup_elem(&ng_locks, &stripe);
  __u32 slot = hook * NG_SCRATCH_PER_HOOK;
  struct ng_flow_event* expired = bpf_map_lookup_elem(&ng_scratch, &slot);
  slot++;
  struct ng_flow_event* started = bpf_map_lookup_elem(&ng_scratch, &slot);
  slot++;
  struct ng_flow_event* finished = bpf_map_lookup_elem(&ng_scratch, &slot);
  if (!lock || !expired || !started || !finished) return 0;

  struct ng_step_params params = {
      .activity_timeout_us = ng_cfg.activity_timeout_us,
      .active_timeout_ns = ng_cfg.active_timeout_ns,
      .end_flags = ng_cfg.end_flags,
  };
  const struct ng_sample_params sampling = {
      .first_n = ng_cfg.sample_first_n,
      .every_k = ng_cfg.sample_every_k,
      .dns = ng_cfg.sample_dns,
  };
  __u8 end_reason = 0;
  bpf_spin_lock(&lock->lock);
  __u32 result = ng_flow_step(flow, pkt, side, ts_ns, &params, &expired->flow, &started->flow,
                              &finished->flow, &end_reason);
  __u8 sample = ng_sample_reason(flow, pkt, side, &sampling);
  bpf_spin_unlock(&lock->lock);
  plan->reason = sample;

  if (result & NG_STEP_EXPIRED) {
    ng_count(NG_STAT_FLOWS_ENDED_TIMEOUT, 1);
    ng_emit(expired, NG_REC_FLOW_END, NG_REASON_ACTIVE_TIMEOUT, hook, ifindex, ts_ns, key);
  }
  if (result & NG_STEP_STARTED) {
    ng_count(NG_STAT_FLOWS_STARTED, 1);
    ng_emit(started, NG_REC_FLOW_START, NG_REASON_START, hook, ifindex, ts_ns, key);
  }
  if (result & NG_STEP_FINISHED) {
    ng_count(end_reason == NG_REASON_FIN ? NG_STAT_FLOWS_ENDED_FIN : NG_STAT_FLOWS_ENDED_RST, 1);
    ng_emit(finished, NG_REC_FLOW_END, end_reason, hook, ifindex, ts_ns, key);
  }

  return 0;
}

/* Reserves a sample record and fills everything but data[] and cap_len. */
static __always_inline struct ng_packet_sample* ng_sample_begin(const struct ng_sample_plan* plan,
                                                                __u8 hook, __u32 ifindex,
                                                                __u64 ts_ns, __u32 wire_len) {
  struct ng_packet_sample* s = bpf_ringbuf_reserve(&ng_events, sizeof(*s), 0);
  if (!s) {
    ng_count(NG_STAT_RING_DROPS, 1);
    return 0;
  }
  s->hdr.type = NG_REC_PACKET;
  s->hdr.hook = hook;
  s->hdr.reason = plan->reason;
  s->hdr.ifindex = ifindex;
  s->hdr.ts_ns = ts_ns;
  s->key = plan->key;
  s->wire_len = wire_len;
  s->side = plan->side;
  s->pad[0] = 0;
  s->cap_len = 0;
  ng_count(NG_STAT_SAMPLES, 1);
  return s;
}

/* Bytes of a frame to copy into a sample, in a form the verifier can bound. */
static __always_inline __u64 ng_cap_len(__u64 wire_len) {
  __u64 cap = wire_len;
  barrier_var(cap); /* keep clang from comparing one copy and passing another */
  if (cap > NG_SAMPLE_BYTES) cap = NG_SAMPLE_BYTES;
  return cap;
}

static __always_inline void ng_sample_xdp(struct xdp_md* ctx, const struct ng_sample_plan* plan,
                                          __u64 ts_ns, __u32 wire_len) {
  struct ng_packet_sample* s =
      ng_sample_begin(plan, NG_HOOK_XDP, ctx->ingress_ifindex, ts_ns, wire_len);
  if (!s) return;
  __u64 cap = ng_cap_len(wire_len);
  if (cap > 0 && bpf_xdp_load_bytes(ctx, 0, s->data, cap) == 0) s->cap_len = (__u16)cap;
  /* the reservation already counts as waiting data */
  bpf_ringbuf_submit(s,
                     ng_ring_flags(bpf_ringbuf_query(&ng_events, BPF_RB_AVAIL_DATA), sizeof(*s)));
}

static __always_inline void ng_sample_tc(struct __sk_buff* skb, const struct ng_sample_plan* plan,
                                         __u64 ts_ns) {
  struct ng_packet_sample* s = ng_sample_begin(plan, NG_HOOK_TC, skb->ifindex, ts_ns, skb->len);
  if (!s) return;
  __u64 cap = ng_cap_len(skb->len);
  if (cap > 0 && bpf_skb_load_bytes(skb, 0, s->data, cap) == 0) s->cap_len = (__u16)cap;
  /* the reservation already counts as waiting data */
  bpf_ringbuf_submit(s,
                     ng_ring_flags(bpf_ringbuf_query(&ng_events, BPF_RB_AVAIL_DATA), sizeof(*s)));
}

static __always_inline __u64 ng_xdp_now(struct xdp_md* ctx) {
  if (ng_cfg.ts_from_meta) {
    const __u8* meta = (const __u8*)(long)ctx->data_meta;
    const __u8* data = (const __u8*)(long)ctx->data;
    if (meta + sizeof(__u64) <= data) return *(const __u64*)meta;
  }
  return bpf_ktime_get_ns();
}

SEC("xdp")
int ng_xdp_ingress(struct xdp_md* ctx) {
  struct ng_cursor cur = {
      .pos = (const __u8*)(long)ctx->data,
      .end = (const __u8*)(long)ctx->data_end,
  };
  /* The program is loaded without BPF_F_XDP_HAS_FRAGS, so the kernel only ever gives it a linear
   * frame: its length is data_end - data, as bpf_xdp_get_buff_len() would say, without a call. */
  __u32 wire_len = (__u32)(ctx->data_end - ctx->data);
  struct ng_pkt pkt = {};
  struct ng_sample_plan plan = {};

  ng_count(NG_STAT_XDP_PACKETS, 1);
  int l3 = ng_parse_l3(&cur, wire_len, &pkt);
  if (l3 == NG_L3_IP) {
    struct ng_block_counters* hit = ng_blocked(&pkt);
    if (hit) {
      __sync_fetch_and_add(&hit->packets, 1);
      __sync_fetch_and_add(&hit->bytes, wire_len);
      ng_count(NG_STAT_XDP_DROPPED, 1);
      ng_count(NG_STAT_XDP_DROPPED_BYTES, wire_len);
      return XDP_DROP;
    }
  }

  /* The clock is read only for packets that pass: a blocked packet costs one lookup. */
  const __u64 ts_ns = ng_xdp_now(ctx);
  if (l3 == NG_L3_IP) {
    int l4 = ng_parse_l4(&cur, &pkt);
    if (l4 == NG_L4_FLOW)
      ng_track(&pkt, ts_ns, NG_HOOK_XDP, ctx->ingress_ifindex, &plan);
    else if (l4 == NG_L4_FRAGMENT)
      ng_count(NG_STAT_IP_FRAGMENTS, 1);
    else
      ng_count(NG_STAT_PARSE_ERROR_FIRST + pkt.error, 1);
  } else if (l3 == NG_L3_ARP) {
    ng_count(NG_STAT_ARP, 1);
    if (ng_cfg.sample_arp) plan.reason = NG_SAMPLE_ARP;
  } else if (l3 == NG_L3_OTHER) {
    ng_count(NG_STAT_NON_IP, 1);
  } else {
    ng_count(NG_STAT_PARSE_ERROR_FIRST + pkt.error, 1);
  }

  if (plan.reason) ng_sample_xdp(ctx, &plan, ts_ns, wire_len);
  ng_count(NG_STAT_XDP_PASSED, 1);
  return XDP_PASS;
}

SEC("tc")
int ng_tc_egress(struct __sk_buff* skb) {
  __u64 ts_ns = ng_cfg.ts_from_meta ? skb->tstamp : bpf_ktime_get_ns();
  /* skbs from PF_PACKET (trafgen, tcpreplay) or GSO can hold only the L2 header linearly */
  __u32 linear = skb->data_end - skb->data;
  if (linear < NG_TC_PULL_BYTES && skb->len > linear)
    bpf_skb_pull_data(skb, skb->len < NG_TC_PULL_BYTES ? skb->len : NG_TC_PULL_BYTES);

  struct ng_cursor cur = {
      .pos = (const __u8*)(long)skb->data,
      .end = (const __u8*)(long)skb->data_end,
  };
  struct ng_pkt pkt = {
      .gso_segs = (__u16)skb->gso_segs,
      .gso_size = (__u16)skb->gso_size,
  };
  struct ng_sample_plan plan = {};

  ng_count(NG_STAT_TC_PACKETS, 1);
  int l3 = ng_parse_l3(&cur, skb->len, &pkt);
  if (l3 == NG_L3_IP) {
    int l4 = ng_parse_l4(&cur, &pkt);
    if (l4 == NG_L4_FLOW)
      ng_track(&pkt, ts_ns, NG_HOOK_TC, skb->ifindex, &plan);
    else if (l4 == NG_L4_FRAGMENT)
      ng_count(NG_STAT_IP_FRAGMENTS, 1);
    else
      ng_count(NG_STAT_PARSE_ERROR_FIRST + pkt.error, 1);
  } else if (l3 == NG_L3_ARP) {
    ng_count(NG_STAT_ARP, 1);
    if (ng_cfg.sample_arp) plan.reason = NG_SAMPLE_ARP;
  } else if (l3 == NG_L3_OTHER) {
    ng_count(NG_STAT_NON_IP, 1);
  } else {
    ng_count(NG_STAT_PARSE_ERROR_FIRST + pkt.error, 1);
  }

  if (plan.reason) ng_sample_tc(skb, &plan, ts_ns);
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
