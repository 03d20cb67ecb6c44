// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * bpf_floor.bpf.c - bench-only XDP programs for bench/bpf_cost's component floors: each does one
 * part, or the bare minimum, of what ng_xdp_ingress must do for a packet of an existing flow,
 * and nothing else. See docs/benchmarks.md (section bpf_cost).
 *
 * They use the product's flow key and value (bpf/netguard.h), its flow-map type and size and
 * its lock stripes (LRU hash maps cannot hold a bpf_spin_lock). The key is floor_key, set by the
 * benchmark before load and copied to the stack as the product builds its key there. Every
 * program that finds the entry returns XDP_PASS; a missing entry returns XDP_DROP.
 */
/* bpf_helpers.h needs the types of linux/bpf.h, included first */
/* clang-format off */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
/* clang-format on */

#include "flow_update.h" /* ng_flow_key_stripe() */
#include "netguard.h"

const volatile struct ng_flow_key floor_key;

/* Where floor_ktime stores the clock, so that the read is not optimised away. */
__u64 floor_ts;

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct ng_flow_key);
  __type(value, struct ng_flow);
} floor_flows SEC(".maps");

/* The lock-free design the issue allows: one value per CPU, merged in user space. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct ng_flow_key);
  __type(value, struct ng_flow);
} floor_flows_percpu SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, NG_LOCK_STRIPES);
  __type(key, __u32);
  __type(value, struct ng_lock_stripe);
} floor_locks SEC(".maps");

static __always_inline void floor_key_load(struct ng_flow_key* key) {
  const volatile __u64* src = (const volatile __u64*)&floor_key;
  __u64 words[sizeof(*key) / 8];
  for (unsigned i = 0; i < sizeof(words) / 8; i++) words[i] = src[i];
  __builtin_memcpy(key, words, sizeof(*key));
}

SEC("xdp")
int floor_ktime(struct xdp_md* ctx) {
  (void)ctx;
  floor_ts = bpf_ktime_get_ns();
  return XDP_PASS;
}

SEC("xdp")
int floor_lru_lookup(struct xdp_md* ctx) {
  (void)ctx;
  struct ng_flow_key key;
  floor_key_load(&key);
  return bpf_map_lookup_elem(&floor_flows, &key) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int floor_lookup_ktime(struct xdp_md* ctx) {
  (void)ctx;
  struct ng_flow_key key;
  floor_key_load(&key);
  struct ng_flow* flow = bpf_map_lookup_elem(&floor_flows, &key);
  if (!flow) return XDP_DROP;
  flow->last_ts_ns = bpf_ktime_get_ns();
  return XDP_PASS;
}

/* The minimum of the exact shared-entry design: the timestamp is stored under the key's lock. */
SEC("xdp")
int floor_lookup_ktime_lock(struct xdp_md* ctx) {
  (void)ctx;
  struct ng_flow_key key;
  floor_key_load(&key);
  struct ng_flow* flow = bpf_map_lookup_elem(&floor_flows, &key);
  if (!flow) return XDP_DROP;
  const __u64 ts_ns = bpf_ktime_get_ns();
  __u32 stripe = ng_flow_key_stripe(&key);
  struct ng_lock_stripe* lock = bpf_map_lookup_elem(&floor_locks, &stripe);
  if (!lock) return XDP_DROP;
  bpf_spin_lock(&lock->lock);
  flow->last_ts_ns = ts_ns;
  bpf_spin_unlock(&lock->lock);
  return XDP_PASS;
}

SEC("xdp")
int floor_percpu_lookup_ktime(struct xdp_md* ctx) {
  (void)ctx;
  struct ng_flow_key key;
  floor_key_load(&key);
  struct ng_flow* flow = bpf_map_lookup_elem(&floor_flows_percpu, &key);
  if (!flow) return XDP_DROP;
  flow->last_ts_ns = bpf_ktime_get_ns();
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
