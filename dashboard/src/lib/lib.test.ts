import { describe, expect, it } from 'vitest';
import type { Alert, Flow } from '../api/types';
import { perMinute, timeline, topPeers, topPorts } from './forensics';
import { compact, duration, endpoint } from './format';
import { addressesOf, arcsOf, placesOf } from './geo';
import { techniqueName, techniqueUrl } from './mitre';
import { increaseOver, ratePerSecond, sampleOf, type Sample } from './rates';

const flow = (id: number, src: string, dst: string, dstPort: number, end: string): Flow => ({
  id: String(id),
  end,
  srcAddr: src,
  srcPort: 40000 + id,
  dstAddr: dst,
  dstPort,
  protocol: 'TCP',
  fwdPackets: '3',
  bwdPackets: '2',
  fwdBytes: '10',
  bwdBytes: '20',
  endReason: 'fin',
  ifindex: 2,
});
const alert = (id: number, src: string, dst: string, time: string): Alert => ({
  id: String(id),
  time,
  srcAddr: src,
  srcPort: 0,
  dstAddr: dst,
  dstPort: 0,
  protocol: 'TCP',
  alertClass: 'PortScan',
  score: 1,
  severity: 'SEVERITY_WARNING',
  mitreTechnique: 'T1046',
  detector: 'rule.port_scan',
  evidenceJson: '{}',
  degradedCoverage: false,
  acknowledged: false,
  feedback: 'FEEDBACK_UNSPECIFIED',
});

describe('MITRE', () => {
  it('names techniques and links sub-techniques with a slash', () => {
    expect(techniqueName('T1046')).toBe('Network Service Discovery');
    expect(techniqueUrl('T1046')).toBe('https://attack.mitre.org/techniques/T1046/');
    expect(techniqueUrl('T1110.001')).toBe('https://attack.mitre.org/techniques/T1110/001/');
    expect(techniqueUrl('')).toBe('');
    expect(techniqueUrl('javascript:alert(1)')).toBe('');
  });
});

describe('rates from status samples', () => {
  const s = (t: number, packets: number, alerts: number): Sample => ({
    t,
    packets,
    flows: 0,
    alerts,
    dropped: 0,
    loss: 0,
  });
  it('computes per-second rates and ignores counter resets', () => {
    expect(ratePerSecond([s(0, 100, 0), s(2000, 300, 0)], 'packets')).toBe(100);
    expect(ratePerSecond([s(0, 300, 0), s(1000, 5, 0)], 'packets')).toBe(0);
    expect(ratePerSecond([s(0, 1, 0)], 'packets')).toBe(0);
  });
  it('counts the increase within a window', () => {
    const samples = [s(0, 0, 1), s(30000, 0, 4), s(70000, 0, 9)];
    expect(increaseOver(samples, 'alerts', 60000)).toBe(5);
  });
  it('sums the loss counters of a status', () => {
    const sample = sampleOf(
      {
        counters: { xdp_packets: '5', tc_packets: '7', alerts: '2' },
        ringDrops: '1',
        flowInsertFailures: '2',
        queueOverflows: '0',
        flowsEvicted: '3',
      } as never,
      1,
    );
    expect(sample).toMatchObject({ packets: 12, alerts: 2, loss: 6 });
  });
});

describe('forensics aggregation', () => {
  const ip = '10.0.0.3';
  const flows = [
    flow(1, ip, '10.0.0.1', 22, '2024-05-01T10:00:10Z'),
    flow(2, ip, '10.0.0.1', 80, '2024-05-01T10:01:10Z'),
    flow(3, '10.0.0.9', ip, 443, '2024-05-01T10:01:20Z'),
    flow(4, ip, '10.0.0.1', 80, '2024-05-01T10:01:30Z'),
  ];
  const alerts = [alert(9, ip, '10.0.0.1', '2024-05-01T10:01:40Z')];
  it('merges flows and alerts newest first', () => {
    const t = timeline(ip, flows, alerts);
    expect(t.map((e) => e.id)).toEqual(['a9', 'f4', 'f3', 'f2', 'f1']);
    expect(t[2].text).toContain('← 10.0.0.9');
    expect(perMinute(t)).toEqual([
      { minute: Date.parse('2024-05-01T10:00:00Z'), flows: 1, alerts: 0 },
      { minute: Date.parse('2024-05-01T10:01:00Z'), flows: 3, alerts: 1 },
    ]);
  });
  it('ranks peers and ports', () => {
    expect(topPeers(ip, flows)).toEqual([
      { key: '10.0.0.1', count: 3 },
      { key: '10.0.0.9', count: 1 },
    ]);
    expect(topPorts(flows)[0]).toEqual({ key: 'TCP/80', count: 2 });
  });
});

describe('map aggregation', () => {
  it('aggregates per country pair, private ranges as local', () => {
    const flows = [
      flow(1, '10.0.0.2', '8.8.8.8', 53, 'x'),
      flow(2, '10.0.0.3', '8.8.4.4', 53, 'x'),
      flow(3, '193.99.144.80', '10.0.0.2', 443, 'x'),
    ];
    const alerts = [alert(1, '193.99.144.80', '10.0.0.2', 'x')];
    const places = placesOf([
      { address: '10.0.0.2', countryCode: '', countryName: 'local', local: true },
      { address: '10.0.0.3', countryCode: '', countryName: 'local', local: true },
      { address: '8.8.8.8', countryCode: 'US', countryName: 'United States', local: false },
      { address: '8.8.4.4', countryCode: 'US', countryName: 'United States', local: false },
      { address: '193.99.144.80', countryCode: 'DE', countryName: 'Germany', local: false },
    ]);
    expect(arcsOf(flows, alerts, places)).toEqual([
      { from: 'DE', to: 'local', flows: 1, alerts: 1 },
      { from: 'local', to: 'US', flows: 2, alerts: 0 },
    ]);
    expect(addressesOf(flows, alerts).sort()).toEqual([
      '10.0.0.2',
      '10.0.0.3',
      '193.99.144.80',
      '8.8.4.4',
      '8.8.8.8',
    ]);
  });
});

describe('format', () => {
  it('formats numbers, durations and endpoints', () => {
    expect(compact(1234567)).toBe('1.2 M');
    expect(duration(3725)).toBe('1h 2m 5s');
    expect(endpoint('2001:db8::1', 443)).toBe('[2001:db8::1]:443');
    expect(endpoint('10.0.0.1', 0)).toBe('10.0.0.1');
  });
});
