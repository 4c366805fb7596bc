/**
 * The persistent nftables session on real namespaces: a script applies in the namespace it names
 * (never the helper's own), a bad script is refused whole with nft's error naming the failing
 * command, a batch that adds a rule echoes its handle, and a namespace deleted and created again
 * under the same name is programmed in the new one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runOk } from '../../harness/util/exec.ts';
import { NftSession } from './nft-session.ts';

const NS = `oh21s${process.pid % 10_000}`;
const session = new NftSession();

const tables = async (ns: string) =>
  (
    JSON.parse(await runOk('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'tables'])) as {
      nftables: Array<{ table?: { name: string } }>;
    }
  ).nftables.flatMap((i) => (i.table ? [i.table.name] : []));

describe('nft session', () => {
  beforeAll(async () => {
    await runOk('ip', ['netns', 'add', NS]);
  });
  afterAll(async () => {
    session.dispose();
    await run('ip', ['netns', 'del', NS]);
  });

  it('applies in the named namespace, atomically, and echoes added rules', async () => {
    await session.pid();
    expect(session.available, session.unavailableReason).toBe(true);
    const ok = await session.run({
      ns: NS,
      script: 'add table inet t1\nadd chain inet t1 c\nadd rule inet t1 c accept comment "r1"\n',
      echo: true,
      json: true,
    });
    expect(ok.rc, ok.err).toBe(0);
    const echoed = JSON.parse(ok.out) as {
      nftables: Array<{ add?: { rule?: { handle: number; comment: string } } }>;
    };
    expect(echoed.nftables.find((i) => i.add?.rule)?.add?.rule).toMatchObject({ comment: 'r1' });
    expect(await tables(NS)).toEqual(['t1']);

    // The second line is bad: nothing of the batch applies, and the error quotes the line.
    const bad = await session.run({ ns: NS, script: 'add table inet t2\nadd rule inet t1 c bogus\n' });
    expect(bad.rc).not.toBe(0);
    expect(bad.err).toContain('add rule inet t1 c bogus');
    expect(await tables(NS)).toEqual(['t1']);

    const missing = await session.run({ ns: `${NS}-none`, script: 'list tables' });
    expect(missing.rc).not.toBe(0);
    expect(missing.err).toContain(`${NS}-none`);
  });

  it('follows a namespace re-created under the same name', async () => {
    await runOk('ip', ['netns', 'del', NS]);
    await runOk('ip', ['netns', 'add', NS]);
    const r = await session.run({ ns: NS, script: 'add table inet t3\n' });
    expect(r.rc, r.err).toBe(0);
    expect(await tables(NS)).toEqual(['t3']);
  });
});
