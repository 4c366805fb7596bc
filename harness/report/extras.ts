/**
 * What Allure needs beside the results allure-vitest writes: categories.json (failed = expectation not
 * met, broken = harness or lab failure, skipped = cannot run here), environment.properties (kernel,
 * FRR/OVS versions, runtime, implementation), executor.json (CI), the previous report's history (for
 * trends), and the skip reasons moved into statusDetails (allure-vitest leaves them out).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { run } from '../util/exec.ts';

export const CATEGORIES = [
  {
    name: 'Expectation not met (system under test)',
    matchedStatuses: ['failed'],
    description:
      'The implementation did not do what the intent says: a matrix cell, route, table row, packet or loss window differs.',
  },
  {
    name: 'Harness or lab failure',
    matchedStatuses: ['broken'],
    description:
      'The lab, the traffic engine, a driver or the harness failed; the expectation was not evaluated.',
  },
  {
    name: 'Cannot run here (skipped with a reason)',
    matchedStatuses: ['skipped'],
    description: 'A kernel feature or an implementation capability the scenario needs is missing.',
  },
  {
    name: 'Not covered: no scenario yet',
    matchedStatuses: ['unknown'],
    description: 'A conformance catalogue ID that no scenario of this run checks.',
  },
];

/** dpkg-query's format for a package's version (a dpkg field reference, not a JS template). */
const DPKG_VERSION = ['$', '{Version}'].join('');

async function version(cmd: string, args: string[], pattern: RegExp): Promise<string> {
  const r = await run(cmd, args, { timeoutMs: 5_000 });
  const m = pattern.exec(`${r.stdout}\n${r.stderr}`);
  return m?.[1] ?? 'not installed';
}

export async function environmentProperties(extra: Record<string, string>): Promise<Record<string, string>> {
  return {
    kernel: release(),
    node: process.version,
    frr: await version('dpkg-query', ['-W', '-f', DPKG_VERSION, 'frr'], /^(\S+)/),
    ovs: await version('dpkg-query', ['-W', '-f', DPKG_VERSION, 'openvswitch-common'], /^(\S+)/),
    nftables: await version('nft', ['--version'], /nftables v(\S+)/),
    ...extra,
  };
}

export function writeEnvironment(resultsDir: string, props: Record<string, string>): void {
  const text = Object.entries(props)
    .map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`)
    .join('\n');
  writeFileSync(join(resultsDir, 'environment.properties'), `${text}\n`);
}

export function writeCategories(resultsDir: string): void {
  writeFileSync(join(resultsDir, 'categories.json'), `${JSON.stringify(CATEGORIES, null, 2)}\n`);
}

export function writeExecutor(resultsDir: string, runId: string, reportDir: string): void {
  const ci = process.env.CI === 'true';
  const executor = {
    name: ci ? 'CI' : 'otwin',
    type: ci ? 'ci' : 'local',
    buildName: `otwin run ${runId}`,
    buildOrder: Date.now(),
    reportName: 'overlay-twin conformance',
    reportUrl: '',
    buildUrl: process.env.CI_JOB_URL ?? '',
    runId,
    reportDir,
  };
  writeFileSync(join(resultsDir, 'executor.json'), `${JSON.stringify(executor, null, 2)}\n`);
}

/** Copies `<reportDir>/history` into the results so the next report shows trends. */
export function carryHistory(reportDir: string, resultsDir: string): boolean {
  const history = join(reportDir, 'history');
  if (!existsSync(history)) return false;
  cpSync(history, join(resultsDir, 'history'), { recursive: true });
  return true;
}

/** Moves the `skip_reason` label of skipped results into statusDetails.message, where Allure shows it. */
export function applySkipReasons(resultsDir: string): number {
  let n = 0;
  for (const file of readdirSync(resultsDir)) {
    if (!file.endsWith('-result.json')) continue;
    const path = join(resultsDir, file);
    const result = JSON.parse(readFileSync(path, 'utf8')) as {
      status?: string;
      labels?: Array<{ name: string; value: string }>;
      statusDetails?: { message?: string };
    };
    const reason = result.labels?.find((l) => l.name === 'skip_reason')?.value;
    if (!reason) continue;
    result.labels = result.labels?.filter((l) => l.name !== 'skip_reason');
    result.status = 'skipped';
    result.statusDetails = { ...(result.statusDetails ?? {}), message: reason };
    writeFileSync(path, JSON.stringify(result));
    n += 1;
  }
  return n;
}

/** Empties the results folder (allure-vitest never does): each run's report shows that run only. */
export function freshResults(resultsDir: string): void {
  rmSync(resultsDir, { recursive: true, force: true });
  mkdirSync(resultsDir, { recursive: true });
}
