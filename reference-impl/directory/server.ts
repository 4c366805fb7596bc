/**
 * The directory's HTTP API on node:http. Routes:
 *   GET /openapi.json, GET /healthz                      (no authentication)
 *   GET|POST /v1/<collection>, GET|PATCH|DELETE /v1/<collection>/<id>
 *   GET /v1/snapshot                                      every object + revision
 *   GET /v1/changes?since=N&timeout=ms                    long-poll change stream
 *   GET /v1/alarms, GET|PUT /v1/alarms/<id>               alarms controllers raise (runtime state)
 * Authentication: `Authorization: Bearer <token>`. Errors are JSON `{error:{code,message,field,hint}}`.
 */
import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { secretsEqual } from '../protocol/secret.ts';
import { type Alarm, COLLECTIONS, type CollectionName, ID_PATTERN } from './model.ts';
import { openApiDocument } from './openapi.ts';
import { DirectoryStore } from './store.ts';
import { ApiError, validateBatch } from './validate.ts';

export interface DirectoryServerOptions {
  dbPath: string;
  token: string;
  host?: string;
  port?: number;
  /** Also listen on this Unix socket (reachable through the filesystem, e.g. from the lab host). */
  socketPath?: string;
  asn?: number;
  log?: (line: string) => void;
}

const MAX_BODY = 1024 * 1024;

function parseRequestUrl(raw: string): URL {
  try {
    return new URL(raw, 'http://directory');
  } catch {
    throw new ApiError(
      400,
      'bad_path',
      `the request target ${JSON.stringify(raw.slice(0, 200))} is not a URL path`,
      {
        hint: 'send an absolute path such as /v1/vports',
      },
    );
  }
}

/** The percent-decoded segments of a path; a malformed escape (`%zz`, a lone `%`, bad UTF-8) is a 400. */
export function decodePath(pathname: string): string[] {
  return pathname
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        throw new ApiError(
          400,
          'bad_path',
          `the path segment ${JSON.stringify(segment)} is not valid percent-encoding`,
          {
            hint: 'encode reserved characters as %XX with two hex digits of UTF-8 bytes',
          },
        );
      }
    });
}

export class DirectoryServer {
  readonly store: DirectoryStore;
  private readonly server: Server;
  private unixServer: Server | undefined;
  private readonly token: Buffer;
  private readonly log: (line: string) => void;
  private readonly polls = new Set<AbortController>();
  private readonly openapi = JSON.stringify(openApiDocument());
  /** Alarms raised by controllers, by id: runtime state (gone when the directory restarts). */
  private readonly alarms = new Map<string, Alarm>();

