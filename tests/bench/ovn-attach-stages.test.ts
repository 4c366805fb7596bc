/**
 * The OVN attach stage table (bench/_ovn-attach-stages.ts): the chassis' log lines as OVS 3.1 and OVN
 * 23.03 write them become per-port events, and one attach's stamps become stages in ms after its
 * API call, with the BENCH line names the issue asks for.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ovnStageReport, ovnStages, readPortEvents } from '../../bench/_ovn-attach-stages.ts';

const dir = mkdtempSync(join(tmpdir(), 'oti-ovn-stages-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2026-12-03T22:14:14.000Z');

describe('OVN attach stages', () => {
  mkdirSync(join(dir, 'hv2', 'ovs'), { recursive: true });
  writeFileSync(
    join(dir, 'hv2', 'ovs', 'ovs-vswitchd.log'),
    [
      '2026-12-03T22:14:13.500Z|00091|bridge|INFO|bridge br-int: added interface vif-old on port 5',
      '2026-12-03T22:14:14.400Z|00098|bridge|INFO|bridge br-int: added interface vif-a on port 7',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'hv2', 'ovs', 'ovn-controller.log'),
    [
      '2026-12-03T22:14:14.410Z|00027|binding|INFO|Claiming lport vm-a for this chassis.',
      '2026-12-03T22:14:14.420Z|00029|binding|INFO|Setting lport vm-a ovn-installed in OVS',
      '2026-12-03T22:14:14.430Z|00030|binding|INFO|Setting lport vm-a up in Southbound',
      '2026-12-03T22:14:34.855Z|00035|binding|INFO|Releasing lport vm-a from this chassis (sb_readonly=0)',
    ].join('\n'),
  );

  it('reads the VIF and binding events from the chassis logs', () => {
    const events = readPortEvents(dir, 'hv2');
    expect(events.get('vif-a')?.added).toEqual([T0 + 400]);
    expect(events.get('vm-a')).toEqual({
      added: [],
      claimed: [T0 + 410],
      installed: [T0 + 420],
      up: [T0 + 430],
    });
    expect(readPortEvents(dir, 'hv9').size).toBe(0);
  });

  it('turns one attach into stages after its API call', () => {
    const chassis = ['hv1', 'hv2', 'hv3'];
    const stages = ovnStages(
      [
        {
          port: 'vm-a',
          vif: 'vif-a',
          hv: 'hv2',
          t0: T0,
          tNb: 100,
          tPlugged: 450,
          tReach: [470, 460, 480],
          stamps: {
            nbCfg: 7,
            northdSeen: T0 + 90,
            sbWritten: T0 + 110,
            chassis: new Map([
              ['hv1', T0 + 130],
              ['hv2', T0 + 120],
              ['hv3', T0 + 140],
            ]),
          },
        },
      ],
      chassis,
      new Map([['hv2', readPortEvents(dir, 'hv2')]]),
    );
    expect(Object.fromEntries(stages)).toEqual({
      nb_committed: [100],
      northd_seen: [90],
      sb_written: [110],
      hosting_controller: [120],
      other_controller: [130, 140],
      all_controllers: [140],
      vif_added: [400],
      port_claimed: [410],
      port_installed: [420],
      port_up: [430],
      vif_plugged: [450],
      reply_hosting: [460],
      reply_other: [470, 480],
      reachable: [480],
    });
    const report = ovnStageReport(stages);
    expect(report.bench).toContain('BENCH ovn_attach_stage_vif_added_p95_ms 400.0 ms');
    expect(report.bench).toContain('BENCH ovn_attach_stage_other_controller_p50_ms 130.0 ms');
    // Rows in stage order (numbered), not alphabetical: 10 after 9.
    const rows = report.table.slice(2).map((l) => Number(l.split(' ')[0]));
    expect(rows).toEqual([...rows].sort((a, b) => a - b));
  });
});
