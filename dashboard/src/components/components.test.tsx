import { fireEvent, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { setToken } from '../api/client';
import type { Alert } from '../api/types';
import { App } from '../App';
import { AlertsPage } from '../pages/Alerts';
import { BlocksPage } from '../pages/Blocks';
import { ModelsPage } from '../pages/Models';
import { fakeApi, renderWithProviders } from '../test/render';
import { AlertDetail } from './AlertDetail';

const scan: Alert = {
  id: '12',
  time: '2024-05-01T10:00:00Z',
  srcAddr: '10.0.0.3',
  srcPort: 0,
  dstAddr: '10.0.0.1',
  dstPort: 0,
  protocol: 'TCP',
  alertClass: 'PortScan',
  score: 1,
  severity: 'SEVERITY_WARNING',
  mitreTechnique: 'T1046',
  detector: 'rule.port_scan',
  evidenceJson: '{"distinct_targets":31,"threshold":20}',
  degradedCoverage: false,
  acknowledged: false,
  feedback: 'FEEDBACK_UNSPECIFIED',
};

describe('AlertDetail', () => {
  it('shows evidence and the MITRE technique with its link', () => {
    renderWithProviders(<AlertDetail alert={scan} onChange={() => {}} />);
    expect(screen.getByText('distinct_targets')).toBeInTheDocument();
    expect(screen.getByText('31')).toBeInTheDocument();
    expect(screen.getByText(/Network Service Discovery/)).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'T1046' })).toHaveAttribute(
      'href',
      'https://attack.mitre.org/techniques/T1046/',
    );
  });

  it('acknowledges with the token and reports the updated alert', async () => {
    setToken('t0k');
    const fetch = fakeApi({
      AckAlert: (body, headers) =>
        headers.Authorization === 'Bearer t0k'
          ? { body: { ...scan, id: (body as { id: string }).id, acknowledged: true } }
          : { status: 401, body: { status: 'UNAUTHENTICATED', message: 'AckAlert needs the API token' } },
    });
    let updated: Alert | undefined;
    renderWithProviders(<AlertDetail alert={scan} onChange={(a) => (updated = a)} />);
    fireEvent.click(screen.getByTestId('ack'));
    await waitFor(() => expect(updated?.acknowledged).toBe(true));
    expect(fetch).toHaveBeenCalledWith(
      '/api/v1/AckAlert',
      expect.objectContaining({ method: 'POST', body: '{"id":"12"}' }),
    );
  });

  it('explains a refused change instead of failing silently', async () => {
    fakeApi({
      SetFeedback: {
        status: 401,
        body: { status: 'UNAUTHENTICATED', message: 'SetFeedback needs the API token' },
      },
    });
    renderWithProviders(<AlertDetail alert={scan} onChange={() => {}} />);
    fireEvent.click(screen.getByText('False positive'));
    expect(await screen.findByTestId('action-error')).toHaveTextContent(
      /needs the API token.*Enter the API token/,
    );
  });
});

describe('AlertsPage', () => {
  it('filters on the agent and searches in what is loaded', async () => {
    const asked: unknown[] = [];
    const other: Alert = { ...scan, id: '13', srcAddr: '10.0.0.9', detector: 'ml.multiclass' };
    fakeApi({
      ListAlerts: (body) => {
        asked.push(body);
        const address = (body as { address?: string }).address;
        return { body: { alerts: address ? [scan] : [scan, other] } };
      },
    });
    renderWithProviders(<AlertsPage />, '/alerts');
    await waitFor(() => expect(screen.getAllByTestId('alert-row')).toHaveLength(2));
    fireEvent.change(screen.getByLabelText('Address'), { target: { value: '10.0.0.3' } });
    await waitFor(() => expect(screen.getAllByTestId('alert-row')).toHaveLength(1));
    expect(asked[asked.length - 1]).toMatchObject({ address: '10.0.0.3', pageSize: 200 });
    fireEvent.change(screen.getByLabelText('Address'), { target: { value: '' } });
    await waitFor(() => expect(screen.getAllByTestId('alert-row')).toHaveLength(2));
    fireEvent.change(screen.getByTestId('alert-search'), { target: { value: 'ml.multi' } });
    expect(screen.getAllByTestId('alert-row')).toHaveLength(1);
    expect(screen.getByTestId('alert-row')).toHaveTextContent('10.0.0.9');
    fireEvent.change(screen.getByTestId('alert-search'), { target: { value: 'nothing like it' } });
    expect(screen.getByText('Nothing matches the search')).toBeInTheDocument();
  });
});

