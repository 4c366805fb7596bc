/** scenarios/sg validates, is in the default suite, and every SG scenario skips on frr-evpn with the reason. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SUITES, validateAll } from '../cli/commands/run.ts';
import { getDriver } from './drivers/index.ts';
import { collectScenarioFiles } from './parse.ts';
import { REPO_ROOT } from './suite/launch.ts';
import { skipReason } from './timeline.ts';

describe('scenarios/sg', () => {
  const files = collectScenarioFiles([join(REPO_ROOT, 'scenarios', 'sg')]);

  it('validates and is part of the default suite', () => {
    expect(DEFAULT_SUITES).toContain('sg');
    const scenarios = validateAll(files, undefined);
    expect(scenarios.flatMap((s) => s.conformance).sort()).toEqual(
      expect.arrayContaining(['SG-1', 'SG-2', 'SG-3', 'SG-4', 'SG-5']),
    );
  });

  it('skips on frr-evpn: it does not implement security-groups', async () => {
    const driver = await getDriver('frr-evpn');
    for (const s of validateAll(files, undefined, 'frr-evpn'))
      expect(skipReason(s, driver, new Set(['vxlan', 'bridge']))).toMatch(
        /^implementation frr-evpn does not implement security-groups/,
      );
  });
});
