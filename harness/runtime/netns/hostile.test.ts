/**
 * Bad input cannot reach root. A planted or corrupted `clab-<lab>/state.json` makes destroy kill
 * no process, delete no namespace and remove no file it cannot verify as the lab's own; a link
 * endpoint's `mac:` with a newline never reaches `ip -batch`; a lab name like `x/../../victim` is
 * refused by the loader and by the runtime itself, even without the schema file, so `destroy
 * --cleanup` never removes a folder outside the lab.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { netnsList } from '../../kernel/netns.ts';
import { isAlive, procStartTime } from '../../kernel/procs.ts';
import { loadTopology } from '../../topology/load.ts';
import { ProblemReport } from '../../topology/problems.ts';
import type { Topology } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';
import { run } from '../../util/exec.ts';
import { removeDir, TEST_LAB_PREFIX, uniqueLabName, writeLab } from './fixtures/labs.ts';
import { NetnsRuntime } from './index.ts';

const runtime = new NetnsRuntime();
const tag = `${TEST_LAB_PREFIX}-${process.pid.toString(36)}`;
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

/** Two hosts and one extended veth link; `endpointA` is extra YAML for a's end (e.g. `mac: ...`). */
function twoHosts(endpointA: string): string {
  return `name: ${uniqueLabName('values')}
topology:
  nodes:
    a: {kind: linux, image: alpine}
    b: {kind: linux, image: alpine}
  links:
    - type: veth
      endpoints:
        - {node: a, interface: eth1, ${endpointA}}
        - {node: b, interface: eth1}
`;
}

function startSleeper(): ChildProcess {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  cleanups.push(() => {
    child.kill('SIGKILL');
  });
  return child;
}

