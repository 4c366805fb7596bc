/**
 * Field validation derived from the collection specs. Every error names the field (JSON pointer),
 * what was wrong and what to send instead; all field errors of a request are reported at once.
 */

import { formatIPv4, isUnicastMac, maskOf, normalizeMac, parseCidr4, parseIPv4 } from '../protocol/addr.ts';
import {
  type BatchOperation,
  COLLECTIONS,
  type CollectionName,
  type CollectionSpec,
  type FieldSpec,
  ID_PATTERN,
  MAX_BATCH_OPERATIONS,
} from './model.ts';

export interface FieldError {
  /** JSON pointer into the request body, e.g. `/vni`. */
  field: string;
  message: string;
  hint: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: FieldError[];
  readonly hint: string | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { details?: FieldError[]; hint?: string } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = options.details ?? [];
    this.hint = options.hint;
  }

  toJSON(): Record<string, unknown> {
    const first = this.details[0];
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(first ? { field: first.field } : {}),
        ...(this.hint ? { hint: this.hint } : first ? { hint: first.hint } : {}),
        ...(this.details.length ? { details: this.details } : {}),
      },
    };
  }
}

export function fieldError(field: string, message: string, hint: string): ApiError {
  return new ApiError(422, 'invalid_field', `${field.slice(1)}: ${message}`, {
    details: [{ field, message, hint }],
  });
}

function describeType(field: FieldSpec): string {
  switch (field.type) {
    case 'id':
      return `the id of an existing ${field.ref ?? 'object'} (string)`;
    case 'idList':
      return `an array of ${field.ref ?? 'object'} ids`;
    case 'string':
      return `a string of at most ${field.max ?? 1024} characters`;
    case 'name':
      return 'a name of 1..63 printable characters';
    case 'integer':
      return `an integer from ${field.min ?? 0} to ${field.max ?? Number.MAX_SAFE_INTEGER}`;
    case 'ipv4':
      return 'a dotted-quad IPv4 address like 10.0.1.10';
    case 'cidr4':
      return 'an IPv4 prefix like 10.0.1.0/24 with the host bits zero';
    case 'mac':
      return 'a unicast MAC like 02:00:00:00:01:0a';
    case 'enum':
      return `one of ${(field.values ?? []).join(', ')}`;
    case 'routeTarget':
      return 'a route target ASN:NN like 65000:100 (ASN 1..4294967295, NN 0..65535 or, with a 2-byte ASN, 0..4294967295)';
  }
}

/** Checks and normalises one value; returns [value] or an error message. */
function checkValue(
  field: FieldSpec,
  value: unknown,
): { ok: true; value: unknown } | { ok: false; message: string } {
  if (value === null) {
    if (field.nullable) return { ok: true, value: null };
    return { ok: false, message: 'must not be null' };
  }
  switch (field.type) {
    case 'id':
      if (typeof value !== 'string' || value.length === 0)
        return { ok: false, message: 'must be a non-empty string id' };
      return { ok: true, value };
    case 'idList': {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0))
        return { ok: false, message: 'must be an array of string ids' };
      return { ok: true, value: [...new Set(value as string[])] };
    }
    case 'string': {
      if (typeof value !== 'string') return { ok: false, message: 'must be a string' };
      if (value.length > (field.max ?? 1024))
        return { ok: false, message: `is longer than ${field.max ?? 1024}` };
      return { ok: true, value };
    }
    case 'name': {
      if (typeof value !== 'string' || value.length < 1 || value.length > 63)
        return { ok: false, message: 'must be a string of 1..63 characters' };
      // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
      if (/[\u0000-\u001f\u007f]/.test(value))
        return { ok: false, message: 'must not contain control characters' };
      return { ok: true, value };
    }
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value))
        return { ok: false, message: 'must be an integer' };
      if (field.min !== undefined && value < field.min)
        return { ok: false, message: `is below ${field.min}` };
      if (field.max !== undefined && value > field.max)
        return { ok: false, message: `is above ${field.max}` };
      return { ok: true, value };
    }
    case 'ipv4': {
      if (typeof value !== 'string' || parseIPv4(value) === undefined)
        return { ok: false, message: `${JSON.stringify(value)} is not an IPv4 address` };
      return { ok: true, value };
    }
    case 'cidr4': {
      const cidr = typeof value === 'string' ? parseCidr4(value) : undefined;
      if (!cidr) return { ok: false, message: `${JSON.stringify(value)} is not an IPv4 prefix` };
      if ((cidr.network & maskOf(cidr.length)) >>> 0 !== cidr.network)
        return {
          ok: false,
          message: `host bits are set (did you mean ${formatIPv4((cidr.network & maskOf(cidr.length)) >>> 0)}/${cidr.length}?)`,
        };
      return { ok: true, value };
    }
    case 'mac': {
      const mac = typeof value === 'string' ? normalizeMac(value) : undefined;
      if (!mac) return { ok: false, message: `${JSON.stringify(value)} is not a MAC address` };
      if (!isUnicastMac(mac)) return { ok: false, message: 'is a multicast/broadcast or zero MAC' };
      return { ok: true, value: mac };
    }
    case 'enum':
      if (typeof value !== 'string' || !(field.values ?? []).includes(value))
        return { ok: false, message: `${JSON.stringify(value)} is not allowed` };
      return { ok: true, value };
    case 'routeTarget': {
      const m = typeof value === 'string' ? /^(\d{1,10}):(\d{1,10})$/.exec(value) : null;
      if (!m) return { ok: false, message: `${JSON.stringify(value)} is not ASN:NN` };
      const asn = Number(m[1]);
      const nn = Number(m[2]);
      const ok = asn >= 1 && asn <= 0xffffffff && (asn <= 0xffff ? nn <= 0xffffffff : nn <= 0xffff);
      if (!ok) return { ok: false, message: 'ASN or number out of range' };
      return { ok: true, value };
    }
  }
}

