#!/usr/bin/env node
// The CLI from its build when fresh, else straight from the TypeScript sources (see ./entry.js).
import { join } from 'node:path';
import { REPO, runEntry } from './entry.js';

await runEntry(join(REPO, 'harness/cli/main.ts'), process.argv.slice(2));
