/**
 * Sabotage: every agent puts all routing domains of its hypervisor into one router namespace
 * (OTWIN_SABOTAGE=leak-routes), so routes leak between tenants. A two-tenant matrix (distinct
 * prefixes, so a leaked route can carry traffic both ways; both tenants on hv1 and hv3, so each of
 * these hypervisors holds both tenants' reachability) must FAIL with the leaked cells marked
 * ("expected blocked, got allowed"), and the L3-4 suite file (overlapping prefixes) must fail too.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAB } from './fixtures/private-lab.ts';
import { byId, runSabotaged, type SabotageRun, suiteFile } from './run.ts';

let run: SabotageRun;
let scratch = '';
const leakScenario = (dir: string) => {
  const file = join(dir, 'l3-4-leak.yml');
  writeFileSync(
    file,
    `name: L3-4 sabotage probe — two tenants, distinct prefixes, no cell may cross
conformance: [L3-4]
lab: ${DEFAULT_LAB}
implementation: reference
intent:
  zones:
    - { name: z1, hypervisors: [hv1, hv2], controllers: [c1] }
    - { name: z2, hypervisors: [hv3, hv4], controllers: [c2] }
  tenants: [{ name: acme }, { name: globex }]
  domains: [{ name: acme-net, tenant: acme }, { name: globex-net, tenant: globex }]
  subnets:
    - { name: acme-web, domain: acme-net, cidr: 192.0.2.0/26, gateway: 192.0.2.1, vni: 3600 }
    - { name: globex-web, domain: globex-net, cidr: 198.51.100.0/26, gateway: 198.51.100.1, vni: 3700 }
  vms:
    - { name: la1, subnet: acme-web, hypervisor: hv1, ip: 192.0.2.11, mac: "02:00:36:00:00:11" }
    - { name: la2, subnet: acme-web, hypervisor: hv3, ip: 192.0.2.12, mac: "02:00:36:00:00:12" }
    - { name: lg1, subnet: globex-web, hypervisor: hv1, ip: 198.51.100.11, mac: "02:00:37:00:00:11" }
    - { name: lg2, subnet: globex-web, hypervisor: hv3, ip: 198.51.100.12, mac: "02:00:37:00:00:12" }
timeline:
  - provision: all
  - name: each tenant reaches only its own VMs
    expect: { within: 15s, matrix: { probes: [icmp] } }
  - provision: { detach: [la1, la2, lg1, lg2] }
`,
  );
  return file;
};

describe('sabotage leak-routes: L3-4 fails with the leak in the matrix diff', () => {
  beforeAll(async () => {
    const all = ['leak-routes' as const];
    const sabotage = { hv1: all, hv2: all, hv3: all, hv4: all };
    scratch = mkdtempSync(join(tmpdir(), 'otj-leak-'));
    run = await runSabotaged('leak', sabotage, [
      leakScenario(scratch),
      suiteFile('scenarios/l3/l3-4-overlapping-tenants.yml'),
    ]);
  }, 240_000);
  afterAll(() => {
    run?.lab.remove();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('marks the leaked cells between the tenants', () => {
    const probe = run.verdicts.find((v) => v.name === 'each tenant reaches only its own VMs');
    expect(probe?.status, run.summary).toBe('failed');
    expect(probe!.message).toMatch(/l[ag]\d → l[ga]\d icmp: expected blocked, got allowed/);
    const diff = run.attachments(probe!.name).find((a) => a.name === 'matrix diff (Markdown)');
    expect(diff?.content).toMatch(/\*\*X\*\*/);
  });

  it('fails the L3-4 suite file (failed, not broken)', () => {
    const l34 = byId(run, 'L3-4').filter((v) => v.scenario.startsWith('L3-4 two tenants'));
    expect(l34.length, run.summary).toBeGreaterThan(0);
    expect(
      l34.filter((v) => v.status === 'broken'),
      run.summary,
    ).toEqual([]);
    expect(
      l34.some((v) => v.status === 'failed'),
      run.summary,
    ).toBe(true);
  });
});
