/**
 * Compiles the TypeScript entry points (the CLI, the reference-impl bins, the BGP speaker process and the
 * implementation drivers listed in package.json) to JavaScript in dist/, so starting them transpiles
 * nothing. Run by `npm ci` (the `prepare` script) and by scripts/setup.sh; skips the work when the build
 * is fresh unless given --force. bin/entry.js decides at each start whether dist/ may be used.
 *
 * One bundle per entry point, sharing chunks (so the CLI and a driver it loads share one copy of each
 * harness module), all in one flat folder: every output file sits one level below the repository, which
 * lets `import.meta.url` and `import.meta.dirname` of each source file be rewritten relative to it.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as esbuild from 'esbuild';
import { BUILD_DIR, freshBuild, MANIFEST, REPO } from '../bin/entry.js';

const FIXED_ENTRIES = [
  'harness/cli/main.ts',
  'harness/bgp/speaker-process.ts',
  'reference-impl/bin/agent.ts',
  'reference-impl/bin/controller.ts',
  'reference-impl/bin/directory.ts',
];
// Inputs that change the build without being bundled.
const BUILD_INPUTS = ['package.json', 'package-lock.json', 'scripts/build.mjs', 'bin/entry.js'];

/** Driver modules given as paths (bare package names are JavaScript already). */
function driverEntries() {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  return Object.values(pkg.otwin?.drivers ?? {}).filter((m) => m.startsWith('./') || m.startsWith('../'));
}

/** `import.meta.{url,dirname,filename}` of a source file, as seen from a file in dist/. */
const importMetaOfSource = {
  name: 'import-meta-of-source',
  setup(build) {
    build.onLoad({ filter: /\.(ts|js|mjs)$/ }, (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const text = readFileSync(args.path, 'utf8');
      const loader = args.path.endsWith('.ts') ? 'ts' : 'js';
      if (!/import\.meta\.(url|dirname|filename)/.test(text)) return { contents: text, loader };
      const file = JSON.stringify(relative(BUILD_DIR, args.path));
      const dir = JSON.stringify(relative(BUILD_DIR, dirname(args.path)));
      const contents = text.replace(/import\.meta\.(url|dirname|filename)\b/g, (_, which) => {
        if (which === 'url') return `new URL(${file}, import.meta.url).href`;
        return `__otwinPathOf(new URL(${which === 'dirname' ? dir : file}, import.meta.url))`;
      });
      return {
        contents: `import { fileURLToPath as __otwinPathOf } from 'node:url';\n${contents}`,
        loader,
      };
    });
  },
};

async function build() {
  const started = Date.now();
  const entryPoints = [...FIXED_ENTRIES, ...driverEntries().map((m) => relative('.', m))];
  const staging = `${BUILD_DIR}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: REPO,
    entryPoints,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // npm dependencies are bundled too (resolving execa's or ajv's many small modules costs more at start
    // than parsing them); kept out: the native addon, and the tools only the fallback and tests load.
    external: ['better-sqlite3', 'tsx', 'tsx/*', 'esbuild', 'vitest', 'vitest/*', 'allure-*', 'fast-check'],
    // Bundled CommonJS (ajv) calls require(): give the ESM output one.
    banner: {
      js: "import { createRequire as __otwinCreateRequire } from 'node:module'; const require = __otwinCreateRequire(import.meta.url);",
    },
    outdir: staging,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    metafile: true,
    minifySyntax: true,
    minifyWhitespace: true,
    logLevel: 'warning',
    plugins: [importMetaOfSource],
  });
  const entries = {};
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint) entries[meta.entryPoint] = relative(staging, join(REPO, out));
  }
  const inputs = [
    ...Object.keys(result.metafile.inputs).filter((i) => !i.startsWith('node_modules/')),
    ...BUILD_INPUTS,
  ];
  writeFileSync(
    join(staging, 'manifest.json'),
    `${JSON.stringify({ builtAt: started, entries, inputs }, null, 2)}\n`,
  );
  // Swap whole folders so a concurrent start sees either the old build or the new one, never half.
  const old = `${BUILD_DIR}.old-${process.pid}`;
  try {
    renameSync(BUILD_DIR, old);
  } catch {}
  renameSync(staging, BUILD_DIR);
  rmSync(old, { recursive: true, force: true });
  return Object.keys(entries).length;
}

if (!process.argv.includes('--force') && freshBuild()) process.exit(0);
const t0 = Date.now();
const count = await build();
console.log(
  `build: ${count} entry points → ${relative(process.cwd(), MANIFEST).replace(/manifest\.json$/, '')} in ${Date.now() - t0} ms`,
);
