/**
 * Writes harness/scenario/scenario.schema.json (the editor schema) from the base shape and the
 * registered check and fault kinds, and harness/scenario/suite.schema.json (suite files). Run after
 * adding or changing a kind: `npm run gen:schema`.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildScenarioSchema } from '../harness/scenario/scenario-schema.ts';
import { SCHEMA_FILE } from '../harness/scenario/schema.ts';
import { SUITE_SCHEMA, SUITE_SCHEMA_FILE } from '../harness/scenario/suite-file.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(SCHEMA_FILE, `${JSON.stringify(buildScenarioSchema())}\n`);
writeFileSync(SUITE_SCHEMA_FILE, `${JSON.stringify(SUITE_SCHEMA)}\n`);
// The committed files are in the formatter's layout, so `npm run lint` stays clean.
execFileSync(
  join(repo, 'node_modules', '.bin', 'biome'),
  ['format', '--write', SCHEMA_FILE, SUITE_SCHEMA_FILE],
  {
    cwd: repo,
    stdio: 'inherit',
  },
);