/**
 * Validates a create (all required fields present, unknown fields refused) or a patch (only mutable
 * fields). Returns the normalised fields. Throws ApiError 422 listing every bad field.
 */
export function validateBody(
  spec: CollectionSpec,
  body: unknown,
  mode: 'create' | 'patch',
): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'invalid_body', 'the request body must be a JSON object', {
      hint: `send Content-Type: application/json with an object of ${spec.singular} fields`,
    });
  }
  const input = body as Record<string, unknown>;
  const errors: FieldError[] = [];
  const out: Record<string, unknown> = {};
  const known = new Map(spec.fields.map((f) => [f.name, f]));
  for (const key of Object.keys(input)) {
    if (key === 'id' && mode === 'create') continue;
    if (key === 'revision') continue; // echoing an object back is harmless
    if (!known.has(key)) {
      errors.push({
        field: `/${key}`,
        message: key === 'id' ? 'the id cannot be changed' : `unknown field for a ${spec.singular}`,
        hint: `allowed fields: ${spec.fields.map((f) => f.name).join(', ')}`,
      });
    }
  }
  if (mode === 'create' && input.id !== undefined) {
    if (typeof input.id !== 'string' || !ID_PATTERN.test(input.id)) {
      errors.push({
        field: '/id',
        message: `${JSON.stringify(input.id)} is not a valid id`,
        hint: 'omit it (a UUID is generated) or use 1..63 of a-z 0-9 . _ - starting with a letter or digit',
      });
    } else out.id = input.id;
  }
  for (const field of spec.fields) {
    const present = Object.hasOwn(input, field.name) && input[field.name] !== undefined;
    if (present && mode === 'create' && field.serverAssigned) {
      errors.push({
        field: `/${field.name}`,
        message: 'is allocated by the directory',
        hint: `omit ${field.name}; read it from the created ${spec.singular}`,
      });
      continue;
    }
    if (!present) {
      if (mode === 'create' && field.required) {
        errors.push({ field: `/${field.name}`, message: 'is required', hint: `send ${describeType(field)}` });
      }
      continue;
    }
    if (mode === 'patch' && field.mutable === false) {
      errors.push({
        field: `/${field.name}`,
        message: 'cannot be changed after creation',
        hint: `delete the ${spec.singular} and create a new one`,
      });
      continue;
    }
    const result = checkValue(field, input[field.name]);
    if (!result.ok)
      errors.push({ field: `/${field.name}`, message: result.message, hint: `send ${describeType(field)}` });
    else out[field.name] = result.value;
  }
  if (errors.length > 0) {
    const first = errors[0] as FieldError;
    throw new ApiError(
      422,
      'invalid_field',
      `invalid ${spec.singular}: ${errors.map((e) => `${e.field.slice(1)} ${e.message}`).join('; ')}`,
      { details: errors, hint: first.hint },
    );
  }
  return out;
}

/**
 * The body of `POST /v1/batch`: `{"operations": [{op, collection, id?, body?}, ...]}`. Checks the
 * envelope only; each body is validated like the single call it stands for.
 */
export function validateBatch(body: unknown): BatchOperation[] {
  const hint =
    'send {"operations": [{"op": "create", "collection": "vports", "body": {...}}, ...]} (see /openapi.json)';
  const operations = (body as { operations?: unknown } | null)?.operations;
  if (typeof body !== 'object' || body === null || !Array.isArray(operations))
    throw fieldError('/operations', 'must be an array of operations', hint);
  if (operations.length === 0 || operations.length > MAX_BATCH_OPERATIONS)
    throw fieldError(
      '/operations',
      `holds ${operations.length} operations; a batch holds 1..${MAX_BATCH_OPERATIONS}`,
      `split the work into batches of at most ${MAX_BATCH_OPERATIONS}`,
    );
  return operations.map((raw, index): BatchOperation => {
    const at = `/operations/${index}`;
    const op = raw as { op?: unknown; collection?: unknown; id?: unknown; body?: unknown } | null;
    if (typeof op !== 'object' || op === null) throw fieldError(at, 'must be an object', hint);
    if (op.op !== 'create' && op.op !== 'update' && op.op !== 'delete')
      throw fieldError(`${at}/op`, 'must be "create", "update" or "delete"', 'choose one of the three');
    if (typeof op.collection !== 'string' || !(COLLECTIONS as readonly string[]).includes(op.collection))
      throw fieldError(
        `${at}/collection`,
        `no collection named ${JSON.stringify(op.collection)}`,
        `collections: ${COLLECTIONS.join(', ')}`,
      );
    const collection = op.collection as CollectionName;
    const objectBody = () => {
      if (typeof op.body !== 'object' || op.body === null || Array.isArray(op.body))
        throw fieldError(`${at}/body`, 'must be the object, as for the single call', hint);
      return op.body as Record<string, unknown>;
    };
    if (op.op === 'create') return { op: 'create', collection, body: objectBody() };
    if (typeof op.id !== 'string' || !ID_PATTERN.test(op.id))
      throw fieldError(`${at}/id`, 'must be the id of an existing object', `match ${ID_PATTERN.source}`);
    return op.op === 'update'
      ? { op: 'update', collection, id: op.id, body: objectBody() }
      : { op: 'delete', collection, id: op.id };
  });
}
