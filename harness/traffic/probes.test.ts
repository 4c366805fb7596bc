/**
 * The probe server on real namespaces: every verdict kind, ARP responders, crafted VXLAN frames,
 * pcaps read back by tshark, masked expectations, loss windows, crash/restart and clean shutdown.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ip, netnsAdd, netnsDelete } from '../kernel/netns.ts';
import { runOk } from '../util/exec.ts';
import { sleep } from '../util/poll.ts';
import {
  createBridgedHosts,
  createPair,
  type Fixture,
  type FixtureHost,
  fixturePrefix,
  nftDropInbound,
} from './fixtures/namespaces.ts';
import { monoNowMs, type PacketDescription, ProbeError, ProbeServer, startStream } from './index.ts';

const prefix = fixturePrefix('otcp');
let pair: Fixture;
let lan: Fixture;
let server: ProbeServer;
let a: FixtureHost;
let b: FixtureHost;
const dir = mkdtempSync(join(tmpdir(), 'otc-probes-'));

beforeAll(async () => {
  pair = await createPair(`${prefix}p`);
  lan = await createBridgedHosts(`${prefix}l`, 3);
  [a, b] = pair.hosts as [FixtureHost, FixtureHost];
  server = await ProbeServer.start();
});

afterAll(async () => {
  await server?.stop();
  await pair?.destroy();
  await lan?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('verdicts', () => {
  it('TCP: allowed with a listener, refused on a closed port, dropped behind an nftables drop', async () => {
    const listener = await server.listen({ target: b, proto: 'tcp', port: 8080 });
    expect(listener.opened).toBe(true);
    expect((await server.tcp({ from: a, to: b.address, port: 8080 })).verdict).toBe('allowed');
    const refused = await server.tcp({ from: a, to: b.address, port: 8081 });
    expect(refused.verdict).toBe('refused');
    expect(refused.detail).toBe('ECONNREFUSED');
    await nftDropInbound(b.ns, ['tcp dport 8080 drop', 'udp dport 5353 drop', 'icmp type echo-request drop']);
    try {
      const dropped = await server.tcp({ from: a, to: b.address, port: 8080, mode: 'hold', timeoutMs: 200 });
      expect(dropped.verdict).toBe('dropped');
      expect(dropped.elapsedMs).toBeGreaterThanOrEqual(195);
    } finally {
      await runOk('ip', ['netns', 'exec', b.ns, 'nft', 'delete', 'table', 'inet', 'otc_filter']);
      await server.unlisten(listener);
    }
  });

  it('UDP echo: allowed with the engine responder, dropped behind nftables, refused on a closed port', async () => {
    const responder = await server.listen({ target: b, proto: 'udp', port: 5353 });
    try {
      const ok = await server.udp({ from: a, to: b.address, port: 5353 });
      expect(ok.verdict).toBe('allowed');
      expect(ok.rttMs).toBeGreaterThan(0);
      expect((await server.udp({ from: a, to: b.address, port: 5354, timeoutMs: 300 })).verdict).toBe(
        'refused',
      );
      await nftDropInbound(b.ns, ['udp dport 5353 drop']);
      expect((await server.udp({ from: a, to: b.address, port: 5353, timeoutMs: 300 })).verdict).toBe(
        'dropped',
      );
    } finally {
      await runOk('ip', ['netns', 'exec', b.ns, 'nft', 'delete', 'table', 'inet', 'otc_filter']);
      await server.unlisten(responder);
    }
  });

  it('ICMP echo: allowed with an rtt, dropped behind nftables', async () => {
    const ok = await server.icmp({ from: a, to: b.address });
    expect(ok.verdict).toBe('allowed');
    expect(ok.rttMs).toBeGreaterThan(0);
    await nftDropInbound(b.ns, ['icmp type echo-request drop']);
    try {
      expect((await server.icmp({ from: a, to: b.address, timeoutMs: 300 })).verdict).toBe('dropped');
    } finally {
      await runOk('ip', ['netns', 'exec', b.ns, 'nft', 'delete', 'table', 'inet', 'otc_filter']);
    }
  });

  it('positive mode retries until allowed within the deadline', async () => {
    await nftDropInbound(b.ns, ['icmp type echo-request drop']);
    const removal = sleep(300).then(() =>
      runOk('ip', ['netns', 'exec', b.ns, 'nft', 'delete', 'table', 'inet', 'otc_filter']),
    );
    const result = await server.icmp({
      from: a,
      to: b.address,
      mode: 'positive',
      timeoutMs: 3000,
      attemptMs: 100,
    });
    await removal;
    expect(result.verdict).toBe('allowed');
    expect(result.attempts).toBeGreaterThan(1);
  });

  it('an unknown namespace is a clear error', async () => {
    const err = await server
      .tcp({ from: { name: 'ghost', netnsPath: `/run/netns/${prefix}-ghost` }, to: '192.0.2.9', port: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProbeError);
    expect((err as ProbeError).kind).toBe('unknown-namespace');
    expect((err as ProbeError).message).toMatch(/does not exist/);
  });
});

describe('ARP', () => {
  it('names the namespace and interface that answered', async () => {
    const [h0, h1, h2] = lan.hosts as [FixtureHost, FixtureHost, FixtureHost];
    const toH1 = await server.arp({
      from: h0,
      iface: 'eth0',
      ip: h1.address,
      candidates: lan.hosts,
      timeoutMs: 300,
    });
    expect(toH1.answered).toBe(true);
    expect(toH1.replies[0]).toMatchObject({ mac: h1.mac, node: 'h1', ifname: 'eth0' });
    // Move the address to h2: now h2 answers for it.
    await ip(h1.ns, ['addr', 'del', `${h1.address}/24`, 'dev', 'eth0']);
    await ip(h2.ns, ['addr', 'add', `${h1.address}/32`, 'dev', 'eth0']);
    try {
      const moved = await server.arp({
        from: h0,
        iface: 'eth0',
        ip: h1.address,
        candidates: lan.hosts,
        timeoutMs: 300,
        all: true, // every reply in the window: only h2 may answer
      });
      expect(moved.replies.map((r) => r.node)).toEqual(['h2']);
      expect(moved.replies[0]?.mac).toBe(h2.mac);
    } finally {
      await ip(h2.ns, ['addr', 'del', `${h1.address}/32`, 'dev', 'eth0']);
      await ip(h1.ns, ['addr', 'add', `${h1.address}/24`, 'dev', 'eth0']);
    }
    const nobody = await server.arp({ from: h0, iface: 'eth0', ip: '198.51.100.250', timeoutMs: 300 });
    expect(nobody.answered).toBe(false);
  });
});

function vxlanFrame(vni: number, ttl = 64): PacketDescription {
  return [
    { layer: 'Ether', dst: b.mac },
    { layer: 'IP', src: a.address, dst: b.address, ttl },
    { layer: 'UDP', sport: 40000, dport: 4789 },
    { layer: 'VXLAN', vni, flags: 0x08 },
    { layer: 'Ether', src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' },
    { layer: 'IP', src: '203.0.113.1', dst: '203.0.113.2' },
    { layer: 'ICMP', id: 7, seq: 1 },
  ];
}

describe('crafted frames, sniffing and captures', () => {
  it('a VXLAN frame with a chosen VNI arrives with that VNI (decoded, and in a pcap read by tshark)', async () => {
    const pcap = join(dir, 'vxlan.pcap');
    const capture = await server.capture({ target: b, iface: 'eth0', filter: 'udp port 4789', path: pcap });
    const sniff = await server.startSniff({
      target: b,
      iface: 'eth0',
      filter: 'udp port 4789',
      count: 1,
      timeoutMs: 3000,
    });
    await server.send({ target: a, iface: 'eth0', packet: vxlanFrame(4242) });
    const packets = await sniff.packets;
    const result = await capture.stop();
    expect(packets).toHaveLength(1);
    const vxlan = packets[0]!.layers.find((l) => l.layer === 'VXLAN');
    expect(vxlan?.vni).toBe(4242);
    expect(packets[0]!.layers[0]).toMatchObject({ layer: 'Ether', src: a.mac, dst: b.mac });
    expect(packets[0]!.direction).toBe('in');
    expect(result.packets).toBe(1);
    expect(existsSync(pcap)).toBe(true);
    const tshark = JSON.parse(await runOk('tshark', ['-r', pcap, '-T', 'json'])) as Array<{
      _source: { layers: { vxlan?: Record<string, string> } };
    }>;
    expect(tshark).toHaveLength(1);
    expect(tshark[0]!._source.layers.vxlan?.['vxlan.vni']).toBe('4242');
  });

  it('a sniffer armed before its interface exists, and bound while it is down, captures once it is up', async () => {
    // A VM's namespace is enterable as soon as it is mounted; its eth0 arrives (down) a moment later.
    const late = `${prefix}late`;
    await netnsAdd(late);
    try {
      const target = { name: 'late', netnsPath: `/run/netns/${late}` };
      const armed = server.startSniff({
        target,
        iface: 'eth0',
        filter: 'udp port 4789',
        count: 1,
        timeoutMs: 5000,
      });
      await sleep(200);
      await ip(late, ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']);
      const sniff = await armed;
      await ip(late, ['link', 'set', 'peer0', 'up']);
      await ip(late, ['link', 'set', 'eth0', 'up']);
      await server.send({ target, iface: 'peer0', packet: vxlanFrame(4343) });
      const packets = await sniff.packets;
      expect(packets.map((p) => p.layers.find((l) => l.layer === 'VXLAN')?.vni)).toEqual([4343]);
    } finally {
      await netnsDelete(late);
    }
  });

  it('a masked expectation passes when only don’t-care fields differ and fails otherwise', async () => {
    const sendTtl33 = () => server.send({ target: a, iface: 'eth0', packet: vxlanFrame(77, 33) });
    const expected = { packet: vxlanFrame(77, 64), dontCare: ['Ether.src', 'IP[0].ttl', 'IP[0].chksum'] };
    const common = { target: b, iface: 'eth0', filter: 'udp port 4789', timeoutMs: 1500 };
    const pass = await server.expectPackets({ ...common, expected }, sendTtl33);
    expect(pass.reason).toBeUndefined();
    expect(pass.ok).toBe(true);
    expect(pass.matched).toBe(1);

    const strict = await server.expectPackets(
      { ...common, expected: { packet: vxlanFrame(77, 64), dontCare: ['Ether.src'] } },
      sendTtl33,
    );
    expect(strict.ok).toBe(false);
    expect(strict.closest?.map((d) => d.path)).toEqual(expect.arrayContaining(['IP.ttl', 'IP.chksum']));
    expect(strict.reason).toMatch(/IP\.ttl/);

    const wrongVni = await server.expectPackets({ ...common, timeoutMs: 800, expected }, () =>
      server.send({ target: a, iface: 'eth0', packet: vxlanFrame(78, 33) }),
    );
    expect(wrongVni.ok).toBe(false);
    const paths = wrongVni.closest?.map((d) => d.path) ?? [];
    expect(paths).toContain('VXLAN.vni');
    expect(paths).not.toContain('IP.ttl');
  });

  it('"no other packets" fails when an extra packet shows up', async () => {
    const expected = { packet: vxlanFrame(90), dontCare: ['Ether.src', 'IP[0].chksum'] };
    const common = { target: b, iface: 'eth0', filter: 'udp port 4789', timeoutMs: 800, noOthers: true };
    const only = await server.expectPackets({ ...common, expected }, () =>
      server.send({ target: a, iface: 'eth0', packet: vxlanFrame(90) }),
    );
    expect(only.ok).toBe(true);
    const extra = await server.expectPackets({ ...common, expected }, async () => {
      await server.send({ target: a, iface: 'eth0', packet: vxlanFrame(90) });
      await server.send({ target: a, iface: 'eth0', packet: vxlanFrame(91) });
    });
    expect(extra.ok).toBe(false);
    expect(extra.matched).toBe(1);
    expect(extra.reason).toMatch(/1 other packet/);
  });

  it('rejects unknown layers and fields instead of evaluating anything', async () => {
    const bad = await server
      .build([{ layer: '__import__' } as unknown as PacketDescription[number]])
      .catch((e: unknown) => e);
    expect((bad as ProbeError).kind).toBe('bad-request');
    expect((bad as ProbeError).message).toMatch(/unknown layer/);
    const badField = await server
      .build([{ layer: 'IP', bogus: 1 } as unknown as PacketDescription[number]])
      .catch((e: unknown) => e);
    expect((badField as ProbeError).message).toMatch(/unknown field 'bogus'/);
  });
});

describe('streams', () => {
  // These tests measure the stream engine, not ARP. After a veth end comes back up, the peer's
  // transmit queue is re-activated asynchronously (linkwatch), and an ARP reply sent in that window is
  // dropped: resolution then waits for the kernel's 1 s retry, which would land inside the measured
  // gap (and the next test's stream). Permanent neighbour entries skip ARP; the end that is set down
  // loses its entries, so it gets it back in the same `ip` call that brings the link up.
  beforeAll(async () => {
    await ip(a.ns, ['neigh', 'replace', b.address, 'lladdr', b.mac, 'nud', 'permanent', 'dev', 'eth0']);
    await ip(b.ns, ['neigh', 'replace', a.address, 'lladdr', a.mac, 'nud', 'permanent', 'dev', 'eth0']);
  });
  afterAll(async () => {
    await ip(a.ns, ['neigh', 'del', b.address, 'dev', 'eth0']);
    await ip(b.ns, ['neigh', 'del', a.address, 'dev', 'eth0']);
  });

  it('a link downed for ~500 ms shows as a gap of that length', async () => {
    const stream = await startStream(server, {
      from: a,
      to: b,
      address: b.address,
      ratePps: 1000,
      port: 9700,
    });
    await sleep(300);
    // The link goes down somewhere inside the first `ip` call and up inside the second; on a busy
    // machine each call can take hundreds of ms. The gap is judged against what certainly happened:
    // down for at least [downReturned, upCalled], at most [downCalled, upReturned].
    const downCalled = monoNowMs();
    await ip(a.ns, ['link', 'set', 'eth0', 'down']);
    const downReturned = monoNowMs();
    await sleep(500);
    const upCalled = monoNowMs();
    await runOk('ip', ['-n', a.ns, '-batch', '-'], {
      input: `link set eth0 up\nneigh replace ${b.address} lladdr ${b.mac} nud permanent dev eth0\n`,
    });
    const upReturned = monoNowMs();
    await sleep(400);
    const report = await stream.stop();
    expect(report.sent).toBeGreaterThan(900);
    expect(report.longestGap).not.toBeNull();
    const gap = report.longestGap!;
    // One packet interval (1 ms) of slack on the short side; on the long side also the time for the
    // first packet after the link is up to arrive (a scheduling delay of the sender).
    expect(gap.ms).toBeGreaterThanOrEqual(upCalled - downReturned - 1);
    expect(gap.ms).toBeLessThanOrEqual(upReturned - downCalled + 100);
    // The gap sits where the link was down: it starts with the last arrival before the down.
    expect(gap.startMonoMs).toBeLessThanOrEqual(downReturned + 1);
    expect(gap.startMonoMs).toBeGreaterThanOrEqual(downCalled - 100);
    expect(report.lost).toBeGreaterThan(300);
    expect(report.lossMs).toBeLessThanOrEqual(upReturned - downCalled + 100);
  });

  it('an ICMP stream without faults loses nothing', async () => {
    // The previous test flapped the link: start once the pair answers again.
    expect((await server.icmp({ from: a, to: b.address, mode: 'positive', timeoutMs: 5000 })).verdict).toBe(
      'allowed',
    );
    const stream = await startStream(server, {
      from: a,
      to: b,
      address: b.address,
      proto: 'icmp',
      ratePps: 500,
    });
    await sleep(400);
    const report = await stream.stop();
    expect(report.sent).toBeGreaterThan(150);
    expect(report.lost).toBe(0);
    expect(report.received).toBe(report.sent);
    // On a busy machine the sender itself may pause (a gap with nothing sent in it); the longest gap
    // still loses no probe: it is between consecutive sequence numbers.
    expect(report.longestGap!.firstSeqAfter - report.longestGap!.lastSeqBefore).toBe(1);
  });
});

describe('server lifecycle', () => {
  it('reports a missing scapy naming python3-scapy, and a missing interpreter', async () => {
    // -S keeps dist-packages (where Debian's scapy lives) off sys.path.
    const noScapy = await ProbeServer.start({ pythonOptions: ['-S'] }).catch((e: unknown) => e);
    expect((noScapy as ProbeError).kind).toBe('missing-scapy');
    expect((noScapy as ProbeError).message).toMatch(/python3-scapy/);
    const noPython = await ProbeServer.start({ pythonPath: `/nonexistent/${prefix}/python3` }).catch(
      (e: unknown) => e,
    );
    expect((noPython as ProbeError).kind).toBe('missing-python');
  });

  it('restarts once after a crash keeping stderr, then reports the crash', async () => {
    const s = await ProbeServer.start({ prewarmScapy: false });
    try {
      const firstPid = s.pid!;
      const pending = s.sniff({ target: b, iface: 'eth0', timeoutMs: 10_000 });
      await s.crashForTest();
      const err = await pending.catch((e: unknown) => e);
      expect((err as ProbeError).kind).toBe('crashed');
      expect((await s.icmp({ from: a, to: b.address })).verdict).toBe('allowed');
      expect(s.restartCount).toBe(1);
      expect(s.pid).not.toBe(firstPid);
      expect(s.crashLog).toMatch(/crash requested/);
      process.kill(s.pid!, 'SIGKILL');
      await sleep(200);
      const second = await s.icmp({ from: a, to: b.address }).catch((e: unknown) => e);
      expect((second as ProbeError).kind).toBe('crashed');
      expect((second as ProbeError).message).toMatch(/not restarting again/);
    } finally {
      await s.stop();
    }
  });

  it('leaves no process, listener or handle behind after stop', async () => {
    const processHandles = () => process.getActiveResourcesInfo().filter((h) => h === 'ProcessWrap').length;
    const before = processHandles();
    const s = await ProbeServer.start();
    expect(processHandles()).toBe(before + 1);
    const pid = s.pid!;
    await s.listen({ target: b, proto: 'tcp', port: 7070 });
    await s.listen({ target: b, proto: 'udp', port: 7071 });
    const capture = await s.capture({ target: b, iface: 'eth0', path: join(dir, 'left.pcap') });
    void capture;
    await startStream(s, { from: a, to: b, address: b.address, port: 7072, ratePps: 100 });
    const listening = await runOk('ip', ['netns', 'exec', b.ns, 'ss', '-Hlnu', '-Hlnt']);
    expect(listening).toMatch(/:7070/);
    await s.stop();
    expect(processHandles()).toBe(before);
    expect(existsSync(`/proc/${pid}`)).toBe(false); // gone, not a zombie
    const after = await runOk('ip', ['netns', 'exec', b.ns, 'ss', '-Hanut']);
    expect(after).not.toMatch(/:707[012]\b/);
  });
});
