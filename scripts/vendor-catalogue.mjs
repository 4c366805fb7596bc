// Regenerates harness/scenario/catalogue.json, the project's own copy of the conformance catalogue's
// IDs, groups and row texts, from the catalogue's Markdown (the lead's copy lives outside the
// repository; nothing reads it at run time).
//
//   node scripts/vendor-catalogue.mjs [catalogue.md]     default: ../shared/conformance-catalogue.md
//   node scripts/vendor-catalogue.mjs --check [catalogue.md]   exit 1 when the vendored file differs
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const VENDORED = join(repo, 'harness', 'scenario', 'catalogue.json');

/** Rows `| ID | Stimulus | Observable | Pass |` under `## <group>` headings, in file order. */
export function parseCatalogue(markdown) {
  const entries = [];
  let group;
  markdown.split('\n').forEach((line, index) => {
    const heading = /^## (.+)$/.exec(line);
    if (heading) {
      group = heading[1].trim();
      return;
    }
    const cells = /^\|(.*)\|\s*$/
      .exec(line)?.[1]
      .split('|')
      .map((c) => c.trim());
    if (!cells || !/^[A-Z][A-Z0-9]*-[0-9]+$/.test(cells[0] ?? '')) return;
    if (!group) throw new Error(`line ${index + 1}: row ${cells[0]} comes before any ## group heading`);
    if (cells.length !== 4)
      throw new Error(`line ${index + 1}: row ${cells[0]} has ${cells.length} cells, not 4`);
    const [id, stimulus, observable, pass] = cells;
    if (entries.some((e) => e.id === id)) throw new Error(`line ${index + 1}: ID ${id} appears twice`);
    entries.push({ id, group, stimulus, observable, pass });
  });
  if (entries.length === 0) throw new Error('no catalogue rows found');
  return entries;
}

export function renderCatalogue(entries, sourceName) {
  return `${JSON.stringify({ source: sourceName, entries }, null, 2)}\n`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const check = args[0] === '--check';
  const source = resolve(
    (check ? args[1] : args[0]) ?? join(repo, '..', 'shared', 'conformance-catalogue.md'),
  );
  let text;
  try {
    text = renderCatalogue(parseCatalogue(readFileSync(source, 'utf8')), basename(source));
  } catch (err) {
    console.error(`vendor-catalogue: ${source}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
  const target = relative(process.cwd(), VENDORED) || VENDORED;
  if (check) {
    const same = readFileSync(VENDORED, 'utf8') === text;
    console.log(same ? `${target} matches ${source}` : `${target} differs from ${source}: regenerate it`);
    process.exit(same ? 0 : 1);
  }
  writeFileSync(VENDORED, text);
  console.log(`wrote ${target} (${JSON.parse(text).entries.length} IDs) from ${source}`);
}
