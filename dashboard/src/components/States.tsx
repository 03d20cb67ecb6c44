// Explained empty, loading, error and "not available" states: no page is ever blank.
import { Alert as Callout, Center, Loader, Stack, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import { ApiError, describeError } from '../api/client';

/**
 * A call failed: says why, and what to do when it is the token or a missing feature. `hint`
 * explains what still works when the agent does not implement the call.
 */
export function ErrorState({ error, what, hint }: { error: unknown; what: string; hint?: string }) {
  if (error instanceof ApiError && error.unimplemented) {
    return (
      <Callout color="gray" title={`${what}: not available`} data-testid="not-available">
        This agent does not implement it yet{error.message ? ` (${error.message})` : ''}. {hint}
      </Callout>
    );
  }
  return (
    <Callout color="red" title={`${what} failed`} data-testid="error-state">
      {describeError(error)}
    </Callout>
  );
}

/** Nothing to show, and why. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <Center py="lg" data-testid="empty-state">
      <Stack gap={4} align="center">
        <Text fw={600}>{title}</Text>
        {children && (
          <Text c="dimmed" size="sm" ta="center" maw={520}>
            {children}
          </Text>
        )}
      </Stack>
    </Center>
  );
}

/** Waiting for the first answer. */
export function Loading({ what }: { what: string }) {
  return (
    <Center py="lg">
      <Stack align="center" gap={4}>
        <Loader size="sm" />
        <Text c="dimmed" size="sm">
          Loading {what}…
        </Text>
      </Stack>
    </Center>
  );
}
