/**
 * The scenario file's JSON schema, put together from the base shape (schema-base.ts) and the
 * registered check and fault kinds' fragments. The validator uses it as built; the editor schema
 * scenario.schema.json is this, written by `npm run gen:schema` (a test fails when the file is stale).
 */
import { CHECK_KINDS } from './checks/index.ts';
import { FAULT_KINDS } from './faults/index.ts';
import type { Schema } from './schema.ts';
import { BASE_SCHEMA } from './schema-base.ts';

function definition(root: Schema, name: string): Schema {
  const d = root.definitions?.[name];
  if (!d) throw new Error(`schema-base.ts has no definition '${name}'`);
  return d;
}

export function buildScenarioSchema(): Schema {
  const root = structuredClone(BASE_SCHEMA);
  const check = definition(root, 'check');
  const keys = CHECK_KINDS.map((d) => d.kind);
  check.description = `One expectation: exactly one of ${keys.join(', ')}.`;
  check.properties = {
    ...check.properties,
    ...Object.fromEntries(CHECK_KINDS.map((d) => [d.kind, structuredClone(d.schema)])),
  };

  const fault = definition(root, 'fault');
  const { kind: _kind, duration, ...common } = fault.properties ?? {};
  const fields: Record<string, Schema> = {};
  for (const d of FAULT_KINDS)
    for (const [key, schema] of Object.entries(d.properties)) fields[key] ??= structuredClone(schema);
  fault.properties = {
    kind: { enum: FAULT_KINDS.map((d) => d.kind) },
    ...common,
    ...fields,
    ...(duration ? { duration } : {}),
  };
  return root;
}
