/**
 * Parsing of `containerlab inspect --format json`. Three shapes exist across containerlab versions:
 * - current: `{ "<lab>": [entry, ...] }` (shared/containerlab/inspect-sample.json);
 * - 0.2x–0.5x: a bare array of entries;
 * - older: `{ "containers": [entry, ...] }`.
 * Entries are normalised to the current field set (missing fields become '').
 */
import type { InspectEntry } from '../runtime.ts';

const FIELDS = [
  'lab_name',
  'labPath',
  'absLabPath',
  'name',
  'container_id',
  'image',
  'kind',
  'state',
  'status',
  'ipv4_address',
  'ipv6_address',
  'owner',
] as const satisfies readonly (keyof InspectEntry)[];

export function normaliseEntry(raw: unknown, labName?: string): InspectEntry {
  const r = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const entry = {} as InspectEntry;
  for (const field of FIELDS) {
    const value = r[field];
    entry[field] = value === undefined || value === null ? '' : String(value);
  }
  if (entry.lab_name === '' && labName) entry.lab_name = labName;
  return entry;
}

/** Lab name → its entries, whichever shape containerlab printed. Empty output means no labs. */
export function parseInspectJson(text: string): Record<string, InspectEntry[]> {
  const trimmed = text.trim();
  if (trimmed === '') return {};
  const data = JSON.parse(trimmed) as unknown;
  const out: Record<string, InspectEntry[]> = {};
  const add = (entry: InspectEntry): void => {
    const list = out[entry.lab_name] ?? [];
    list.push(entry);
    out[entry.lab_name] = list;
  };
  if (Array.isArray(data)) {
    for (const raw of data) add(normaliseEntry(raw));
    return out;
  }
  if (data === null || typeof data !== 'object')
    throw new Error('inspect output is neither an object nor a list');
  const record = data as Record<string, unknown>;
  const containers = record.containers;
  const isOldShape =
    Object.keys(record).length === 1 &&
    Array.isArray(containers) &&
    containers.every(
      (c) => c !== null && typeof c === 'object' && (c as { lab_name?: unknown }).lab_name !== 'containers',
    );
  if (isOldShape) {
    for (const raw of containers) add(normaliseEntry(raw));
    return out;
  }
  for (const [lab, entries] of Object.entries(record)) {
    if (!Array.isArray(entries)) continue;
    out[lab] = entries.map((raw) => normaliseEntry(raw, lab));
  }
  return out;
}
