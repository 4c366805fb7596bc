#!/usr/bin/env node
// `node bin/run-ts.js <file.ts> [args...]`: runs a TypeScript entry point of this repository from the
// build when it is fresh, else through tsx (see ./entry.js). Lab nodes start the reference bins this way.
import { runEntry } from './entry.js';

const [script, ...args] = process.argv.slice(2);
if (!script) {
  console.error('usage: node bin/run-ts.js <file.ts> [args...]');
  process.exit(2);
}
await runEntry(script, args);
