/**
 * Small namespace fixtures for the traffic engine's tests and benchmark (no lab runtime needed):
 * hosts on one bridge (the bridge in its own namespace) and point-to-point pairs. Everything is named
 * with the caller's prefix and removed by `destroy()`.
 */
import { ip, netnsAdd, netnsDelete, vethBetween } from '../kernel/netns.ts';
import { runOk } from '../util/exec.ts';
import type { MatrixEndpoint } from './matrix.ts';

export interface FixtureHost extends MatrixEndpoint {
  /** The named namespace. */
  ns: string;
  ifname: string;
  mac: string;
}

export interface Fixture {
  hosts: FixtureHost[];
  /** Extra namespaces (the bridge namespace). */
  others: string[];
  destroy(): Promise<void>;
}

/** A unique prefix for this process: `<base><pid36>` (keep `base` short: interface names are ≤ 15). */
export function fixturePrefix(base: string): string {
  return `${base}${process.pid.toString(36)}`;
}

async function macOf(ns: string, ifname: string): Promise<string> {
  const out = await runOk('ip', ['-n', ns, '-j', 'link', 'show', ifname]);
  const [link] = JSON.parse(out) as Array<{ address: string }>;
  return link?.address ?? '';
}

/**
 * `count` hosts, each `eth0` with `<subnet>.<base+i>/24`, all plugged into bridge `br0` in the namespace
 * `<prefix>br`. Hosts are `<prefix>h<i>`.
 */
export async function createBridgedHosts(
  prefix: string,
  count: number,
  options: { subnet?: string; firstHost?: number } = {},
): Promise<Fixture> {
  const subnet = options.subnet ?? '198.51.100';
  const first = options.firstHost ?? 10;
  const bridgeNs = `${prefix}br`;
  const created: string[] = [];
  const destroy = async () => {
    await Promise.all(created.map((ns) => netnsDelete(ns)));
  };
  try {
    await netnsAdd(bridgeNs);
    created.push(bridgeNs);
    await ip(bridgeNs, ['link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    await ip(bridgeNs, ['link', 'set', 'br0', 'up']);
    const hosts: FixtureHost[] = [];
    for (let i = 0; i < count; i += 1) {
      const ns = `${prefix}h${i}`;
      await netnsAdd(ns);
      created.push(ns);
      await vethBetween({ ns, ifname: 'eth0' }, { ns: bridgeNs, ifname: `p${i}` });
      await ip(bridgeNs, ['link', 'set', `p${i}`, 'master', 'br0']);
      const address = `${subnet}.${first + i}`;
      await ip(ns, ['addr', 'add', `${address}/24`, 'dev', 'eth0']);
      hosts.push({
        name: `h${i}`,
        ns,
        netnsPath: `/run/netns/${ns}`,
        address,
        ifname: 'eth0',
        mac: await macOf(ns, 'eth0'),
      });
    }
    return { hosts, others: [bridgeNs], destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

/** Two namespaces `<prefix>a`/`<prefix>b` joined by a veth (`eth0` both ends), 192.0.2.1/.2 /24. */
export async function createPair(prefix: string): Promise<Fixture> {
  const a = `${prefix}a`;
  const b = `${prefix}b`;
  const created: string[] = [];
  const destroy = async () => {
    await Promise.all(created.map((ns) => netnsDelete(ns)));
  };
  try {
    for (const ns of [a, b]) {
      await netnsAdd(ns);
      created.push(ns);
    }
    await vethBetween({ ns: a, ifname: 'eth0' }, { ns: b, ifname: 'eth0' });
    await ip(a, ['addr', 'add', '192.0.2.1/24', 'dev', 'eth0']);
    await ip(b, ['addr', 'add', '192.0.2.2/24', 'dev', 'eth0']);
    const hosts: FixtureHost[] = [];
    for (const [ns, name, address] of [
      [a, 'a', '192.0.2.1'],
      [b, 'b', '192.0.2.2'],
    ] as const) {
      hosts.push({
        name,
        ns,
        netnsPath: `/run/netns/${ns}`,
        address,
        ifname: 'eth0',
        mac: await macOf(ns, 'eth0'),
      });
    }
    return { hosts, others: [], destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

/** Loads an nftables ruleset (text) into a namespace. */
export async function nftLoad(ns: string, ruleset: string): Promise<void> {
  await runOk('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: ruleset });
}

/** Adds `rules` (nft rule text, e.g. `tcp dport 443 drop`) to an input-hook chain in `ns`, one batch. */
export async function nftDropInbound(ns: string, rules: string[]): Promise<void> {
  const text = [
    'table inet otc_filter {',
    '  chain input_hook {',
    '    type filter hook input priority 0; policy accept;',
    ...rules.map((r) => `    ${r}`),
    '  }',
    '}',
  ].join('\n');
  await nftLoad(ns, text);
}
