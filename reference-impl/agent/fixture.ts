/**
 * Namespace fixtures for agent tests and benchmarks without a lab: N hypervisor namespaces on one
 * underlay bridge (in its own namespace), each with `eth1` = 10.<net>.0.<i>/24. Everything is named
 * `<prefix>…` and removed by `destroy()` (and by `cleanupPrefix` after a crash).
 */
import { run, runOk } from '../../harness/util/exec.ts';

export interface UnderlayFixture {
  prefix: string;
  switchNs: string;
  hypervisors: Array<{ name: string; ns: string; vtep: string; uplink: string }>;
  destroy(): Promise<void>;
}

export async function cleanupPrefix(prefix: string): Promise<void> {
  const list = await run('ip', ['-j', 'netns', 'list']);
  const names = list.stdout.trim()
    ? (JSON.parse(list.stdout) as Array<{ name: string }>).map((n) => n.name)
    : [];
  for (const name of names.filter((n) => n.startsWith(prefix))) {
    const pids = await run('ip', ['netns', 'pids', name]);
    for (const pid of pids.stdout
      .split('\n')
      .map(Number)
      .filter((p) => p > 0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await run('ip', ['netns', 'delete', name]);
  }
}

export async function createUnderlay(
  prefix: string,
  count: number,
  options: { mtu?: number; net?: number } = {},
): Promise<UnderlayFixture> {
  await cleanupPrefix(prefix);
  const net = options.net ?? 99;
  const mtu = options.mtu ?? 1500;
  const switchNs = `${prefix}sw`;
  await runOk('ip', ['netns', 'add', switchNs]);
  await runOk('ip', ['-n', switchNs, 'link', 'add', 'sw', 'type', 'bridge']);
  await runOk('ip', ['-n', switchNs, 'link', 'set', 'sw', 'up']);
  const hypervisors: UnderlayFixture['hypervisors'] = [];
  for (let i = 1; i <= count; i++) {
    const name = `hv${i}`;
    const ns = `${prefix}${name}`;
    const vtep = `10.${net}.0.${i}`;
    await runOk('ip', ['netns', 'add', ns]);
    await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await runOk('ip', [
      '-n',
      switchNs,
      'link',
      'add',
      `p${i}`,
      'mtu',
      String(mtu),
      'type',
      'veth',
      'peer',
      'name',
      'eth1',
      'netns',
      ns,
    ]);
    await runOk('ip', ['-n', switchNs, 'link', 'set', `p${i}`, 'master', 'sw', 'up']);
    await runOk('ip', ['-n', ns, 'link', 'set', 'eth1', 'mtu', String(mtu), 'up']);
    await runOk('ip', ['-n', ns, 'addr', 'add', `${vtep}/24`, 'dev', 'eth1']);
    await runOk('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    hypervisors.push({ name, ns, vtep, uplink: 'eth1' });
  }
  return {
    prefix,
    switchNs,
    hypervisors,
    destroy: () => cleanupPrefix(prefix),
  };
}

/** `ping` from a namespace; true when `count` replies came back. */
export async function ping(
  ns: string,
  target: string,
  options: { count?: number; timeoutS?: number } = {},
): Promise<boolean> {
  const count = options.count ?? 1;
  const result = await run('ip', [
    'netns',
    'exec',
    ns,
    'ping',
    '-n',
    '-q',
    '-c',
    String(count),
    '-W',
    String(options.timeoutS ?? 1),
    '-i',
    '0.2',
    target,
  ]);
  return result.exitCode === 0;
}
