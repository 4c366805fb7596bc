/**
 * Implementation drivers by name; a scenario's `implementation:` picks one. `reference` is loaded
 * lazily (reference-impl/driver.ts) so the engine does not load the reference implementation unless a
 * scenario asks for it.
 */
import { UserError } from '../../util/errors.ts';
import type { ImplementationDriver } from './driver.ts';
import { FrrEvpnDriver } from './frr-evpn.ts';

export type {
  Capability,
  DriverContext,
  EndpointLocation,
  ImplementationDriver,
  IntentChange,
} from './driver.ts';

const registry = new Map<string, () => Promise<ImplementationDriver>>([
  ['frr-evpn', async () => new FrrEvpnDriver()],
  ['reference', async () => new (await import('../../../reference-impl/driver.ts')).ReferenceDriver()],
]);

/** Registers a driver (the reference implementation's module calls this). */
export function registerDriver(name: string, factory: () => Promise<ImplementationDriver>): void {
  registry.set(name, factory);
}

export function driverNames(): string[] {
  return [...registry.keys()];
}

export async function getDriver(name: string): Promise<ImplementationDriver> {
  const factory = registry.get(name);
  if (!factory) {
    throw new UserError(`unknown implementation driver '${name}'`, {
      hint: `known drivers: ${driverNames().join(', ')}`,
    });
  }
  return factory();
}
