/**
 * NAT, redirections and the VXLAN receive rules start no `nft` process once the agent's nftables
 * session is up (nft-session.ts), as security programming does (security-processes.test.ts): a
 * floating IP moving between hypervisors (and back, on the uplinks it left) is one session batch on
 * each, a redirection's port change is one batch, and the kernel holds the new state (read back with
 * the nft CLI, not the session).
 * Without the session the same change costs exactly one `nft` process and still applies. Counts on
 * real nftables, never timings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runJson, runOk } from '../../harness/util/exec.ts';
import type { Entry } from '../protocol/messages.ts';
import { natSubnet, redirectEntry } from './fixtures/nat-redirect-entries.ts';
import { Kernel, VXLAN_RX_TABLE } from './kernel.ts';
import { domainNsName } from './model.ts';
import { NAT_TABLE, NatProgrammer, uplinkDevName } from './nat.ts';
import { agentNftSession, nftProcesses } from './nft-session.ts';
import { REDIRECT_TABLE, RedirectProgrammer } from './redirect.ts';

const PREFIX = `oh25p${process.pid % 10_000}-`;
const HVS = ['hv1', 'hv2'] as const;
const hvNs = (hv: string) => `${PREFIX}${hv}`;
const routerNs = (hv: string) => domainNsName({ prefix: PREFIX, hypervisor: hv }, 'd1');
const FIP = '198.18.0.5';
/** The fixture redirection's appliance VNI (its policy route points at br<vni>). */
const APPLIANCE_VNI = 9109;

/** Domain d1 without PNAT (only a floating IP gives a hypervisor an uplink), one VM per hypervisor. */
function natEntries(hv: string, fipOn: string): Entry[] {
  const vm = hv === 'hv1' ? { id: 'v1', mac: '02:00:00:00:00:01', ip: '10.9.0.5' } : undefined;
  const other = hv === 'hv2' ? { id: 'v2', mac: '02:00:00:00:00:02', ip: '10.9.0.6' } : undefined;
  const own = vm ?? other;
  if (!own) throw new Error(`no VM on ${hv}`);
  return [
    { kind: 'domain', id: 'd1', tenant: 't' },
    natSubnet,
    { kind: 'vport', subnet: 's1', vni: 10, ...own, ...(fipOn === hv ? { floatingIp: FIP } : {}) },
  ];
}

const redirect = (port: number): Entry => redirectEntry({ ports: [port, port] });

/** A table as the nft CLI lists it (not through the session under test). */
const listed = (ns: string, family: string, table: string) =>
  runOk('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', family, table]);

