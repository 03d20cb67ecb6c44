// Formatting shared by the pages.
import type { Severity } from '../api/types';

/** 1234567 -> "1.2 M". */
export function compact(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(1)} G`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (abs >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** Bytes with a binary unit. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A protobuf uint64/int64 (a JSON string) as a number. */
export function num(v: string | number | undefined): number {
  if (v === undefined) return 0;
  return typeof v === 'number' ? v : Number(v);
}

/** "14:03:22" for a timestamp, "–" when unset. */
export function clock(ts?: string): string {
  if (!ts) return '–';
  return new Date(ts).toLocaleTimeString([], { hour12: false });
}

/** "2024-05-01 14:03:22". */
export function dateTime(ts?: string): string {
  if (!ts) return '–';
  const d = new Date(ts);
  return `${d.toISOString().slice(0, 10)} ${d.toLocaleTimeString([], { hour12: false })}`;
}

/** 3725 -> "1h 2m 5s". */
export function duration(seconds: number): string {
  if (seconds <= 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return [h ? `${h}h` : '', h || m ? `${m}m` : '', `${s}s`].filter(Boolean).join(' ');
}

/** "WARNING" for SEVERITY_WARNING. */
export function severityLabel(s: Severity): string {
  return s.replace('SEVERITY_', '');
}

/** Mantine colour of a severity. */
export function severityColor(s: Severity): string {
  switch (s) {
    case 'SEVERITY_CRITICAL':
      return 'red';
    case 'SEVERITY_HIGH':
      return 'orange';
    case 'SEVERITY_WARNING':
      return 'yellow';
    case 'SEVERITY_INFO':
      return 'blue';
    default:
      return 'gray';
  }
}

/** "10.0.0.1:443" / "[2001:db8::1]:443" / the bare address without a port. */
export function endpoint(addr: string, port: number): string {
  if (!port) return addr;
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}
