/**
 * SVC-5 costs no process start once the agent is up: the liveness echoes come from the persistent
 * prober (appliance-prober.ts) and the reroute is a route replaced through the nft session by
 * rtnetlink (redirect.ts). On real namespaces: a router namespace with the appliances' bridge and two
 * appliance namespaces behind it. Counts process starts, never timings; the kernel's route is read
 * back with `ip -j` (not through the session under test).
 * Without the prober (`ping` mode, the fallback) the same failure is detected all the same, at the
 * cost of one process per probe.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runJson, runOk } from '../../harness/util/exec.ts';
import { waitFor } from '../../harness/util/poll.ts';
import { ApplianceLiveness, type ApplianceTarget, type ProbeMode } from './appliance-liveness.ts';
import { redirectEntry } from './fixtures/nat-redirect-entries.ts';
import { domainNsName } from './model.ts';
import { agentNftSession, nftProcesses } from './nft-session.ts';
import { REDIRECT_MARK_BASE, RedirectProgrammer } from './redirect.ts';

const PREFIX = `oh30f${process.pid % 10_000}-`;
const ROUTER = domainNsName({ prefix: PREFIX, hypervisor: 'hv1' }, 'd1');
const VNI = 9109;
const fw1 = { vport: 'fw1', ip: '10.9.9.12', mac: '02:00:00:00:09:12', vni: VNI };
const fw2 = { vport: 'fw2', ip: '10.9.9.11', mac: '02:00:00:00:09:11', vni: VNI };
const applianceNs = (a: typeof fw1) => `${PREFIX}${a.vport}`;
const target = (a: typeof fw1): ApplianceTarget => ({ vport: a.vport, ip: a.ip, ns: ROUTER });
/** Generous: a loaded CI machine; the assertion is on process counts, not on this. */
const DETECT_MS = 10_000;

const redirect = (active: typeof fw1, standby: typeof fw1) =>
  redirectEntry({
    applianceIp: active.ip,
    applianceMac: active.mac,
    applianceVni: active.vni,
    standby: { ip: standby.ip, mac: standby.mac, vni: standby.vni },
  });

/** The appliance's link goes down or up inside its own namespace (a `vm-kill`, no control plane). */
const setAppliance = (a: typeof fw1, up: boolean) =>
  runOk('ip', ['-n', applianceNs(a), 'link', 'set', 'eth0', up ? 'up' : 'down']);

const routeVia = async () =>
  (
    await runJson<Array<{ gateway?: string }>>('ip', [
      '-n',
      ROUTER,
      '-j',
      'route',
      'show',
      'table',
      `${REDIRECT_MARK_BASE}`,
    ])
  )[0]?.gateway;

