// Blocks: every active block with its reason, a TTL countdown, live drop counters, unblock.
import { Badge, Button, Paper, Stack, Table, Text } from '@mantine/core';
import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { call, describeError } from '../api/client';
import type { BlockEntry, ListBlocksResponse } from '../api/types';
import { EmptyState, ErrorState, Loading } from '../components/States';
import { bytes, compact, dateTime, duration, num } from '../lib/format';
import { usePoll } from '../lib/hooks';

/** Seconds left of a block at `now` (ms), null when it never expires. */
export function secondsLeft(b: BlockEntry, now: number): number | null {
  if (!b.expires) return null;
  return Math.max(0, Math.round((new Date(b.expires).getTime() - now) / 1000));
}

/** The Blocks page. */
export function BlocksPage() {
  const blocks = usePoll<ListBlocksResponse>('ListBlocks', {}, 1000);
  const [now, setNow] = useState(Date.now());
  const [error, setError] = useState('');
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const unblock = async (prefix: string) => {
    setError('');
    try {
      await call('Unblock', { prefix });
      blocks.refresh();
    } catch (e) {
      setError(describeError(e));
    }
  };
  if (!blocks.data && blocks.error) return <ErrorState error={blocks.error} what="Listing blocks" />;
  if (!blocks.data) return <Loading what="blocks" />;
  const list = blocks.data.blocks ?? [];
  return (
    <Stack data-testid="blocks-page">
      {error && (
        <Text c="red" data-testid="action-error">
          {error}
        </Text>
      )}
      <Paper withBorder p="sm">
        {list.length === 0 ? (
          <EmptyState title="Nothing is blocked">
            Block an address from the Forensics page (or with ngctl block). Automatic blocks appear here too.
          </EmptyState>
        ) : (
          <Table fz="sm" data-testid="blocks-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Prefix</Table.Th>
                <Table.Th>Reason</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Expires in</Table.Th>
                <Table.Th>Dropped</Table.Th>
                <Table.Th>Kernel</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.map((b) => {
                const left = secondsLeft(b, now);
                return (
                  <Table.Tr key={b.prefix} data-testid="block-row">
                    <Table.Td>
                      <Link to={`/forensics/${b.prefix.split('/')[0]}`}>{b.prefix}</Link>
                    </Table.Td>
                    <Table.Td>
                      {b.reason}{' '}
                      {b.automatic && (
                        <Badge size="xs" variant="light">
                          auto
                        </Badge>
                      )}
                    </Table.Td>
                    <Table.Td>{dateTime(b.created)}</Table.Td>
                    <Table.Td data-testid="ttl">{left === null ? 'never' : duration(left)}</Table.Td>
                    <Table.Td data-testid="hits">
                      {compact(num(b.packets))} pkts · {bytes(num(b.bytes))}
                    </Table.Td>
                    <Table.Td>
                      <Badge color={b.enforced ? 'green' : 'red'} variant="light">
                        {b.enforced ? 'enforced' : 'missing'}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      <Button size="xs" variant="outline" color="red" onClick={() => unblock(b.prefix)}>
                        Unblock
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        )}
      </Paper>
    </Stack>
  );
}