describe('NAT, redirections and VXLAN receive rules: nft processes per change', () => {
  beforeAll(async () => {
    for (const hv of HVS) {
      await runOk('ip', ['netns', 'add', hvNs(hv)]);
      await runOk('ip', ['netns', 'add', routerNs(hv)]);
    }
    // The redirection's policy route points at the appliance's bridge.
    await runOk('ip', ['-n', routerNs('hv1'), 'link', 'add', `br${APPLIANCE_VNI}`, 'up', 'type', 'bridge']);
  });
  afterAll(async () => {
    for (const hv of HVS) {
      await run('ip', ['netns', 'del', routerNs(hv)]);
      await run('ip', ['netns', 'del', hvNs(hv)]);
    }
  });

  it('moves a floating IP between hypervisors and back with no nft process, one batch each', async () => {
    await agentNftSession.pid();
    expect(agentNftSession.available, agentNftSession.unavailableReason).toBe(true);
    const nat = Object.fromEntries(
      HVS.map((hv) => [hv, new NatProgrammer({ prefix: PREFIX, hypervisor: hv, hvNetns: hvNs(hv) })]),
    ) as Record<(typeof HVS)[number], NatProgrammer>;
    const apply = (hv: (typeof HVS)[number], fipOn: string, full: boolean) =>
      nat[hv].apply(natEntries(hv, fipOn), [routerNs(hv)], full);

    const before = nftProcesses.count;
    for (const hv of HVS) expect(await apply(hv, 'hv1', true)).toEqual([]);
    expect(nftProcesses.count - before).toBe(0);
    expect(await listed(routerNs('hv1'), 'ip', NAT_TABLE)).toContain(`ip daddr ${FIP} dnat to 10.9.0.5`);

    // The move: the floating IP leaves hv1's VM for hv2's (hv2 gets its uplink by `ip`, and its table
    // in one batch). hv1 keeps its uplink, with a table that translates nothing.
    const requests = agentNftSession.requests;
    const beforeMove = nftProcesses.count;
    for (const hv of HVS) expect(await apply(hv, 'hv2', false)).toEqual([]);
    expect(nftProcesses.count - beforeMove).toBe(0);
    expect(agentNftSession.requests - requests).toBe(2);
    const uplink = runJson<unknown[]>('ip', ['-n', hvNs('hv1'), '-j', 'link', 'show', uplinkDevName('d1')]);
    expect(await uplink).toHaveLength(1);
    expect(await listed(routerNs('hv1'), 'ip', NAT_TABLE)).not.toContain(FIP);
    expect(await listed(routerNs('hv2'), 'ip', NAT_TABLE)).toContain(`ip daddr ${FIP} dnat to 10.9.0.6`);
    // The hypervisors' routes moved with it (no kernel read: the programmer knows what it wrote).
    const fipRoutes = (hv: string) =>
      runJson<unknown[]>('ip', ['-n', hvNs(hv), '-j', 'route', 'show', `${FIP}/32`]);
    expect(await fipRoutes('hv1')).toHaveLength(0);
    expect(await fipRoutes('hv2')).toHaveLength(1);

    // And back, both uplinks there now: one batch per hypervisor, nothing read, no nft process.
    const requestsBack = agentNftSession.requests;
    for (const hv of HVS) expect(await apply(hv, 'hv1', false)).toEqual([]);
    expect(nftProcesses.count - beforeMove).toBe(0);
    expect(agentNftSession.requests - requestsBack).toBe(2);
    expect(await listed(routerNs('hv1'), 'ip', NAT_TABLE)).toContain(`ip daddr ${FIP} dnat to 10.9.0.5`);
    expect(await listed(routerNs('hv2'), 'ip', NAT_TABLE)).not.toContain(FIP);
    expect(await fipRoutes('hv1')).toHaveLength(1);
    expect(await fipRoutes('hv2')).toHaveLength(0);
  });

  it('changes a redirection with no nft process, and with one when the session is missing', async () => {
    const ns = routerNs('hv1');
    const programmer = new RedirectProgrammer({ prefix: PREFIX, hypervisor: 'hv1' });
    const before = nftProcesses.count;
    expect(await programmer.apply([redirect(80)], [ns], true)).toEqual([]);
    expect(nftProcesses.count - before).toBe(0);

    const requests = agentNftSession.requests;
    expect(await programmer.apply([redirect(8080)], [ns], false)).toEqual([]);
    expect(nftProcesses.count - before).toBe(0);
    expect(agentNftSession.requests - requests).toBe(1);
    expect(await listed(ns, 'ip', REDIRECT_TABLE)).toContain('tcp dport 8080');

    // python3-nftables missing: one `nft` process for the same kind of change, applied all the same.
    agentNftSession.available = false;
    try {
      expect(await programmer.apply([redirect(8443)], [ns], false)).toEqual([]);
    } finally {
      agentNftSession.available = true;
    }
    expect(nftProcesses.count - before).toBe(1);
    expect(await listed(ns, 'ip', REDIRECT_TABLE)).toContain('tcp dport 8443');

    // The redirection goes: both tables removed in one batch.
    expect(await programmer.apply([], [ns], false)).toEqual([]);
    expect(nftProcesses.count - before).toBe(1);
    expect(
      (await run('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'bridge', REDIRECT_TABLE])).exitCode,
    ).not.toBe(0);
  });

  it('writes the VXLAN receive rules once, then only reads them, with no nft process', async () => {
    const kernel = new Kernel({ prefix: PREFIX, hypervisor: 'hv1', hvNetns: hvNs('hv1') });
    const before = nftProcesses.count;
    const requests = agentNftSession.requests;
    expect(await kernel.ensureVxlanRx('10.0.1.1')).toEqual([]);
    expect(await kernel.ensureVxlanRx('10.0.1.1')).toEqual([]);
    expect(nftProcesses.count - before).toBe(0);
    // read + write, then a read that finds the rule
    expect(agentNftSession.requests - requests).toBe(3);
    expect(await listed(hvNs('hv1'), 'inet', VXLAN_RX_TABLE)).toContain('otwin rfc7348-rx 10.0.1.1 4789');
  });
});