describe('SVC-5 failover: process starts', () => {
  beforeAll(async () => {
    await runOk('ip', ['netns', 'add', ROUTER]);
    await runOk('ip', ['-n', ROUTER, 'link', 'add', `br${VNI}`, 'type', 'bridge']);
    await runOk('ip', ['-n', ROUTER, 'addr', 'add', '10.9.9.1/24', 'dev', `br${VNI}`]);
    await runOk('ip', ['-n', ROUTER, 'link', 'set', `br${VNI}`, 'up']);
    for (const a of [fw1, fw2]) {
      const ns = applianceNs(a);
      await runOk('ip', ['netns', 'add', ns]);
      await runOk('ip', [
        '-n',
        ROUTER,
        'link',
        'add',
        `vp${a.vport}`,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ns,
      ]);
      await runOk('ip', ['-n', ROUTER, 'link', 'set', `vp${a.vport}`, 'master', `br${VNI}`, 'up']);
      await runOk('ip', ['-n', ns, 'addr', 'add', `${a.ip}/24`, 'dev', 'eth0']);
      await runOk('ip', ['-n', ns, 'link', 'set', 'eth0', 'address', a.mac, 'up']);
    }
  });
  afterAll(async () => {
    for (const ns of [ROUTER, applianceNs(fw1), applianceNs(fw2)]) await run('ip', ['netns', 'del', ns]);
  });

  /** Starts probing both appliances and waits until both have answered. */
  async function watching(mode: ProbeMode, python?: string) {
    const changes: string[] = [];
    const logs: string[] = [];
    const liveness = new ApplianceLiveness(
      (vport, alive) => changes.push(`${vport} ${alive ? 'alive' : 'dead'}`),
      (line) => logs.push(line),
      mode,
      python,
    );
    liveness.watch([target(fw1), target(fw2)]);
    await waitFor(
      () => liveness.verdicts,
      (n) => n >= 4,
      { timeoutMs: DETECT_MS, what: 'first verdicts' },
    );
    expect(changes).toEqual([]);
    return { liveness, changes, logs };
  }

  it('detects a dead appliance and reroutes to the standby with no process start', async () => {
    await agentNftSession.pid();
    expect(agentNftSession.available, agentNftSession.unavailableReason).toBe(true);
    const programmer = new RedirectProgrammer({ prefix: PREFIX, hypervisor: 'hv1' });
    expect(await programmer.apply([redirect(fw1, fw2)], [ROUTER], true)).toEqual([]);
    expect(await routeVia()).toBe(fw1.ip);

    const { liveness, changes, logs } = await watching('prober');
    expect(liveness.mode, logs.join('\n')).toBe('prober');
    expect(liveness.processStarts).toBe(1);
    const pid = liveness.proberPid;

    const before = {
      probes: liveness.processStarts,
      ip: programmer.ipProcesses,
      nft: nftProcesses.count,
      requests: agentNftSession.requests,
    };
    await setAppliance(fw1, false);
    await waitFor(
      () => changes,
      (c) => c.includes('fw1 dead'),
      { timeoutMs: DETECT_MS, what: 'fw1 reported dead' },
    );
    // The controller swaps active and standby; the agent's incremental pass reroutes.
    expect(await programmer.apply([redirect(fw2, fw1)], [ROUTER], false)).toEqual([]);
    expect(await routeVia()).toBe(fw2.ip);
    expect(liveness.processStarts - before.probes).toBe(0);
    expect(programmer.ipProcesses - before.ip).toBe(0);
    expect(nftProcesses.count - before.nft).toBe(0);
    expect(agentNftSession.requests - before.requests).toBe(1);
    expect(changes).toEqual(['fw1 dead']);

    // Targets change by message: the same prober process.
    liveness.watch([target(fw1)]);
    liveness.watch([target(fw1), target(fw2)]);
    expect(liveness.proberPid).toBe(pid);

    await setAppliance(fw1, true);
    await waitFor(
      () => changes,
      (c) => c.includes('fw1 alive'),
      { timeoutMs: DETECT_MS, what: 'fw1 alive again' },
    );
    expect(await programmer.apply([redirect(fw1, fw2)], [ROUTER], false)).toEqual([]);
    expect(await routeVia()).toBe(fw1.ip);
    expect(liveness.processStarts).toBe(1);
    expect(programmer.ipProcesses - before.ip).toBe(0);
    liveness.stop();
  });

  it('falls back to one ping process per probe and still detects the failure', async () => {
    const { liveness, changes } = await watching('ping');
    const before = liveness.processStarts;
    expect(before).toBeGreaterThan(0);
    await setAppliance(fw2, false);
    try {
      await waitFor(
        () => changes,
        (c) => c.includes('fw2 dead'),
        { timeoutMs: DETECT_MS, what: 'fw2 reported dead' },
      );
    } finally {
      await setAppliance(fw2, true);
      liveness.stop();
    }
    expect(liveness.processStarts).toBeGreaterThan(before);
  });

  it('falls back to ping processes with a log line saying why when the prober cannot start', async () => {
    const { liveness, changes, logs } = await watching('prober', '/nonexistent/python3');
    expect(liveness.mode).toBe('ping');
    expect(logs.join('\n')).toMatch(
      /persistent prober unavailable \(cannot start \/nonexistent\/python3: .*ENOENT.*\), one ping process per probe instead/,
    );
    await setAppliance(fw1, false);
    try {
      await waitFor(
        () => changes,
        (c) => c.includes('fw1 dead'),
        { timeoutMs: DETECT_MS, what: 'fw1 reported dead' },
      );
    } finally {
      await setAppliance(fw1, true);
    }
    await waitFor(
      () => changes,
      (c) => c.includes('fw1 alive'),
      { timeoutMs: DETECT_MS, what: 'fw1 alive again' },
    );
    liveness.stop();
  });
});
