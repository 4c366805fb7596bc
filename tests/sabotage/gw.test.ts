/**
 * Sabotage of the controller's gateway side (reference-impl/controller/gateway.ts, world.ts): each
 * TEST-ONLY switch must make the GW test that proves its ID FAIL with an assertion (not break), while
 * the tests of the other IDs still pass. The GW tests run in a child vitest process (the switches are
 * read from OTWIN_SABOTAGE when the module loads) against a real hardware_vtep ovsdb-server
 * (reference-impl/controller/gateway.test.ts); the same switches set on c1 of labs/gw.clab.yml
 * (OTWIN_GW_SABOTAGE for reference-impl/lab-gw.test.ts) fail GW-2, GW-3 and GW-4 end to end.
 *
 * The GW pack (scenarios/gw) on private copies of labs/gw.clab.yml, c1 sabotaged (the gateway is in
 * zone z1), three labs whose switches do not touch each other's checks:
 *   gwa  gw-wrong-tunnel-key + gw-no-remote-macs → GW-2 (tunnel key 1602), GW-3 (rows missing);
 *   gwb  gw-no-local-type2 + gw-no-resync       → GW-4 (no type-2), GW-6 (stray and missing rows),
 *        + gw-wrong-vlan                         → GW-2 tagged (eth3 VLAN 101 bound, not 100; VLAN 0
 *                                                  bindings of the other files are left alone);
 *   gwc  gw-no-session                          → GW-1 (no controller session).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vtepServerMissing } from '../../reference-impl/ovsdb/fixtures/vtep-server.ts';
import type { SabotageSetting } from '../../reference-impl/sabotage.ts';
import { type ExpectedFailure, expectFailed } from './expect-failed.ts';
import { REPO } from './fixtures/private-lab.ts';
import { runSabotaged, type SabotageRun, suiteFile } from './run.ts';

interface VitestJson {
  testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[];
}

/** This environment without the parent vitest's own variables (a child would take itself for a worker). */
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS' && k !== 'TEST',
    ),
  );
}