describe('ModelsPage', () => {
  it('says "not available" when the agent does not implement GetModel', async () => {
    fakeApi({
      GetModel: { status: 501, body: { status: 'UNIMPLEMENTED', message: 'GetModel is not implemented' } },
    });
    renderWithProviders(<ModelsPage />);
    expect(await screen.findByTestId('not-available')).toHaveTextContent('Model information: not available');
  });

  it('explains the rules-only state and the last load error', async () => {
    fakeApi({
      GetModel: {
        body: {
          loaded: false,
          error: 'bundle /x: features.json missing',
          labels: [],
          confusion: [],
          classes: [],
          importances: [],
          features: [],
        },
      },
    });
    renderWithProviders(<ModelsPage />);
    expect(await screen.findByTestId('no-model')).toHaveTextContent('features.json missing');
  });

  it('shows the bundle, its per-class metrics and confusion matrix', async () => {
    fakeApi({
      GetModel: {
        body: {
          loaded: true,
          name: 'lab-2024',
          path: '/models/lab',
          featureMode: 'corrected',
          features: ['a', 'b'],
          classes: [
            {
              name: 'PortScan',
              mitreTechnique: 'T1046',
              threshold: 0.5,
              precision: 0.99,
              recall: 0.98,
              f1: 0.985,
              support: '120',
            },
          ],
          labels: ['BENIGN', 'PortScan'],
          confusion: ['90', '1', '2', '118'],
          macroF1: 0.97,
          benignFalsePositiveRate: 0.011,
          importances: [{ feature: 'Flow Duration', importance: 0.4 }],
          anomalyThreshold: 3.2,
          provenanceJson: '',
          error: '',
        },
      },
    });
    renderWithProviders(<ModelsPage />);
    expect(await screen.findByTestId('model-name')).toHaveTextContent('lab-2024');
    expect(screen.getByTestId('class-metrics')).toHaveTextContent('0.985');
    expect(screen.getByTestId('confusion')).toHaveTextContent('118');
    expect(screen.getByText('Feature importances (top 1)')).toBeInTheDocument();
  });
});

describe('BlocksPage', () => {
  it('lists blocks with a TTL countdown and unblocks', async () => {
    const expires = new Date(Date.now() + 90_000).toISOString();
    let blocked = true;
    fakeApi({
      ListBlocks: () => ({
        body: {
          blocks: blocked
            ? [
                {
                  prefix: '10.0.0.3/32',
                  reason: 'scan',
                  automatic: true,
                  expires,
                  alertIds: [],
                  packets: '42',
                  bytes: '2048',
                  enforced: true,
                },
              ]
            : [],
        },
      }),
      Unblock: () => {
        blocked = false;
        return { body: {} };
      },
    });
    renderWithProviders(<BlocksPage />);
    expect(await screen.findByTestId('ttl')).toHaveTextContent(/1m (29|30)s/);
    expect(screen.getByTestId('hits')).toHaveTextContent('42 pkts · 2.0 KiB');
    fireEvent.click(screen.getByText('Unblock'));
    expect(await screen.findByText('Nothing is blocked')).toBeInTheDocument();
  });

  it('explains an agent without a blocklist', async () => {
    fakeApi({
      ListBlocks: {
        status: 400,
        body: { status: 'FAILED_PRECONDITION', message: 'blocking needs the eBPF data plane' },
      },
    });
    renderWithProviders(<BlocksPage />);
    expect(await screen.findByTestId('error-state')).toHaveTextContent(
      'FAILED_PRECONDITION: blocking needs the eBPF data plane',
    );
  });
});

describe('App', () => {
  it('tells in the navigation whether changes are possible', async () => {
    fakeApi({ GetStatus: { body: { version: '0.1.0', interfaces: [] } } });
    setToken('');
    renderWithProviders(<App />, '/blocks');
    expect(await screen.findByText('Read-only without a token.')).toBeInTheDocument();
    setToken('s3cret');
    expect(await screen.findByText('Changes enabled with your token.')).toBeInTheDocument();
    setToken('');
  });
});
