/**
 * `npm run bench -- <name> [options]`: runs bench/<name>.ts. Every benchmark prints its own figures and
 * ends with machine-readable lines `BENCH <metric> <value> <unit>`.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../harness/util/errors.ts';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts' && !file.startsWith('_'))
  .map((file) => file.slice(0, -3))
  .sort();
const name = process.argv[2];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name> [options]\navailable: ${available.join(', ')}`);
  process.exit(2);
}
// `npm run bench -- attach -- --count 8` passes the second `--` through: options follow it either way.
const args = process.argv.slice(3).filter((arg, i) => !(i === 0 && arg === '--'));
try {
  const mod = (await import(join(here, `${name}.ts`))) as { main(argv: string[]): Promise<void> };
  await mod.main(args);
} catch (err) {
  if (process.env.OTWIN_DEBUG) console.error(err);
  console.error(`bench ${name}: ${errorMessage(err)}`);
  process.exitCode =
    err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS') ? 2 : 1;
}