describe('bad input cannot reach root', () => {
  it('destroy ignores a planted state.json: no foreign process killed, namespace deleted or file removed', async () => {
    const lab = writeLab(`name: ${uniqueLabName('planted')}
topology:
  nodes:
    a:
      kind: linux
      image: alpine
`);
    cleanups.push(() => removeDir(lab.dir));
    const topology = await loadTopology(lab.file);

    // What a hostile or corrupt state file names: a process, a namespace, files and a folder that
    // are not the lab's. The process is this test's own sleeper.
    const sleeper = startSleeper();
    const pid = sleeper.pid!;
    const victimNs = `${tag}-victim`;
    await run('ip', ['netns', 'add', victimNs]);
    cleanups.push(async () => {
      await run('ip', ['netns', 'delete', victimNs]);
    });
    const victimDir = mkdtempSync(join(tmpdir(), `${tag}-victim-`));
    cleanups.push(() => rmSync(victimDir, { recursive: true, force: true }));
    const emptyFile = join(victimDir, 'empty');
    const registryVictim = join(victimDir, 'precious.json');
    writeFileSync(emptyFile, '');
    writeFileSync(registryVictim, '{"keep": true}\n');
    mkdirSync(topology.labDir, { recursive: true });
    writeFileSync(
      join(topology.labDir, 'state.json'),
      JSON.stringify({
        version: 1,
        runtime: 'netns',
        labName: topology.name,
        topologyFile: topology.file,
        labDir: victimDir,
        key: 'x',
        nsPrefix: tag,
        markerPrefix: '',
        status: 'running',
        namespaces: [victimNs],
        nodes: { a: { name: 'a', pid, pidStartTime: procStartTime(pid) } },
        forwarders: [{ node: 'a', spec: '1:1', pid, startTime: procStartTime(pid) }],
        files: [emptyFile, victimDir],
        registryFile: registryVictim,
        mgmt: { netns: victimNs },
        links: [],
      }),
    );

    expect((await runtime.status(topology)).status).toBe('absent');
    await runtime.destroy(topology, { cleanup: true });

    expect(isAlive(pid)).toBe(true);
    expect(await netnsList()).toContain(victimNs);
    expect(existsSync(emptyFile)).toBe(true);
    expect(existsSync(registryVictim)).toBe(true);
    // The lab's own state file went (it was the lab's), its folder too (--cleanup); nothing else.
    expect(existsSync(topology.labDir)).toBe(false);
  });

  it('a mac with a newline is refused by the loader and by the runtime, and reaches no command', async () => {
    const evilNs = `${tag}-evil`;
    const bad = writeLab(twoHosts(`mac: ${JSON.stringify(`02:00:00:00:00:01\nnetns add ${evilNs}`)}`));
    const good = writeLab(twoHosts('mac: "02:00:00:00:00:01"'));
    cleanups.push(() => removeDir(bad.dir));
    cleanups.push(() => removeDir(good.dir));

    const loadError = await loadTopology(bad.file).catch((e: unknown) => e);
    expect(loadError).toBeInstanceOf(UserError);
    expect((loadError as UserError).message).toMatch(
      /mac "02:00:00:00:00:01\\nnetns add .*" of endpoint 'a:eth1' .* is not a MAC address/,
    );
    expect((loadError as UserError).where).toMatch(/lab\.clab\.yml:9:\d+$/);

    // The runtime checks on its own: a model whose mac was changed after loading is refused too.
    const topology = await loadTopology(good.file);
    topology.links[0]!.endpoints[0].mac = `02:00:00:00:00:01\nnetns add ${evilNs}`;
    const deployError = await runtime.deploy(topology).catch((e: unknown) => e);
    expect(deployError).toBeInstanceOf(UserError);
    expect((deployError as UserError).message).toMatch(/is not a MAC address/);
    expect(await netnsList()).not.toContain(evilNs);
  });

  it('every other topology value that reaches a command is checked by the runtime against an anchored pattern', async () => {
    const lab = writeLab(twoHosts('ipv4: 192.0.2.1/24'));
    cleanups.push(() => removeDir(lab.dir));
    const topology = await loadTopology(lab.file);
    const [a, b] = topology.links[0]!.endpoints;
    a.ipv4 = '192.0.2.1/24\nnetns add x';
    b.iface = 'eth1#x';
    topology.nodes[0]!.extra.sysctls = { '../../../etc/x': '1' };
    topology.nodes[0]!.extra.hostname = 'a\nb';
    topology.links[0]!.mtu = 1.5;
    const error = (await runtime.deploy(topology).catch((e: unknown) => e)) as ProblemReport;
    expect(error).toBeInstanceOf(ProblemReport);
    const messages = error.problems.map((p) => p.message).join('\n');
    expect(messages).toMatch(/ipv4 "192\.0\.2\.1\/24\\nnetns add x" is not an IPv4 address\/prefix/);
    expect(messages).toMatch(/interface name "eth1#x" of node 'b' is not a valid Linux interface name/);
    expect(messages).toMatch(
      /field 'sysctls' has key "\.\.\/\.\.\/\.\.\/etc\/x", which is not a sysctl name/,
    );
    expect(messages).toMatch(/field 'hostname' is not a host name/);
    expect(messages).toMatch(/mtu 1\.5 is not between 68 and 65535/);
    expect(await netnsList()).not.toContain('x');
  });

  it('a lab name like x/../../victim is refused without the schema, and destroy --cleanup removes nothing outside', async () => {
    const parent = mkdtempSync(join(tmpdir(), `${tag}-name-`));
    cleanups.push(() => rmSync(parent, { recursive: true, force: true }));
    const labFolder = join(parent, 'lab');
    const victim = join(parent, 'victim');
    mkdirSync(labFolder);
    mkdirSync(victim);
    writeFileSync(join(victim, 'keep.txt'), 'not the lab’s\n');
    const file = join(labFolder, 'lab.clab.yml');
    writeFileSync(file, 'name: x/../../victim\ntopology:\n  nodes:\n    a: {kind: linux, image: alpine}\n');

    const saved = process.env.OTWIN_CLAB_SCHEMA;
    process.env.OTWIN_CLAB_SCHEMA = join(parent, 'no-schema-here.json');
    try {
      const error = await loadTopology(file).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).message).toMatch(
        /lab name "x\/\.\.\/\.\.\/victim" is not a containerlab lab name/,
      );
      expect((error as UserError).where).toMatch(/lab\.clab\.yml:1:\d+$/);
    } finally {
      if (saved === undefined) delete process.env.OTWIN_CLAB_SCHEMA;
      else process.env.OTWIN_CLAB_SCHEMA = saved;
    }

    // The runtime enforces the pattern itself: a model carrying that name (as a loader without the
    // check would build it, lab directory `clab-x/../../victim` = the victim) is refused.
    writeFileSync(file, 'name: x\ntopology:\n  nodes:\n    a: {kind: linux, image: alpine}\n');
    const good = await loadTopology(file);
    const hostile: Topology = {
      ...good,
      name: 'x/../../victim',
      labDir: join(labFolder, 'clab-x/../../victim'),
    };
    expect(hostile.labDir).toBe(victim);
    await expect(runtime.destroy(hostile, { cleanup: true })).rejects.toThrow(
      /is not a containerlab lab name/,
    );
    await expect(runtime.deploy(hostile)).rejects.toThrow(/is not a containerlab lab name/);
    expect(existsSync(join(victim, 'keep.txt'))).toBe(true);
  });
});
