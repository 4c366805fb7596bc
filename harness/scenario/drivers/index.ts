/**
 * Implementation drivers by name; a scenario's `implementation:` picks one. Which names exist is data:
 * `otwin.drivers` in package.json maps each name to a module (a path relative to package.json, or a
 * package name) whose `createDriver()` returns the driver. A module is imported on first use, so the
 * engine loads an implementation only when a scenario asks for it, and the harness never names one:
 * implementations depend on the driver interface (./driver.ts), not the other way round.
 */
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUILD_DIR, freshBuild } from '../../../bin/entry.js';
import { HarnessError, UserError } from '../../util/errors.ts';
import type { Capability, DriverModule, ImplementationDriver } from './driver.ts';

export type {
  Capability,
  DriverContext,
  DriverModule,
  EndpointLocation,
  ImplementationDriver,
  IntentChange,
} from './driver.ts';

const PACKAGE_ROOT = resolve(import.meta.dirname, '..', '..', '..');

const registered = new Map<string, () => Promise<ImplementationDriver>>();

/** The `otwin.drivers` table of package.json: driver name → module specifier. */
export function listedDrivers(packageJson = join(PACKAGE_ROOT, 'package.json')): Record<string, string> {
  const pkg = JSON.parse(readFileSync(packageJson, 'utf8')) as {
    otwin?: { drivers?: Record<string, string> };
  };
  return pkg.otwin?.drivers ?? {};
}

/** Adds a driver that is not listed in package.json (tests, embedding); it wins over a listed one. */
export function registerDriver(name: string, factory: () => Promise<ImplementationDriver>): void {
  registered.set(name, factory);
}

export function driverNames(): string[] {
  return [...new Set([...Object.keys(listedDrivers()), ...registered.keys()])].sort();
}

export async function getDriver(name: string): Promise<ImplementationDriver> {
  const factory = registered.get(name);
  if (factory) return factory();
  const specifier = listedDrivers()[name];
  if (!specifier) {
    throw new UserError(`unknown implementation driver '${name}'`, {
      hint: `known drivers: ${driverNames().join(', ')} (package.json "otwin.drivers" lists them)`,
    });
  }
  const mod = (await importDriverModule(specifier)) as Partial<DriverModule>;
  if (typeof mod.createDriver !== 'function') {
    throw new HarnessError(`driver module ${specifier} (driver '${name}') does not export createDriver()`);
  }
  return mod.createDriver();
}

async function importDriverModule(specifier: string): Promise<unknown> {
  const isPath = specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/');
  const url = isPath ? pathToFileURL(resolve(PACKAGE_ROOT, specifier)).href : specifier;
  try {
    return await import(url);
  } catch (err) {
    if (!isPath || (err as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    // Plain Node without a TypeScript loader: this is the build (bin/entry.js), which compiled every
    // listed driver, so the driver shares the harness modules already loaded.
    const compiled = freshBuild()?.entries[relative(PACKAGE_ROOT, fileURLToPath(url))];
    if (!compiled) throw err;
    return import(pathToFileURL(join(BUILD_DIR, compiled)).href);
  }
}

/**
 * The capabilities of the named drivers, for validation (parse.ts `capabilitiesOf`), which runs before
 * anything is deployed and cannot wait for a driver. Names no driver has are left out: validation
 * then assumes every capability, and `getDriver` reports the unknown name.
 */
export async function driverCapabilities(
  names: Iterable<string>,
): Promise<(implementation: string) => ReadonlySet<Capability> | undefined> {
  const known = new Set(driverNames());
  const table = new Map<string, ReadonlySet<Capability>>();
  for (const name of new Set(names)) {
    if (known.has(name)) table.set(name, (await getDriver(name)).capabilities);
  }
  return (implementation) => table.get(implementation);
}
