/**
 * First programming of security groups scales with namespaces, not with VMs or members, and costs
 * as few nft processes as it can: per router namespace one read (`nft -j list ruleset`: both tables
 * at once, it was one process per table), one `nft -f` batch, one handle read because rules were
 * added. A membership change is one batch and no read; a full read of an unchanged namespace is one
 * process and writes nothing (which also proves the one-process read parses back everything the
 * batch installed). Counts on real nftables, never timings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runOk } from '../../harness/util/exec.ts';
import type { Entry } from '../protocol/messages.ts';
import { sgDomainEntries } from './fixtures/sg-entries.ts';
import { domainNsName } from './model.ts';
import { nftProcesses, SecurityProgrammer } from './security.ts';

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

const namespaces = Array.from({ length: DOMAINS }, (_, i) => domainNsName(naming, `d${i}`));

describe('security groups: nft processes of first programming, membership changes and full reads', () => {
  beforeAll(async () => {
    for (const ns of namespaces) await runOk('ip', ['netns', 'add', ns]);
  });
  afterAll(async () => {
    for (const ns of namespaces) await run('ip', ['netns', 'del', ns]);
  });

  it('costs a fixed number of processes per namespace, whatever the VMs', async () => {
    const entries = Array.from({ length: DOMAINS }, (_, i) => domainEntries(i)).flat();
    const programmer = new SecurityProgrammer(naming);
    const before = nftProcesses.count;
    expect(await programmer.apply(entries, namespaces, true)).toEqual([]);
    // Per namespace: read, batch, handles (rules were added). Not per VM, not per table.
    expect(nftProcesses.count - before).toBe(3 * DOMAINS);
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
    expect(await programmer.apply([...entries, joined], namespaces, false)).toEqual([]);
    expect(nftProcesses.count - afterFirst).toBe(1);

    // A full read of what is already there: one process per namespace, no write.
    const afterJoin = nftProcesses.count;
    const fresh = new SecurityProgrammer(naming);
    expect(await fresh.apply([...entries, joined], namespaces, true)).toEqual([]);
    expect(nftProcesses.count - afterJoin).toBe(DOMAINS);
    expect(fresh.applies).toBe(0);
  });
});
