/**
 * Security programming starts no process once the agent's nftables session is up (nft-session.ts):
 * first programming, a membership change and a full read all go through the one long-lived helper.
 * First programming scales with namespaces, not with VMs or members: per router namespace one read
 * (both tables at once), one batch, and no handle read (the batch echoes its rules' handles). A
 * membership change is one batch and no read; a full read of an unchanged namespace writes nothing
 * (which also proves the read parses back everything the batch installed). A helper that dies is
 * restarted and everything is read again. Counts on real nftables, never timings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runOk } from '../../harness/util/exec.ts';
import { waitFor } from '../../harness/util/poll.ts';
import type { Entry } from '../protocol/messages.ts';
import { sgDomainEntries } from './fixtures/sg-entries.ts';
import { domainNsName } from './model.ts';
import { agentNftSession, nftProcesses } from './nft-session.ts';
import { SecurityProgrammer, SG_TABLE } from './security.ts';

const PREFIX = `oh13p${process.pid % 10_000}-`;
const naming = { prefix: PREFIX, hypervisor: 'hv1', mode: 'stateful' as const };
const APP = 8_000_001;
const DB = 8_000_002;
const DOMAINS = 3;
const VMS_PER_DOMAIN = 5;

function domainEntries(i: number): Entry[] {
  const vni = 7000 + i;
  const net = `10.${70 + i}.0`;
  return [
    ...sgDomainEntries({
      domain: `d${i}`,
      subnets: [{ id: `s${i}`, vni, prefix: `${net}.0/24`, gateway: `${net}.1` }],
      rule: { id: `r${i}`, from: APP, to: DB, port: 3306 },
    }),
    ...Array.from(
      { length: VMS_PER_DOMAIN },
      (_, v): Entry => ({
        kind: 'vport',
        id: `v${i}x${v}`,
        subnet: `s${i}`,
        vni,
        mac: `02:00:00:00:0${i}:1${v}`,
        ip: `${net}.${10 + v}`,
        groups: [v % 2 ? APP : DB],
      }),
    ),
  ];
}

/** Members of group `sg` in a namespace, read with the nft CLI (not through the session under test). */
async function members(ns: string, sg: number): Promise<string[]> {
  const out = await runOk('ip', [
    'netns',
    'exec',
    ns,
    'nft',
    '-j',
    'list',
    'set',
    'inet',
    SG_TABLE,
    `g${sg}`,
  ]);
  const items = (JSON.parse(out) as { nftables: Array<{ set?: { elem?: string[] } }> }).nftables;
  return items.flatMap((i) => i.set?.elem ?? []);
}

const namespaces = Array.from({ length: DOMAINS }, (_, i) => domainNsName(naming, `d${i}`));

describe('security groups: nft processes of first programming, membership changes and full reads', () => {
  beforeAll(async () => {
    for (const ns of namespaces) await runOk('ip', ['netns', 'add', ns]);
  });
  afterAll(async () => {
    for (const ns of namespaces) await run('ip', ['netns', 'del', ns]);
  });

  it('starts no process after the session is up, whatever the VMs and namespaces', async () => {
    const entries = Array.from({ length: DOMAINS }, (_, i) => domainEntries(i)).flat();
    const helper = await agentNftSession.pid();
    expect(agentNftSession.available, agentNftSession.unavailableReason).toBe(true);
    const programmer = new SecurityProgrammer(naming);
    const before = nftProcesses.count;
    const requests = () => agentNftSession.requests;
    const requestsBefore = requests();
    expect(await programmer.apply(entries, namespaces, true)).toEqual([]);
    // Per namespace: read and batch (the batch echoes the new rules' handles). Not per VM, not per table.
    expect(nftProcesses.count - before).toBe(0);
    expect(requests() - requestsBefore).toBe(2 * DOMAINS);
    expect(programmer.applies).toBe(DOMAINS);

    // A remote member joins app in one domain: one batch there, nothing read, nothing elsewhere.
    const joined: Entry = {
      kind: 'mac',
      vni: 7001,
      mac: '02:00:00:00:01:99',
      ip: '10.71.0.99',
      vtep: '10.0.2.2',
      seq: 0,
      groups: [APP],
    };
    const afterFirst = nftProcesses.count;
    const requestsAfterFirst = requests();
    expect(await programmer.apply([...entries, joined], namespaces, false)).toEqual([]);
    expect(nftProcesses.count - afterFirst).toBe(0);
    expect(requests() - requestsAfterFirst).toBe(1);
    expect(await members(namespaces[1] as string, APP)).toContain('10.71.0.99');

    // A full read of what is already there: one read per namespace, no write, no process.
    const afterJoin = nftProcesses.count;
    const fresh = new SecurityProgrammer(naming);
    expect(await fresh.apply([...entries, joined], namespaces, true)).toEqual([]);
    expect(nftProcesses.count - afterJoin).toBe(0);
    expect(fresh.applies).toBe(0);
    expect(await agentNftSession.pid()).toBe(helper);

    // The helper dies; behind its back a member vanishes from the kernel (as if a batch in flight
    // was lost). It is restarted (one process) and the next membership change re-reads every
    // namespace, so the lost member comes back too.
    const beforeCrash = nftProcesses.count;
    const generation = agentNftSession.generation;
    process.kill(helper as number, 'SIGKILL');
    // The agent learns of the crash when the exit is reported; it restarts the helper at once.
    await waitFor(
      () => agentNftSession.generation,
      (g) => g > generation,
      { timeoutMs: 20_000, what: 'the nft session helper restarted' },
    );
    await runOk('ip', [
      'netns',
      'exec',
      namespaces[0] as string,
      'nft',
      'delete',
      'element',
      'inet',
      SG_TABLE,
      `g${DB}`,
      '{ 10.70.0.10 }',
    ]);
    const left: Entry = { ...joined, vni: 7002, mac: '02:00:00:00:02:99', ip: '10.72.0.99' };
    expect(await programmer.apply([...entries, joined, left], namespaces, false)).toEqual([]);
    expect(nftProcesses.count - beforeCrash).toBe(1);
    expect(agentNftSession.generation).toBe(generation + 1);
    expect(await members(namespaces[0] as string, DB)).toContain('10.70.0.10');
    expect(await members(namespaces[2] as string, APP)).toContain('10.72.0.99');
    expect(await agentNftSession.pid()).not.toBe(helper);
  });
});
