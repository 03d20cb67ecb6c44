// React hooks over the API: polling a read method, and a live event stream.
import { useEffect, useRef, useState } from 'react';
import { ApiError, call } from '../api/client';
import { openStream, type StreamState } from '../api/sse';

/** The state of a polled call. */
export interface Polled<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  /** Calls again now. */
  refresh: () => void;
}

/**
 * Calls `method` with `request` now and every `intervalMs` (0: once). A failed call keeps the
 * last good data and reports the error; UNIMPLEMENTED stops polling.
 */
export function usePoll<T>(method: string, request: object, intervalMs: number): Polled<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const key = JSON.stringify(request);
  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const reply = await call<T>(method, JSON.parse(key) as object);
        if (cancelled) return;
        setData(reply);
        setError(undefined);
      } catch (e) {
        if (cancelled) return;
        setError(e);
        if (e instanceof ApiError && e.unimplemented) {
          setLoading(false);
          return;
        }
      }
      setLoading(false);
      if (intervalMs > 0 && !cancelled) timer = setTimeout(run, intervalMs);
    };
    void run();
    return () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
    };
  }, [method, key, intervalMs, tick]);
  return { data, error, loading, refresh: () => setTick((t) => t + 1) };
}

/**
 * The newest `limit` messages of a live stream (newest first) and the stream's state. `params`
 * null: not opened yet (e.g. until the page knows the id to resume after).
 */
export function useStream<T>(
  method: string,
  params: Record<string, string> | null,
  limit: number,
  onMessage?: (message: T) => void,
): { items: T[]; state: StreamState; detail?: string } {
  const [items, setItems] = useState<T[]>([]);
  const [state, setState] = useState<StreamState>('connecting');
  const [detail, setDetail] = useState<string>();
  const callback = useRef(onMessage);
  callback.current = onMessage;
  const key = JSON.stringify(params);
  useEffect(() => {
    setItems([]);
    if (key === 'null') return;
    const stream = openStream<T>(method, {
      params: JSON.parse(key) as Record<string, string>,
      onMessage: (m) => {
        setItems((old) => [m, ...old].slice(0, limit));
        callback.current?.(m);
      },
      onState: (s, d) => {
        setState(s);
        setDetail(d);
      },
    });
    return () => stream.close();
  }, [method, key, limit]);
  return { items, state, detail };
}
