// Rates from successive GetStatus samples (the counters are totals since the agent started).
import type { AgentStatus } from '../api/types';
import { num } from './format';

/** What the Live page plots and shows, per sample. */
export interface Sample {
  t: number; // ms since the epoch
  packets: number; // total packets seen (XDP ingress + TC egress, or pcap frames)
  flows: number; // flows finished
  alerts: number; // alerts raised
  dropped: number; // packets dropped by blocks
  loss: number; // ring drops + flow insert failures + queue overflows + evicted flows
}

/** The totals of one status reply. */
export function sampleOf(s: AgentStatus, t: number): Sample {
  const c = s.counters ?? {};
  return {
    t,
    packets: num(c.xdp_packets) + num(c.tc_packets) + num(c.pcap_frames),
    flows: num(c.flows_finished),
    alerts: num(c.alerts),
    dropped: num(c.xdp_dropped),
    loss: num(s.ringDrops) + num(s.flowInsertFailures) + num(s.queueOverflows) + num(s.flowsEvicted),
  };
}

/** Per-second rate of `key` between the last two samples (0 with fewer than two, or a restart). */
export function ratePerSecond(samples: Sample[], key: keyof Omit<Sample, 't'>): number {
  if (samples.length < 2) return 0;
  const a = samples[samples.length - 2];
  const b = samples[samples.length - 1];
  const dt = (b.t - a.t) / 1000;
  const dv = b[key] - a[key];
  return dt > 0 && dv >= 0 ? dv / dt : 0;
}

/** Increase of `key` over the last `windowMs` (as far back as the samples go). */
export function increaseOver(samples: Sample[], key: keyof Omit<Sample, 't'>, windowMs: number): number {
  if (samples.length < 2) return 0;
  const last = samples[samples.length - 1];
  const first = samples.find((s) => last.t - s.t <= windowMs) ?? samples[0];
  return Math.max(0, last[key] - first[key]);
}
