/**
 * The exec transport on fixture namespaces: servers started with `ip netns exec` (a runtime's exec
 * with stdin/stdout attached) serve probes, listeners and sniffs; the harness's own server enters no
 * namespace; a namespace nested in a node is opened by that node's server; what the transport cannot
 * do fails with an error naming it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBridgedHosts, type Fixture, type FixtureHost, fixturePrefix } from './fixtures/namespaces.ts';
import { type ExecNode, ProbeError, ProbeServer, resolveTransportName, startStream } from './index.ts';

const prefix = fixturePrefix('otct');
const dir = mkdtempSync(join(tmpdir(), 'otc-transport-'));
let lan: Fixture;
let server: ProbeServer;
let a: FixtureHost;
let b: FixtureHost;
let c: FixtureHost;

const enter = (ns: string) => (argv: readonly string[]) => ({ argv: ['ip', 'netns', 'exec', ns, ...argv] });

beforeAll(async () => {
  lan = await createBridgedHosts(prefix, 3);
  [a, b, c] = lan.hosts as [FixtureHost, FixtureHost, FixtureHost];
  const bridge = lan.others[0]!;
  const bridgeNode: ExecNode = { name: 'br', netnsPath: `/run/netns/${bridge}`, interactive: enter(bridge) };
  server = await ProbeServer.start({ transport: 'exec' });
  server.useNodes([
    bridgeNode,
    { name: a.name, netnsPath: a.netnsPath, interactive: enter(a.ns) },
    { name: b.name, netnsPath: b.netnsPath, interactive: enter(b.ns) },
    // c is a namespace "inside" the bridge node: the bridge's server opens it (a VM on a hypervisor).
    { name: c.name, netnsPath: c.netnsPath, within: { node: bridgeNode, netnsPath: c.netnsPath } },
  ]);
});

afterAll(async () => {
  await server?.stop();
  await lan?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('exec transport', () => {
  it('is chosen by --transport, else $OTWIN_TRANSPORT, else netns; anything else is a user error', () => {
    expect(resolveTransportName(undefined, {})).toBe('netns');
    expect(resolveTransportName(undefined, { OTWIN_TRANSPORT: 'exec' })).toBe('exec');
    expect(resolveTransportName('netns', { OTWIN_TRANSPORT: 'exec' })).toBe('netns');
    expect(() => resolveTransportName('ssh', {})).toThrow(
      /unknown traffic transport 'ssh' \(from --transport\)/,
    );
  });

  it('probes between nodes through their own servers; the harness server enters no namespace', async () => {
    const listener = await server.listen({ target: b, proto: 'tcp', port: 8080 });
    try {
      expect((await server.tcp({ from: a, to: b.address, port: 8080 })).verdict).toBe('allowed');
      expect((await server.tcp({ from: a, to: b.address, port: 8081 })).verdict).toBe('refused');
      expect((await server.icmp({ from: c, to: a.address, mode: 'positive', timeoutMs: 3000 })).verdict).toBe(
        'allowed',
      );
    } finally {
      await server.unlisten(listener);
    }
    expect((await server.stats()).namespaces).toEqual([]);
  });

  it('sniffs in a node and writes the pcap on the harness side', async () => {
    await server.prepare([b, a]);
    const pcap = join(dir, 'b.pcap');
    const sniff = await server.startSniff({
      target: b,
      iface: 'eth0',
      filter: 'udp dst port 7999',
      count: 1,
      timeoutMs: 5000,
      pcapPath: pcap,
    });
    await server.send({
      target: a,
      iface: 'eth0',
      packet: [
        { layer: 'Ether', dst: b.mac },
        { layer: 'IP', src: a.address, dst: b.address },
        { layer: 'UDP', sport: 4000, dport: 7999 },
      ],
    });
    const packets = await sniff.packets;
    expect(packets).toHaveLength(1);
    expect(existsSync(pcap)).toBe(true);
    // libpcap header (24 bytes) + one record header (16) + the frame.
    expect(readFileSync(pcap).length).toBe(24 + 16 + packets[0]!.length);
  });

  it('refuses what it cannot do with an error naming the transport', async () => {
    const stream = await startStream(server, { from: a, to: b, address: b.address, proto: 'udp' }).catch(
      (e: unknown) => e,
    );
    expect(stream).toBeInstanceOf(ProbeError);
    expect((stream as ProbeError).kind).toBe('unsupported-transport');
    expect((stream as ProbeError).message).toMatch(/exec transport/);
    const unknown = await server
      .icmp({ from: { name: 'nowhere', netnsPath: '/run/netns/none' }, to: a.address })
      .catch((e: unknown) => e);
    expect((unknown as ProbeError).message).toMatch(/exec transport: no lab node is known for nowhere/);
  });
});
