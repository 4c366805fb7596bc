/**
 * `npm run bench -- cli [--runs N]`: start-up time of the CLI, the median wall time of N (default 10)
 * `node bin/otwin.js --help`, from the build (scripts/build.mjs, brought up to date first, as
 * `npm start` and `npm test` do) and, for comparison, from the sources through tsx, beside a bare
 * `node -e 0`. Ends with `BENCH cli_startup_s <median> s` (the build).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';

const REPO = join(import.meta.dirname, '..');
const OTWIN = join(REPO, 'bin', 'otwin.js');

async function medianSeconds(
  runs: number,
  args: string[],
  env: Record<string, string> = {},
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await execa(process.execPath, args, { cwd: REPO, env, stdout: 'ignore' });
    times.push((performance.now() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  const mid = Math.floor(times.length / 2);
  return times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { runs: { type: 'string', default: '10' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1)
    throw new TypeError(`--runs must be a positive integer, got ${values.runs}`);
  await execa(process.execPath, [join(REPO, 'scripts', 'build.mjs')], { cwd: REPO, stdout: 'inherit' });
  const bare = await medianSeconds(runs, ['-e', '0']);
  const fromSources = await medianSeconds(Math.min(runs, 5), [OTWIN, '--help'], { OTWIN_FROM_SOURCE: '1' });
  const fromBuild = await medianSeconds(runs, [OTWIN, '--help']);
  console.log(`node -e 0:                     ${bare.toFixed(2)} s`);
  console.log(`otwin --help from the sources: ${fromSources.toFixed(2)} s (tsx)`);
  console.log(`otwin --help from the build:   ${fromBuild.toFixed(2)} s`);
  console.log(`BENCH cli_startup_s ${fromBuild.toFixed(2)} s`);
}
