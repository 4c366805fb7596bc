/** The OpenAPI 3.0 document of the directory, generated from the collection specs. */
import { COLLECTIONS, type FieldSpec, MAX_BATCH_OPERATIONS, SPECS } from './model.ts';

type Schema = Record<string, unknown>;

function fieldSchema(field: FieldSpec): Schema {
  const base: Schema = { description: field.description };
  switch (field.type) {
    case 'id':
      Object.assign(base, { type: 'string', 'x-references': field.ref });
      break;
    case 'idList':
      Object.assign(base, { type: 'array', items: { type: 'string' }, 'x-references': field.ref });
      break;
    case 'string':
      Object.assign(base, { type: 'string', maxLength: field.max ?? 1024 });
      break;
    case 'name':
      Object.assign(base, { type: 'string', minLength: 1, maxLength: 63 });
      break;
    case 'integer':
      Object.assign(base, { type: 'integer', minimum: field.min, maximum: field.max });
      break;
    case 'ipv4':
      Object.assign(base, { type: 'string', format: 'ipv4' });
      break;
    case 'cidr4':
      Object.assign(base, {
        type: 'string',
        pattern: '^\\d+\\.\\d+\\.\\d+\\.\\d+/\\d+$',
        example: '10.0.1.0/24',
      });
      break;
    case 'mac':
      Object.assign(base, { type: 'string', pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$' });
      break;
    case 'enum':
      Object.assign(base, { type: 'string', enum: field.values });
      break;
    case 'routeTarget':
      Object.assign(base, { type: 'string', pattern: '^\\d+:\\d+$', example: '65000:100' });
      break;
  }
  if (field.nullable) base.nullable = true;
  return base;
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

export function openApiDocument(): Schema {
  const schemas: Record<string, Schema> = {
    Error: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: {
              type: 'string',
              description: 'Stable machine-readable code, e.g. invalid_field, not_found.',
            },
            message: { type: 'string', description: 'What went wrong, in one sentence.' },
            field: { type: 'string', description: 'JSON pointer of the first offending field.' },
            hint: { type: 'string', description: 'What to send instead.' },
            details: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  field: { type: 'string' },
                  message: { type: 'string' },
                  hint: { type: 'string' },
                },
              },
            },
          },
        },
      },
    },
    Change: {
      type: 'object',
      properties: {
        revision: { type: 'integer' },
        op: { type: 'string', enum: ['create', 'update', 'delete'] },
        collection: { type: 'string', enum: [...COLLECTIONS] },
        id: { type: 'string' },
        object: { type: 'object' },
        previous: { type: 'object' },
        at: { type: 'string', format: 'date-time' },
      },
    },
  };
  const paths: Record<string, Schema> = {};
  const errors = (codes: number[]): Schema =>
    Object.fromEntries(
      codes.map((c) => [
        String(c),
        {
          description: `Error ${c}`,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      ]),
    );
  for (const name of COLLECTIONS) {
    const spec = SPECS[name];
    const type = pascal(spec.singular);
    const properties: Record<string, Schema> = {};
    for (const field of spec.fields) if (!field.serverAssigned) properties[field.name] = fieldSchema(field);
    schemas[`${type}Create`] = {
      type: 'object',
      description: spec.description,
      additionalProperties: false,
      required: spec.fields.filter((f) => f.required).map((f) => f.name),
      properties: {
        id: {
          type: 'string',
          pattern: '^[a-z0-9][a-z0-9._-]{0,62}$',
          description: 'Optional; a UUID when omitted.',
        },
        ...properties,
      },
    };
    schemas[`${type}Patch`] = {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(
        spec.fields.filter((f) => f.mutable !== false).map((f) => [f.name, fieldSchema(f)]),
      ),
    };
    schemas[type] = {
      type: 'object',
      description: spec.description,
      properties: {
        id: { type: 'string' },
        revision: { type: 'integer' },
        ...Object.fromEntries(spec.fields.map((f) => [f.name, fieldSchema(f)])),
      },
    };
    const ref = { $ref: `#/components/schemas/${type}` };
    const json = (schema: Schema) => ({ 'application/json': { schema } });
    paths[`/v1/${name}`] = {
      get: {
        summary: `List ${name}`,
        tags: [name],
        parameters: spec.fields
          .filter((f) => f.type !== 'idList')
          .map((f) => ({
            name: f.name,
            in: 'query',
            required: false,
            schema: { type: 'string' },
            description: 'Equality filter.',
          })),
        responses: {
          '200': { description: 'The list', content: json({ type: 'array', items: ref }) },
          ...errors([400, 401]),
        },
      },
      post: {
        summary: `Create a ${spec.singular}`,
        tags: [name],
        requestBody: { required: true, content: json({ $ref: `#/components/schemas/${type}Create` }) },
        responses: { '201': { description: 'Created', content: json(ref) }, ...errors([400, 401, 409, 422]) },
      },
    };
    paths[`/v1/${name}/{id}`] = {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      get: {
        summary: `Get a ${spec.singular}`,
        tags: [name],
        responses: { '200': { description: 'The object', content: json(ref) }, ...errors([401, 404]) },
      },
      patch: {
        summary: `Change a ${spec.singular}`,
        tags: [name],
        requestBody: { required: true, content: json({ $ref: `#/components/schemas/${type}Patch` }) },
        responses: {
          '200': { description: 'Changed', content: json(ref) },
          ...errors([400, 401, 404, 409, 422]),
        },
      },
      delete: {
        summary: `Delete a ${spec.singular}`,
        tags: [name],
        responses: {
          '200': { description: 'Deleted (the object as it was)', content: json(ref) },
          ...errors([401, 404, 409]),
        },
      },
    };
  }
  paths['/v1/snapshot'] = {
    get: {
      summary: 'Every object and the revision they are consistent at (start of a change stream).',
      responses: { '200': { description: 'Snapshot' }, ...errors([401]) },
    },
  };
  paths['/v1/changes'] = {
    get: {
      summary: 'Change stream (long-poll): changes after `since`, waiting up to `timeout` ms for one.',
      parameters: [
        { name: 'since', in: 'query', required: true, schema: { type: 'integer', minimum: 0 } },
        {
          name: 'timeout',
          in: 'query',
          schema: { type: 'integer', minimum: 0, maximum: 60000, default: 25000 },
        },
        {
          name: 'limit',
          in: 'query',
          schema: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
        },
      ],
      responses: {
        '200': {
          description: 'Changes (possibly none after the timeout) and the current revision',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  revision: { type: 'integer' },
                  changes: { type: 'array', items: { $ref: '#/components/schemas/Change' } },
                },
              },
            },
          },
        },
        ...errors([400, 401, 410]),
      },
    },
  };
  paths['/v1/batch'] = {
    post: {
      summary: `Up to ${MAX_BATCH_OPERATIONS} creates, updates and deletes in one transaction, all or none: {"operations": [{"op": "create", "collection", "body"} | {"op": "update", "collection", "id", "body"} | {"op": "delete", "collection", "id"}]}. Changes appear on /v1/changes in order; an error names the failing operation's index.`,
      responses: {
        '200': { description: '{"results": [{op, collection, id, revision}]}' },
        ...errors([400, 401, 404, 409, 415, 422]),
      },
    },
  };
  paths['/v1/alarms'] = {
    get: {
      summary:
        'Alarms controllers raised (runtime state, not persisted): duplicate MACs (RFC 7432 §15.1) with where each is frozen.',
      responses: { '200': { description: 'Alarms' }, ...errors([401]) },
    },
  };
  paths['/v1/alarms/{id}'] = {
    get: { summary: 'One alarm.', responses: { '200': { description: 'Alarm' }, ...errors([401, 404]) } },
    put: {
      summary:
        'A controller raises (or updates) an alarm: {kind: "duplicate-mac", controller, zone, vni, mac, vtep, seq, moves, windowSeconds, raisedAt}.',
      responses: { '200': { description: 'Alarm stored' }, ...errors([400, 401, 415]) },
    },
  };
  paths['/healthz'] = {
    get: {
      summary: 'Liveness (no authentication)',
      security: [],
      responses: { '200': { description: 'ok' } },
    },
  };
  paths['/openapi.json'] = {
    get: {
      summary: 'This document (no authentication)',
      security: [],
      responses: { '200': { description: 'OpenAPI 3' } },
    },
  };
  return {
    openapi: '3.0.3',
    info: {
      title: 'overlay-twin reference directory',
      version: '1.0.0',
      description:
        'Policy plane of the reference implementation: tenants, routing domains, subnets, vports, zones, hypervisors; security groups (numeric sgid allocated here) and their rules; room for floating IPs and redirection targets. Every mutation advances a monotonic revision; controllers follow GET /v1/changes.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas },
    paths,
  };
}
