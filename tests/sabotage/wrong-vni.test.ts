/**
 * Sabotage: hv1's agent encapsulates with VNI + 1000000 instead of the provisioned VNI
 * (OTWIN_SABOTAGE=wrong-vni on hv1 only). VX-1 (the VNI on the wire) and L2-1 (the matrix: hv1's VMs
 * cut off from the other hypervisors) must FAIL, not break, and the L2-1 matrix diff must mark the
 * cells of hv1's VM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byId, runSabotaged, type SabotageRun, suiteFile } from './run.ts';

let run: SabotageRun;

describe('sabotage wrong-vni: VX-1 and L2-1 fail', () => {
  beforeAll(async () => {
    run = await runSabotaged('vni', { hv1: ['wrong-vni'] }, [
      suiteFile('scenarios/vx/vx-1-encap.yml'),
      suiteFile('scenarios/l2/l2-1-matrix.yml'),
    ]);
  }, 240_000);
  afterAll(() => run?.lab.remove());

  it('fails VX-1: the provisioned VNI is not on the wire', () => {
    const vx = byId(run, 'VX-1');
    expect(
      vx.filter((v) => v.status === 'broken'),
      run.summary,
    ).toEqual([]);
    expect(
      vx.some((v) => v.status === 'failed'),
      run.summary,
    ).toBe(true);
  });

  it('fails L2-1 with a matrix diff marking the cells of the VM on the sabotaged hypervisor', () => {
    const l2 = byId(run, 'L2-1');
    expect(
      l2.filter((v) => v.status === 'broken'),
      run.summary,
    ).toEqual([]);
    const failed = l2.filter((v) => v.status === 'failed');
    expect(failed.length, run.summary).toBe(1);
    // a1 sits on hv1: its cells are "expected allowed, got <something else>".
    expect(failed[0]!.message).toMatch(/a1 → a[23] \S+: expected allowed, got (?!allowed)\w+/);
    const diff = run.attachments(failed[0]!.name).find((a) => a.name === 'matrix diff (Markdown)');
    expect(diff?.content).toMatch(/\*\*X\*\*/);
  });
});
