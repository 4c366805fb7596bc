/** The long-lived `ip`/`bridge` batch sessions on a real namespace: results, errors, re-created namespaces. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runJson, runOk } from '../../harness/util/exec.ts';
import { BatchSessions } from './batch-session.ts';

const NS = `otf-bs${process.pid % 10000}`;
const sessions = new BatchSessions();

describe('batch sessions', () => {
  beforeAll(async () => {
    await run('ip', ['netns', 'delete', NS]);
    await runOk('ip', ['netns', 'add', NS]);
  });
  afterAll(async () => {
    sessions.close();
    await run('ip', ['netns', 'delete', NS]);
  });

  it('applies batches one after another through one process', async () => {
    const first = await sessions.run('ip', NS, ['link add br7 type bridge', 'link set br7 up']);
    expect(first).toEqual({ ok: true, errors: '' });
    const second = await sessions.run('bridge', NS, ['link show']);
    expect(second.ok).toBe(true);
    const third = await sessions.run('ip', NS, ['addr add 10.9.9.1/24 dev br7']);
    expect(third.ok).toBe(true);
    const links = await runJson<Array<{ ifname: string; addr_info: Array<{ local: string }> }>>('ip', [
      '-n',
      NS,
      '-4',
      '-j',
      'addr',
      'show',
      'br7',
    ]);
    expect(links[0]?.addr_info.map((a) => a.local)).toEqual(['10.9.9.1']);
    expect(sessions.starts).toBe(2);
  });

  it('names the failed lines of a batch and keeps applying the others', async () => {
    const result = await sessions.run('ip', NS, [
      'link add br8 type bridge',
      'link set nosuchdev up',
      'link set br8 up',
    ]);
    expect(result.ok).toBe(false);
    expect(result.errors).toMatch(/nosuchdev/);
    expect(result.errors.split(' | ')).toHaveLength(1);
    // The next batch of the same session is not charged with the previous one's errors.
    expect(await sessions.run('ip', NS, ['link set br8 down'])).toEqual({ ok: true, errors: '' });
    const up = await runOk('ip', ['-n', NS, '-j', 'link', 'show', 'br8']);
    expect(up).not.toContain('"UP"');
  });

  it('starts a new process for a namespace deleted and created again under its name', async () => {
    const before = sessions.starts;
    sessions.forget(NS);
    await runOk('ip', ['netns', 'delete', NS]);
    await runOk('ip', ['netns', 'add', NS]);
    expect((await sessions.run('ip', NS, ['link add br9 type bridge'])).ok).toBe(true);
    await runOk('ip', ['netns', 'delete', NS]);
    await runOk('ip', ['netns', 'add', NS]);
    // Not forgotten this time: the session notices the new inode itself.
    expect((await sessions.run('ip', NS, ['link add br9 type bridge'])).ok).toBe(true);
    expect(sessions.starts - before).toBe(2);
  });
});
