/**
 * Sabotage of the gateway profiles (docs/gateways.md): the GW pack run against both profiles at once
 * (`--gateway ovsdb,evpn`) on a private copy of labs/gw.clab.yml, c1 sabotaged (both gateways are in
 * zone z1; c1 manages gw1 over OVSDB and learns gw2's routes over BGP):
 *   gw-evpn-ignored  → GW-7: c1 ignores routes from VTEPs that are no hypervisor, so zone z1 never
 *                      learns bm2's MAC or gw2's flood entry: bm2 and gw-vm1 cannot reach each other;
 *   gw-service-node  → GW-5 (ovsdb): gw1's logical switch keeps service-node replication, so bm1's
 *                      broadcast reaches the first hypervisor only.
 * Then `otwin compare` of the run's two profiles with ovsdb as the baseline: the evpn column fails
 * GW-7 where the baseline passes it, so the gate exits 1 and says so.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecord } from '../../harness/scenario/record.ts';
import { launch } from '../../harness/scenario/suite/launch.ts';
import { expectFailed } from './expect-failed.ts';
import { privateLab, REPO } from './fixtures/private-lab.ts';
import { byId, type SabotageRun, suiteFile } from './run.ts';

const GW_LAB = join(REPO, 'labs', 'gw.clab.yml');
const FILES = [
  'scenarios/gw/gw-7-evpn-gateway.yml',
  'scenarios/gw/gw-7-same-reachability.yml',
  'scenarios/gw/gw-5-broadcast-once-ovsdb.yml',
].map(suiteFile);

describe('sabotaged GW pack on both gateway profiles, lab gwd: c1 gw-evpn-ignored, gw-service-node', () => {
  let run: SabotageRun;
  let records: string[];
  const lab = privateLab('gwd', { c1: ['gw-evpn-ignored', 'gw-service-node'] }, {}, {}, GW_LAB);
  beforeAll(async () => {
    const reportsDir = join(lab.dir, 'reports');
    const result = await launch({
      files: FILES,
      lab: lab.file,
      runtime: 'netns',
      reportsDir,
      stdio: 'pipe',
      implementation: 'reference',
      gatewayProfiles: ['ovsdb', 'evpn'],
    });
    records = result.summary.records;
    const verdicts = records.flatMap((file) => {
      const record = readRecord(file);
      return record.verdicts.map((v) => ({
        scenario: `${record.scenario.name} [${record.gateway}]`,
        name: v.name,
        status: v.status,
        message: v.message ?? '',
        conformance: v.conformance,
      }));
    });
    run = {
      lab,
      result,
      verdicts,
      attachments: () => [],
      summary: verdicts.map((v) => `${v.status} ${v.scenario}: ${v.name}: ${v.message}`).join('\n'),
    };
  }, 900_000);
  afterAll(() => lab.remove());

  it('fails GW-7 (the host behind the EVPN gateway and the zone z1 VM)', () => {
    expectFailed(run, {
      id: 'GW-7',
      step: /bm2 and the VMs of both zones reach each other/,
      message: /(bm2 → gw-vm1|gw-vm1 → bm2) icmp: expected allowed, got dropped/,
    });
  });

  it('fails GW-5 on the ovsdb profile (one broadcast copy to the first hypervisor only)', () => {
    expectFailed(run, {
      id: 'GW-5',
      step: /one copy per VM and per VTEP of VNI 1601/,
      message: /gw-vm\d:eth0 \[.*\]: expected exactly 1 packet\(s\), captured 0/,
    });
  });

  it('ran each scenario on both profiles, skipped with the reason where it does not apply', () => {
    const skipped = byId(run, 'GW-7').filter((v) => v.status === 'skipped');
    expect(skipped.map((v) => v.message).join('\n')).toMatch(
      /does not apply to gateway profile ovsdb: the scenario runs against evpn/,
    );
    const profiles = new Set(records.map((f) => readRecord(f).gateway));
    expect([...profiles].sort()).toEqual(['evpn', 'ovsdb']);
  });

  it('otwin compare: the evpn column fails GW-7 where the ovsdb baseline passes, so the gate exits 1', async () => {
    const folders = { ovsdb: join(lab.dir, 'runs-ovsdb'), evpn: join(lab.dir, 'runs-evpn') };
    for (const dir of Object.values(folders)) mkdirSync(dir, { recursive: true });
    for (const file of records) {
      const profile = readRecord(file).gateway as 'ovsdb' | 'evpn';
      copyFileSync(file, join(folders[profile], basename(file)));
    }
    const out = join(lab.dir, 'compare');
    const r = await execa(
      process.execPath,
      [resolve(REPO, 'bin/otwin.js'), 'compare', folders.evpn, '--baseline', folders.ovsdb, '--out', out],
      { reject: false, all: true },
    );
    expect(r.exitCode, r.all).toBe(1);
    expect(r.all).toMatch(/GW-7/);
    const md = readFileSync(join(out, 'compare.md'), 'utf8');
    expect(md).toMatch(/reference \/ ovsdb/);
    expect(md).toMatch(/reference \/ evpn/);
    expect(md).toMatch(/\*\*GW-7\*\*/);
  });
});
