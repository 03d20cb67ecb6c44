// Country aggregation for the Map page: flows and alerts between countries (pure; tested).
import type { Alert, CountryInfo, Flow } from '../api/types';

/** "local", "unknown" or an ISO alpha-2 code. */
export type Place = string;

/** One source -> destination pair of places. */
export interface Arc {
  from: Place;
  to: Place;
  flows: number;
  alerts: number;
}

/** The place of each address from LookupCountries' answer. */
export function placesOf(countries: CountryInfo[]): Map<string, Place> {
  const out = new Map<string, Place>();
  for (const c of countries) out.set(c.address, c.local ? 'local' : c.countryCode || 'unknown');
  return out;
}

/** Flows and alerts aggregated per (source place, destination place), the busiest first. */
export function arcsOf(flows: Flow[], alerts: Alert[], places: Map<string, Place>): Arc[] {
  const arcs = new Map<string, Arc>();
  const add = (src: string, dst: string, kind: 'flows' | 'alerts') => {
    const from = places.get(src) ?? 'unknown';
    const to = places.get(dst) ?? 'unknown';
    const key = `${from}>${to}`;
    const arc = arcs.get(key) ?? { from, to, flows: 0, alerts: 0 };
    arc[kind]++;
    arcs.set(key, arc);
  };
  for (const f of flows) add(f.srcAddr, f.dstAddr, 'flows');
  for (const a of alerts) add(a.srcAddr, a.dstAddr, 'alerts');
  return [...arcs.values()].sort((a, b) => b.alerts - a.alerts || b.flows - a.flows);
}

/** Distinct addresses of flows and alerts, at most `limit`. */
export function addressesOf(flows: Flow[], alerts: Alert[], limit = 1000): string[] {
  const set = new Set<string>();
  for (const x of [...alerts, ...flows]) {
    set.add(x.srcAddr);
    set.add(x.dstAddr);
  }
  return [...set].filter(Boolean).slice(0, limit);
}
