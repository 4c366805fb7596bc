/**
 * Probes from a chosen source port on real namespaces: the port is on the wire (a filter that admits
 * only source port 80 lets exactly those probes through), for TCP, UDP and a matrix cell.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOk } from '../util/exec.ts';
import {
  createPair,
  type Fixture,
  type FixtureHost,
  fixturePrefix,
  nftDropInbound,
} from './fixtures/namespaces.ts';
import { ProbeServer, runMatrix } from './index.ts';

const prefix = fixturePrefix('oh4s');
let pair: Fixture;
let server: ProbeServer;
let a: FixtureHost;
let b: FixtureHost;

beforeAll(async () => {
  pair = await createPair(`${prefix}p`);
  [a, b] = pair.hosts as [FixtureHost, FixtureHost];
  server = await ProbeServer.start();
  // b admits TCP/UDP only from source port 80: what a stateless mirror rule of an ACL switch does.
  await nftDropInbound(b.ns, ['tcp sport != 80 drop', 'udp sport != 80 drop']);
});

afterAll(async () => {
  await runOk('ip', ['netns', 'exec', b.ns, 'nft', 'delete', 'table', 'inet', 'otc_filter']).catch(
    () => undefined,
  );
  await server?.stop();
  await pair?.destroy();
});

describe('source port', () => {
  it('TCP and UDP probes send from the given source port, and only then pass the filter', async () => {
    const tcp = await server.listen({ target: b, proto: 'tcp', port: 40000 });
    const udp = await server.listen({ target: b, proto: 'udp', port: 40000 });
    try {
      const hold = { mode: 'hold' as const, timeoutMs: 300 };
      expect((await server.tcp({ from: a, to: b.address, port: 40000, sport: 80 })).verdict).toBe('allowed');
      expect((await server.tcp({ from: a, to: b.address, port: 40000, ...hold })).verdict).toBe('dropped');
      expect((await server.udp({ from: a, to: b.address, port: 40000, sport: 80 })).verdict).toBe('allowed');
      expect((await server.udp({ from: a, to: b.address, port: 40000, ...hold })).verdict).toBe('dropped');
      // Again right away: the port is reusable attempt after attempt (no TIME_WAIT, SO_REUSEADDR).
      expect((await server.tcp({ from: a, to: b.address, port: 40000, sport: 80 })).verdict).toBe('allowed');
    } finally {
      await server.unlisten([tcp, udp]);
    }
  });

  it('a matrix cell carries its source port and shows it in the column', async () => {
    const result = await runMatrix(
      server,
      [
        { from: a, to: b, proto: 'tcp', port: 40001, sport: 80, expected: 'allowed' },
        { from: a, to: b, proto: 'udp', port: 40001, sport: 80, expected: 'allowed' },
        { from: a, to: b, proto: 'tcp', port: 40001, expected: 'blocked' },
      ],
      { holdMs: 300 },
    );
    expect(result.mismatches).toEqual([]);
    expect(result.columns).toEqual(['tcp/40001 sport 80', 'udp/40001 sport 80', 'tcp/40001']);
  });

  it('a source port already taken by a listener is an error, never a drop', async () => {
    const listener = await server.listen({ target: a, proto: 'tcp', port: 80 });
    try {
      const r = await server.tcp({ from: a, to: b.address, port: 40000, sport: 80 });
      expect(r.verdict).toBe('error');
      expect(r.detail).toMatch(/source port 80: EADDRINUSE/);
    } finally {
      await server.unlisten(listener);
    }
  });
});
