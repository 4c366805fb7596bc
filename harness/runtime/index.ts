/**
 * Runtime factory. Implementations are imported lazily so that `otwin lab inspect --runtime
 * containerlab` never loads the netns runtime (and the reverse), and so that a broken or missing
 * implementation only fails when it is asked for.
 */
import { UserError } from '../util/errors.ts';
import type { Runtime, RuntimeName } from './runtime.ts';

export const RUNTIME_NAMES: readonly RuntimeName[] = ['netns', 'containerlab'];

export async function getRuntime(name: RuntimeName = 'netns'): Promise<Runtime> {
  switch (name) {
    case 'netns': {
      const { NetnsRuntime } = await import('./netns/index.ts');
      return new NetnsRuntime();
    }
    case 'containerlab': {
      const { ContainerlabRuntime } = await import('./containerlab/index.ts');
      return new ContainerlabRuntime();
    }
    default:
      throw unknownRuntime(String(name));
  }
}

/** The runtime to use: the CLI flag, else $OTWIN_RUNTIME, else netns. */
export function resolveRuntimeName(flag?: string, env: NodeJS.ProcessEnv = process.env): RuntimeName {
  const value = flag ?? (env.OTWIN_RUNTIME || undefined) ?? 'netns';
  if ((RUNTIME_NAMES as readonly string[]).includes(value)) return value as RuntimeName;
  throw unknownRuntime(value, flag === undefined ? 'OTWIN_RUNTIME' : '--runtime');
}

function unknownRuntime(value: string, source = '--runtime'): UserError {
  return new UserError(`unknown runtime '${value}' (from ${source})`, {
    hint: `use one of: ${RUNTIME_NAMES.join(', ')}`,
  });
}
