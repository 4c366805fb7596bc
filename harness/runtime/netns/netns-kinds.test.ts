/**
 * Node kinds and fields beyond the FRR lab: `kind: bridge`, `cmd:`, binds onto a path missing on the
 * host (created and removed again), sysctls, a failing exec line (deploy error, nothing left), a kind
 * the runtime cannot run, and the CLI end to end.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../kernel/procs.ts';
import { loadTopology } from '../../topology/load.ts';
import type { Topology } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';
import { run } from '../../util/exec.ts';
import { copyLab, leftovers, REPO, removeDir, uniqueLabName, writeLab } from './fixtures/labs.ts';
import { NetnsRuntime } from './index.ts';

const runtime = new NetnsRuntime();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

async function labFrom(
  text: string,
  setup?: (dir: string) => void,
): Promise<{ topology: Topology; dir: string }> {
  const lab = writeLab(text);
  setup?.(lab.dir);
  const topology = await loadTopology(lab.file);
  cleanups.push(async () => {
    await runtime.destroy(topology);
    removeDir(lab.dir);
  });
  return { topology, dir: lab.dir };
}

describe('netns runtime: kinds and fields', () => {
  it('runs a bridge node, cmd, binds (even onto a path missing on the host) and sysctls', async () => {
    const missingTarget = `/run/otb-${process.pid.toString(36)}-bind/data`;
    const name = uniqueLabName('kinds');
    const text = `name: ${name}
topology:
  nodes:
    sw:
      kind: bridge
    a:
      kind: linux
      image: alpine:3
      binds:
        - data:${missingTarget}:ro
      sysctls:
        net.ipv4.conf.all.rp_filter: 2
      exec:
        - ip addr add 192.0.2.1/24 dev eth1
    b:
      kind: linux
      image: ghcr.io/hellt/network-multitool
      cmd: sleep 3600
      exec:
        - ip addr add 192.0.2.2/24 dev eth1
  links:
    - endpoints: ["a:eth1", "sw:p1"]
    - endpoints: ["b:eth1", "sw:p2"]
`;
    const { topology } = await labFrom(text, (dir) => {
      mkdirSync(join(dir, 'data'));
      writeFileSync(join(dir, 'data', 'hello.txt'), 'hello from the host\n');
    });
    const lab = await runtime.deploy(topology);

    const a = lab.node('a');
    const ping = await a.exec(['ping', '-c', '1', '-W', '2', '192.0.2.2']);
    expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0);
    expect((await a.exec(['cat', `${missingTarget}/hello.txt`])).stdout).toBe('hello from the host');
    expect((await a.exec(['sh', '-c', `touch ${missingTarget}/x`])).exitCode).not.toBe(0); // :ro
    expect((await a.exec(['cat', '/proc/sys/net/ipv4/conf/all/rp_filter'])).stdout.trim()).toBe('2');
    // The bind is private to the node: the host sees only the (empty) mount point.
    expect(existsSync(`${missingTarget}/hello.txt`)).toBe(false);
    // The node has its own PID namespace: ps shows the node's processes only.
    const ps = await lab.node('b').exec(['ps', '-e', '-o', 'comm=']);
    expect(ps.stdout).toContain('sleep');
    expect(ps.stdout.split('\n').length).toBeLessThan(10);
    const cmdPid = lab.node('b').state.cmdPid;
    expect(cmdPid).toBeDefined();
    expect(isAlive(cmdPid!)).toBe(true);
    // The bridge has no management interface, the hosts do.
    expect(lab.nodes.get('sw')?.mgmtIPv4).toBeUndefined();
    expect(a.mgmtIPv4).toBeDefined();

    await runtime.destroy(topology);
    expect(await leftovers(topology, [missingTarget, `/run/otb-${process.pid.toString(36)}-bind`])).toEqual(
      [],
    );
    expect(isAlive(cmdPid!)).toBe(false);
  });

  it('two labs binding one target missing on the host: the first destroy leaves the second lab’s mount, the last removes it', async () => {
    // As labs/gw.clab.yml's gw1 (/opt/otwin-vtep) in two test files at once: removing a mount point
    // on the host detaches it in every other mount namespace (Linux ≥ 3.18).
    const sharedTarget = `/run/otb-${process.pid.toString(36)}-shared`;
    const labWithBind = async (tag: string) =>
      labFrom(
        `name: ${uniqueLabName(tag)}
topology:
  nodes:
    a:
      kind: linux
      image: alpine:3
      binds:
        - data:${sharedTarget}:ro
`,
        (dir) => {
          mkdirSync(join(dir, 'data'));
          writeFileSync(join(dir, 'data', 'hello.txt'), `hello from ${tag}\n`);
        },
      );
    const first = await labWithBind('share1');
    const second = await labWithBind('share2');
    await runtime.deploy(first.topology);
    const lab2 = await runtime.deploy(second.topology);
    await runtime.destroy(first.topology);
    expect((await lab2.node('a').exec(['cat', `${sharedTarget}/hello.txt`])).stdout).toBe(
      'hello from share2',
    );
    expect(existsSync(sharedTarget)).toBe(true);
    await runtime.destroy(second.topology);
    expect(existsSync(sharedTarget)).toBe(false);
  });

  it('turns a failing exec line into a deploy error and leaves nothing deployed', async () => {
    const name = uniqueLabName('badexec');
    const { topology } = await labFrom(`name: ${name}
topology:
  nodes:
    a:
      kind: linux
      image: alpine
      exec:
        - echo first
        - ip route add 198.51.100.0/24 via 192.0.2.254
        - echo never
    b:
      kind: linux
      image: alpine
  links:
    - endpoints: ["a:eth1", "b:eth1"]
`);
    const error = await runtime.deploy(topology).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toMatch(
      /node 'a': exec line 2 `ip route add 198.51.100.0\/24 via 192.0.2.254` failed/,
    );
    expect((error as UserError).where).toMatch(/lab\.clab\.yml:\d+:\d+/);
    expect(readFileSync(join(topology.labDir, 'a', 'exec.log'), 'utf8')).toContain('first');
    expect(await leftovers(topology)).toEqual([]);
  });

  it('refuses kinds and fields it cannot honour, naming node, kind/field and place', async () => {
    const { topology } = await labFrom(`name: ${uniqueLabName('kind')}
topology:
  nodes:
    leaf1:
      kind: nokia_srlinux
      image: ghcr.io/nokia/srlinux
`);
    await expect(runtime.deploy(topology)).rejects.toThrow(/node 'leaf1' has kind 'nokia_srlinux'/);
    const { topology: t2 } = await labFrom(`name: ${uniqueLabName('field')}
topology:
  nodes:
    a:
      kind: linux
      image: alpine
      entrypoint: /bin/sh
`);
    const error = (await runtime.deploy(t2).catch((e: unknown) => e)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(/node 'a': field 'entrypoint'/);
    expect(error.where).toMatch(/lab\.clab\.yml:7:\d+/);
    expect(await leftovers(t2)).toEqual([]);
  });

  it('deploys, execs, inspects and destroys through the otwin CLI', async () => {
    const copy = copyLab('frr-basic.clab.yml', uniqueLabName('cli'));
    const topology = await loadTopology(copy.file);
    cleanups.push(async () => {
      await runtime.destroy(topology);
      removeDir(copy.dir);
    });
    const otwin = (...args: string[]) => run('node', [join(REPO, 'bin/otwin.js'), ...args], { cwd: REPO });
    const deploy = await otwin('lab', 'deploy', '-t', copy.file);
    expect(deploy.exitCode, deploy.stderr).toBe(0);
    const exec = await otwin('lab', 'exec', '-t', copy.file, '--node', 'h2', '--', 'hostname');
    expect(exec.exitCode, exec.stderr).toBe(0);
    expect(exec.stdout).toContain('h2');
    const inspect = await otwin('lab', 'inspect', '-t', copy.file, '--format', 'json');
    expect(inspect.exitCode, inspect.stderr).toBe(0);
    const entries = (JSON.parse(inspect.stdout) as Record<string, Array<{ name: string; state: string }>>)[
      topology.name
    ];
    expect(entries?.map((e) => e.state)).toEqual(['running', 'running', 'running', 'running']);
    const destroy = await otwin('lab', 'destroy', '-t', copy.file);
    expect(destroy.exitCode, destroy.stderr).toBe(0);
    expect(await leftovers(topology)).toEqual([]);
  });
});
