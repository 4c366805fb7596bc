/** scenarios/nat validates, is in the default suite, and skips on frr-evpn with the reason. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SUITES, validateAll } from '../cli/commands/run.ts';
import { getDriver } from './drivers/index.ts';
import { collectScenarioFiles } from './parse.ts';
import { REPO_ROOT } from './suite/launch.ts';
import { skipReason } from './timeline.ts';

describe('scenarios/nat', () => {
  const files = collectScenarioFiles([join(REPO_ROOT, 'scenarios', 'nat')]);

  it('validates, covers NAT-1..NAT-6 and SG-7, and is part of the default suite', () => {
    expect(DEFAULT_SUITES).toContain('nat');
    const ids = validateAll(files, undefined).flatMap((s) => s.conformance);
    expect(ids).toEqual(
      expect.arrayContaining(['NAT-1', 'NAT-2', 'NAT-3', 'NAT-4', 'NAT-5', 'NAT-6', 'SG-7']),
    );
  });

  it('skips on frr-evpn: it implements neither floating IPs nor PNAT', async () => {
    const driver = await getDriver('frr-evpn');
    for (const s of validateAll(files, undefined, 'frr-evpn'))
      expect(skipReason(s, driver, new Set(['vxlan', 'bridge']))).toMatch(
        /^implementation frr-evpn does not implement .*(floating-ips|pnat)/,
      );
  });
});
