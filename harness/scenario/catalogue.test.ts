import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCatalogue, renderCatalogue } from '../../scripts/vendor-catalogue.mjs';
import { AREAS, CATALOGUE, CATALOGUE_FILE } from './catalogue.ts';

const repo = join(import.meta.dirname, '..', '..');
// The lead's copy of the catalogue, beside the repository on development machines only.
const upstream = join(repo, '..', 'shared', 'conformance-catalogue.md');

describe('vendored conformance catalogue', () => {
  it('holds every ID once, each with a group, texts and a known area', () => {
    expect(CATALOGUE.size).toBeGreaterThan(0);
    for (const entry of CATALOGUE.values()) {
      expect(entry.id).toMatch(/^[A-Z][A-Z0-9]*-[0-9]+$/);
      expect(AREAS[entry.id.split('-')[0]!], entry.id).toBeDefined();
      expect(entry.group.length, entry.id).toBeGreaterThan(0);
      expect(entry.stimulus.length, entry.id).toBeGreaterThan(0);
      expect(entry.pass.length, entry.id).toBeGreaterThan(0);
    }
  });

  it('parses a catalogue table and refuses rows it cannot place', () => {
    const md =
      '## AB — group one\n| ID | Stimulus | Observable | Pass |\n|---|---|---|---|\n| AB-1 | s | o | p |\n';
    expect(parseCatalogue(md)).toEqual([
      { id: 'AB-1', group: 'AB — group one', stimulus: 's', observable: 'o', pass: 'p' },
    ]);
    expect(() => parseCatalogue('| AB-1 | s | o | p |\n')).toThrow(/before any ## group heading/);
    expect(() => parseCatalogue('## G\n| AB-1 | s | o |\n')).toThrow(/3 cells/);
    expect(() => parseCatalogue(`${md}| AB-1 | s | o | p |\n`)).toThrow(/appears twice/);
  });

  it.skipIf(!existsSync(upstream))(
    `matches the catalogue it was generated from (${upstream}; regenerate with node scripts/vendor-catalogue.mjs)`,
    () => {
      const expected = renderCatalogue(
        parseCatalogue(readFileSync(upstream, 'utf8')),
        'conformance-catalogue.md',
      );
      expect(readFileSync(CATALOGUE_FILE, 'utf8')).toBe(expected);
    },
  );
});
