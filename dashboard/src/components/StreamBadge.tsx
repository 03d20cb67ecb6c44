// The state of a live stream, with the reason when it is not open.
import { Badge, Tooltip } from '@mantine/core';
import type { StreamState } from '../api/sse';

const COLORS: Record<StreamState, string> = {
  connecting: 'gray',
  open: 'green',
  reconnecting: 'orange',
  failed: 'red',
};

/** "live" / "reconnecting" / ... */
export function StreamBadge({ state, detail }: { state: StreamState; detail?: string }) {
  const badge = (
    <Badge color={COLORS[state]} variant="dot" data-testid="stream-state">
      {state === 'open' ? 'live' : state}
    </Badge>
  );
  return detail && state !== 'open' ? <Tooltip label={detail}>{badge}</Tooltip> : badge;
}
