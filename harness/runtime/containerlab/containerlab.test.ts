/**
 * The containerlab runtime against RECORDED TRANSCRIPTS of containerlab's documented behaviour (not
 * live runs: containerlab and Docker cannot run here). A fake `containerlab` and `docker` placed
 * first on PATH replay transcripts/*.json by argv and log the argv they were called with, so these
 * tests pin both the exact commands we send and how we parse the answers.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadTopology } from '../../topology/load.ts';
import type { Topology } from '../../topology/types.ts';
import { ContainerlabRuntime, parseExecJson, parseInspectJson } from './index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const transcripts = join(here, 'transcripts');
const repo = join(here, '..', '..', '..');
const topologyFile = join(transcripts, 'vlan.clab.yml');

interface Fake {
  env: Record<string, string>;
  calls(): Array<{ command: string; argv: string[] }>;
}

let dir: string;
let topology: Topology;

function fake(transcript: string): Fake {
  for (const command of ['containerlab', 'docker']) {
    const shim = join(dir, command);
    writeFileSync(
      shim,
      `#!/bin/sh\nexec '${process.execPath}' '${join(transcripts, 'fake-cli.mjs')}' ${command} "$@"\n`,
    );
    chmodSync(shim, 0o755);
  }
  const log = join(dir, 'calls.log');
  return {
    env: {
      PATH: `${dir}:${process.env.PATH ?? ''}`,
      OTWIN_FAKE_TRANSCRIPT: join(transcripts, transcript),
      OTWIN_FAKE_LOG: log,
      OTWIN_FAKE_TOPOLOGY: topology.file,
    },
    calls: () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as { command: string; argv: string[] })
        : [],
  };
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), `ota-clab-${process.pid.toString(36)}-`));
  topology = await loadTopology(topologyFile);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('containerlab runtime (recorded transcript of containerlab 0.72 documented output)', () => {
  it('deploys with the flags a containerlab user expects and attaches to the containers', async () => {
    const f = fake('containerlab-0.72.json');
    const progress: string[] = [];
    const lab = await new ContainerlabRuntime({ env: f.env }).deploy(topology, {
      reconfigure: true,
      maxWorkers: 2,
      nodeFilter: ['client1', 'client2'],
      onProgress: (line) => progress.push(line),
    });
    expect(f.calls()).toEqual([
      {
        command: 'containerlab',
        argv: [
          'deploy',
          '-t',
          topology.file,
          '--reconfigure',
          '--max-workers',
          '2',
          '--node-filter',
          'client1,client2',
        ],
      },
      { command: 'containerlab', argv: ['inspect', '-t', topology.file, '--format', 'json'] },
      {
        command: 'docker',
        argv: ['inspect', '-f', '{{.Name}} {{.State.Pid}}', 'clab-vlan-client1', 'clab-vlan-client2'],
      },
    ]);
    expect(progress).toContain('11:40:03 INFO Creating container name=client1');
    expect(lab.runtime).toBe('containerlab');
    expect([...lab.nodes.keys()]).toEqual(['client1', 'client2']);
    const client1 = lab.node('client1');
    expect(client1).toMatchObject({
      name: 'client1',
      kind: 'linux',
      image: 'ghcr.io/srl-labs/alpine',
      pid: 41201,
      netnsPath: '/proc/41201/ns/net',
      netnsName: 'clab-vlan-client1',
      mgmtIPv4: '172.20.20.4',
      mgmtIPv6: '3fff:172:20:20::4',
    });
    expect(lab.node('client2').netnsPath).toBe('/proc/41288/ns/net');
  });

  it('execs through docker exec and returns output and exit code', async () => {
    const f = fake('containerlab-0.72.json');
    const lab = await new ContainerlabRuntime({ env: f.env }).attach(topology);
    expect(lab).toBeDefined();
    const ok = await lab!.node('client1').exec(['ip', '-br', 'addr', 'show', 'eth1']);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain('192.0.2.1/24');
    const failed = await lab!.node('client2').exec(['sh', '-c', 'exit 3']);
    expect(failed.exitCode).toBe(3);
    expect(f.calls().filter((c) => c.command === 'docker' && c.argv[0] === 'exec')).toEqual([
      { command: 'docker', argv: ['exec', 'clab-vlan-client1', 'ip', '-br', 'addr', 'show', 'eth1'] },
      { command: 'docker', argv: ['exec', 'clab-vlan-client2', 'sh', '-c', 'exit 3'] },
    ]);
  });

  it('runs containerlab exec on one node by its clab-node-name label and parses the JSON', async () => {
    const f = fake('containerlab-0.72.json');
    const result = await new ContainerlabRuntime({ env: f.env }).clabExec(
      topology,
      'client1',
      'ip -4 -br addr show eth1',
    );
    expect(f.calls()).toEqual([
      {
        command: 'containerlab',
        argv: [
          'exec',
          '-t',
          topology.file,
          '--label',
          'clab-node-name=client1',
          '--cmd',
          'ip -4 -br addr show eth1',
          '--format',
          'json',
        ],
      },
    ]);
    expect(result).toEqual({
      exitCode: 0,
      stdout: 'eth1@if12        UP             192.0.2.1/24 \n',
      stderr: '',
    });
  });

  it('inspects one lab and all labs in containerlab inspect shape', async () => {
    const f = fake('containerlab-0.72.json');
    const runtime = new ContainerlabRuntime({ env: f.env });
    const entries = await runtime.inspect(topology);
    expect(entries.map((e) => e.name)).toEqual(['clab-vlan-client1', 'clab-vlan-client2']);
    expect(Object.keys(entries[0]!)).toEqual([
      'lab_name',
      'labPath',
      'absLabPath',
      'name',
      'container_id',
      'image',
      'kind',
      'state',
      'status',
      'ipv4_address',
      'ipv6_address',
      'owner',
    ]);
    const all = await runtime.inspectAll();
    expect(Object.keys(all)).toEqual(['vlan', 'srl02']);
    expect(all.srl02![0]!.kind).toBe('nokia_srlinux');
    expect(f.calls().map((c) => c.argv)).toEqual([
      ['inspect', '-t', topology.file, '--format', 'json'],
      ['inspect', '--all', '--format', 'json'],
    ]);
  });

  it('destroys one lab, and all labs with --all --yes', async () => {
    const f = fake('containerlab-0.72.json');
    const runtime = new ContainerlabRuntime({ env: f.env });
    await runtime.destroy(topology);
    await runtime.destroy(topology, { cleanup: true });
    expect(await runtime.destroyAll()).toEqual(['vlan', 'srl02']);
    expect(f.calls().map((c) => c.argv)).toEqual([
      ['destroy', '-t', topology.file],
      ['destroy', '-t', topology.file, '--cleanup'],
      ['inspect', '--all', '--format', 'json'],
      ['destroy', '--all', '--yes'],
    ]);
  });

  it('otwin lab inspect --runtime containerlab --format json prints containerlab inspect JSON', async () => {
    const f = fake('containerlab-0.72.json');
    const result = await execa(
      process.execPath,
      [
        join(repo, 'bin', 'otwin.js'),
        'lab',
        'inspect',
        '-t',
        topologyFile,
        '--runtime',
        'containerlab',
        '--format',
        'json',
      ],
      { env: f.env, reject: false },
    );
    expect(result.exitCode).toBe(0);
    const printed = JSON.parse(result.stdout) as Record<string, Array<Record<string, string>>>;
    expect(Object.keys(printed)).toEqual(['vlan']);
    expect(printed.vlan![0]).toMatchObject({ lab_name: 'vlan', name: 'clab-vlan-client1', state: 'running' });
  });
});

describe('containerlab runtime (recorded transcript of older containerlab versions)', () => {
  it('accepts {"containers": [...]}, a bare list, and "no containers found"', async () => {
    const f = fake('containerlab-legacy.json');
    const runtime = new ContainerlabRuntime({ env: f.env });
    const old = await runtime.inspect(topology);
    expect(old.map((e) => [e.lab_name, e.name, e.ipv4_address, e.status])).toEqual([
      ['vlan', 'clab-vlan-client1', '172.20.20.4/24', ''],
      ['vlan', 'clab-vlan-client2', '172.20.20.5/24', ''],
    ]);
    expect((await runtime.inspect(topology)).map((e) => e.container_id)).toEqual([
      '3c8262034088',
      '79c562b71997',
    ]);
    expect(await runtime.attach(topology)).toBeUndefined();
    expect(await runtime.inspectAll()).toEqual({});
  });
});

describe('containerlab output parsers', () => {
  it("parses containerlab's own inspect sample (vendored)", () => {
    const sample = join(repo, 'harness', 'topology', 'vendor', 'containerlab', 'inspect-sample.json');
    const parsed = parseInspectJson(readFileSync(sample, 'utf8'));
    expect(Object.keys(parsed)).toEqual(['vlan']);
    expect(parsed.vlan!.map((e) => e.name)).toEqual(['clab-vlan-client1', 'clab-vlan-client2']);
  });

  it('parses both exec JSON shapes', () => {
    expect(
      parseExecJson('{"c1": [{"cmd": ["true"], "return-code": 2, "stdout": "x", "stderr": "y"}]}'),
    ).toEqual({
      exitCode: 2,
      stdout: 'x',
      stderr: 'y',
    });
    expect(parseExecJson('{"c1": {"stdout": {"a": 1}, "stderr": ""}}')).toEqual({
      exitCode: 0,
      stdout: '{"a":1}',
      stderr: '',
    });
  });

  it('reports a missing containerlab binary clearly', async () => {
    const runtime = new ContainerlabRuntime({ containerlab: join(dir, 'no-such-containerlab') });
    await expect(runtime.inspect(topology)).rejects.toThrow(/not installed \(or not on PATH\)/);
  });
});
