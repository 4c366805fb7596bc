/**
 * A small RFC 7047 OVSDB JSON-RPC client (no maintained TypeScript one exists): `transact`,
 * `monitor`/`update` notifications, `echo` in both directions, over TCP (`tcp:host:port`, how a
 * controller reaches a hardware VTEP) or a Unix socket (`unix:path`).
 *
 * The server sends `echo` requests as a liveness probe and drops clients that do not answer, so they
 * are answered here; a closed stream rejects every pending request, and `onClose` tells the owner to
 * reconnect and resync (the server forgets monitors with the session).
 */
import { connect, type Socket } from 'node:net';
import { JsonStreamSplitter } from './framing.ts';
import type { MonitorRequest, OvsdbOperation, OvsdbOperationResult, TableUpdates } from './types.ts';

export class OvsdbError extends Error {
  constructor(
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'OvsdbError';
  }
}

interface Pending {
  resolve(result: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface RpcMessage {
  id?: string | number | null;
  method?: string;
  params?: unknown[];
  result?: unknown;
  error?: unknown;
}

export interface OvsdbClientOptions {
  /** Per-request deadline. */
  timeoutMs?: number;
  onClose?: (err: Error | undefined) => void;
}

/** Parses `tcp:host:port` or `unix:path` (ovs-vsctl's remote syntax). */
export function parseOvsdbTarget(target: string): { host: string; port: number } | { path: string } {
  if (target.startsWith('unix:')) return { path: target.slice(5) };
  const m = /^tcp:(.+):(\d+)$/.exec(target);
  if (!m?.[1] || !m[2]) throw new OvsdbError(`OVSDB target '${target}' is not tcp:HOST:PORT or unix:PATH`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

export class OvsdbClient {
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly monitors = new Map<string, (updates: TableUpdates) => void>();
  private readonly splitter = new JsonStreamSplitter();
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly options: OvsdbClientOptions,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', (err) => this.shutdown(err));
    socket.on('close', () => this.shutdown(undefined));
  }

  static connect(target: string, options: OvsdbClientOptions = {}): Promise<OvsdbClient> {
    const where = parseOvsdbTarget(target);
    return new Promise((resolve, reject) => {
      const socket = 'path' in where ? connect(where.path) : connect(where.port, where.host);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new OvsdbError(`OVSDB ${target}: connect timed out`));
      }, options.timeoutMs ?? 5000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new OvsdbError(`OVSDB ${target}: ${err.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new OvsdbClient(socket, options));
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
    this.shutdown(undefined);
  }

  /** One JSON-RPC request; resolves with `result`, rejects with the server's `error`. */
  request(method: string, params: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new OvsdbError(`OVSDB ${method}: session closed`));
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new OvsdbError(`OVSDB ${method}: no reply within ${this.options.timeoutMs ?? 5000} ms`));
      }, this.options.timeoutMs ?? 5000);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(JSON.stringify({ method, params, id }));
    });
  }

  async listDbs(): Promise<string[]> {
    return (await this.request('list_dbs', [])) as string[];
  }

  async echo(): Promise<void> {
    await this.request('echo', ['otwin']);
  }

  /**
   * Runs operations as one transaction. An operation error aborts the whole transaction (RFC 7047
   * §4.1.3); it is thrown with the failing operation's index, so callers never see half a result.
   */
  async transact(db: string, ops: OvsdbOperation[]): Promise<OvsdbOperationResult[]> {
    const results = (await this.request('transact', [db, ...ops])) as (OvsdbOperationResult | null)[];
    const failed = results.findIndex((r) => r?.error);
    if (failed >= 0) {
      const r = results[failed];
      const op = ops[failed];
      // A result past the last operation is the commit's own error (constraints, references).
      const which = op ? `operation ${failed} (${op.op}${'table' in op ? ` ${op.table}` : ''})` : 'commit';
      throw new OvsdbError(
        `OVSDB transact on ${db}: ${which} failed: ${r?.error}${r?.details ? `: ${r.details}` : ''}`,
        r,
      );
    }
    return results.map((r) => r ?? {});
  }

  /**
   * Starts a monitor: resolves with the initial contents; later changes arrive through `onUpdate`
   * (the server's `update` notifications for this monitor id).
   */
  async monitor(
    db: string,
    monitorId: string,
    requests: Record<string, MonitorRequest>,
    onUpdate: (updates: TableUpdates) => void,
  ): Promise<TableUpdates> {
    this.monitors.set(monitorId, onUpdate);
    try {
      return (await this.request('monitor', [db, monitorId, requests])) as TableUpdates;
    } catch (err) {
      this.monitors.delete(monitorId);
      throw err;
    }
  }

  async monitorCancel(monitorId: string): Promise<void> {
    await this.request('monitor_cancel', [monitorId]);
    this.monitors.delete(monitorId);
  }

  private receive(chunk: string): void {
    let texts: string[];
    try {
      texts = this.splitter.push(chunk);
    } catch (err) {
      this.socket.destroy();
      this.shutdown(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    for (const text of texts) {
      let message: RpcMessage;
      try {
        message = JSON.parse(text) as RpcMessage;
      } catch {
        this.socket.destroy();
        this.shutdown(new OvsdbError(`OVSDB stream: invalid JSON: ${text.slice(0, 80)}`));
        return;
      }
      this.dispatch(message);
    }
  }

  private dispatch(message: RpcMessage): void {
    if (message.method === 'echo' && message.id !== undefined && message.id !== null) {
      this.socket.write(JSON.stringify({ result: message.params ?? [], error: null, id: message.id }));
      return;
    }
    if (message.method === 'update' && Array.isArray(message.params)) {
      const [monitorId, updates] = message.params as [string, TableUpdates];
      this.monitors.get(String(monitorId))?.(updates);
      return;
    }
    if (message.id === undefined || message.id === null) return;
    const pending = this.pending.get(String(message.id));
    if (!pending) return;
    this.pending.delete(String(message.id));
    clearTimeout(pending.timer);
    if (message.error !== null && message.error !== undefined) {
      pending.reject(new OvsdbError(`OVSDB error: ${JSON.stringify(message.error)}`, message.error));
    } else pending.resolve(message.result);
  }

  private shutdown(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new OvsdbError(`OVSDB session closed${err ? `: ${err.message}` : ''}`));
    }
    this.pending.clear();
    this.monitors.clear();
    this.options.onClose?.(err);
  }
}
