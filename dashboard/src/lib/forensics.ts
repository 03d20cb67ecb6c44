// Per-address aggregation for the Forensics page (pure functions: tested with Vitest).
import type { Alert, Flow } from '../api/types';
import { num } from './format';

/** One entry of the timeline. */
export interface TimelineEntry {
  time: number;
  kind: 'flow' | 'alert';
  text: string;
  id: string;
}

/** Flows and alerts naming `ip`, newest first. */
export function timeline(ip: string, flows: Flow[], alerts: Alert[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  for (const f of flows) {
    const peer = f.srcAddr === ip ? f.dstAddr : f.srcAddr;
    const dir = f.srcAddr === ip ? '→' : '←';
    entries.push({
      time: new Date(f.end ?? f.start ?? 0).getTime(),
      kind: 'flow',
      id: `f${f.id}`,
      text: `${f.protocol} ${dir} ${peer}:${f.srcAddr === ip ? f.dstPort : f.srcPort} · ${num(f.fwdPackets) + num(f.bwdPackets)} pkts · ${f.endReason}`,
    });
  }
  for (const a of alerts) {
    entries.push({
      time: new Date(a.time ?? 0).getTime(),
      kind: 'alert',
      id: `a${a.id}`,
      text: `${a.alertClass} (${a.mitreTechnique || 'no technique'}) ${a.srcAddr} → ${a.dstAddr}`,
    });
  }
  return entries.sort((x, y) => y.time - x.time);
}

/** The `n` most frequent keys of `items` with their counts. */
function top<T>(items: T[], key: (t: T) => string, n: number): { key: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(key(i), (counts.get(key(i)) ?? 0) + 1);
  return [...counts.entries()]
    .map(([k, count]) => ({ key: k, count }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key))
    .slice(0, n);
}

/** The addresses `ip` talked with most, by flow count. */
export function topPeers(ip: string, flows: Flow[], n = 10) {
  return top(flows, (f) => (f.srcAddr === ip ? f.dstAddr : f.srcAddr), n);
}

/** The service ports of its flows ("TCP/443"), by flow count. */
export function topPorts(flows: Flow[], n = 10) {
  return top(flows, (f) => `${f.protocol}/${f.dstPort}`, n);
}

/** Flows and alerts per minute for the timeline chart, oldest first. */
export function perMinute(entries: TimelineEntry[]) {
  const rows = new Map<number, { minute: number; flows: number; alerts: number }>();
  for (const e of entries) {
    const m = Math.floor(e.time / 60000) * 60000;
    const row = rows.get(m) ?? { minute: m, flows: 0, alerts: 0 };
    if (e.kind === 'flow') row.flows++;
    else row.alerts++;
    rows.set(m, row);
  }
  return [...rows.values()].sort((a, b) => a.minute - b.minute);
}
