// No page is ever blank: with nothing to show each page says why, and a failing agent gets its
// status and message on the page.
import { screen } from '@testing-library/react';
import type { ReactElement } from 'react';
import { Route, Routes } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi, renderWithProviders } from '../test/render';
import { AlertsPage } from './Alerts';
import { BlocksPage } from './Blocks';
import { ForensicsPage } from './Forensics';
import { LivePage } from './Live';
import { MapPage } from './Map';
import { ModelsPage } from './Models';

const idleStatus = {
  version: '1.0.0',
  uptimeSeconds: '5',
  interfaces: [],
  counters: {},
  ringDrops: '0',
  flowInsertFailures: '0',
  queueOverflows: '0',
  flowsEvicted: '0',
  coverageDegraded: false,
  activeModel: '',
  storedFlows: '0',
  activeBlocks: '0',
};

// An agent that has seen nothing yet. The streams answer an empty event stream.
const emptyAgent = {
  GetStatus: { body: idleStatus },
  ListAlerts: { body: { alerts: [] } },
  ListFlows: { body: { flows: [] } },
  ListBlocks: { body: { blocks: [] } },
  GetIp: { body: { address: '203.0.113.5', score: 0, verdict: 'clean', alertCount: '0', flowCount: '0' } },
  LookupCountries: { body: { countries: [], database: '' } },
  StreamAlerts: { body: '' },
  StreamFlows: { body: '' },
};

const broken = { status: 500, body: { code: 13, status: 'INTERNAL', message: 'store: disk I/O error' } };

const pages: [string, string, () => ReactElement][] = [
  ['Live', '/live', () => <LivePage />],
  ['Alerts', '/alerts', () => <AlertsPage />],
  [
    'Forensics',
    '/forensics/203.0.113.5',
    () => (
      <Routes>
        <Route path="/forensics/:ip" element={<ForensicsPage />} />
      </Routes>
    ),
  ],
  ['Blocks', '/blocks', () => <BlocksPage />],
  ['Map', '/map', () => <MapPage />],
];

afterEach(() => vi.unstubAllGlobals());

describe('empty states', () => {
  it('Live explains each empty panel and the missing interfaces', async () => {
    fakeApi(emptyAgent);
    renderWithProviders(<LivePage />, '/live');
    expect(await screen.findByText('No interface attached')).toBeInTheDocument();
    expect(screen.getByText('Collecting samples')).toBeInTheDocument();
    expect(screen.getByText('No alerts in the last 30 minutes')).toBeInTheDocument();
    expect(screen.getByText('No alert in the last 30 minutes')).toBeInTheDocument();
    expect(screen.getByText('No flow stored yet')).toBeInTheDocument();
  });

  it('Alerts tells "none yet" from "none matches the filters"', async () => {
    fakeApi(emptyAgent);
    renderWithProviders(<AlertsPage />, '/alerts');
    expect(await screen.findByText('No alert yet')).toBeInTheDocument();
    expect(screen.getByTestId('empty-state')).toHaveTextContent('raised nothing so far');
  });

  it('Forensics says nothing is recorded for the address', async () => {
    fakeApi(emptyAgent);
    renderWithProviders(pages[2][2](), '/forensics/203.0.113.5');
    expect(await screen.findByText('Nothing recorded for 203.0.113.5')).toBeInTheDocument();
  });

  it('Forensics without an address asks for one', async () => {
    fakeApi(emptyAgent);
    renderWithProviders(
      <Routes>
        <Route path="/forensics" element={<ForensicsPage />} />
      </Routes>,
      '/forensics',
    );
    expect(await screen.findByText('Pick an address')).toBeInTheDocument();
  });

  it('Map explains an empty store and a missing GeoIP database', async () => {
    fakeApi(emptyAgent);
    renderWithProviders(<MapPage />, '/map');
    expect(await screen.findByText('No traffic stored yet')).toBeInTheDocument();
    expect(screen.getByTestId('geoip-database')).toHaveTextContent('no database opened');
  });

  it('Map shows why the configured GeoIP database is not used', async () => {
    fakeApi({
      ...emptyAgent,
      LookupCountries: {
        body: {
          countries: [],
          database: '/usr/share/GeoIP/GeoIP.dat',
          databaseError:
            'cannot open /etc/netguard/GeoLite2-Country.mmdb: Error opening the specified MaxMind DB file',
        },
      },
    });
    renderWithProviders(<MapPage />, '/map');
    expect(await screen.findByTestId('geoip-error')).toHaveTextContent('GeoLite2-Country.mmdb');
    expect(screen.getByTestId('geoip-database')).toHaveTextContent('/usr/share/GeoIP/GeoIP.dat');
  });
});

describe('error states', () => {
  it.each(pages)('%s shows the failed call and its reason', async (_, path, page) => {
    fakeApi(Object.fromEntries(Object.keys(emptyAgent).map((m) => [m, broken])));
    renderWithProviders(page(), path);
    const shown = await screen.findAllByTestId('error-state', {}, { timeout: 3000 });
    expect(shown[0]).toHaveTextContent('disk I/O error');
  });

  it('Models shows the failed call and its reason', async () => {
    fakeApi({ GetModel: broken });
    renderWithProviders(<ModelsPage />, '/models');
    expect(await screen.findByTestId('error-state')).toHaveTextContent('disk I/O error');
  });
});
