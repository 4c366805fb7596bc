/**
 * Ctrl-C during `otwin run`, `otwin lab deploy` and `otwin doctor`: the command stops promptly and
 * leaves the machine as it found it. Each is started as a terminal starts a job (its own process
 * group) and interrupted as Ctrl-C does (SIGINT to the whole group). `otwin run` 25 s in, once the
 * lab's namespaces exist: while the lab deploys or the first scenario runs.
 */
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { privateLab, REPO } from '../../../tests/sabotage/fixtures/private-lab.ts';
import { netnsList } from '../../kernel/netns.ts';
import { procStatFields } from '../../util/descendants.ts';
import { pollUntil, sleep, waitFor } from '../../util/poll.ts';

const lab = privateLab('sigint', {});
afterAll(() => lab.remove());

interface Proc {
  pid: number;
  session: number;
  args: string;
  netns: string | undefined;
  pidns: string | undefined;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const fields = procStatFields(Number(name));
    if (!fields) continue;
    try {
      const link = (ns: string) => {
        try {
          return readlinkSync(`/proc/${name}/ns/${ns}`);
        } catch {
          return undefined;
        }
      };
      out.push({
        pid: Number(name),
        session: Number(fields[3]),
        args: readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' '),
        netns: link('net'),
        pidns: link('pid'),
      });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

const ours = (names: string[]) => names.filter((n) => n.includes(lab.name));

function startRun() {
  return execa(
    process.execPath,
    [
      join(REPO, 'bin', 'otwin.js'),
      'run',
      'scenarios/l2',
      '--lab',
      lab.file,
      '--reports',
      join(lab.dir, 'reports'),
    ],
    {
      cwd: REPO,
      detached: true, // its own process group, as a shell job
      reject: false,
      all: true,
      env: { FORCE_COLOR: '0' },
    },
  );
}

describe('otwin run interrupted by Ctrl-C', () => {
  it('exits within 20 s and leaves no namespace, process, mount or link of the run', async () => {
    expect(ours(await netnsList())).toEqual([]);
    const pidsBefore = new Set(processes().map((p) => p.pid));
    const run = startRun();
    try {
      // 25 s in, and at least once the lab's namespaces exist (on a busy machine the run may still be
      // starting at 25 s, and an interruption with nothing deployed would prove little).
      let output = '';
      run.all?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      await sleep(25_000);
      // A run that ended on its own (an error) would never make namespaces: stop waiting and show why.
      await waitFor(
        async () => ({ list: ours(await netnsList()), ended: run.exitCode !== null }),
        ({ list, ended }) => list.length > 0 || ended,
        { timeoutMs: 90_000, intervalMs: 200, what: `namespaces of lab ${lab.name}` },
      ).catch((err: unknown) => {
        throw new Error(`${err instanceof Error ? err.message : String(err)}; the run printed:\n${output}`);
      });
      expect(run.exitCode, `the run ended before its lab existed:\n${output}`).toBeNull();
      // What the run has made by now: its namespaces (by inode) and the PID namespaces of its nodes.
      const labNetns = ours(await netnsList());
      const netInodes = new Set(
        labNetns.map((ns) => {
          try {
            return `net:[${statSync(`/run/netns/${ns}`).ino}]`;
          } catch {
            return '';
          }
        }),
      );
      const nodePidns = new Set(
        processes()
          .filter((p) => p.args.startsWith(`otwin-node ${lab.name}-`))
          .map((p) => p.pidns),
      );
      expect(run.exitCode, 'the run ended before it was interrupted').toBeNull();

      process.kill(-run.pid!, 'SIGINT');
      const interruptedAt = Date.now();
      const result = await Promise.race([run, sleep(20_000).then(() => undefined)]);
      const tookMs = Date.now() - interruptedAt;
      expect(result, 'still running 20 s after SIGINT').toBeDefined();
      expect(result!.exitCode, result!.all).toBe(130);
      expect(result!.all).toMatch(/SIGINT: reverting faults and removing what this run deployed/);
      expect(result!.all).toMatch(/interrupted; cleanup done/);
      console.log(`otwin run exited ${tookMs} ms after SIGINT (the lab had ${labNetns.length} namespaces)`);

      // Nothing of the run is left: namespaces, processes (its own or inside its namespaces), mounts, links.
      expect(ours(await netnsList())).toEqual([]);
      const leftNow = () =>
        processes().filter(
          (p) =>
            !pidsBefore.has(p.pid) &&
            (p.session === run.pid ||
              p.args.includes(lab.name) ||
              (p.netns !== undefined && netInodes.has(p.netns)) ||
              (p.pidns !== undefined && nodePidns.has(p.pidns))),
        );
      // SIGKILLed processes take a moment to be gone from /proc: poll, within the 20 s of the budget.
      const left = await pollUntil(
        async () => leftNow(),
        (procs) => procs.length === 0,
        { timeoutMs: Math.max(500, 20_000 - tookMs), intervalMs: 50, what: 'processes of the run gone' },
      );
      expect(left.value ?? leftNow()).toEqual([]);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(lab.name);
      expect((await execa('ip', ['-j', 'link', 'show'])).stdout).not.toContain(lab.name);
    } finally {
      // A failed assertion must not leave the run going: interrupt it the same way and wait.
      if (run.exitCode === null && run.signalCode === null) {
        process.kill(-run.pid!, 'SIGINT');
        await Promise.race([run, sleep(60_000)]);
      }
    }
  }, 240_000);
});

/** Starts `otwin <args>` as a job, SIGINTs it once a namespace matching `appeared` exists. */
async function interruptOnceNamespaceAppears(args: string[], appeared: (ns: string) => boolean) {
  const job = execa(process.execPath, [join(REPO, 'bin', 'otwin.js'), ...args], {
    cwd: REPO,
    detached: true,
    reject: false,
    all: true,
    env: { FORCE_COLOR: '0' },
  });
  const seen = await waitFor(
    () => (job.exitCode === null ? readdirSync('/run/netns').filter(appeared) : ['(exited)']),
    (list) => list.length > 0,
    { timeoutMs: 60_000, intervalMs: 5, what: `a namespace of otwin ${args.join(' ')}` },
  );
  expect(seen, 'the command ended before its namespace appeared').not.toEqual(['(exited)']);
  process.kill(-job.pid!, 'SIGINT');
  const result = await Promise.race([job, sleep(20_000).then(() => undefined)]);
  if (!result) process.kill(-job.pid!, 'SIGKILL');
  expect(result, 'still running 20 s after SIGINT').toBeDefined();
  return { job, result: result! };
}

describe('otwin lab deploy and otwin doctor interrupted by Ctrl-C', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otwin-int-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lab deploy destroys the half-built lab', async () => {
    const name = `oti-${process.pid.toString(36)}`;
    const file = join(dir, 'small.clab.yml');
    writeFileSync(
      file,
      `name: ${name}
topology:
  nodes:
${['a', 'b', 'c', 'd'].map((n) => `    ${n}: { kind: linux, image: alpine:3, exec: ["sleep 2"] }`).join('\n')}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
    - endpoints: ["c:eth1", "d:eth1"]
`,
    );
    const { result } = await interruptOnceNamespaceAppears(['lab', 'deploy', '-t', file], (ns) =>
      ns.includes(name),
    );
    expect(result.exitCode, result.all).toBe(130);
    expect(result.all).toMatch(/deploy failed, destroying lab/);
    expect((await netnsList()).filter((ns) => ns.includes(name))).toEqual([]);
    expect(processes().filter((p) => p.args.includes(name))).toEqual([]);
  }, 60_000);

  it('doctor deletes its throwaway namespace', async () => {
    const { job, result } = await interruptOnceNamespaceAppears(['doctor'], (ns) =>
      ns.startsWith('otwin-doctor-'),
    );
    expect(result.exitCode, result.all).toBe(130);
    const prefix = `otwin-doctor-${job.pid!.toString(36)}-`;
    expect((await netnsList()).filter((ns) => ns.startsWith(prefix))).toEqual([]);
  }, 60_000);
});
