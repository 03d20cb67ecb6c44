/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* maps.bpf.h - the maps of netguard.bpf.c. Sizes are defaults; the loader resizes between open
 * and load. The blocklist tries and the statistics are pinned under NG_PIN_ROOT by name, so
 * blocks outlive the agent and a new agent reuses them. */
#ifndef NETGUARD_BPF_MAPS_BPF_H
#define NETGUARD_BPF_MAPS_BPF_H

#include <bpf/bpf_helpers.h>
#include <linux/bpf.h>

#include "netguard.h"

/* Per-flow accumulators, keyed canonically (both directions share one entry). */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct ng_flow_key);
  __type(value, struct ng_flow);
} ng_flows SEC(".maps");

/* Striped spin locks serialising updates of a flow entry across CPUs (XDP and TC included). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, NG_LOCK_STRIPES);
  __type(key, __u32);
  __type(value, struct ng_lock_stripe);
} ng_locks SEC(".maps");

/* Flow start/end records and packet samples for the agent. */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 << 20);
} ng_events SEC(".maps");

/* Per-CPU counters indexed by enum ng_stat. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NG_STAT_COUNT);
  __type(key, __u32);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} ng_stats SEC(".maps");

/* Blocked source prefixes with what each dropped. */
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 65536);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct ng_lpm_v4);
  __type(value, struct ng_block_counters);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} ng_block_v4 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 65536);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct ng_lpm_v6);
  __type(value, struct ng_block_counters);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} ng_block_v6 SEC(".maps");

/* Where flow snapshots are built under the lock before they go to the ring: per CPU, one slot
 * per hook and event (expired, started, finished), so a TC run and an XDP run on the same CPU
 * never share a slot. */
#define NG_SCRATCH_PER_HOOK 3
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, NG_HOOK_COUNT* NG_SCRATCH_PER_HOOK);
  __type(key, __u32);
  __type(value, struct ng_flow_event);
} ng_scratch SEC(".maps");

#endif /* NETGUARD_BPF_MAPS_BPF_H */
