/**
 * A failed programming pass is retried by the agent itself. Before, the agent only marked a full
 * read for its next pass, and the next pass came with the next controller update: a quiet lab (the
 * SG-1 lab right after provisioning) kept a VM without its security rules, i.e. default allow, for
 * as long as nothing else changed. Counts, no kernel, no controller: the real Agent on the in-memory
 * datapath (reference-impl/agent/simulated.ts) with an nft backend that fails its first script.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../harness/util/poll.ts';
import type { Entry } from '../protocol/messages.ts';
import { Agent } from './agent.ts';
import { sgDomainEntries } from './fixtures/sg-entries.ts';
import { MemoryDatapath, MemorySgBackend } from './simulated.ts';

const APP = 8_000_001;
const DB = 8_000_002;
const entries: Entry[] = [
  ...sgDomainEntries({
    domain: 'da',
    subnets: [{ id: 'a', vni: 5001, prefix: '192.0.2.0/26', gateway: '192.0.2.1' }],
    rule: { id: 'r1', from: APP, to: DB, port: 3306 },
  }),
  {
    kind: 'vport',
    id: 'd1',
    subnet: 'a',
    vni: 5001,
    mac: '02:00:00:00:00:01',
    ip: '192.0.2.11',
    groups: [DB],
  },
];

/** Fails its first `failures` scripts as `nft -f` would (an error text), then applies. */
class FlakySgBackend extends MemorySgBackend {
  failed = 0;
  constructor(private failures: number) {
    super();
  }
  override async run(): Promise<string | undefined> {
    this.scripts++;
    if (this.failures > 0) {
      this.failures--;
      this.failed++;
      return 'Error: Could not process rule: Resource temporarily unavailable';
    }
    return undefined;
  }
}

const agentWith = (security: MemorySgBackend) =>
  new Agent({
    prefix: 'oh13r-',
    hypervisor: 'hv1',
    hvNetns: undefined,
    zone: 'z1',
    vtep: '10.0.1.2',
    mtu: 1450,
    controllers: [],
    auditMs: 3_600_000,
    datapath: { kernel: new MemoryDatapath(), security },
  });

describe('agent: a failed pass is retried without waiting for the controller', () => {
  it('programs the security rules after a failed nft script, with no new update', async () => {
    const security = new FlakySgBackend(2);
    const agent = agentWith(security);
    try {
      const firstErrors = await agent.programEntries(entries);
      expect(firstErrors.join()).toMatch(/security groups.*Resource temporarily unavailable/);
      // No further entries arrive: the agent's own retries (backing off) must get the rules in.
      await waitFor(
        () => security.counts(),
        (c) => c.rules > 0,
        { timeoutMs: 30_000, intervalMs: 50, what: 'security rules programmed after the failures' },
      );
      await agent.idle();
      expect(agent.stats.lastErrors).toEqual([]);
      expect(security.failed).toBe(2);
      // One script per pass: the two failures and the one that applied.
      expect(security.scripts).toBe(3);
      expect(agent.stats.retries).toBe(2);
      // The rule, the conntrack accept and the default drop; the db member in its set.
      expect(security.counts()).toEqual({ rules: 3, elements: 2 });
    } finally {
      agent.stop();
    }
  });

  it('runs no retry pass when programming succeeds', async () => {
    const security = new FlakySgBackend(0);
    const agent = agentWith(security);
    try {
      expect(await agent.programEntries(entries)).toEqual([]);
      expect(security.scripts).toBe(1);
      expect(agent.stats.retries).toBe(0);
    } finally {
      agent.stop();
    }
  });
});