async function gatewayTestsUnder(
  sabotage: string,
): Promise<Map<string, { status: string; failure: string }>> {
  const dir = mkdtempSync(join(tmpdir(), 'otwin-gw-sabotage-'));
  const out = join(dir, 'result.json');
  try {
    // A config of its own: the project's would write the child's results over reports/.
    const config = join(dir, 'vitest.config.mjs');
    writeFileSync(
      config,
      `export default { test: { root: ${JSON.stringify(REPO)}, include: ['reference-impl/controller/gateway.test.ts'], pool: 'forks', reporters: [['json', { outputFile: ${JSON.stringify(out)} }]] } };\n`,
    );
    const child = await promisify(execFile)('npx', ['vitest', 'run', '--config', config], {
      cwd: REPO,
      env: { ...childEnv(), OTWIN_SABOTAGE: sabotage },
      timeout: 120_000,
    }).catch((err: { stdout?: string; stderr?: string }) => err); // failing tests exit non-zero: the JSON says which
    if (!existsSync(out))
      throw new Error(`child vitest wrote no results: ${JSON.stringify(child).slice(0, 2000)}`);
    const json = JSON.parse(readFileSync(out, 'utf8')) as VitestJson;
    const results = json.testResults.flatMap((f) => f.assertionResults);
    return new Map(
      results.map((r) => [
        /^(GW-\d)/.exec(r.title)?.[1] ?? r.title,
        { status: r.status, failure: r.failureMessages.join('\n') },
      ]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CASES: { sabotage: string; fails: string; passes: string[] }[] = [
  { sabotage: 'gw-wrong-tunnel-key', fails: 'GW-2', passes: ['GW-1', 'GW-3/GW-5', 'GW-4'] },
  { sabotage: 'gw-no-remote-macs', fails: 'GW-3/GW-5', passes: ['GW-1', 'GW-2', 'GW-4'] },
  { sabotage: 'gw-no-local-type2', fails: 'GW-4', passes: ['GW-1', 'GW-2', 'GW-3/GW-5'] },
];

describe.skipIf(vtepServerMissing() !== undefined)('sabotage of the OVSDB gateway controller', () => {
  for (const c of CASES)
    it(`${c.sabotage} fails ${c.fails} (an assertion, not a break), the others pass`, async () => {
      const results = await gatewayTestsUnder(c.sabotage);
      const key = (id: string) => [...results.keys()].find((k) => k === id || k.startsWith(id)) ?? id;
      const failed = results.get(key(c.fails.split('/')[0] as string));
      expect(failed?.status, JSON.stringify([...results])).toBe('failed');
      expect(failed?.failure).not.toMatch(/ECONNREFUSED|session closed|TypeError/);
      for (const id of c.passes)
        expect(results.get(key(id.split('/')[0] as string))?.status, id).toBe('passed');
    }, 150_000);
});

const GW_LAB = join(REPO, 'labs', 'gw.clab.yml');
const GW_PACK: Array<{
  tag: string;
  switches: SabotageSetting[];
  files: string[];
  cases: ExpectedFailure[];
}> = [
  {
    tag: 'gwa',
    switches: ['gw-wrong-tunnel-key', 'gw-no-remote-macs'],
    files: ['scenarios/gw/gw-2-binding.yml', 'scenarios/gw/gw-3-remote-macs.yml'],
    cases: [
      {
        id: 'GW-2',
        step: /eth2 VLAN 0 → logical switch with tunnel key 1601/,
        message:
          /bindings: port eth2 VLAN 0 → logical switch \S+ with tunnel key 1602, not subnet gw-sg's VNI 1601/,
      },
      {
        id: 'GW-3',
        step: /the VMs' MACs at their hypervisors' VTEPs/,
        message: /remote-macs: missing 1601\/02:00:16:00:00:01 \(gw-vm1 at hv1 10\.0\.1\.2\)/,
      },
    ],
  },
  {
    tag: 'gwb',
    switches: ['gw-no-local-type2', 'gw-no-resync', 'gw-wrong-vlan'],
    files: ['scenarios/gw/gw-4-local-macs.yml', 'scenarios/gw/gw-6-resync.yml', 'scenarios/gw/gw-2-vlan.yml'],
    cases: [
      {
        id: 'GW-2',
        step: /eth3 VLAN 100 → logical switch with tunnel key 1601, VLAN 200/,
        message:
          /bindings: port eth3 VLAN 100 is bound to no logical switch \(intent: subnet gw-sg\).*port eth3 VLAN 101 is bound to vni-1601/,
      },
      {
        id: 'GW-4',
        step: /bm1's MAC exported as a type-2 route/,
        message: /expected 1 type-2 route matching .*02:00:16:00:00:50.*, found 0/,
      },
      {
        id: 'GW-6',
        step: /resynced within 10 s/,
        message:
          /remote-macs: (missing 1601\/02:00:16:00:00:0[13]|extra 1601\/02:00:ee:ee:ee:ee at 10\.255\.255\.254)/,
      },
    ],
  },
  {
    tag: 'gwc',
    switches: ['gw-no-session'],
    files: ['scenarios/gw/gw-1-registration.yml'],
    cases: [
      {
        id: 'GW-1',
        step: /gw1 registered with tunnel IP 10\.0\.5\.2/,
        message: /registration: no controller has an OVSDB session to the gateway/,
      },
    ],
  },
];

for (const lab of GW_PACK)
  describe(`sabotaged GW pack, lab ${lab.tag}: c1 ${lab.switches.join(', ')}`, () => {
    let run: SabotageRun;
    beforeAll(async () => {
      run = await runSabotaged(lab.tag, { c1: lab.switches }, lab.files.map(suiteFile), {}, {}, GW_LAB);
    }, 600_000);
    afterAll(() => run?.lab.remove());
    for (const c of lab.cases) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
  });
