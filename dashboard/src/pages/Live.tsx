// Live: KPIs, traffic and alert-class charts, the live flow feed and alert stream (SSE), and the
// capture mode of each interface.
import { Badge, Grid, Group, Paper, ScrollArea, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useEffect, useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { call } from '../api/client';
import type { Alert, AgentStatus, Flow, ListAlertsResponse, ListFlowsResponse } from '../api/types';
import { Kpi } from '../components/Kpi';
import { EmptyState, ErrorState, Loading } from '../components/States';
import { StreamBadge } from '../components/StreamBadge';
import { bytes, clock, compact, endpoint, num, severityColor, severityLabel } from '../lib/format';
import { usePoll, useStream } from '../lib/hooks';
import { increaseOver, ratePerSecond, sampleOf, type Sample } from '../lib/rates';

const HISTORY = 180; // samples kept (one per second)
const CLASS_COLORS = ['#fa5252', '#fd7e14', '#fab005', '#40c057', '#228be6', '#be4bdb', '#868e96'];

/** Alerts per class per minute, for the stacked bar chart. */
export function alertBuckets(alerts: Alert[]): {
  rows: Record<string, number | string>[];
  classes: string[];
} {
  const classes = [...new Set(alerts.map((a) => a.alertClass || 'unknown'))].sort();
  const byMinute = new Map<number, Record<string, number | string>>();
  for (const a of alerts) {
    if (!a.time) continue;
    const minute = Math.floor(new Date(a.time).getTime() / 60000) * 60000;
    const row = byMinute.get(minute) ?? { minute: clock(new Date(minute).toISOString()).slice(0, 5) };
    const cls = a.alertClass || 'unknown';
    row[cls] = ((row[cls] as number | undefined) ?? 0) + 1;
    byMinute.set(minute, row);
  }
  const rows = [...byMinute.entries()].sort((x, y) => x[0] - y[0]).map(([, r]) => r);
  return { rows, classes };
}

function StatusPanels({ status, samples }: { status: AgentStatus; samples: Sample[] }) {
  const last = samples[samples.length - 1];
  const loss = last?.loss ?? 0;
  return (
    <SimpleGrid cols={{ base: 2, sm: 3, lg: 5 }}>
      <Kpi
        label="Packets/s"
        value={compact(ratePerSecond(samples, 'packets'))}
        hint={`${compact(last?.packets ?? 0)} seen`}
        testId="kpi-packets"
      />
      <Kpi
        label="Flows/s"
        value={compact(ratePerSecond(samples, 'flows'))}
        hint={`${compact(num(status.storedFlows))} stored`}
        testId="kpi-flows"
      />
      <Kpi
        label="Alerts/min"
        value={compact(increaseOver(samples, 'alerts', 60000))}
        hint={`${compact(last?.alerts ?? 0)} since start`}
        color={increaseOver(samples, 'alerts', 60000) > 0 ? 'orange' : undefined}
        testId="kpi-alerts"
      />
      <Kpi
        label="Blocked packets"
        value={compact(last?.dropped ?? 0)}
        hint={`${compact(ratePerSecond(samples, 'dropped'))}/s · ${num(status.activeBlocks)} blocks`}
        testId="kpi-blocked"
      />
      <Kpi
        label="Loss"
        value={compact(loss)}
        color={status.coverageDegraded ? 'orange' : loss > 0 ? 'yellow' : 'green'}
        hint={
          status.coverageDegraded
            ? 'coverage degraded (loss in the last minute)'
            : 'ring drops, map full, evictions'
        }
        testId="kpi-loss"
      />
    </SimpleGrid>
  );
}

/** The Live page. */
export function LivePage() {
  const status = usePoll<AgentStatus>('GetStatus', {}, 1000);
  const [samples, setSamples] = useState<Sample[]>([]);
  const [history, setHistory] = useState<Alert[]>([]);
  useEffect(() => {
    if (status.data) setSamples((old) => [...old, sampleOf(status.data!, Date.now())].slice(-HISTORY));
  }, [status.data]);
  // The last 30 minutes of alerts seed the class chart; the streams then resume after the newest
  // stored alert and flow, so nothing committed in between (or during a reconnect) is missed.
  const [alertCursor, setAlertCursor] = useState<Record<string, string> | null>(null);
  const [flowCursor, setFlowCursor] = useState<Record<string, string> | null>(null);
  const [storedFlows, setStoredFlows] = useState<Flow[]>([]);
  useEffect(() => {
    const since = new Date(Date.now() - 30 * 60000).toISOString();
    const newest = (list: { id: string }[]) => ({ resumeAfterId: list.length ? list[0].id : '0' });
    call<ListAlertsResponse>('ListAlerts', { since, pageSize: 1000 })
      .then(async (r) => {
        setHistory(r.alerts ?? []);
        const latest = r.alerts?.length ? r : await call<ListAlertsResponse>('ListAlerts', { pageSize: 1 });
        setAlertCursor(newest(latest.alerts ?? []));
      })
      .catch(() => setAlertCursor({}));
    call<ListFlowsResponse>('ListFlows', { pageSize: 20 })
      .then((r) => {
        setStoredFlows(r.flows ?? []);
        setFlowCursor(newest(r.flows ?? []));
      })
      .catch(() => setFlowCursor({}));
  }, []);
  const alerts = useStream<Alert>('StreamAlerts', alertCursor, 50, (a) =>
    setHistory((h) => [a, ...h].slice(0, 5000)),
  );
  const flows = useStream<Flow>('StreamFlows', flowCursor, 40);
  const recentFlows = useMemo(() => {
    const seen = new Set<string>();
    return [...flows.items, ...storedFlows].filter((f) => !seen.has(f.id) && seen.add(f.id)).slice(0, 40);
  }, [flows.items, storedFlows]);
  const traffic = useMemo(
    () =>
      samples.slice(1).map((s, i) => {
        const window = [samples[i], s];
        return {
          time: clock(new Date(s.t).toISOString()),
          'packets/s': Math.round(ratePerSecond(window, 'packets')),
          'flows/s': Math.round(ratePerSecond(window, 'flows') * 10) / 10,
        };
      }),
    [samples],
  );
  const buckets = useMemo(() => alertBuckets(history), [history]);
  // The stream's alerts first, then the most recent stored ones: the list is never stale-empty.
  const recentAlerts = useMemo(() => {
    const seen = new Set<string>();
    return [...alerts.items, ...history].filter((a) => !seen.has(a.id) && seen.add(a.id)).slice(0, 15);
  }, [alerts.items, history]);

  if (!status.data && status.error) return <ErrorState error={status.error} what="Agent status" />;
  if (!status.data) return <Loading what="agent status" />;
  return (
    <Stack data-testid="live-page">
      <StatusPanels status={status.data} samples={samples} />
      <Grid>
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <Paper withBorder p="sm" h={280}>
            <Text fw={600} size="sm">
              Traffic
            </Text>
            {traffic.length < 2 ? (
              <EmptyState title="Collecting samples">
                The chart fills in as the agent reports once a second.
              </EmptyState>
            ) : (
              <ResponsiveContainer width="100%" height={240}>
                <LineChart data={traffic}>
                  <CartesianGrid strokeDasharray="3 3" opacity={0.2} />
                  <XAxis dataKey="time" minTickGap={40} fontSize={11} />
                  <YAxis yAxisId="p" fontSize={11} />
                  <YAxis yAxisId="f" orientation="right" fontSize={11} />
                  <Tooltip />
                  <Legend />
                  <Line
                    yAxisId="p"
                    dataKey="packets/s"
                    stroke="#228be6"
                    dot={false}
                    isAnimationActive={false}
                  />
                  <Line
                    yAxisId="f"
                    dataKey="flows/s"
                    stroke="#40c057"
                    dot={false}
                    isAnimationActive={false}
                  />
                </LineChart>
              </ResponsiveContainer>
            )}
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <Paper withBorder p="sm" h={280}>
            <Text fw={600} size="sm">
              Alerts by class per minute (30 min)
            </Text>
            {buckets.rows.length === 0 ? (
              <EmptyState title="No alerts in the last 30 minutes">
                Alerts appear here as the detectors raise them.
              </EmptyState>
            ) : (
              <ResponsiveContainer width="100%" height={240}>
                <BarChart data={buckets.rows}>
                  <CartesianGrid strokeDasharray="3 3" opacity={0.2} />
                  <XAxis dataKey="minute" fontSize={11} />
                  <YAxis allowDecimals={false} fontSize={11} />
                  <Tooltip />
                  <Legend />
                  {buckets.classes.map((c, i) => (
                    <Bar
                      key={c}
                      dataKey={c}
                      stackId="a"
                      fill={CLASS_COLORS[i % CLASS_COLORS.length]}
                      isAnimationActive={false}
                    />
                  ))}
                </BarChart>
              </ResponsiveContainer>
            )}
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <Paper withBorder p="sm">
            <Group justify="space-between">
              <Title order={5}>Live alerts</Title>
              <StreamBadge state={alerts.state} detail={alerts.detail} />
            </Group>
            {recentAlerts.length === 0 ? (
              <EmptyState title="No alert in the last 30 minutes">
                New alerts are pushed here the moment they are stored.
              </EmptyState>
            ) : (
              <Table fz="sm" data-testid="live-alerts">
                <Table.Tbody>
                  {recentAlerts.map((a) => (
                    <Table.Tr key={a.id} data-testid="live-alert">
                      <Table.Td>{clock(a.time)}</Table.Td>
                      <Table.Td>
                        <Badge color={severityColor(a.severity)} variant="light">
                          {severityLabel(a.severity)}
                        </Badge>
                      </Table.Td>
                      <Table.Td>{a.alertClass}</Table.Td>
                      <Table.Td>
                        <Link to={`/forensics/${a.srcAddr}`}>{a.srcAddr}</Link>
                      </Table.Td>
                      <Table.Td>{a.mitreTechnique}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <Paper withBorder p="sm">
            <Group justify="space-between">
              <Title order={5}>Live flows</Title>
              <StreamBadge state={flows.state} detail={flows.detail} />
            </Group>
            {recentFlows.length === 0 ? (
              <EmptyState title="No flow stored yet">
                Flows show up when they end (FIN, RST or timeout).
              </EmptyState>
            ) : (
              <ScrollArea h={360} type="auto">
                <Table fz="xs" data-testid="live-flows" stickyHeader>
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>End</Table.Th>
                      <Table.Th>Proto</Table.Th>
                      <Table.Th>Source</Table.Th>
                      <Table.Th>Destination</Table.Th>
                      <Table.Th>Pkts</Table.Th>
                      <Table.Th>Bytes</Table.Th>
                      <Table.Th>Reason</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {recentFlows.map((f) => (
                      <Table.Tr key={f.id}>
                        <Table.Td>{clock(f.end)}</Table.Td>
                        <Table.Td>{f.protocol}</Table.Td>
                        <Table.Td>{endpoint(f.srcAddr, f.srcPort)}</Table.Td>
                        <Table.Td>{endpoint(f.dstAddr, f.dstPort)}</Table.Td>
                        <Table.Td>{num(f.fwdPackets) + num(f.bwdPackets)}</Table.Td>
                        <Table.Td>{bytes(num(f.fwdBytes) + num(f.bwdBytes))}</Table.Td>
                        <Table.Td>{f.endReason}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </ScrollArea>
            )}
          </Paper>
        </Grid.Col>
      </Grid>
      <Paper withBorder p="sm">
        <Title order={5}>Capture</Title>
        {status.data.interfaces.length === 0 ? (
          <EmptyState title="No interface attached">Set capture.interfaces or pass --interface.</EmptyState>
        ) : (
          <Table fz="sm" data-testid="capture-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Interface</Table.Th>
                <Table.Th>Backend</Table.Th>
                <Table.Th>XDP mode</Table.Th>
                <Table.Th>TC egress</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {status.data.interfaces.map((i) => (
                <Table.Tr key={i.name}>
                  <Table.Td>
                    {i.name} (#{i.ifindex})
                  </Table.Td>
                  <Table.Td>{i.backend}</Table.Td>
                  <Table.Td>{i.xdpMode || '–'}</Table.Td>
                  <Table.Td>{i.tcEgress ? 'yes' : 'no'}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Paper>
    </Stack>
  );
}
