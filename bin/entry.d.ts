// Types of ./entry.js, for the TypeScript modules that look up compiled entry points.
export interface BuildManifest {
  /** Epoch milliseconds when the build started; an input modified later makes it stale. */
  builtAt: number;
  /** Source files (relative to the repository) the build read. */
  inputs: string[];
  /** Entry point source (relative to the repository) → its output file in dist/. */
  entries: Record<string, string>;
}
export const REPO: string;
export const BUILD_DIR: string;
export const MANIFEST: string;
export function freshBuild(manifestFile?: string, root?: string): BuildManifest | undefined;
export function runEntry(source: string, args: string[]): Promise<unknown>;
