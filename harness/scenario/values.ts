/** Value formats the scenario file shares across kinds: durations, probes, command lines. */
import { probeKey } from '../oracle/index.ts';
import type { ProbeSpec } from './types.ts';

export type Obj = Record<string, unknown>;

export function parseDuration(value: unknown): number {
  if (typeof value === 'number') return value;
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)$/.exec(String(value));
  if (!m) throw new Error(`not a duration: ${String(value)}`);
  const n = Number.parseFloat(m[1]!);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
}

/** An optional duration key: its value in ms, or the fallback when absent. */
export function durationOr<T>(value: unknown, fallback: T): number | T {
  return value !== undefined ? parseDuration(value) : fallback;
}

/** `icmp`, `tcp/80`, `udp/53`, `tcp/40000 sport 80` (the schema's pattern has vetted the text). */
export function parseProbe(text: string): ProbeSpec {
  if (text === 'icmp') return { proto: 'icmp', port: undefined };
  const [service, , sport] = text.split(' ');
  const [proto, port] = (service ?? '').split('/');
  return {
    proto: proto as 'tcp' | 'udp',
    port: Number.parseInt(port ?? '0', 10),
    ...(sport !== undefined ? { sport: Number.parseInt(sport, 10) } : {}),
  };
}

/** A probe as scenarios write it (one spelling with the oracle's cell keys). */
export const probeText = probeKey;

/** Splits a command line on spaces, keeping single- or double-quoted parts together. */
export function splitCommand(text: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

export function arr(value: unknown): Obj[] {
  return Array.isArray(value) ? (value as Obj[]) : [];
}

export function strs(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
