/**
 * `npm run bench -- <name>`: runs bench/<name>.ts. Every benchmark prints its own figures and ends with
 * machine-readable lines `BENCH <metric> <value> <unit>`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts' && !file.startsWith('_'))
  .map((file) => file.slice(0, -3))
  .sort();
const name = process.argv[2];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name>\navailable: ${available.join(', ') || '(none yet)'}`);
  process.exit(2);
}
const file = join(here, `${name}.ts`);
if (existsSync(file)) {
  const mod = (await import(file)) as { main(argv: string[]): Promise<void> };
  await mod.main(process.argv.slice(3));
}
