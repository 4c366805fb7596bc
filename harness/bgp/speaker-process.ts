/**
 * A BgpSpeaker in its own process, so it can run inside a lab node's network namespace
 * (`nsenter --net=<path> node bin/run-ts.js harness/bgp/speaker-process.ts '<json options>'`).
 *
 * Protocol: JSON lines. stdout carries events (`ready`, `established`, `down`, `update`, `notification`,
 * `log`, `announced`, `closed`); stdin takes commands (`announce`, `withdraw`, `synthetic`, `close`).
 * `synthetic` generates `count` EVPN type-2 routes in-process (for the 100k-route benchmark, so the
 * routes do not have to cross the pipe).
 */
import { createInterface } from 'node:readline';
import { BgpSpeaker, type SpeakerOptions } from './speaker.ts';
import type { EvpnMacIp, PathAttributes, Route } from './types.ts';

export type ProcessCommand =
  | { cmd: 'announce'; routes: Route[]; attrs: PathAttributes }
  | { cmd: 'withdraw'; routes: Route[] }
  | { cmd: 'synthetic'; count: number; rd: string; vni: number; attrs: PathAttributes; macBase?: number }
  | { cmd: 'close' };

export type ProcessEvent =
  | { ev: 'ready'; pid: number; listenPort: number | undefined }
  | { ev: 'established'; peer: ReturnType<BgpSpeaker['peers']>[number] }
  | { ev: 'down'; peer: ReturnType<BgpSpeaker['peers']>[number]; reason: string }
  | { ev: 'update'; peer: string; receivedAt: number; update: import('./codec/update.ts').DecodedUpdate }
  | { ev: 'notification'; peer: string; direction: 'sent' | 'received'; code: number; subcode: number }
  | { ev: 'log'; level: string; message: string }
  | { ev: 'announced'; count: number; drainedAt: number }
  | { ev: 'closed' };

/** Synthetic type-2 route `i` (distinct MAC and IP per index). */
export function syntheticMacIp(i: number, rd: string, vni: number): EvpnMacIp {
  const b = (n: number) => (n & 0xff).toString(16).padStart(2, '0');
  return {
    afi: 'l2vpn-evpn',
    type: 2,
    rd,
    esi: '00:00:00:00:00:00:00:00:00:00',
    ethTag: 0,
    mac: `02:${b(i >>> 24)}:${b(i >>> 16)}:${b(i >>> 8)}:${b(i)}:01`,
    ip: `10.${(i >>> 16) & 0xff}.${(i >>> 8) & 0xff}.${i & 0xff}`,
    labels: [vni],
  };
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as SpeakerOptions;
  const speaker = new BgpSpeaker(options);
  const out = (e: ProcessEvent) => process.stdout.write(`${JSON.stringify(e)}\n`);
  speaker.on('established', (peer) => out({ ev: 'established', peer }));
  speaker.on('down', (peer, reason) => out({ ev: 'down', peer, reason }));
  speaker.on('update', (e) =>
    out({ ev: 'update', peer: e.peer.address, receivedAt: e.receivedAt, update: e.update }),
  );
  speaker.on('notification', (p, direction, n) =>
    out({ ev: 'notification', peer: p.address, direction, code: n.code, subcode: n.subcode }),
  );
  speaker.on('log', (level, message) => out({ ev: 'log', level, message }));
  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await speaker.close();
    out({ ev: 'closed' });
    process.exit(0);
  };
  process.on('SIGTERM', () => void close());
  process.on('SIGINT', () => void close());
  await speaker.start();
  out({ ev: 'ready', pid: process.pid, listenPort: speaker.listenPort });
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let c: ProcessCommand;
    try {
      c = JSON.parse(line) as ProcessCommand;
    } catch {
      out({ ev: 'log', level: 'warn', message: `bad command line: ${line.slice(0, 100)}` });
      return;
    }
    if (c.cmd === 'announce') {
      speaker.announce(c.routes, c.attrs);
      void speaker
        .drained()
        .then(() => out({ ev: 'announced', count: c.routes.length, drainedAt: Date.now() }));
    } else if (c.cmd === 'withdraw') speaker.withdraw(c.routes);
    else if (c.cmd === 'synthetic') {
      const routes: Route[] = [];
      const base = c.macBase ?? 0;
      for (let i = 0; i < c.count; i++) routes.push(syntheticMacIp(base + i, c.rd, c.vni));
      speaker.announce(routes, c.attrs);
      void speaker.drained().then(() => out({ ev: 'announced', count: c.count, drainedAt: Date.now() }));
    } else if (c.cmd === 'close') void close();
  });
  // The parent going away closes stdin: stop too, never linger in a namespace.
  rl.on('close', () => void close());
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '\0')) {
  main().catch((err) => {
    process.stdout.write(
      `${JSON.stringify({ ev: 'log', level: 'error', message: String(err?.message ?? err) })}\n`,
    );
    process.exit(1);
  });
}
