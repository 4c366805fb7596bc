/**
 * Validates a parsed scenario document against the scenario schema (scenario-schema.ts) with messages written for people:
 * one issue per problem, at the offending key or value, with a hint (closest known key, allowed values,
 * the expected format). A small interpreter of the JSON-schema subset the file uses (type, properties,
 * additionalProperties, required, enum, const, pattern, bounds, items, anyOf, $ref) — ajv's messages
 * for `anyOf` unions (duration, `expect: check | [check]`) point at every branch and help nobody.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closest } from '../util/closest.ts';
import { buildScenarioSchema } from './scenario-schema.ts';

export type Path = Array<string | number>;

export interface SchemaIssue {
  path: Path;
  message: string;
  hint: string | undefined;
  /** Point at the key (unknown key) rather than the value. */
  atKey: boolean;
}

export interface Schema {
  $schema?: string;
  $id?: string;
  title?: string;
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  items?: Schema;
  anyOf?: Schema[];
  description?: string;
  definitions?: Record<string, Schema>;
}

const here = dirname(fileURLToPath(import.meta.url));
/** The editor schema, generated from the registered kinds (`npm run gen:schema`). */
export const SCHEMA_FILE = join(here, 'scenario.schema.json');
let cached: Schema | undefined;

/** The schema the validator uses: the base shape plus every registered kind's fragment. */
export function scenarioSchema(): Schema {
  cached ??= buildScenarioSchema();
  return cached;
}

export function validateAgainstSchema(value: unknown, root: Schema = scenarioSchema()): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  walk(value, root, root, [], issues);
  return issues;
}

function resolve(schema: Schema, root: Schema): Schema {
  let current = schema;
  for (let i = 0; current.$ref && i < 20; i += 1) {
    const name = current.$ref.replace('#/definitions/', '');
    const target = root.definitions?.[name];
    if (!target) throw new Error(`schema: unknown $ref ${current.$ref}`);
    const description =
      current.description && target.description && current.description !== target.description
        ? `${current.description} (${target.description})`
        : (current.description ?? target.description);
    current = { ...target, ...(description ? { description } : {}) };
  }
  return current;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (Number.isInteger(value)) return 'integer';
  return typeof value;
}

function typeMatches(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  if (type === 'number') return actual === 'number' || actual === 'integer';
  return actual === type;
}

const typeWords: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
};

function describeValue(value: unknown): string {
  const t = typeOf(value);
  if (t === 'object') return 'a mapping';
  if (t === 'array') return 'a list';
  if (t === 'null') return 'nothing (null)';
  return `${JSON.stringify(value)}`;
}

/** Whether the value's kind fits the schema at its root (without looking inside). */
function shallowFits(value: unknown, schema: Schema, root: Schema): boolean {
  const s = resolve(schema, root);
  if (s.const !== undefined) return value === s.const;
  if (s.enum) return s.enum.includes(value);
  if (s.anyOf) return s.anyOf.some((branch) => shallowFits(value, branch, root));
  if (s.type) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    return types.some((t) => typeMatches(value, t));
  }
  return true;
}

