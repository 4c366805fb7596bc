/**
 * Every conformance ID that any scenario file carries (a file's `conformance:` list, or an
 * expectation's) has a row in the sabotage table of docs/sabotage.md: proof that the check can fail.
 * Fast: parses files only, deploys nothing.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO } from './fixtures/private-lab.ts';

const TABLE = join(REPO, 'docs', 'sabotage.md');
const ID = /^[A-Z][A-Z0-9]*-\d+$/;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry) ? [path] : [];
  });
}

/** Every `conformance:` list anywhere in a parsed document. */
function conformanceIds(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(conformanceIds);
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === 'conformance' && Array.isArray(value) ? value.map(String) : conformanceIds(value),
  );
}

/** The rows of the first Markdown table whose header starts with `| ID |`: cells by column. */
function sabotageRows(markdown: string): Array<{ id: string; cells: string[] }> {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^\|\s*ID\s*\|/.test(l));
  if (start < 0) return [];
  const rows: Array<{ id: string; cells: string[] }> = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    rows.push({ id: (cells[0] ?? '').replace(/`/g, ''), cells });
  }
  return rows;
}

describe('the sabotage table (docs/sabotage.md)', () => {
  const rows = sabotageRows(readFileSync(TABLE, 'utf8'));
  const scenarioIds = new Map<string, string[]>();
  for (const file of yamlFiles(join(REPO, 'scenarios')))
    for (const id of conformanceIds(parse(readFileSync(file, 'utf8'))))
      scenarioIds.set(id, [...(scenarioIds.get(id) ?? []), relative(REPO, file)]);

  it('parses: one row per ID, each naming a sabotage, what the report shows and its test', () => {
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.id, `row ${row.cells.join(' | ')}`).toMatch(ID);
      expect(row.cells.length, `row ${row.id}`).toBe(4);
      expect(row.cells.every(Boolean), `row ${row.id} has an empty cell`).toBe(true);
    }
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
  });

  it('has a row for every ID a scenario carries', () => {
    expect(scenarioIds.size).toBeGreaterThan(0);
    const missing = [...scenarioIds]
      .filter(([id]) => !rows.some((r) => r.id === id))
      .map(([id, files]) => `${id} (${files.join(', ')})`);
    expect(missing, 'IDs with a scenario but no sabotage row in docs/sabotage.md').toEqual([]);
  });

  it('names test files that exist', () => {
    for (const row of rows)
      for (const file of row.cells[3]!.match(/[\w-]+\.test\.ts/g) ?? [])
        expect(() => statSync(join(REPO, 'tests', 'sabotage', file)), `${row.id}: ${file}`).not.toThrow();
  });
});
