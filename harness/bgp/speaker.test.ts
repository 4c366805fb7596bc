/**
 * Two (three) of our own speakers over real loopback sockets: session setup, announce/withdraw,
 * route reflection, MAC mobility best path, hold-timer and graceful-restart helper behaviour.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../util/poll.ts';
import { BgpSpeaker } from './speaker.ts';
import type { EvpnMacIp, PathAttributes } from './types.ts';

const speakers: BgpSpeaker[] = [];
afterEach(async () => {
  await Promise.all(speakers.splice(0).map((s) => s.close()));
});

function mk(opts: ConstructorParameters<typeof BgpSpeaker>[0]): BgpSpeaker {
  const s = new BgpSpeaker({ connectRetryMs: 200, ...opts });
  speakers.push(s);
  return s;
}

const mac = (i: number, seqRd = '192.0.2.1:100'): EvpnMacIp => ({
  afi: 'l2vpn-evpn',
  type: 2,
  rd: seqRd,
  esi: '00:00:00:00:00:00:00:00:00:00',
  ethTag: 0,
  mac: `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`,
  ip: `198.51.100.${i}`,
  labels: [100],
});

const attrs = (nh: string, extra: Partial<PathAttributes> = {}): PathAttributes => ({
  nextHop: nh,
  communities: ['65000:101'],
  extCommunities: [
    { type: 'route-target', value: '65000:100' },
    { type: 'encapsulation', tunnelType: 8 },
  ],
  ...extra,
});

const established = (s: BgpSpeaker, addr: string) =>
  waitFor(
    () => s.peer(addr)?.state,
    (st) => st === 'Established',
    { timeoutMs: 10_000, intervalMs: 20, what: `session to ${addr}` },
  );

/**
 * A graceful-restart helper holding mac(1) and mac(2) from a peer that crashed (no NOTIFICATION, the
 * TCP connection just went away), and a factory for the restarted peer (`holdEndOfRib` optional).
 */
async function helperWithCrashedPeer() {
  const helper = mk({
    localAs: 65000,
    routerId: '192.0.2.100',
    listen: { host: '127.0.0.1', port: 0 },
    peers: [{ address: '127.0.0.2', remoteAs: 65000, passive: true }],
  });
  await helper.start();
  const port = helper.listenPort!;
  const restarter = (holdEndOfRib: boolean) =>
    mk({
      localAs: 65000,
      routerId: '192.0.2.1',
      localAddress: '127.0.0.2',
      gracefulRestart: { restartTime: 30, ...(holdEndOfRib ? { restarting: true, holdEndOfRib } : {}) },
      peers: [{ address: '127.0.0.1', remoteAs: 65000, port }],
    });
  const r1 = restarter(false);
  await r1.start();
  await established(r1, '127.0.0.1');
  r1.announce([mac(1), mac(2)], attrs('192.0.2.1'));
  await waitFor(
    () => helper.locRib.size,
    (n) => n === 2,
    { timeoutMs: 5000, intervalMs: 10, what: 'routes' },
  );
  const downs: string[] = [];
  helper.on('down', (_p, reason) => downs.push(reason));
  (r1 as unknown as { states: Map<string, { peer: { conn?: { socket: { destroy(): void } } } }> }).states
    .get('127.0.0.1')!
    .peer.conn!.socket.destroy();
  await waitFor(
    () => downs.length,
    (n) => n === 1,
    { timeoutMs: 5000, intervalMs: 10, what: 'down' },
  );
  await r1.close();
  return { helper, restarter };
}

