// Renders a component inside the providers the app uses, and fakes fetch per API method.
import { MantineProvider } from '@mantine/core';
import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { MemoryRouter } from 'react-router-dom';
import { vi } from 'vitest';

/** render() with Mantine and a router at `path`. */
export function renderWithProviders(ui: ReactElement, path = '/') {
  return render(
    <MantineProvider>
      <MemoryRouter initialEntries={[path]} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        {ui}
      </MemoryRouter>
    </MantineProvider>,
  );
}

/** One faked reply: HTTP status and JSON body. */
export interface FakeReply {
  status?: number;
  body: unknown;
}

/**
 * Replaces fetch: `/api/v1/<Method>` answers `replies[Method]` (a function gets the request
 * body and headers). Returns the mock to inspect the calls.
 */
export function fakeApi(
  replies: Record<string, FakeReply | ((body: unknown, headers: Record<string, string>) => FakeReply)>,
) {
  const mock = vi.fn(async (url: string, init?: RequestInit) => {
    const method = url.replace(/^\/api\/v1\//, '').replace(/\?.*$/, '');
    const entry = replies[method];
    const body = init?.body ? JSON.parse(String(init.body)) : {};
    const reply =
      typeof entry === 'function'
        ? entry(body, (init?.headers ?? {}) as Record<string, string>)
        : (entry ?? { status: 501, body: { status: 'UNIMPLEMENTED', message: `${method} not faked` } });
    return new Response(JSON.stringify(reply.body), { status: reply.status ?? 200 });
  });
  vi.stubGlobal('fetch', mock);
  return mock;
}
