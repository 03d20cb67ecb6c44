// One alert: where from and to, why (evidence), what MITRE technique, and the analyst's actions.
import { Anchor, Badge, Button, Code, Group, Stack, Table, Text } from '@mantine/core';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { call, describeError } from '../api/client';
import type { Alert, Feedback } from '../api/types';
import { dateTime, endpoint, severityColor, severityLabel } from '../lib/format';
import { techniqueName, techniqueUrl } from '../lib/mitre';

/** The evidence object as rows, or null when it is not a JSON object. */
export function evidenceRows(json: string): [string, string][] | null {
  try {
    const value: unknown = JSON.parse(json || '{}');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    return Object.entries(value as Record<string, unknown>).map(([k, v]) => [
      k,
      typeof v === 'object' ? JSON.stringify(v) : String(v),
    ]);
  } catch {
    return null;
  }
}

/** The detail panel; `onChange` receives the alert as the agent returns it after a change. */
export function AlertDetail({ alert, onChange }: { alert: Alert; onChange: (a: Alert) => void }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const act = async (method: string, request: object) => {
    setBusy(true);
    setError('');
    try {
      onChange(await call<Alert>(method, request));
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  const rows = evidenceRows(alert.evidenceJson);
  const url = techniqueUrl(alert.mitreTechnique);
  const feedback = (f: Feedback) => act('SetFeedback', { id: alert.id, feedback: f });
  return (
    <Stack data-testid="alert-detail">
      <Group>
        <Badge color={severityColor(alert.severity)}>{severityLabel(alert.severity)}</Badge>
        <Text fw={700}>{alert.alertClass}</Text>
        <Text c="dimmed">#{alert.id}</Text>
      </Group>
      <Text size="sm">
        {dateTime(alert.time)} · {alert.protocol || 'IP'}{' '}
        <Link to={`/forensics/${alert.srcAddr}`}>{endpoint(alert.srcAddr, alert.srcPort)}</Link> →{' '}
        <Link to={`/forensics/${alert.dstAddr}`}>{endpoint(alert.dstAddr, alert.dstPort)}</Link>
      </Text>
      <Text size="sm">
        Detector <Code>{alert.detector}</Code> · score {alert.score.toFixed(3)}
        {alert.degradedCoverage && (
          <Badge ml="xs" color="orange" variant="light">
            raised while capture was losing data
          </Badge>
        )}
      </Text>
      <div>
        <Text fw={600} size="sm">
          MITRE ATT&amp;CK
        </Text>
        {alert.mitreTechnique ? (
          <Text size="sm" data-testid="mitre">
            {url ? (
              <Anchor href={url} target="_blank" rel="noreferrer">
                {alert.mitreTechnique}
              </Anchor>
            ) : (
              alert.mitreTechnique
            )}{' '}
            {techniqueName(alert.mitreTechnique) || '(name not known to this dashboard)'}
          </Text>
        ) : (
          <Text size="sm" c="dimmed">
            No technique mapped for this class.
          </Text>
        )}
      </div>
      <div>
        <Text fw={600} size="sm">
          Evidence
        </Text>
        {rows === null ? (
          <Code block>{alert.evidenceJson}</Code>
        ) : rows.length === 0 ? (
          <Text size="sm" c="dimmed">
            The detector recorded no evidence.
          </Text>
        ) : (
          <Table fz="sm" data-testid="evidence">
            <Table.Tbody>
              {rows.map(([k, v]) => (
                <Table.Tr key={k}>
                  <Table.Td>{k}</Table.Td>
                  <Table.Td>{v}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </div>
      <Group>
        <Button
          size="xs"
          disabled={alert.acknowledged || busy}
          onClick={() => act('AckAlert', { id: alert.id })}
          data-testid="ack"
        >
          {alert.acknowledged ? 'Acknowledged' : 'Acknowledge'}
        </Button>
        <Button
          size="xs"
          color="red"
          variant={alert.feedback === 'FEEDBACK_TRUE_POSITIVE' ? 'filled' : 'outline'}
          disabled={busy}
          aria-pressed={alert.feedback === 'FEEDBACK_TRUE_POSITIVE'}
          data-testid="feedback-tp"
          onClick={() => feedback('FEEDBACK_TRUE_POSITIVE')}
        >
          True positive
        </Button>
        <Button
          size="xs"
          color="teal"
          variant={alert.feedback === 'FEEDBACK_FALSE_POSITIVE' ? 'filled' : 'outline'}
          disabled={busy}
          aria-pressed={alert.feedback === 'FEEDBACK_FALSE_POSITIVE'}
          data-testid="feedback-fp"
          onClick={() => feedback('FEEDBACK_FALSE_POSITIVE')}
        >
          False positive
        </Button>
      </Group>
      {error && (
        <Text c="red" size="sm" data-testid="action-error">
          {error}
        </Text>
      )}
    </Stack>
  );
}
