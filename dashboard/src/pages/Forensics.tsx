// Forensics: one address: reputation, timeline of its flows and alerts, top peers and ports,
// block (with a TTL) and unblock.
import {
  Badge,
  Button,
  Grid,
  Group,
  Paper,
  ScrollArea,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import {
  Bar,
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { ApiError, call, describeError } from '../api/client';
import type {
  BlockEntry,
  IpInfo,
  ListAlertsResponse,
  ListBlocksResponse,
  ListFlowsResponse,
} from '../api/types';
import { Kpi } from '../components/Kpi';
import { EmptyState, ErrorState, Loading } from '../components/States';
import { clock, dateTime } from '../lib/format';
import { perMinute, timeline, topPeers, topPorts } from '../lib/forensics';

const TTLS = [
  { value: '600', label: '10 minutes' },
  { value: '3600', label: '1 hour' },
  { value: '86400', label: '24 hours' },
  { value: '0', label: 'until unblocked' },
];

interface Data {
  info?: IpInfo;
  infoError?: unknown;
  flows: ListFlowsResponse['flows'];
  alerts: ListAlertsResponse['alerts'];
  block?: BlockEntry;
}

async function load(ip: string): Promise<Data> {
  const [info, flows, alerts, blocks] = await Promise.allSettled([
    call<IpInfo>('GetIp', { address: ip, limit: 50 }),
    call<ListFlowsResponse>('ListFlows', { address: ip, pageSize: 500 }),
    call<ListAlertsResponse>('ListAlerts', { address: ip, pageSize: 200 }),
    call<ListBlocksResponse>('ListBlocks', {}),
  ]);
  if (flows.status === 'rejected') throw flows.reason;
  if (alerts.status === 'rejected') throw alerts.reason;
  const exact = [`${ip}/32`, `${ip}/128`, ip];
  return {
    info: info.status === 'fulfilled' ? info.value : undefined,
    infoError: info.status === 'rejected' ? info.reason : undefined,
    flows: flows.value.flows ?? [],
    alerts: alerts.value.alerts ?? [],
    block:
      blocks.status === 'fulfilled'
        ? (blocks.value.blocks ?? []).find((b) => exact.includes(b.prefix))
        : undefined,
  };
}

function Reputation({ data }: { data: Data }) {
  if (data.info) {
    const color =
      data.info.verdict === 'malicious' ? 'red' : data.info.verdict === 'suspicious' ? 'orange' : 'green';
    return (
      <Kpi
        label="Reputation"
        value={data.info.score.toFixed(1)}
        hint={data.info.verdict}
        color={color}
        testId="reputation"
      />
    );
  }
  const why =
    data.infoError instanceof ApiError && data.infoError.unimplemented
      ? 'not available in this agent'
      : describeError(data.infoError);
  return <Kpi label="Reputation" value="–" hint={why} testId="reputation" />;
}

/** The Forensics page. */
export function ForensicsPage() {
  const { ip = '' } = useParams();
  const navigate = useNavigate();
  const [input, setInput] = useState(ip);
  const [data, setData] = useState<Data>();
  const [error, setError] = useState<unknown>();
  const [ttl, setTtl] = useState('3600');
  const [reason, setReason] = useState('');
  const [message, setMessage] = useState('');
  const [tick, setTick] = useState(0);

  useEffect(() => setInput(ip), [ip]);
  useEffect(() => {
    if (!ip) return;
    let cancelled = false;
    setError(undefined);
    load(ip)
      .then((d) => !cancelled && setData(d))
      .catch((e) => !cancelled && setError(e));
    return () => {
      cancelled = true;
    };
  }, [ip, tick]);

  const change = async (method: string, request: object, done: string) => {
    setMessage('');
    try {
      await call(method, request);
      setMessage(done);
      setTick((t) => t + 1);
    } catch (e) {
      setMessage(describeError(e));
    }
  };

  const search = (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (input.trim()) navigate(`/forensics/${input.trim()}`);
      }}
    >
      <Group align="end">
        <TextInput
          label="Address"
          placeholder="10.0.0.5 or 2001:db8::5"
          value={input}
          onChange={(e) => setInput(e.currentTarget.value)}
          data-testid="ip-input"
        />
        <Button type="submit">Investigate</Button>
      </Group>
    </form>
  );
  if (!ip) {
    return (
      <Stack data-testid="forensics-page">
        {search}
        <EmptyState title="Pick an address">
          Enter one above, or follow an address link from Live, Alerts or Blocks.
        </EmptyState>
      </Stack>
    );
  }
  if (error)
    return (
      <Stack data-testid="forensics-page">
        {search}
        <ErrorState error={error} what={`Looking up ${ip}`} />
      </Stack>
    );
  if (!data)
    return (
      <Stack data-testid="forensics-page">
        {search}
        <Loading what={ip} />
      </Stack>
    );

  const entries = timeline(ip, data.flows, data.alerts);
  const chart = perMinute(entries).map((r) => ({
    ...r,
    time: clock(new Date(r.minute).toISOString()).slice(0, 5),
  }));
  const peers = topPeers(ip, data.flows);
  const ports = topPorts(data.flows);
  return (
    <Stack data-testid="forensics-page">
      {search}
      <Group justify="space-between" align="start">
        <Title order={3}>{ip}</Title>
        <Paper withBorder p="sm">
          {data.block?.dryRun && (
            <Text size="sm" mb="xs" data-testid="would-block">
              Auto-block dry-run would block this address: {data.block.reason}
            </Text>
          )}
          {data.block && !data.block.dryRun ? (
            <Group>
              <Badge color="red" data-testid="blocked-badge">
                blocked: {data.block.reason}
              </Badge>
              <Text size="sm">
                {data.block.expires ? `until ${dateTime(data.block.expires)}` : 'until unblocked'}
              </Text>
              <Button
                size="xs"
                variant="outline"
                onClick={() => change('Unblock', { prefix: data.block!.prefix }, `Unblocked ${ip}.`)}
                data-testid="unblock-button"
              >
                Unblock
              </Button>
            </Group>
          ) : (
            <Group align="end">
              <Select
                label="TTL"
                data={TTLS}
                value={ttl}
                onChange={(v) => setTtl(v ?? '3600')}
                w={150}
                allowDeselect={false}
              />
              <TextInput
                label="Reason"
                placeholder="manual block"
                value={reason}
                onChange={(e) => setReason(e.currentTarget.value)}
              />
              <Button
                color="red"
                onClick={() =>
                  change(
                    'Block',
                    { prefix: ip, ttlSeconds: Number(ttl), reason: reason || 'blocked from the dashboard' },
                    `Blocked ${ip}.`,
                  )
                }
                data-testid="block-button"
              >
                Block
              </Button>
            </Group>
          )}
          {message && (
            <Text size="sm" mt="xs" data-testid="action-message">
              {message}
            </Text>
          )}
        </Paper>
      </Group>
      <Group grow>
        <Reputation data={data} />
        <Kpi label="Alerts" value={String(data.info ? data.info.alertCount : data.alerts.length)} />
        <Kpi
          label="Flows (stored)"
          value={String(data.flows.length)}
          hint={data.flows.length >= 500 ? 'the newest 500' : undefined}
        />
        <Kpi
          label="Last seen"
          value={entries.length ? clock(new Date(entries[0].time).toISOString()) : '–'}
        />
      </Group>
      {entries.length === 0 ? (
        <EmptyState title={`Nothing recorded for ${ip}`}>
          No stored flow or alert names this address (the flow history is bounded).
        </EmptyState>
      ) : (
        <Grid>
          <Grid.Col span={{ base: 12, lg: 8 }}>
            <Paper withBorder p="sm">
              <Text fw={600} size="sm">
                Timeline
              </Text>
              <ResponsiveContainer width="100%" height={200}>
                <ComposedChart data={chart}>
                  <CartesianGrid strokeDasharray="3 3" opacity={0.2} />
                  <XAxis dataKey="time" fontSize={11} />
                  <YAxis allowDecimals={false} fontSize={11} />
                  <Tooltip />
                  <Legend />
                  <Bar dataKey="flows" fill="#228be6" isAnimationActive={false} />
                  <Line dataKey="alerts" stroke="#fa5252" isAnimationActive={false} />
                </ComposedChart>
              </ResponsiveContainer>
              <ScrollArea h={420} type="auto">
                <Table fz="xs" data-testid="timeline">
                  <Table.Tbody>
                    {entries.slice(0, 100).map((e) => (
                      <Table.Tr key={e.id}>
                        <Table.Td>{dateTime(new Date(e.time).toISOString())}</Table.Td>
                        <Table.Td>
                          <Badge size="xs" color={e.kind === 'alert' ? 'red' : 'blue'} variant="light">
                            {e.kind}
                          </Badge>
                        </Table.Td>
                        <Table.Td>{e.text}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </ScrollArea>
            </Paper>
          </Grid.Col>
          <Grid.Col span={{ base: 12, lg: 4 }}>
            <Stack>
              <Paper withBorder p="sm">
                <Text fw={600} size="sm">
                  Top peers
                </Text>
                <Table fz="sm">
                  <Table.Tbody>
                    {peers.map((p) => (
                      <Table.Tr key={p.key}>
                        <Table.Td>
                          <Link to={`/forensics/${p.key}`}>{p.key}</Link>
                        </Table.Td>
                        <Table.Td>{p.count} flows</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Paper>
              <Paper withBorder p="sm">
                <Text fw={600} size="sm">
                  Top ports
                </Text>
                <Table fz="sm">
                  <Table.Tbody>
                    {ports.map((p) => (
                      <Table.Tr key={p.key}>
                        <Table.Td>{p.key}</Table.Td>
                        <Table.Td>{p.count} flows</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Paper>
            </Stack>
          </Grid.Col>
        </Grid>
      )}
    </Stack>
  );
}
