/**
 * Ctrl-C during `otwin run`: the run stops promptly and leaves the machine as it found it. The run is
 * started as a terminal would start a job (its own process group) and interrupted as Ctrl-C does
 * (SIGINT to the whole group) 25 s in, once the lab's namespaces exist: while the lab deploys or the
 * first scenario runs.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { privateLab, REPO } from '../../../tests/sabotage/private-lab.ts';
import { netnsList } from '../../kernel/netns.ts';
import { procStatFields } from '../../util/descendants.ts';
import { sleep, waitFor } from '../../util/poll.ts';

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
  return execa(process.execPath, [join(REPO, 'bin', 'otwin.js'), 'run', 'scenarios/l2', '--lab', lab.file], {
    cwd: REPO,
    detached: true, // its own process group, as a shell job
    reject: false,
    all: true,
    env: { FORCE_COLOR: '0' },
  });
}

describe('otwin run interrupted by Ctrl-C', () => {
  it('exits within 20 s and leaves no namespace, process, mount or link of the run', async () => {
    expect(ours(await netnsList())).toEqual([]);
    const pidsBefore = new Set(processes().map((p) => p.pid));
    const run = startRun();
    try {
      // 25 s in, and at least once the lab's namespaces exist (on a busy machine the run may still be
      // starting at 25 s, and an interruption with nothing deployed would prove little).
      await sleep(25_000);
      await waitFor(
        async () => ours(await netnsList()),
        (list) => list.length > 0,
        { timeoutMs: 90_000, intervalMs: 200, what: `namespaces of lab ${lab.name}` },
      );
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
      const left = processes().filter(
        (p) =>
          !pidsBefore.has(p.pid) &&
          (p.session === run.pid ||
            p.args.includes(lab.name) ||
            (p.netns !== undefined && netInodes.has(p.netns)) ||
            (p.pidns !== undefined && nodePidns.has(p.pidns))),
      );
      expect(left).toEqual([]);
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
