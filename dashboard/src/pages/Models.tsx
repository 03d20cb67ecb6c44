// Models: the active bundle, per-class metrics, confusion matrix, feature importances, reload.
import {
  Badge,
  Button,
  Code,
  Group,
  Paper,
  ScrollArea,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useState } from 'react';
import { Bar, BarChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { call, describeError } from '../api/client';
import type { ModelInfo } from '../api/types';
import { Kpi } from '../components/Kpi';
import { ErrorState, Loading } from '../components/States';
import { dateTime, num } from '../lib/format';
import { usePoll } from '../lib/hooks';

/** The confusion matrix as rows of counts, with each row's share for the cell colour. */
export function confusionRows(m: ModelInfo): { label: string; cells: { n: number; share: number }[] }[] {
  const k = m.labels.length;
  return m.labels.map((label, i) => {
    const row = Array.from({ length: k }, (_, j) => num(m.confusion[i * k + j]));
    const total = row.reduce((a, b) => a + b, 0) || 1;
    return { label, cells: row.map((n) => ({ n, share: n / total })) };
  });
}

/** JSON indented for reading; anything else as it came. */
function indented(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

const stickyLabel = {
  position: 'sticky',
  left: 0,
  zIndex: 1,
  whiteSpace: 'nowrap',
  background: 'var(--mantine-color-body)',
} as const;

function Confusion({ model }: { model: ModelInfo }) {
  if (model.labels.length === 0 || model.confusion.length !== model.labels.length ** 2) {
    return (
      <Text c="dimmed" size="sm">
        The bundle carries no confusion matrix.
      </Text>
    );
  }
  // Column labels run upwards so that a column is as wide as its counts; a matrix wider than its
  // card still scrolls inside the card, with the row labels kept in view.
  return (
    <ScrollArea type="auto" offsetScrollbars data-testid="confusion-scroll">
      <Table fz="xs" withTableBorder horizontalSpacing={6} verticalSpacing={4} data-testid="confusion">
        <Table.Thead>
          <Table.Tr>
            <Table.Th style={{ ...stickyLabel, verticalAlign: 'bottom' }}>true \ predicted</Table.Th>
            {model.labels.map((l) => (
              <Table.Th key={l} title={l} style={{ verticalAlign: 'bottom' }}>
                <span
                  style={{ writingMode: 'vertical-rl', transform: 'rotate(180deg)', whiteSpace: 'nowrap' }}
                >
                  {l}
                </span>
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {confusionRows(model).map((r, i) => (
            <Table.Tr key={r.label}>
              <Table.Th style={stickyLabel}>{r.label}</Table.Th>
              {r.cells.map((c, j) => (
                <Table.Td
                  key={j}
                  title={`${r.label} predicted as ${model.labels[j]}: ${c.n}`}
                  style={{
                    textAlign: 'right',
                    background: `rgba(${i === j ? '64,192,87' : '250,82,82'},${c.share * 0.8})`,
                  }}
                >
                  {c.n}
                </Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollArea>
  );
}

/** The Models page. */
export function ModelsPage() {
  const model = usePoll<ModelInfo>('GetModel', {}, 10000);
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);
  const reload = async () => {
    setBusy(true);
    setMessage('');
    try {
      const m = await call<ModelInfo>('ReloadModel', {});
      setMessage(`Reloaded ${m.name || 'the bundle'}.`);
      model.refresh();
    } catch (e) {
      setMessage(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  const reloadButton = (
    <Group>
      <Button size="xs" onClick={reload} loading={busy} data-testid="reload-model">
        Reload bundle
      </Button>
      {message && (
        <Text size="sm" data-testid="reload-message">
          {message}
        </Text>
      )}
    </Group>
  );
  if (!model.data && model.error) {
    return (
      <Stack data-testid="models-page">
        <ErrorState
          error={model.error}
          what="Model information"
          hint="Detection runs on the behavioural rules; this page fills in once the agent serves its model bundle."
        />
      </Stack>
    );
  }
  if (!model.data) return <Loading what="the model" />;
  const m = model.data;
  if (!m.loaded) {
    return (
      <Stack data-testid="models-page">
        <Paper withBorder p="md" data-testid="no-model">
          <Title order={4}>No model bundle loaded</Title>
          <Text c="dimmed" size="sm">
            The agent detects with its rules only. Train a bundle and point the configuration at it, then
            reload.
          </Text>
          {m.error && (
            <Text c="red" size="sm" mt="xs">
              Last load failed: {m.error}
            </Text>
          )}
        </Paper>
        {reloadButton}
      </Stack>
    );
  }
  const top = [...m.importances].sort((a, b) => b.importance - a.importance).slice(0, 15);
  return (
    <Stack data-testid="models-page">
      <Group justify="space-between">
        <div>
          <Title order={3} data-testid="model-name">
            {m.name}
          </Title>
          <Text size="sm" c="dimmed">
            {m.path} · features {m.featureMode} ({m.features.length}) · loaded {dateTime(m.loadedAt)}
          </Text>
        </div>
        {reloadButton}
      </Group>
      <SimpleGrid cols={{ base: 2, md: 4 }}>
        <Kpi label="Macro F1" value={m.macroF1.toFixed(3)} />
        <Kpi label="Benign FPR" value={`${(m.benignFalsePositiveRate * 100).toFixed(2)} %`} />
        <Kpi label="Classes" value={String(m.classes.length)} />
        <Kpi label="Anomaly threshold" value={m.anomalyThreshold.toFixed(2)} />
      </SimpleGrid>
      <Paper withBorder p="sm">
        <Title order={5}>Per class (held-out)</Title>
        <Table fz="sm" data-testid="class-metrics">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Class</Table.Th>
              <Table.Th>MITRE</Table.Th>
              <Table.Th>Threshold</Table.Th>
              <Table.Th>Precision</Table.Th>
              <Table.Th>Recall</Table.Th>
              <Table.Th>F1</Table.Th>
              <Table.Th>Support</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {m.classes.map((c) => (
              <Table.Tr key={c.name}>
                <Table.Td>{c.name}</Table.Td>
                <Table.Td>{c.mitreTechnique || '–'}</Table.Td>
                <Table.Td>{c.threshold.toFixed(2)}</Table.Td>
                <Table.Td>{c.precision.toFixed(3)}</Table.Td>
                <Table.Td>{c.recall.toFixed(3)}</Table.Td>
                <Table.Td>
                  <Badge color={c.f1 >= 0.9 ? 'green' : c.f1 >= 0.7 ? 'yellow' : 'red'} variant="light">
                    {c.f1.toFixed(3)}
                  </Badge>
                </Table.Td>
                <Table.Td>{c.support}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Paper>
      <SimpleGrid cols={{ base: 1, xl: 2 }}>
        <Paper withBorder p="sm" miw={0}>
          <Title order={5}>Confusion matrix</Title>
          <Confusion model={m} />
        </Paper>
        <Paper withBorder p="sm">
          <Title order={5}>Feature importances (top {top.length})</Title>
          {top.length === 0 ? (
            <Text c="dimmed" size="sm">
              The bundle carries no importances.
            </Text>
          ) : (
            <ResponsiveContainer width="100%" height={24 * top.length + 40}>
              <BarChart data={top} layout="vertical" margin={{ left: 160 }}>
                <XAxis type="number" fontSize={11} />
                <YAxis type="category" dataKey="feature" fontSize={11} width={160} />
                <Tooltip />
                <Bar dataKey="importance" fill="#228be6" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          )}
        </Paper>
      </SimpleGrid>
      {m.provenanceJson && (
        <Paper withBorder p="sm">
          <Title order={5}>Provenance</Title>
          <ScrollArea.Autosize mah={360} type="auto">
            <Code block>{indented(m.provenanceJson)}</Code>
          </ScrollArea.Autosize>
        </Paper>
      )}
    </Stack>
  );
}