function expectedText(schema: Schema, root: Schema): string {
  const s = resolve(schema, root);
  if (s.description && (s.anyOf || s.pattern)) return s.description;
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return `one of ${s.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  if (s.anyOf) return s.anyOf.map((b) => expectedText(b, root)).join(' or ');
  if (s.type) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    return types.map((t) => typeWords[t] ?? t).join(' or ');
  }
  return 'a valid value';
}

function walk(value: unknown, schema: Schema, root: Schema, path: Path, issues: SchemaIssue[]): void {
  const s = resolve(schema, root);
  if (s.anyOf) {
    walkUnion(value, s.anyOf, s, root, path, issues);
    return;
  }
  if (!fitsConstEnumType(value, s, path, issues)) return;
  if (typeof value === 'string') checkString(value, s, path, issues);
  if (typeof value === 'number') checkNumber(value, s, path, issues);
  if (Array.isArray(value)) walkArray(value, s, root, path, issues);
  if (typeOf(value) === 'object') walkObject(value as Record<string, unknown>, s, root, path, issues);
}

/** A union: the value must fit one branch; the issues of the branch it fits best are reported. */
function walkUnion(
  value: unknown,
  branches: Schema[],
  s: Schema,
  root: Schema,
  path: Path,
  issues: SchemaIssue[],
): void {
  const fitting = branches.filter((branch) => shallowFits(value, branch, root));
  if (fitting.length === 0) {
    issues.push({
      path,
      message: `expected ${expectedText(s, root)}, got ${describeValue(value)}`,
      hint: undefined,
      atKey: false,
    });
    return;
  }
  let best: SchemaIssue[] | undefined;
  for (const branch of fitting) {
    const branchIssues: SchemaIssue[] = [];
    walk(value, branch, root, path, branchIssues);
    if (branchIssues.length === 0) return;
    if (!best || branchIssues.length < best.length) best = branchIssues;
  }
  // Errors at the union's own value get the union's description as their hint (e.g. "a duration: ...").
  issues.push(
    ...(best ?? []).map((i) =>
      s.description && i.path.length === path.length && !i.atKey ? { ...i, hint: s.description } : i,
    ),
  );
}

/** const, enum and type: false (after one issue) when the value does not even have the right shape. */
function fitsConstEnumType(value: unknown, s: Schema, path: Path, issues: SchemaIssue[]): boolean {
  if (s.const !== undefined && value !== s.const) {
    issues.push({
      path,
      message: `expected ${JSON.stringify(s.const)}, got ${describeValue(value)}`,
      hint: undefined,
      atKey: false,
    });
    return false;
  }
  if (s.enum && !s.enum.includes(value)) {
    const allowed = s.enum.map((v) => JSON.stringify(v));
    const close = typeof value === 'string' ? closest(value, s.enum.map(String)) : undefined;
    issues.push({
      path,
      message: `${describeValue(value)} is not allowed here`,
      hint: close
        ? `did you mean ${JSON.stringify(close)}? allowed: ${allowed.join(', ')}`
        : `allowed: ${allowed.join(', ')}`,
      atKey: false,
    });
    return false;
  }
  if (s.type) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.some((t) => typeMatches(value, t))) {
      issues.push({
        path,
        message: `expected ${types.map((t) => typeWords[t] ?? t).join(' or ')}, got ${describeValue(value)}`,
        hint: s.description,
        atKey: false,
      });
      return false;
    }
  }
  return true;
}

function checkString(value: string, s: Schema, path: Path, issues: SchemaIssue[]): void {
  if (s.minLength !== undefined && value.length < s.minLength) {
    issues.push({ path, message: 'must not be empty', hint: s.description, atKey: false });
  }
  if (s.maxLength !== undefined && value.length > s.maxLength) {
    issues.push({
      path,
      message: `is ${value.length} characters long, more than ${s.maxLength}`,
      hint: s.description,
      atKey: false,
    });
  }
  if (s.pattern && !new RegExp(s.pattern, 'u').test(value)) {
    issues.push({
      path,
      message: `${JSON.stringify(value)} is not in the expected format`,
      hint: s.description ?? `expected to match /${s.pattern}/`,
      atKey: false,
    });
  }
}

function checkNumber(value: number, s: Schema, path: Path, issues: SchemaIssue[]): void {
  if (s.minimum !== undefined && value < s.minimum) {
    issues.push({
      path,
      message: `${value} is below the minimum ${s.minimum}`,
      hint: s.description,
      atKey: false,
    });
  }
  if (s.maximum !== undefined && value > s.maximum) {
    issues.push({
      path,
      message: `${value} is above the maximum ${s.maximum}`,
      hint: s.description,
      atKey: false,
    });
  }
}

function walkArray(value: unknown[], s: Schema, root: Schema, path: Path, issues: SchemaIssue[]): void {
  if (s.minItems !== undefined && value.length < s.minItems) {
    issues.push({
      path,
      message: `needs at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`,
      hint: s.description,
      atKey: false,
    });
  }
  if (s.maxItems !== undefined && value.length > s.maxItems) {
    issues.push({ path, message: `takes at most ${s.maxItems} items`, hint: s.description, atKey: false });
  }
  if (s.items)
    value.forEach((item, i) => {
      walk(item, s.items as Schema, root, [...path, i], issues);
    });
}

function walkObject(
  obj: Record<string, unknown>,
  s: Schema,
  root: Schema,
  path: Path,
  issues: SchemaIssue[],
): void {
  const props = s.properties ?? {};
  for (const required of s.required ?? []) {
    if (!(required in obj)) {
      const sub = props[required];
      issues.push({
        path,
        message: `missing required key '${required}'`,
        hint: sub ? `${required}: ${expectedText(sub, root)}` : undefined,
        atKey: false,
      });
    }
  }
  for (const [key, child] of Object.entries(obj)) {
    const sub = props[key];
    if (sub) {
      walk(child, sub, root, [...path, key], issues);
    } else if (s.additionalProperties === false) {
      const known = Object.keys(props);
      const close = closest(key, known);
      issues.push({
        path: [...path, key],
        message: `unknown key '${key}'`,
        hint: close
          ? `did you mean '${close}'? known keys: ${known.join(', ')}`
          : `known keys: ${known.join(', ')}`,
        atKey: true,
      });
    } else if (typeof s.additionalProperties === 'object') {
      walk(child, s.additionalProperties, root, [...path, key], issues);
    }
  }
}
