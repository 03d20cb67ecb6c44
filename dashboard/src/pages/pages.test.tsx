import { fireEvent, screen, waitFor } from '@testing-library/react';
import { Route, Routes } from 'react-router-dom';
import { describe, expect, it } from 'vitest';
import type { Flow } from '../api/types';
import { fakeApi, renderWithProviders } from '../test/render';
import { ForensicsPage } from './Forensics';
import { MapPage } from './Map';

const flow = (id: number, src: string, dst: string): Flow => ({
  id: String(id),
  end: '2024-05-01T10:00:00Z',
  srcAddr: src,
  srcPort: 40000,
  dstAddr: dst,
  dstPort: 443,
  protocol: 'TCP',
  fwdPackets: '3',
  bwdPackets: '2',
  fwdBytes: '10',
  bwdBytes: '20',
  endReason: 'fin',
  ifindex: 2,
});

describe('ForensicsPage', () => {
  it('falls back when GetIp is missing and blocks with the chosen TTL', async () => {
    let blocked: unknown;
    fakeApi({
      GetIp: { status: 501, body: { status: 'UNIMPLEMENTED', message: '' } },
      ListFlows: { body: { flows: [flow(1, '10.0.0.3', '10.0.0.1'), flow(2, '10.0.0.3', '10.0.0.1')] } },
      ListAlerts: { body: { alerts: [] } },
      ListBlocks: { body: { blocks: [] } },
      Block: (body) => {
        blocked = body;
        return { body: { prefix: '10.0.0.3/32' } };
      },
    });
    renderWithProviders(
      <Routes>
        <Route path="/forensics/:ip" element={<ForensicsPage />} />
      </Routes>,
      '/forensics/10.0.0.3',
    );
    expect(await screen.findByTestId('reputation')).toHaveTextContent('not available in this agent');
    expect(screen.getByTestId('timeline')).toHaveTextContent('TCP → 10.0.0.1:443');
    expect(screen.getAllByText('2 flows')).toHaveLength(2); // top peer and top port
    fireEvent.click(screen.getByTestId('block-button'));
    await waitFor(() =>
      expect(blocked).toEqual({ prefix: '10.0.0.3', ttlSeconds: 3600, reason: 'blocked from the dashboard' }),
    );
  });
});

describe('ForensicsPage with a dry-run record', () => {
  it('says what auto-block would do and still offers a real block', async () => {
    fakeApi({
      GetIp: {
        body: {
          address: '10.0.0.3',
          score: 140,
          verdict: 'malicious',
          blocked: false,
        },
      },
      ListFlows: { body: { flows: [] } },
      ListAlerts: { body: { alerts: [] } },
      ListBlocks: {
        body: {
          blocks: [{ prefix: '10.0.0.3/32', reason: 'auto: PortScan (high)', dryRun: true, enforced: false }],
        },
      },
    });
    renderWithProviders(
      <Routes>
        <Route path="/forensics/:ip" element={<ForensicsPage />} />
      </Routes>,
      '/forensics/10.0.0.3',
    );
    expect(await screen.findByTestId('would-block')).toHaveTextContent('auto: PortScan (high)');
    expect(screen.getByTestId('block-button')).toBeInTheDocument();
    expect(screen.queryByTestId('blocked-badge')).toBeNull();
  });
});

describe('MapPage', () => {
  it('draws an arc per country pair and names the GeoIP database', async () => {
    fakeApi({
      ListFlows: { body: { flows: [flow(1, '10.0.0.3', '8.8.8.8'), flow(2, '193.99.144.80', '10.0.0.3')] } },
      ListAlerts: { body: { alerts: [] } },
      LookupCountries: {
        body: {
          database: '/usr/share/GeoIP/GeoIP.dat',
          countries: [
            { address: '10.0.0.3', countryCode: '', countryName: 'local', local: true },
            { address: '8.8.8.8', countryCode: 'US', countryName: 'United States', local: false },
            { address: '193.99.144.80', countryCode: 'DE', countryName: 'Germany', local: false },
          ],
        },
      },
    });
    renderWithProviders(<MapPage />);
    expect(await screen.findByTestId('world-map')).toBeInTheDocument();
    expect(screen.getAllByTestId('arc')).toHaveLength(2);
    expect(screen.getByTestId('country-pairs')).toHaveTextContent('Germany');
    expect(screen.getByText(/GeoIP: \/usr\/share\/GeoIP\/GeoIP.dat/)).toBeInTheDocument();
  });
});

describe('alertBuckets', () => {
  it('counts alerts per class per minute, oldest minute first', async () => {
    const { alertBuckets } = await import('./Live');
    const a = (id: string, cls: string, time: string) =>
      ({ id, alertClass: cls, time }) as unknown as import('../api/types').Alert;
    const { rows, classes } = alertBuckets([
      a('3', 'PortScan', '2024-05-01T10:01:30Z'),
      a('2', 'DoS', '2024-05-01T10:00:50Z'),
      a('1', 'PortScan', '2024-05-01T10:00:10Z'),
    ]);
    expect(classes).toEqual(['DoS', 'PortScan']);
    expect(rows.map((r) => [r.DoS ?? 0, r.PortScan ?? 0])).toEqual([
      [1, 1],
      [0, 1],
    ]);
  });
});
