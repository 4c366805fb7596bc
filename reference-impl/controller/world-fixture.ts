/**
 * Controller world tests start from a directory snapshot: only the collections a test names, the
 * others empty. Objects are written as loosely as the store accepts (unset fields absent or null).
 */
import type { Snapshot } from '../directory/model.ts';
import { World } from './world.ts';

type Objects = Snapshot['objects'];

export function worldFrom(
  zone: string,
  objects: { [K in keyof Objects]?: unknown[] },
  duplicateMacPolicy?: ConstructorParameters<typeof World>[1],
): World {
  const w = new World(zone, duplicateMacPolicy);
  w.loadSnapshot({
    revision: 1,
    objects: { zones: [], hypervisors: [], tenants: [], domains: [], subnets: [], vports: [], ...objects },
  } as unknown as Snapshot);
  return w;
}
