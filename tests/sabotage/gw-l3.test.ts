/**
 * Sabotage of the L3 gateway (GW-8, docs/gateways.md): scenarios/gw/gw-8-l3-gateway.yml on a private
 * copy of labs/gw.clab.yml with both controllers under `gw-evpn-vni-ignored=1802`: they ignore the EVPN
 * gateway's routes for VNI 1802 (gw2's type-3 and MACs), so no hypervisor floods or forwards VNI 1802's
 * frames to gw2 and the VMs of gw-b never reach gw2's address in their subnet: gw-b ↔ ext8 is dropped,
 * while gw-a (VNI 1801) still reaches ext8 (the check fails on exactly the sabotaged VNI's cells).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectFailed } from './expect-failed.ts';
import { REPO } from './fixtures/private-lab.ts';
import { runSabotaged, type SabotageRun, suiteFile } from './run.ts';

const GW_LAB = join(REPO, 'labs', 'gw.clab.yml');

describe('sabotaged L3 gateway, lab gwl3: c1 and c2 gw-evpn-vni-ignored=1802', () => {
  let run: SabotageRun;
  beforeAll(async () => {
    run = await runSabotaged(
      'gwl3',
      { c1: ['gw-evpn-vni-ignored=1802'], c2: ['gw-evpn-vni-ignored=1802'] },
      [suiteFile('scenarios/gw/gw-8-l3-gateway.yml')],
      {},
      {},
      GW_LAB,
    );
  }, 600_000);
  afterAll(() => run?.lab.remove());

  it('fails GW-8: the VMs of VNI 1802 and the outside host do not reach each other', () => {
    expectFailed(run, {
      id: 'GW-8',
      step: /VMs of both routed VNIs and ext8 reach each other/,
      message: /(gw-b\d → ext8|ext8 → gw-b\d) icmp: expected allowed, got dropped/,
    });
  });

  it('only the sabotaged VNI: no cell of VNI 1801 with ext8 is named', () => {
    const failed = run.verdicts.find((v) => v.status === 'failed' && /ext8 reach each other/.test(v.name));
    expect(failed?.message ?? '', run.summary).not.toMatch(/(gw-a\d → ext8|ext8 → gw-a\d) icmp/);
  });
});
