import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../util/errors.ts';
import { driverNames, getDriver, listedDrivers, registerDriver } from './index.ts';

const HARNESS = join(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('implementation drivers by name', () => {
  it('lists the drivers package.json names, and loads each by name', async () => {
    expect(Object.keys(listedDrivers())).toEqual(expect.arrayContaining(['frr-evpn', 'ovn', 'reference']));
    for (const name of ['frr-evpn', 'ovn', 'reference']) expect((await getDriver(name)).name).toBe(name);
  });

  it('rejects an unknown name with the known ones', async () => {
    const err = await getDriver('no-such-driver').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).hint).toContain('frr-evpn, ovn, reference');
  });

  it('takes a driver registered at run time', async () => {
    const frr = await getDriver('frr-evpn');
    registerDriver('embedded-test', async () => frr);
    expect(driverNames()).toContain('embedded-test');
    expect(await getDriver('embedded-test')).toBe(frr);
  });

  it('keeps the dependency one way: no harness module imports reference-impl/ or implementations/', () => {
    const upward = sourceFiles(HARNESS).filter((file) =>
      /(from\s+|import\()\s*['"][./]*(reference-impl|implementations)\//.test(readFileSync(file, 'utf8')),
    );
    expect(upward.map((f) => relative(HARNESS, f))).toEqual([]);
  });
});
