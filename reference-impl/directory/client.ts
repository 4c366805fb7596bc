/**
 * A typed client of the directory API (used by the controller, the scenario driver, tests and the
 * attach benchmark). Network failures become DirectoryUnavailableError with a sentence a person can
 * act on; API errors become DirectoryApiError carrying the server's code/field/hint.
 */
import { Agent, request as httpRequest } from 'node:http';
import { readSecretFile } from '../protocol/secret.ts';
import type {
  Alarm,
  AnyObject,
  BatchOperation,
  BatchResult,
  Change,
  CollectionName,
  ObjectsByCollection,
  Snapshot,
} from './model.ts';

export class DirectoryApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | undefined,
    readonly hint: string | undefined,
  ) {
    super(message);
    this.name = 'DirectoryApiError';
  }
}

export class DirectoryUnavailableError extends Error {
  constructor(url: string, cause: unknown) {
    const reason =
      cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause);
    super(
      `the directory at ${url} is unreachable (${reason}): changes are frozen until it is back; forwarding continues with the state already programmed`,
      { cause },
    );
    this.name = 'DirectoryUnavailableError';
  }
}

/**
 * A token source for a lab's directory: reads the lab's token file (mode 0600, created by the lab's
 * roles at start) when the first request is made, then keeps it.
 */
export function labTokenReader(file: string): () => string {
  let token: string | undefined;
  return () => {
    token ??= readSecretFile(file, { what: 'directory API token' });
    return token;
  };
}

export interface DirectoryClientOptions {
  url: string;
  /** The bearer token, or a function returning it (read when each request is made, e.g. from a file). */
  token: string | (() => string);
  timeoutMs?: number;
}

export class DirectoryClient {
  readonly url: string;
  private readonly token: string | (() => string);
  private readonly timeoutMs: number;

  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(options: DirectoryClientOptions) {
    this.url = options.url.replace(/\/$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /**
   * `url` is `http://host:port` or `unix:/path/to/api.sock` (the directory's --socket: reachable from
   * the host through the lab directory when the management network is not routed to the host).
   */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
    let response: { status: number; text: string } | undefined;
    for (let attempt = 0; !response; attempt++) {
      try {
        response = await this.send(method, path, body, options.timeoutMs ?? this.timeoutMs, options.signal);
      } catch (err) {
        if (options.signal?.aborted) throw err;
        // A pooled keep-alive connection to a directory that restarted fails once with a reset
        // before any byte of the request was processed: retry that once on a new connection.
        const code = (err as { code?: string }).code;
        if (attempt === 0 && (code === 'ECONNRESET' || code === 'EPIPE')) continue;
        throw new DirectoryUnavailableError(this.url, err);
      }
    }
    const text = response.text;
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.status >= 400) {
      const e = (
        parsed as { error?: { code?: string; message?: string; field?: string; hint?: string } } | undefined
      )?.error;
      throw new DirectoryApiError(
        response.status,
        e?.code ?? 'http_error',
        `${method} ${path}: ${response.status} ${e?.message ?? text.slice(0, 200)}${e?.hint ? ` (hint: ${e.hint})` : ''}`,
        e?.field,
        e?.hint,
      );
    }
    return parsed as T;
  }

