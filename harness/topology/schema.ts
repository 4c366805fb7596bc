/**
 * containerlab's official JSON schema (draft-07) for topology files, compiled once per process with
 * ajv (`strict: false` for the schema's non-standard keywords such as `markdownDescription`; unicode
 * regexps stay on because the schema uses `\p{...}`).
 *
 * The schema is vendored in `vendor/containerlab/` (with its licence and the commit it came from);
 * OTWIN_CLAB_SCHEMA overrides the path explicitly. When that override names a missing file,
 * validation is skipped and the loader reports a warning.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';

// ajv is CommonJS: under NodeNext the default import is the module object, the class is `.default`.
const Ajv = AjvModule.default;

const VENDORED_SCHEMA = resolve(
  dirname(fileURLToPath(import.meta.url)),
  'vendor',
  'containerlab',
  'clab.schema.json',
);

export function clabSchemaPath(): string {
  return process.env.OTWIN_CLAB_SCHEMA ?? VENDORED_SCHEMA;
}

export function clabSchemaAvailable(): boolean {
  return existsSync(clabSchemaPath());
}

interface CompiledSchema {
  path: string;
  validate: ValidateFunction;
  /** Validators for one link definition, by containerlab link type ('' = the brief form). */
  linkValidators: Map<string, ValidateFunction>;
}

let compiled: CompiledSchema | undefined;

/** Maps a link `type:` to the schema definition that describes it. */
const LINK_DEFINITIONS: Record<string, string> = {
  '': 'link-config-short',
  veth: 'link-type-veth',
  'veth-stitch': 'link-type-veth-stitched',
  'mgmt-net': 'link-type-mgmt-net',
  macvlan: 'link-type-macvlan',
  host: 'link-type-host',
  vxlan: 'link-type-vxlan',
  'vxlan-stitch': 'link-type-vxlan-stitched',
  dummy: 'link-type-dummy',
};

export const KNOWN_LINK_TYPES = Object.keys(LINK_DEFINITIONS).filter((t) => t !== '');

/** The compiled schema, or undefined when the schema file is absent. */
export function clabSchema(): CompiledSchema | undefined {
  const path = clabSchemaPath();
  if (compiled?.path === path) return compiled;
  if (!existsSync(path)) return undefined;
  const schema = JSON.parse(readFileSync(path, 'utf8')) as {
    $id?: string;
    definitions?: Record<string, unknown>;
  };
  const ajv = new Ajv({ strict: false, allErrors: true, verbose: true });
  const validate = ajv.compile(schema);
  const linkValidators = new Map<string, ValidateFunction>();
  const id = schema.$id ?? '';
  for (const [type, def] of Object.entries(LINK_DEFINITIONS)) {
    if (!schema.definitions?.[def]) continue;
    const sub = ajv.getSchema(`${id}#/definitions/${def}`);
    if (sub) linkValidators.set(type, sub);
  }
  compiled = { path, validate, linkValidators };
  return compiled;
}

export type SchemaError = ErrorObject;

/** Splits ajv's JSON pointer (`/topology/nodes/r1`) into path segments. */
export function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^(0|[1-9][0-9]*)$/.test(part) ? Number(part) : part));
}
