/**
 * Thin, typed wrappers over iproute2 for network namespaces. Shared by the netns runtime and by test
 * fixtures that build small namespace setups of their own. Everything uses `ip -j` JSON, never text.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { type ExecResult, run, runJson, runOk } from '../util/exec.ts';

export interface IpLink {
  ifindex: number;
  ifname: string;
  link?: string;
  flags: string[];
  mtu: number;
  operstate: string;
  address?: string;
  link_netnsid?: number;
}

export interface IpAddrInfo {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
}

export interface IpAddr extends IpLink {
  addr_info: IpAddrInfo[];
}

export async function netnsList(): Promise<string[]> {
  const list = await runJson<Array<{ name: string }>>('ip', ['-j', 'netns', 'list']);
  return list.map((entry) => entry.name);
}

export async function netnsExists(name: string): Promise<boolean> {
  return (await netnsList()).includes(name);
}

export async function netnsAdd(name: string): Promise<void> {
  await runOk('ip', ['netns', 'add', name]);
  await runOk('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Deletes a namespace if present; never fails when it is already gone. */
export async function netnsDelete(name: string): Promise<void> {
  const result = await run('ip', ['netns', 'delete', name]);
  if (result.exitCode !== 0 && !/No such file|Invalid netns/.test(result.stderr)) {
    throw new Error(`ip netns delete ${name}: ${result.stderr.trim()}`);
  }
}

/** PIDs of every process whose network namespace is `name`. */
export async function netnsPids(name: string): Promise<number[]> {
  const result = await run('ip', ['netns', 'pids', name]);
  if (result.exitCode !== 0) return [];
  return result.stdout
    .split('\n')
    .map((line) => Number.parseInt(line.trim(), 10))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

export function nsExec(ns: string, file: string, args: readonly string[]): Promise<ExecResult> {
  return run('ip', ['netns', 'exec', ns, file, ...args]);
}

export function nsExecOk(ns: string, file: string, args: readonly string[]): Promise<string> {
  return runOk('ip', ['netns', 'exec', ns, file, ...args]);
}

/** `ip -j [-n ns] <args>` parsed. */
export function ipJson<T>(ns: string | undefined, args: readonly string[]): Promise<T> {
  return runJson<T>('ip', [...(ns ? ['-n', ns] : []), '-j', ...args]);
}

export function ip(ns: string | undefined, args: readonly string[]): Promise<string> {
  return runOk('ip', [...(ns ? ['-n', ns] : []), ...args]);
}

export async function links(ns: string | undefined): Promise<IpAddr[]> {
  return ipJson<IpAddr[]>(ns, ['addr', 'show']);
}

/**
 * A kernel interface name (max 15 bytes) that is unique per `seed`: used for the host-side name of a
 * veth end before it is moved and renamed, so two labs never collide on temporary names.
 */
export function shortIfName(prefix: string, seed: string): string {
  const hash = createHash('sha256').update(seed).digest('hex');
  return `${prefix}${hash}`.slice(0, 15);
}

/**
 * Creates a veth pair with ends in two namespaces, named `ifA`/`ifB` there, both up.
 * Created under temporary unique names in the initial namespace, then moved and renamed.
 */
export async function vethBetween(
  a: { ns: string; ifname: string; mtu?: number },
  b: { ns: string; ifname: string; mtu?: number },
): Promise<void> {
  const seed = `${a.ns}/${a.ifname}<->${b.ns}/${b.ifname}`;
  const tmpA = shortIfName('otA', seed);
  const tmpB = shortIfName('otB', seed);
  await runOk('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
  try {
    await runOk('ip', ['link', 'set', tmpA, 'netns', a.ns, 'name', a.ifname]);
    await runOk('ip', ['link', 'set', tmpB, 'netns', b.ns, 'name', b.ifname]);
  } catch (err) {
    await run('ip', ['link', 'del', tmpA]);
    await run('ip', ['-n', a.ns, 'link', 'del', a.ifname]);
    throw err;
  }
  for (const end of [a, b]) {
    if (end.mtu) await runOk('ip', ['-n', end.ns, 'link', 'set', end.ifname, 'mtu', String(end.mtu)]);
    await runOk('ip', ['-n', end.ns, 'link', 'set', end.ifname, 'up']);
  }
}

export async function sysctl(ns: string, key: string, value: string): Promise<void> {
  await nsExecOk(ns, 'sysctl', ['-qw', `${key}=${value}`]);
}

/**
 * Runs many iproute2 commands in one process (`ip [-n ns] -batch -`), one command per line: the
 * netns runtime builds a whole lab with a handful of these instead of one `ip` per step.
 * With `force`, ip keeps going after a failing line (used for best-effort teardown).
 */
export async function ipBatch(
  ns: string | undefined,
  lines: readonly string[],
  options: { force?: boolean } = {},
): Promise<ExecResult> {
  if (lines.length === 0) return { exitCode: 0, stdout: '', stderr: '' };
  const args = [...(ns ? ['-n', ns] : []), ...(options.force ? ['-force'] : []), '-batch', '-'];
  return run('ip', args, { input: `${lines.join('\n')}\n` });
}

/** Like ipBatch, but throws with ip's message (it names the failing line) unless every line succeeded. */
export async function ipBatchOk(ns: string | undefined, lines: readonly string[]): Promise<void> {
  const result = await ipBatch(ns, lines);
  if (result.exitCode !== 0) {
    throw new Error(
      `ip${ns ? ` -n ${ns}` : ''} -batch failed: ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
}

/**
 * The namespace id of a named network namespace as `/proc/<pid>/ns/net` links print it
 * (`net:[4026532281]`), or undefined when the namespace does not exist.
 */
export function netnsInode(name: string): string | undefined {
  try {
    return `net:[${statSync(`/run/netns/${name}`).ino}]`;
  } catch {
    return undefined;
  }
}