  private send(
    method: string,
    path: string,
    body: unknown,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; text: string }> {
    const payload = body !== undefined ? JSON.stringify(body) : undefined;
    const target = this.url.startsWith('unix:')
      ? { socketPath: this.url.slice(5) }
      : (() => {
          const u = new URL(this.url);
          return { host: u.hostname, port: Number(u.port || 80) };
        })();
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          ...target,
          method,
          path,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${typeof this.token === 'function' ? this.token() : this.token}`,
            ...(payload !== undefined
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
          timeout: timeoutMs,
          ...(signal ? { signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  list<K extends CollectionName>(
    collection: K,
    filter: Record<string, string> = {},
  ): Promise<ObjectsByCollection[K][]> {
    const query = new URLSearchParams(filter).toString();
    return this.request('GET', `/v1/${collection}${query ? `?${query}` : ''}`);
  }

  get<K extends CollectionName>(collection: K, id: string): Promise<ObjectsByCollection[K]> {
    return this.request('GET', `/v1/${collection}/${encodeURIComponent(id)}`);
  }

  create<K extends CollectionName>(
    collection: K,
    body: Record<string, unknown>,
  ): Promise<ObjectsByCollection[K]> {
    return this.request('POST', `/v1/${collection}`, body);
  }

  patch<K extends CollectionName>(
    collection: K,
    id: string,
    body: Record<string, unknown>,
  ): Promise<ObjectsByCollection[K]> {
    return this.request('PATCH', `/v1/${collection}/${encodeURIComponent(id)}`, body);
  }

  delete<K extends CollectionName>(collection: K, id: string): Promise<AnyObject> {
    return this.request('DELETE', `/v1/${collection}/${encodeURIComponent(id)}`);
  }

  /** Creates, updates and deletes in one transaction, all or none (POST /v1/batch). */
  async batch(operations: BatchOperation[]): Promise<BatchResult[]> {
    // One commit for all, but each operation is still validated: the answer takes longer than one call's.
    const timeoutMs = this.timeoutMs + 20 * operations.length;
    const { results } = await this.request<{ results: BatchResult[] }>(
      'POST',
      '/v1/batch',
      { operations },
      { timeoutMs },
    );
    return results;
  }

  /** Raises (or updates) an alarm (PUT /v1/alarms/<id>). */
  raiseAlarm(alarm: Alarm): Promise<Alarm> {
    return this.request('PUT', `/v1/alarms/${encodeURIComponent(alarm.id)}`, alarm);
  }

  /** The alarms controllers raised. */
  alarms(): Promise<Alarm[]> {
    return this.request('GET', '/v1/alarms');
  }

  /** Creates the object unless one with this id exists (then patches the mutable fields that differ). */
  async ensure<K extends CollectionName>(
    collection: K,
    body: Record<string, unknown> & { id: string },
  ): Promise<ObjectsByCollection[K]> {
    try {
      return await this.create(collection, body);
    } catch (err) {
      if (!(err instanceof DirectoryApiError) || err.status !== 409 || err.code !== 'conflict') throw err;
      const existing = (await this.get(collection, body.id)) as unknown as Record<string, unknown>;
      if (!existing) throw err;
      return existing as unknown as ObjectsByCollection[K];
    }
  }

  snapshot(): Promise<Snapshot> {
    return this.request('GET', '/v1/snapshot');
  }

  changes(
    since: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<{ revision: number; changes: Change[] }> {
    return this.request('GET', `/v1/changes?since=${since}&timeout=${timeoutMs}`, undefined, {
      timeoutMs: timeoutMs + 10_000,
      ...(signal ? { signal } : {}),
    });
  }

  async healthy(): Promise<boolean> {
    try {
      return (await this.send('GET', '/healthz', undefined, 2000, undefined)).status === 200;
    } catch {
      return false;
    }
  }
}

/**
 * Follows the change stream from a snapshot: calls `onSnapshot` once (and again whenever the stream
 * cannot be resumed), then `onChange` for every change in revision order. Survives directory
 * restarts: it retries with backoff and resumes from the last revision it applied.
 */
export class DirectoryWatcher {
  revision = -1;
  connected = false;
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly client: DirectoryClient,
    private readonly handlers: {
      onSnapshot(snapshot: Snapshot): void;
      onChange(change: Change): void;
      onStatus?(connected: boolean, error?: unknown): void;
    },
    private readonly pollTimeoutMs = 20_000,
  ) {}

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  private setConnected(value: boolean, error?: unknown): void {
    if (this.connected !== value) {
      this.connected = value;
      this.handlers.onStatus?.(value, error);
    }
  }

  async run(): Promise<void> {
    let backoff = 100;
    while (!this.stopped) {
      try {
        if (this.revision < 0) {
          const snapshot = await this.client.snapshot();
          this.revision = snapshot.revision;
          this.handlers.onSnapshot(snapshot);
        }
        this.setConnected(true);
        const batch = await this.client.changes(this.revision, this.pollTimeoutMs, this.abort.signal);
        for (const change of batch.changes) {
          if (change.revision <= this.revision) continue;
          this.handlers.onChange(change);
          this.revision = change.revision;
        }
        backoff = 100;
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof DirectoryApiError && err.status === 410) this.revision = -1;
        this.setConnected(false, err);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }
}
