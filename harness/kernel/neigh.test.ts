import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NEIGH_TABLE_MIN, raiseNeighbourTables } from './neigh.ts';

describe('raiseNeighbourTables', () => {
  let root = '';
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('raises the shared limits, never lowers them, reports what it cannot write, and restores exactly what it changed', () => {
    root = mkdtempSync(join(tmpdir(), 'otwin-neigh-'));
    const dir = join(root, 'ipv4', 'neigh', 'default');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'gc_thresh2'), '512\n');
    writeFileSync(join(dir, 'gc_thresh3'), '200000\n');

    const raised = raiseNeighbourTables(root);
    expect(readFileSync(join(dir, 'gc_thresh2'), 'utf8')).toBe(String(NEIGH_TABLE_MIN.gc_thresh2));
    expect(readFileSync(join(dir, 'gc_thresh3'), 'utf8')).toBe('200000\n');
    expect(raised.changed).toEqual([`${join(dir, 'gc_thresh2')}: 512 → ${NEIGH_TABLE_MIN.gc_thresh2}`]);
    // No ipv6 folder: reported, not thrown.
    expect(raised.problems).toHaveLength(2);
    expect(raised.problems.every((p) => p.includes('ipv6'))).toBe(true);

    raised.restore();
    expect(readFileSync(join(dir, 'gc_thresh2'), 'utf8')).toBe('512');
    expect(readFileSync(join(dir, 'gc_thresh3'), 'utf8')).toBe('200000\n');
  });
});