describe('BgpSpeaker over loopback', () => {
  it('establishes iBGP (active ↔ passive), exchanges, reflects and withdraws EVPN routes', async () => {
    // rr on 127.0.0.1 reflects between two clients on 127.0.0.2 and 127.0.0.3.
    const rr = mk({
      localAs: 65000,
      routerId: '192.0.2.100',
      holdTime: 3,
      listen: { host: '127.0.0.1', port: 0 },
      peers: [
        { address: '127.0.0.2', remoteAs: 65000, passive: true, routeReflectorClient: true },
        { address: '127.0.0.3', remoteAs: 65000, passive: true, routeReflectorClient: true },
      ],
      families: ['l2vpn-evpn', 'ipv4-vpn'],
    });
    await rr.start();
    const port = rr.listenPort!;
    const a = mk({
      localAs: 65000,
      routerId: '192.0.2.1',
      holdTime: 3,
      localAddress: '127.0.0.2',
      peers: [{ address: '127.0.0.1', remoteAs: 65000, port }],
      families: ['l2vpn-evpn', 'ipv4-vpn'],
    });
    const b = mk({
      localAs: 65000,
      routerId: '192.0.2.2',
      holdTime: 3,
      localAddress: '127.0.0.3',
      peers: [{ address: '127.0.0.1', remoteAs: 65000, port }],
      families: ['l2vpn-evpn', 'ipv4-vpn'],
    });
    await a.start();
    await b.start();
    await Promise.all([established(a, '127.0.0.1'), established(b, '127.0.0.1')]);
    expect(a.peer('127.0.0.1')!.negotiatedHoldTime).toBe(3);
    expect(a.peer('127.0.0.1')!.families).toEqual(['l2vpn-evpn', 'ipv4-vpn']);

    a.announce([mac(1), mac(2)], attrs('192.0.2.1'));
    a.announce(
      [{ afi: 'ipv4-vpn', rd: '65000:1', prefix: '203.0.113.0/24', labels: [100] }],
      attrs('192.0.2.1'),
    );
    await waitFor(
      () => b.locRib.size,
      (n) => n === 3,
      { timeoutMs: 5000, intervalMs: 10, what: '3 routes at b' },
    );
    const got = b.locRib.best(mac(1))!;
    expect(got.route).toEqual(mac(1));
    expect(got.attrs.nextHop).toBe('192.0.2.1');
    expect(got.attrs.communities).toEqual(['65000:101']);
    expect(got.attrs.originatorId).toBe('192.0.2.1');
    expect(got.attrs.clusterList).toEqual(['192.0.2.100']);
    expect(got.attrs.localPref).toBe(100);
    // a does not take its own routes back (ORIGINATOR_ID check), rr does not send them to a anyway.
    expect(a.adjRibIn('127.0.0.1')).toEqual([]);

    a.withdraw([mac(1)]);
    await waitFor(
      () => b.locRib.size,
      (n) => n === 2,
      { timeoutMs: 5000, intervalMs: 10, what: 'withdraw at b' },
    );
  });

  it('prefers the higher MAC mobility sequence number, then the lower next hop', async () => {
    const hub = mk({
      localAs: 65000,
      routerId: '192.0.2.100',
      listen: { host: '127.0.0.1', port: 0 },
      peers: [
        { address: '127.0.0.2', remoteAs: 65001, passive: true },
        { address: '127.0.0.3', remoteAs: 65002, passive: true },
      ],
    });
    await hub.start();
    const port = hub.listenPort!;
    const a = mk({
      localAs: 65001,
      routerId: '192.0.2.1',
      localAddress: '127.0.0.2',
      peers: [{ address: '127.0.0.1', remoteAs: 65000, port }],
    });
    const b = mk({
      localAs: 65002,
      routerId: '192.0.2.2',
      localAddress: '127.0.0.3',
      peers: [{ address: '127.0.0.1', remoteAs: 65000, port }],
    });
    await Promise.all([a.start(), b.start()]);
    await Promise.all([established(a, '127.0.0.1'), established(b, '127.0.0.1')]);
    const route = mac(5, '192.0.2.9:1');
    a.announce(
      [route],
      attrs('192.0.2.20', { extCommunities: [{ type: 'mac-mobility', seq: 1, sticky: false }] }),
    );
    await waitFor(
      () => hub.locRib.best(route)?.attrs.nextHop,
      (nh) => nh === '192.0.2.20',
      { timeoutMs: 5000, intervalMs: 10, what: 'seq 1 at hub' },
    );
    // b learns the route too; its own announcement with seq 0 loses to seq 1.
    await waitFor(
      () => b.locRib.best(route)?.peer,
      (p) => p === '127.0.0.1',
      { timeoutMs: 5000, intervalMs: 10, what: 'b learns' },
    );
    b.announce([route], attrs('192.0.2.10'));
    await new Promise((r) => setTimeout(r, 100));
    expect(b.locRib.best(route)!.peer).toBe('127.0.0.1');
    // The VM moves to b: b announces a higher sequence number and wins everywhere.
    b.announce(
      [route],
      attrs('192.0.2.10', { extCommunities: [{ type: 'mac-mobility', seq: 2, sticky: false }] }),
    );
    await waitFor(
      () => hub.locRib.best(route)?.attrs.nextHop,
      (nh) => nh === '192.0.2.10',
      { timeoutMs: 5000, intervalMs: 10, what: 'seq 2 wins' },
    );
    await waitFor(
      () => a.locRib.best(route)?.attrs.nextHop,
      (nh) => nh === '192.0.2.10',
      { timeoutMs: 5000, intervalMs: 10, what: 'seq 2 wins at a' },
    );
    // Equal sequence numbers: the lower next hop wins (a's .20 loses to b's .10, even locally at a).
    a.announce(
      [route],
      attrs('192.0.2.20', { extCommunities: [{ type: 'mac-mobility', seq: 2, sticky: false }] }),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(a.locRib.best(route)!.attrs.nextHop).toBe('192.0.2.10');
    expect(hub.locRib.best(route)!.attrs.nextHop).toBe('192.0.2.10');
    // eBGP export prepends our AS.
    expect(hub.locRib.best(route)!.attrs.asPath).toEqual([{ type: 'sequence', asns: [65002] }]);
  });

  it('keeps a graceful-restart peer’s routes stale and flushes those not relearned after End-of-RIB', async () => {
    const { helper, restarter } = await helperWithCrashedPeer();
    expect(helper.locRib.size).toBe(2);
    expect([...helper.locRib.bestPaths()].every((e) => e.stale)).toBe(true);
    const r2 = restarter(false);
    r2.announce([mac(1)], attrs('192.0.2.1'));
    await r2.start();
    await established(r2, '127.0.0.1');
    await waitFor(
      () => helper.locRib.size,
      (n) => n === 1,
      { timeoutMs: 5000, intervalMs: 10, what: 'stale flushed' },
    );
    expect(helper.locRib.best(mac(1))!.stale).toBeUndefined();
  });

  it('a restarted speaker holding End-of-RIB keeps the helper’s stale routes until it releases it', async () => {
    const { helper, restarter } = await helperWithCrashedPeer();
    // Back with only mac(1) so far: the helper relearns it and keeps mac(2) stale, since no End-of-RIB came.
    const r2 = restarter(true);
    r2.announce([mac(1)], attrs('192.0.2.1'));
    await r2.start();
    await established(r2, '127.0.0.1');
    await waitFor(
      () => helper.locRib.best(mac(1))?.stale,
      (stale) => stale === undefined,
      { timeoutMs: 5000, intervalMs: 10, what: 'mac(1) relearned' },
    );
    expect(helper.locRib.best(mac(2))?.stale).toBe(true);
    r2.releaseEndOfRib();
    await waitFor(
      () => helper.locRib.size,
      (n) => n === 1,
      { timeoutMs: 5000, intervalMs: 10, what: 'mac(2) flushed after End-of-RIB' },
    );
  });

  it('drops the session when the hold timer expires', async () => {
    const a = mk({
      localAs: 65000,
      routerId: '192.0.2.100',
      holdTime: 3,
      listen: { host: '127.0.0.1', port: 0 },
      peers: [{ address: '127.0.0.2', remoteAs: 65000, passive: true }],
    });
    await a.start();
    const b = mk({
      localAs: 65000,
      routerId: '192.0.2.1',
      holdTime: 3,
      localAddress: '127.0.0.2',
      peers: [{ address: '127.0.0.1', remoteAs: 65000, port: a.listenPort! }],
    });
    await b.start();
    await established(a, '127.0.0.2');
    const reasons: string[] = [];
    a.on('down', (_p, r) => reasons.push(r));
    // Freeze b's keepalives by pausing its timers: stop its socket from writing.
    const conn = (
      b as unknown as { states: Map<string, { peer: { conn?: { socket: { write: () => boolean } } } }> }
    ).states.get('127.0.0.1')!.peer.conn!;
    conn.socket.write = () => true;
    await waitFor(
      () => reasons.length,
      (n) => n > 0,
      { timeoutMs: 8000, intervalMs: 50, what: 'hold timer expiry' },
    );
    expect(reasons[0]).toBe('hold timer expired');
  });
});
