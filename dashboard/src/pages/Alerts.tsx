// Alerts: filter (address, class, severity) on the agent, search in what is loaded, detail with
// evidence and MITRE technique, acknowledge and feedback.
import { Badge, Button, Drawer, Group, Paper, Select, Stack, Table, Text, TextInput } from '@mantine/core';
import { useEffect, useMemo, useState } from 'react';
import { call } from '../api/client';
import type { Alert, ListAlertsResponse, Severity } from '../api/types';
import { AlertDetail } from '../components/AlertDetail';
import { EmptyState, ErrorState, Loading } from '../components/States';
import { dateTime, endpoint, severityColor, severityLabel } from '../lib/format';

const SEVERITIES: { value: Severity; label: string }[] = [
  { value: 'SEVERITY_UNSPECIFIED', label: 'any severity' },
  { value: 'SEVERITY_INFO', label: 'info and up' },
  { value: 'SEVERITY_WARNING', label: 'warning and up' },
  { value: 'SEVERITY_HIGH', label: 'high and up' },
  { value: 'SEVERITY_CRITICAL', label: 'critical' },
];

/** True when `text` (lower case) occurs in any visible field of `a`. */
export function matchesSearch(a: Alert, text: string): boolean {
  if (!text) return true;
  const hay = [
    a.id,
    a.srcAddr,
    a.dstAddr,
    a.alertClass,
    a.mitreTechnique,
    a.detector,
    a.protocol,
    a.evidenceJson,
  ]
    .join(' ')
    .toLowerCase();
  return hay.includes(text.toLowerCase());
}

/** The Alerts page. */
export function AlertsPage() {
  const [address, setAddress] = useState('');
  const [alertClass, setAlertClass] = useState('');
  const [minSeverity, setMinSeverity] = useState<Severity>('SEVERITY_UNSPECIFIED');
  const [search, setSearch] = useState('');
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [next, setNext] = useState('');
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [selected, setSelected] = useState<Alert>();
  const [tick, setTick] = useState(0);

  const filtered = address !== '' || alertClass !== '' || minSeverity !== 'SEVERITY_UNSPECIFIED';
  const request = useMemo(
    () => ({ address, alertClass, minSeverity, pageSize: 200 }),
    [address, alertClass, minSeverity],
  );
  useEffect(() => {
    let cancelled = false;
    const timer = setTimeout(() => {
      call<ListAlertsResponse>('ListAlerts', request)
        .then((r) => {
          if (cancelled) return;
          setAlerts(r.alerts ?? []);
          setNext(r.nextPageToken ?? '');
          setError(undefined);
        })
        .catch((e) => !cancelled && setError(e))
        .finally(() => !cancelled && setLoading(false));
    }, 250); // typing in a filter: one call when it settles
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [request, tick]);
  useEffect(() => {
    const t = setInterval(() => setTick((x) => x + 1), 5000);
    return () => clearInterval(t);
  }, []);

  const more = async () => {
    try {
      const r = await call<ListAlertsResponse>('ListAlerts', { ...request, pageToken: next });
      setAlerts((old) => [...old, ...(r.alerts ?? [])]);
      setNext(r.nextPageToken ?? '');
    } catch (e) {
      setError(e);
    }
  };
  const shown = alerts.filter((a) => matchesSearch(a, search));
  const update = (a: Alert) => {
    setAlerts((old) => old.map((x) => (x.id === a.id ? a : x)));
    setSelected(a);
  };

  return (
    <Stack data-testid="alerts-page">
      <Group align="end" wrap="wrap">
        <TextInput
          label="Address"
          placeholder="source or destination"
          value={address}
          onChange={(e) => setAddress(e.currentTarget.value.trim())}
        />
        <TextInput
          label="Class"
          placeholder="e.g. PortScan"
          value={alertClass}
          onChange={(e) => setAlertClass(e.currentTarget.value.trim())}
        />
        <Select
          label="Severity"
          data={SEVERITIES}
          value={minSeverity}
          onChange={(v) => setMinSeverity((v as Severity) ?? 'SEVERITY_UNSPECIFIED')}
          allowDeselect={false}
        />
        <TextInput
          label="Search"
          placeholder="in the loaded alerts"
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          data-testid="alert-search"
        />
      </Group>
      {error !== undefined && <ErrorState error={error} what="Listing alerts" />}
      <Paper withBorder p="sm">
        {loading ? (
          <Loading what="alerts" />
        ) : shown.length === 0 ? (
          <EmptyState
            title={
              alerts.length > 0
                ? 'Nothing matches the search'
                : filtered
                  ? 'No alert matches these filters'
                  : error !== undefined
                    ? 'No alerts loaded'
                    : 'No alert yet'
            }
          >
            {alerts.length > 0
              ? `${alerts.length} alerts are loaded; none contains “${search}”.`
              : filtered
                ? 'The detectors have raised nothing that fits. Clear the filters to see every alert.'
                : error !== undefined
                  ? 'The agent did not answer the list (see above).'
                  : 'The detectors have raised nothing so far; alerts show up here once they do.'}
          </EmptyState>
        ) : (
          <Table highlightOnHover fz="sm" data-testid="alerts-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Time</Table.Th>
                <Table.Th>Severity</Table.Th>
                <Table.Th>Class</Table.Th>
                <Table.Th>Source → destination</Table.Th>
                <Table.Th>MITRE</Table.Th>
                <Table.Th>State</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {shown.map((a) => (
                <Table.Tr
                  key={a.id}
                  onClick={() => setSelected(a)}
                  style={{ cursor: 'pointer' }}
                  data-testid="alert-row"
                >
                  <Table.Td>{dateTime(a.time)}</Table.Td>
                  <Table.Td>
                    <Badge color={severityColor(a.severity)} variant="light">
                      {severityLabel(a.severity)}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{a.alertClass}</Table.Td>
                  <Table.Td>
                    {endpoint(a.srcAddr, a.srcPort)} → {endpoint(a.dstAddr, a.dstPort)}
                  </Table.Td>
                  <Table.Td>{a.mitreTechnique}</Table.Td>
                  <Table.Td>
                    {a.acknowledged ? (
                      <Badge variant="outline">ack</Badge>
                    ) : (
                      <Badge color="orange" variant="outline">
                        new
                      </Badge>
                    )}
                    {a.feedback === 'FEEDBACK_TRUE_POSITIVE' && (
                      <Badge ml={4} color="red" variant="outline">
                        TP
                      </Badge>
                    )}
                    {a.feedback === 'FEEDBACK_FALSE_POSITIVE' && (
                      <Badge ml={4} color="teal" variant="outline">
                        FP
                      </Badge>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        {next && (
          <Group justify="center" mt="sm">
            <Button variant="default" size="xs" onClick={more}>
              Load older alerts
            </Button>
          </Group>
        )}
        <Text size="xs" c="dimmed" mt="xs">
          {shown.length} shown · refreshed every 5 s
        </Text>
      </Paper>
      <Drawer
        opened={selected !== undefined}
        onClose={() => setSelected(undefined)}
        position="right"
        size="lg"
        title="Alert"
      >
        {selected && <AlertDetail alert={selected} onChange={update} />}
      </Drawer>
    </Stack>
  );
}
