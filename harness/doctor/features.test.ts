/**
 * Feature detection: every check answers with a boolean and a reason from a real attempt, the
 * throwaway namespace is gone afterwards, and `otwin doctor --format json` prints the same answers.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { netnsList } from '../kernel/netns.ts';
import { run } from '../util/exec.ts';
import { detectFeatures, KERNEL_FEATURES, missing, TOOLS } from './index.ts';

describe('detectFeatures', () => {
  it('tries every kernel feature and tool and explains each answer', async () => {
    const features = await detectFeatures({ fresh: true });
    for (const name of KERNEL_FEATURES) {
      const check = features.kernel[name];
      expect(typeof check.ok, name).toBe('boolean');
      expect(check.reason, name).toMatch(check.ok ? /^can / : /^cannot |^not tested/);
    }
    for (const name of TOOLS) {
      const check = features.tools[name];
      expect(typeof check.ok, name).toBe('boolean');
      if (check.ok && name !== 'ovsVtep') expect(check.version, name).toMatch(/^\d/);
    }
    // What the netns runtime itself needs is present on every machine this project runs on.
    expect(missing(features, ['netns', 'veth', 'bridge', 'frr', 'perl'])).toBeUndefined();
    expect(missing(features, ['nosuchthing' as 'vrf'])).toMatch(/unknown feature/);
    expect(
      (await netnsList()).filter((ns) => ns.startsWith(`otwin-doctor-${process.pid.toString(36)}-`)),
    ).toEqual([]);
  });

  it('is what `otwin doctor --format json` prints', async () => {
    const features = await detectFeatures();
    const result = await run('node', [
      join(import.meta.dirname, '../../bin/otwin.js'),
      'doctor',
      '--format',
      'json',
    ]);
    expect(result.exitCode, result.stderr).toBe(0);
    const printed = JSON.parse(result.stdout) as typeof features & { netnsRuntime: boolean };
    expect(printed.netnsRuntime).toBe(true);
    for (const name of KERNEL_FEATURES) expect(printed.kernel[name].ok, name).toBe(features.kernel[name].ok);
    const table = await run('node', [join(import.meta.dirname, '../../bin/otwin.js'), 'doctor']);
    expect(table.stdout).toMatch(/^ {2}vxlan\s+(yes|no)/m);
  });
});