  constructor(private readonly options: DirectoryServerOptions) {
    this.store = new DirectoryStore(options.dbPath, options.asn !== undefined ? { asn: options.asn } : {});
    this.token = Buffer.from(options.token);
    this.log = options.log ?? (() => {});
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => this.fail(res, err));
    });
    this.server.keepAliveTimeout = 65_000;
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 8080, this.options.host ?? '0.0.0.0', () => resolve());
    });
    if (this.options.socketPath) {
      const path = this.options.socketPath;
      rmSync(path, { force: true });
      const unix = createServer((req, res) => {
        this.handle(req, res).catch((err) => this.fail(res, err));
      });
      this.unixServer = unix;
      await new Promise<void>((resolve, reject) => {
        unix.once('error', reject);
        unix.listen(path, () => resolve());
      });
    }
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    for (const poll of this.polls) poll.abort();
    for (const server of [this.server, this.unixServer]) {
      if (!server) continue;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    this.store.close();
  }

  private send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-revision': String(this.store.revision),
      ...headers,
    });
    res.end(text);
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof ApiError) {
      this.send(res, err.status, err.toJSON(), err.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
      return;
    }
    this.log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    this.send(res, 500, {
      error: {
        code: 'internal',
        message: err instanceof Error ? err.message : String(err),
        hint: 'see the directory log',
      },
    });
  }

  private authenticate(req: IncomingMessage): void {
    const header = req.headers.authorization;
    const m = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
    if (!m) {
      throw new ApiError(401, 'unauthenticated', 'missing bearer token', {
        hint: 'send the header Authorization: Bearer <token> (the token in the file the directory was started with: --token-file)',
      });
    }
    if (!secretsEqual(this.token, m[1] as string)) {
      throw new ApiError(401, 'unauthenticated', 'invalid bearer token', {
        hint: 'check the token the directory was started with',
      });
    }
  }

  private async readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY)
        throw new ApiError(413, 'too_large', 'request body over 1 MiB', { hint: 'send smaller objects' });
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') {
      throw new ApiError(400, 'invalid_body', 'empty request body', { hint: 'send a JSON object' });
    }
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/(.+\+)?json/i.test(type)) {
      throw new ApiError(415, 'unsupported_media_type', `content-type ${type || '(none)'} is not JSON`, {
        hint: 'send Content-Type: application/json',
      });
    }
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new ApiError(400, 'invalid_json', `the body is not valid JSON: ${(err as Error).message}`, {
        hint: 'send a JSON object',
      });
    }
  }

  private intParam(url: URL, name: string, fallback: number | undefined, min: number, max: number): number {
    const raw = url.searchParams.get(name);
    if (raw === null) {
      if (fallback === undefined)
        throw new ApiError(400, 'missing_parameter', `query parameter ${name} is required`, {
          details: [{ field: name, message: 'is required', hint: `add ?${name}=<integer>` }],
          hint: `add ?${name}=<integer>`,
        });
      return fallback;
    }
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ApiError(
        400,
        'invalid_parameter',
        `query parameter ${name}=${raw} is not an integer in ${min}..${max}`,
        {
          details: [
            {
              field: name,
              message: `not an integer in ${min}..${max}`,
              hint: `send ${name}=<integer ${min}..${max}>`,
            },
          ],
          hint: `send ${name}=<integer ${min}..${max}>`,
        },
      );
    }
    return value;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseRequestUrl(req.url ?? '/');
    const method = req.method ?? 'GET';
    // Decoded before authentication: a malformed path is the client's error (400), never a 500.
    const parts = decodePath(url.pathname);
    if (method === 'GET' && url.pathname === '/openapi.json') return this.send(res, 200, this.openapi);
    if (method === 'GET' && url.pathname === '/healthz')
      return this.send(res, 200, { status: 'ok', revision: this.store.revision });
    if (parts[0] !== 'v1') {
      throw new ApiError(404, 'not_found', `no route ${method} ${url.pathname}`, {
        hint: 'see /openapi.json',
      });
    }
    this.authenticate(req);
    const [, collection, id, extra] = parts;
    if (collection === 'snapshot' && parts.length === 2 && method === 'GET')
      return this.send(res, 200, this.store.snapshot());
    if (collection === 'changes' && parts.length === 2 && method === 'GET')
      return this.changes(url, req, res);
    if (collection === 'alarms' && extra === undefined) return this.alarm(method, id, req, res);
    if (collection === 'batch' && parts.length === 2) {
      if (method !== 'POST')
        throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on /v1/batch`, {
          hint: 'use POST',
        });
      const results = this.store.batch(validateBatch(await this.readBody(req)));
      const last = results[results.length - 1];
      this.log(`batch of ${results.length} operation(s) up to rev ${last?.revision ?? this.store.revision}`);
      return this.send(res, 200, { results });
    }
    if (!collection || extra !== undefined) {
      throw new ApiError(404, 'not_found', `no route ${method} ${url.pathname}`, {
        hint: 'see /openapi.json',
      });
    }
    if (!(COLLECTIONS as readonly string[]).includes(collection)) {
      throw new ApiError(404, 'unknown_collection', `no collection named ${collection}`, {
        hint: `collections: ${COLLECTIONS.join(', ')}`,
      });
    }
    const name = collection as CollectionName;
    const notAllowed = (allowed: string) =>
      new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${url.pathname}`, {
        hint: `use ${allowed}`,
      });
    if (id === undefined) {
      if (method === 'GET') {
        const filter: Record<string, string> = {};
        for (const [k, v] of url.searchParams) filter[k] = v;
        return this.send(res, 200, this.store.list(name, filter));
      }
      if (method === 'POST') {
        const body = await this.readBody(req);
        const { object, revision } = this.store.create(name, body);
        this.log(`create ${name}/${object.id} rev ${revision}`);
        return this.send(res, 201, object, { location: `/v1/${name}/${object.id}` });
      }
      throw notAllowed('GET or POST');
    }
    if (method === 'GET') return this.send(res, 200, this.store.get(name, id));
    if (method === 'PATCH' || method === 'PUT') {
      const body = await this.readBody(req);
      const { object, revision } = this.store.patch(name, id, body);
      this.log(`update ${name}/${id} rev ${revision}`);
      return this.send(res, 200, object);
    }
    if (method === 'DELETE') {
      const { object, revision } = this.store.delete(name, id);
      this.log(`delete ${name}/${id} rev ${revision}`);
      return this.send(res, 200, object);
    }
    throw notAllowed('GET, PATCH or DELETE');
  }

  /** GET /v1/alarms, GET /v1/alarms/<id>, PUT /v1/alarms/<id> (a controller raising or updating one). */
  private async alarm(
    method: string,
    id: string | undefined,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    if (id === undefined) {
      if (method !== 'GET')
        throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on /v1/alarms`, {
          hint: 'use GET (a controller raises an alarm with PUT /v1/alarms/<id>)',
        });
      return this.send(res, 200, [...this.alarms.values()]);
    }
    if (method === 'GET') {
      const alarm = this.alarms.get(id);
      if (!alarm)
        throw new ApiError(404, 'not_found', `no alarm ${id}`, { hint: 'GET /v1/alarms lists them' });
      return this.send(res, 200, alarm);
    }
    if (method !== 'PUT')
      throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on /v1/alarms/${id}`, {
        hint: 'use GET or PUT',
      });
    const body = await this.readBody(req);
    if (!ID_PATTERN.test(id))
      throw new ApiError(400, 'invalid_id', `alarm id ${JSON.stringify(id)} is not a valid id`, {
        hint: `match ${ID_PATTERN.source}`,
      });
    const kind = (body as { kind?: unknown } | null)?.kind;
    if (typeof body !== 'object' || body === null || Array.isArray(body) || kind !== 'duplicate-mac')
      throw new ApiError(400, 'invalid_body', 'an alarm is a JSON object with kind "duplicate-mac"', {
        details: [
          { field: '/kind', message: 'must be "duplicate-mac"', hint: 'send "kind": "duplicate-mac"' },
        ],
        hint: 'send {"kind":"duplicate-mac", ...} (see /openapi.json)',
      });
    const alarm = { ...(body as Alarm), id };
    this.alarms.set(id, alarm);
    this.log(`alarm ${id} raised`);
    return this.send(res, 200, alarm);
  }

  private async changes(url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const since = this.intParam(url, 'since', undefined, 0, Number.MAX_SAFE_INTEGER);
    const timeout = this.intParam(url, 'timeout', 25_000, 0, 60_000);
    const limit = this.intParam(url, 'limit', 1000, 1, 10_000);
    const current = this.store.revision;
    if (since > current) {
      throw new ApiError(410, 'revision_ahead', `revision ${since} is ahead of the directory (${current})`, {
        hint: 'the directory database was replaced: resynchronise from GET /v1/snapshot',
      });
    }
    if (current === since && timeout > 0) {
      const abort = new AbortController();
      this.polls.add(abort);
      const onClose = () => abort.abort();
      req.socket.once('close', onClose);
      try {
        await this.store.waitForChange(since, timeout, abort.signal);
      } finally {
        this.polls.delete(abort);
        req.socket.off('close', onClose);
      }
      if (res.destroyed) return;
    }
    const changes = this.store.changesSince(since, limit);
    const revision = changes.length ? (changes[changes.length - 1]?.revision as number) : this.store.revision;
    this.send(res, 200, { revision, changes });
  }
}
