/**
 * The directory's persistence: SQLite (better-sqlite3) in WAL mode with synchronous=FULL, so an
 * acknowledged change survives a crash of the process or the machine. One table per collection (typed
 * columns, foreign keys, unique constraints) plus an append-only `changes` table whose rowid is the
 * directory's monotonic revision: every mutation writes its object and one change row in the same
 * transaction, and controllers resume their change stream from any revision they have seen.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { broadcastOf, cidrContains, cidrsOverlap, parseCidr4, parseIPv4 } from '../protocol/addr.ts';
import {
  type AnyObject,
  type BatchOperation,
  type BatchResult,
  type Change,
  COLLECTIONS,
  type CollectionName,
  type CollectionSpec,
  DEPENDENCY_ORDER,
  defaultGatewayMac,
  type FieldSpec,
  SGID_MIN,
  type Snapshot,
  SPECS,
} from './model.ts';
import { ApiError, fieldError, validateBody } from './validate.ts';

const SCHEMA_VERSION = 5;

function columnType(field: FieldSpec): string {
  return field.type === 'integer' ? 'INTEGER' : 'TEXT';
}

function ddl(spec: CollectionSpec): string[] {
  const cols = ['id TEXT PRIMARY KEY', 'revision INTEGER NOT NULL'];
  for (const field of spec.fields) {
    let col = `"${field.name}" ${columnType(field)}`;
    if (field.required) col += ' NOT NULL';
    if (field.unique) col += ' UNIQUE';
    if (field.type === 'id' && field.ref) col += ` REFERENCES "${field.ref}"(id) ON DELETE RESTRICT`;
    cols.push(col);
  }
  for (const u of spec.uniques ?? []) cols.push(`UNIQUE (${u.fields.map((f) => `"${f}"`).join(', ')})`);
  return [`CREATE TABLE IF NOT EXISTS "${spec.name}" (${cols.join(', ')})`];
}

export interface StoreOptions {
  /** ASN used for auto-derived route targets (ASN:VNI). */
  asn?: number;
}

/**
 * The database holds every tenant's network: owner-only (0600), whatever the umask. The file is
 * created 0600 before SQLite opens it (SQLite then creates -wal and -shm with the database file's
 * mode); files left by an earlier run are tightened too.
 */
function restrictDatabaseFiles(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    try {
      chmodSync(file, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

export class DirectoryStore {
  readonly db: Database.Database;
  readonly asn: number;
  private readonly events = new EventEmitter();

  constructor(path: string, options: StoreOptions = {}) {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      restrictDatabaseFiles(path);
    }
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.events.setMaxListeners(0);
    this.migrate();
    const stored = this.db.prepare("SELECT value FROM meta WHERE key = 'asn'").get() as
      | { value: string }
      | undefined;
    this.asn = options.asn ?? (stored ? Number(stored.value) : 65000);
    this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('asn', ?)").run(String(this.asn));
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
      | { value: string }
      | undefined;
    const version = row ? Number(row.value) : 0;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `directory database schema ${version} is newer than this directory (${SCHEMA_VERSION})`,
      );
    }
    const tx = this.db.transaction(() => {
      for (const name of DEPENDENCY_ORDER) for (const stmt of ddl(SPECS[name])) this.db.exec(stmt);
      // Every step checks the columns first: a database of any earlier schema gets what it lacks.
      if (version >= 1 && version < SCHEMA_VERSION) this.migrateColumns();
      this.db.exec(`CREATE TABLE IF NOT EXISTS changes (
        revision INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL, op TEXT NOT NULL, collection TEXT NOT NULL, id TEXT NOT NULL,
        object TEXT NOT NULL, previous TEXT)`);
      this.db.exec('CREATE INDEX IF NOT EXISTS vports_hypervisor ON vports (hypervisor)');
      this.db.exec('CREATE INDEX IF NOT EXISTS vports_subnet ON vports (subnet)');
      this.db.exec('CREATE INDEX IF NOT EXISTS subnets_domain ON subnets (domain)');
      this.db
        .prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)")
        .run(String(SCHEMA_VERSION));
    });
    tx();
  }

  /**
   * Schema 2 added hypervisors.securityMode, vports.attachment, securityGroups.domain and .sgid
   * (existing groups get ids in creation order); schema 3 domains.outboundNat; schema 4 the match
   * fields of redirectionTargets (sourcePrefix, destinationPrefix, protocol, portMin, portMax); schema 5
   * redirectionTargets.standbyVport.
   */
  private migrateColumns(): void {
    const hvColumns = new Set(
      (this.db.prepare('PRAGMA table_info("hypervisors")').all() as Array<{ name: string }>).map(
        (c) => c.name,
      ),
    );
    const vportColumns = new Set(
      (this.db.prepare('PRAGMA table_info("vports")').all() as Array<{ name: string }>).map((c) => c.name),
    );
    if (!vportColumns.has('attachment'))
      this.db.exec(`ALTER TABLE "vports" ADD COLUMN "attachment" TEXT DEFAULT 'vm'`);
    const domainColumns = new Set(
      (this.db.prepare('PRAGMA table_info("domains")').all() as Array<{ name: string }>).map((c) => c.name),
    );
    if (!domainColumns.has('outboundNat'))
      this.db.exec(`ALTER TABLE "domains" ADD COLUMN "outboundNat" TEXT DEFAULT 'none'`);
    const redirectColumns = new Set(
      (this.db.prepare('PRAGMA table_info("redirectionTargets")').all() as Array<{ name: string }>).map(
        (c) => c.name,
      ),
    );
    for (const [column, type] of [
      ['sourcePrefix', 'TEXT'],
      ['destinationPrefix', 'TEXT'],
      ['protocol', "TEXT DEFAULT 'any'"],
      ['portMin', 'INTEGER'],
      ['portMax', 'INTEGER'],
      ['standbyVport', 'TEXT REFERENCES "vports"(id)'],
    ] as const)
      if (!redirectColumns.has(column))
        this.db.exec(`ALTER TABLE "redirectionTargets" ADD COLUMN "${column}" ${type}`);
    if (!hvColumns.has('securityMode'))
      this.db.exec(`ALTER TABLE "hypervisors" ADD COLUMN "securityMode" TEXT DEFAULT 'stateful'`);
    const columns = new Set(
      (this.db.prepare('PRAGMA table_info("securityGroups")').all() as Array<{ name: string }>).map(
        (c) => c.name,
      ),
    );
    if (!columns.has('domain'))
      this.db.exec('ALTER TABLE "securityGroups" ADD COLUMN "domain" TEXT REFERENCES "domains"(id)');
    if (!columns.has('sgid')) {
      this.db.exec('ALTER TABLE "securityGroups" ADD COLUMN "sgid" INTEGER');
      const rows = this.db.prepare('SELECT id FROM "securityGroups" ORDER BY revision, id').all() as Array<{
        id: string;
      }>;
      const set = this.db.prepare('UPDATE "securityGroups" SET sgid = ? WHERE id = ?');
      for (const [i, r] of rows.entries()) set.run(SGID_MIN + i, r.id);
      this.db.exec('CREATE UNIQUE INDEX IF NOT EXISTS securityGroups_sgid ON "securityGroups" (sgid)');
    }
  }

  /** The next free security group id (ids are never reused while a group holds them). */
  private nextSgid(): number {
    const row = this.db.prepare('SELECT MAX(sgid) AS m FROM "securityGroups"').get() as { m: number | null };
    return Math.max(SGID_MIN, (row.m ?? 0) + 1);
  }

  close(): void {
    this.events.removeAllListeners();
    this.db.close();
  }

  /** The current revision (0 for an empty directory). */
  get revision(): number {
    const row = this.db.prepare('SELECT MAX(revision) AS r FROM changes').get() as { r: number | null };
    return row.r ?? 0;
  }

  onChange(listener: (change: Change) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private decode(spec: CollectionSpec, row: Record<string, unknown>): AnyObject {
    const out: Record<string, unknown> = { id: row.id, revision: row.revision };
    for (const field of spec.fields) {
      const value = row[field.name];
      out[field.name] =
        field.type === 'idList' ? JSON.parse((value as string | null) ?? '[]') : (value ?? null);
    }
    return out as AnyObject;
  }

  private encode(field: FieldSpec, value: unknown): unknown {
    if (field.type === 'idList') return JSON.stringify(value ?? []);
    return value;
  }

  spec(collection: string): CollectionSpec {
    if (!(COLLECTIONS as readonly string[]).includes(collection)) {
      throw new ApiError(404, 'unknown_collection', `no collection named ${collection}`, {
        hint: `collections: ${COLLECTIONS.join(', ')}`,
      });
    }
    return SPECS[collection as CollectionName];
  }

  list(collection: CollectionName, filter: Record<string, string> = {}): AnyObject[] {
    const spec = this.spec(collection);
    const where: string[] = [];
    const args: unknown[] = [];
    for (const [key, value] of Object.entries(filter)) {
      const field = spec.fields.find((f) => f.name === key);
      if (!field || field.type === 'idList') {
        throw new ApiError(400, 'invalid_filter', `cannot filter ${collection} by ${key}`, {
          hint: `filter by one of: ${spec.fields
            .filter((f) => f.type !== 'idList')
            .map((f) => f.name)
            .join(', ')}`,
        });
      }
      where.push(`"${key}" = ?`);
      args.push(field.type === 'integer' ? Number(value) : value);
    }
    const sql = `SELECT * FROM "${collection}"${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY rowid`;
    return (this.db.prepare(sql).all(...args) as Record<string, unknown>[]).map((row) =>
      this.decode(spec, row),
    );
  }

  find(collection: CollectionName, id: string): AnyObject | undefined {
    const spec = this.spec(collection);
    const row = this.db.prepare(`SELECT * FROM "${collection}" WHERE id = ?`).get(id) as
      | Record<string, unknown>
      | undefined;
    return row ? this.decode(spec, row) : undefined;
  }

  get(collection: CollectionName, id: string): AnyObject {
    const object = this.find(collection, id);
    if (!object) {
      throw new ApiError(404, 'not_found', `no ${this.spec(collection).singular} with id ${id}`, {
        hint: `list them with GET /v1/${collection}`,
      });
    }
    return object;
  }

  private recordChange(change: Omit<Change, 'revision' | 'at'>): Change {
    const at = new Date().toISOString();
    const info = this.db
      .prepare('INSERT INTO changes (at, op, collection, id, object, previous) VALUES (?, ?, ?, ?, ?, ?)')
      .run(
        at,
        change.op,
        change.collection,
        change.id,
        JSON.stringify(change.object),
        change.previous ? JSON.stringify(change.previous) : null,
      );
    return { ...change, revision: Number(info.lastInsertRowid), at };
  }

  private emit(change: Change): void {
    if (this.held) this.held.push(change);
    else this.events.emit('change', change);
  }

  /** Changes of a batch in progress: emitted only once the batch's transaction committed. */
  private held: Change[] | undefined;

  /**
   * Several creates, updates and deletes in one transaction (one commit, so one fsync instead of one per
   * object): all of them or none. Changes are emitted in order after the commit. An operation that
   * fails names its index, and its field pointers are prefixed with `/operations/<index>`.
   */
  batch(operations: BatchOperation[]): BatchResult[] {
    const held: Change[] = [];
    this.held = held;
    let results: BatchResult[];
    try {
      results = this.db.transaction(() => operations.map((op, index) => this.applyOperation(op, index)))();
    } finally {
      this.held = undefined;
    }
    for (const change of held) this.events.emit('change', change);
    return results;
  }

  private applyOperation(op: BatchOperation, index: number): BatchResult {
    try {
      const { object, revision } =
        op.op === 'create'
          ? this.create(op.collection, op.body)
          : op.op === 'update'
            ? this.patch(op.collection, op.id, op.body)
            : this.delete(op.collection, op.id);
      return { op: op.op, collection: op.collection, id: String(object.id), revision };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      throw new ApiError(
        err.status,
        err.code,
        `operation ${index} (${op.op} ${op.collection}): ${err.message}`,
        {
          details: err.details.map((d) => ({
            ...d,
            field: `/operations/${index}${d.field === '/' ? '' : d.field}`,
          })),
          ...(err.hint ? { hint: err.hint } : {}),
        },
      );
    }
  }

  create(collection: CollectionName, body: unknown): { object: AnyObject; revision: number } {
    const spec = this.spec(collection);
    const fields = validateBody(spec, body, 'create');
    for (const field of spec.fields) {
      if (fields[field.name] === undefined && field.defaultValue !== undefined) {
        fields[field.name] =
          field.type === 'idList' ? JSON.parse(String(field.defaultValue)) : field.defaultValue;
      }
      if (fields[field.name] === undefined && field.nullable) fields[field.name] = null;
    }
    const id = (fields.id as string | undefined) ?? randomUUID();
    delete fields.id;
    let change: Change | undefined;
    const tx = this.db.transaction(() => {
      if (this.find(collection, id)) {
        throw new ApiError(409, 'conflict', `a ${spec.singular} with id ${id} already exists`, {
          hint: 'choose another id, or PATCH the existing one',
        });
      }
      this.checkSemantics(spec, fields, undefined);
      if (collection === 'securityGroups') fields.sgid = this.nextSgid();
      const revision = this.revision + 1;
      const names = ['id', 'revision', ...spec.fields.map((f) => f.name)];
      const values = [id, revision, ...spec.fields.map((f) => this.encode(f, fields[f.name] ?? null))];
      this.insertRow(spec, names, values, fields);
      const object = this.get(collection, id);
      change = this.recordChange({ op: 'create', collection, id, object });
      if (change.revision !== revision) throw new Error('revision allocation raced');
    });
    tx();
    const done = change as Change;
    this.emit(done);
    return { object: done.object, revision: done.revision };
  }

  private insertRow(
    spec: CollectionSpec,
    names: string[],
    values: unknown[],
    fields: Record<string, unknown>,
  ): void {
    try {
      this.db
        .prepare(
          `INSERT INTO "${spec.name}" (${names.map((n) => `"${n}"`).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
        )
        .run(...values);
    } catch (err) {
      throw this.translateConstraint(spec, err, fields);
    }
  }

  private translateConstraint(spec: CollectionSpec, err: unknown, fields: Record<string, unknown>): unknown {
    const message = err instanceof Error ? err.message : String(err);
    const m = /UNIQUE constraint failed: (.*)$/.exec(message);
    if (m) {
      const cols = (m[1] as string).split(',').map((c) => c.trim().split('.').pop() as string);
      const unique = spec.uniques?.find((u) => u.fields.join() === cols.join());
      const field = cols[cols.length - 1] as string;
      return new ApiError(
        409,
        'conflict',
        `there is already ${unique?.what ?? `a ${spec.singular} with this ${field}`}`,
        {
          details: [
            {
              field: `/${field}`,
              message: `${JSON.stringify(fields[field])} is already used`,
              hint: `choose another ${field}`,
            },
          ],
          hint: `choose another ${field}`,
        },
      );
    }
    return err;
  }

  patch(collection: CollectionName, id: string, body: unknown): { object: AnyObject; revision: number } {
    const spec = this.spec(collection);
    const fields = validateBody(spec, body, 'patch');
    let change: Change | undefined;
    const tx = this.db.transaction(() => {
      const previous = this.get(collection, id);
      const merged = { ...previous, ...fields };
      const changed = Object.keys(fields).filter(
        (k) => JSON.stringify(previous[k]) !== JSON.stringify(fields[k]),
      );
      if (changed.length === 0) return;
      this.checkSemantics(spec, merged, previous);
      const revision = this.revision + 1;
      const sets = changed.map((k) => `"${k}" = ?`);
      const field = (name: string) => spec.fields.find((f) => f.name === name) as FieldSpec;
      try {
        this.db
          .prepare(`UPDATE "${collection}" SET revision = ?, ${sets.join(', ')} WHERE id = ?`)
          .run(revision, ...changed.map((k) => this.encode(field(k), fields[k])), id);
      } catch (err) {
        throw this.translateConstraint(spec, err, fields);
      }
      const object = this.get(collection, id);
      change = this.recordChange({ op: 'update', collection, id, object, previous });
    });
    tx();
    if (!change) {
      const object = this.get(collection, id);
      return { object, revision: this.revision };
    }
    this.emit(change);
    return { object: change.object, revision: change.revision };
  }

  delete(collection: CollectionName, id: string): { object: AnyObject; revision: number } {
    const spec = this.spec(collection);
    let change: Change | undefined;
    const tx = this.db.transaction(() => {
      const object = this.get(collection, id);
      const users = this.referencesTo(collection, id);
      if (users.length > 0) {
        const shown = users
          .slice(0, 5)
          .map((u) => `${u.collection}/${u.id}`)
          .join(', ');
        throw new ApiError(
          409,
          'in_use',
          `${spec.singular} ${id} is still used by ${users.length} object(s): ${shown}${users.length > 5 ? ', ...' : ''}`,
          { hint: 'delete or move those first' },
        );
      }
      this.db.prepare(`DELETE FROM "${collection}" WHERE id = ?`).run(id);
      change = this.recordChange({ op: 'delete', collection, id, object });
    });
    tx();
    const done = change as Change;
    this.emit(done);
    return { object: done.object, revision: done.revision };
  }

  private referencesTo(
    collection: CollectionName,
    id: string,
  ): Array<{ collection: CollectionName; id: string }> {
    const out: Array<{ collection: CollectionName; id: string }> = [];
    for (const other of COLLECTIONS) {
      for (const field of SPECS[other].fields) {
        if (field.ref !== collection) continue;
        if (field.type === 'id') {
          const rows = this.db.prepare(`SELECT id FROM "${other}" WHERE "${field.name}" = ?`).all(id) as {
            id: string;
          }[];
          for (const row of rows) out.push({ collection: other, id: row.id });
        } else if (field.type === 'idList') {
          const rows = this.db
            .prepare(
              `SELECT id FROM "${other}" WHERE EXISTS (SELECT 1 FROM json_each("${field.name}") WHERE value = ?)`,
            )
            .all(id) as { id: string }[];
          for (const row of rows) out.push({ collection: other, id: row.id });
        }
      }
    }
    return out;
  }

  private requireRef(field: string, collection: CollectionName, id: unknown): AnyObject {
    const object = typeof id === 'string' ? this.find(collection, id) : undefined;
    if (!object) {
      throw new ApiError(
        422,
        'invalid_reference',
        `${field}: no ${SPECS[collection].singular} with id ${String(id)}`,
        {
          details: [
            {
              field: `/${field}`,
              message: `no ${SPECS[collection].singular} with id ${String(id)}`,
              hint: `create it first, or pick an id from GET /v1/${collection}`,
            },
          ],
          hint: `create it first, or pick an id from GET /v1/${collection}`,
        },
      );
    }
    return object;
  }

  /** Cross-object rules; `fields` is the full object after the change. */
  private checkSemantics(
    spec: CollectionSpec,
    fields: Record<string, unknown>,
    previous: AnyObject | undefined,
  ): void {
    for (const field of spec.fields) {
      if (
        field.type === 'id' &&
        field.ref &&
        fields[field.name] !== null &&
        fields[field.name] !== undefined
      ) {
        this.requireRef(field.name, field.ref, fields[field.name]);
      }
      if (field.type === 'idList' && field.ref) {
        for (const ref of (fields[field.name] as string[] | undefined) ?? [])
          this.requireRef(field.name, field.ref, ref);
      }
    }
    switch (spec.name) {
      case 'domains':
        // Type-5 route target auto-derived like a subnet's (RFC 8365): <directory ASN>:<L3 VNI>.
        if (fields.l3Vni != null && fields.routeTarget == null)
          fields.routeTarget = `${this.asn}:${fields.l3Vni as number}`;
        break;
      case 'subnets':
        this.checkSubnet(fields, previous);
        break;
      case 'vports':
        this.checkVport(fields);
        break;
      case 'securityGroups':
        if (fields.domain != null && this.get('domains', fields.domain as string).tenant !== fields.tenant)
          throw fieldError('/domain', 'belongs to another tenant', "use a domain of the group's tenant");
        break;
      case 'securityRules':
        this.checkRule(fields);
        break;
      case 'floatingIps':
        if (fields.vport) {
          const vport = this.get('vports', fields.vport as string);
          if (this.tenantOfSubnet(vport.subnet as string) !== fields.tenant)
            throw fieldError(
              '/vport',
              'belongs to another tenant',
              'map a floating IP only to a vport of its tenant',
            );
        }
        break;
      case 'redirectionTargets':
        for (const field of ['vport', 'standbyVport'] as const) {
          if (!fields[field]) continue;
          const vport = this.get('vports', fields[field] as string);
          const subnet = this.get('subnets', vport.subnet as string);
          if (subnet.domain !== fields.domain)
            throw fieldError(
              `/${field}`,
              'is in another domain',
              'use an appliance vport of the same domain',
            );
        }
        break;
      default:
        break;
    }
  }

  private tenantOfSubnet(subnetId: string): string {
    const subnet = this.get('subnets', subnetId);
    return this.get('domains', subnet.domain as string).tenant as string;
  }

  private checkSubnet(fields: Record<string, unknown>, previous: AnyObject | undefined): void {
    const cidr = parseCidr4(fields.prefix as string);
    if (!cidr) throw fieldError('/prefix', 'is not an IPv4 prefix', 'send e.g. 10.0.1.0/24');
    if (cidr.length < 8 || cidr.length > 30)
      throw fieldError(
        '/prefix',
        `prefix length /${cidr.length} is out of range`,
        'use a length from /8 to /30',
      );
    const gw = parseIPv4(fields.gateway as string) as number;
    if (!cidrContains(cidr, gw))
      throw fieldError(
        '/gateway',
        `${fields.gateway} is outside ${fields.prefix}`,
        'pick a host address inside the prefix',
      );
    if (gw === cidr.network || gw === broadcastOf(cidr))
      throw fieldError(
        '/gateway',
        'is the network or broadcast address',
        'pick a host address, e.g. the first one',
      );
    for (const other of this.list('subnets', { domain: fields.domain as string })) {
      if (previous && other.id === previous.id) continue;
      const otherCidr = parseCidr4(other.prefix as string);
      if (otherCidr && cidrsOverlap(cidr, otherCidr)) {
        throw new ApiError(
          409,
          'overlap',
          `prefix ${fields.prefix} overlaps subnet ${other.id} (${other.prefix}) of the same domain`,
          {
            details: [
              {
                field: '/prefix',
                message: `overlaps ${other.prefix}`,
                hint: 'use a prefix that does not overlap, or another domain',
              },
            ],
            hint: 'use a prefix that does not overlap, or another domain',
          },
        );
      }
    }
    if (fields.gatewayMac === undefined || fields.gatewayMac === null)
      fields.gatewayMac = defaultGatewayMac(fields.vni as number);
    if (fields.routeTarget === undefined || fields.routeTarget === null)
      fields.routeTarget = `${this.asn}:${fields.vni as number}`;
  }

  private checkVport(fields: Record<string, unknown>): void {
    const subnet = this.get('subnets', fields.subnet as string);
    const cidr = parseCidr4(subnet.prefix as string) as NonNullable<ReturnType<typeof parseCidr4>>;
    const ip = parseIPv4(fields.ip as string) as number;
    if (!cidrContains(cidr, ip))
      throw fieldError(
        '/ip',
        `${fields.ip} is outside the subnet's prefix ${subnet.prefix}`,
        'pick an address inside it',
      );
    if (ip === cidr.network || ip === broadcastOf(cidr))
      throw fieldError('/ip', 'is the network or broadcast address', 'pick a host address');
    if (fields.ip === subnet.gateway)
      throw fieldError('/ip', `is the subnet's gateway ${subnet.gateway}`, 'pick another host address');
    if (fields.mac === subnet.gatewayMac)
      throw fieldError('/mac', "is the subnet's gateway MAC", 'pick another MAC');
    const groups = (fields.securityGroups as string[] | undefined) ?? [];
    if (groups.length > 0) {
      const tenant = this.tenantOfSubnet(subnet.id);
      for (const g of groups) {
        const group = this.get('securityGroups', g);
        if (group.tenant !== tenant)
          throw fieldError(
            '/securityGroups',
            `group ${g} belongs to another tenant`,
            'use groups of the vport tenant',
          );
        if (group.domain != null && group.domain !== subnet.domain)
          throw fieldError(
            '/securityGroups',
            `group ${g} belongs to domain ${group.domain as string}, the vport's subnet to ${subnet.domain as string}`,
            "use groups of the vport's domain (or groups without a domain)",
          );
      }
    }
  }

  private checkRule(fields: Record<string, unknown>): void {
    const ported = fields.protocol === 'tcp' || fields.protocol === 'udp';
    if (!ported && (fields.portMin != null || fields.portMax != null))
      throw fieldError(
        '/portMin',
        `ports make no sense for protocol ${fields.protocol}`,
        'omit portMin/portMax',
      );
    if (
      fields.portMin != null &&
      fields.portMax != null &&
      (fields.portMin as number) > (fields.portMax as number)
    )
      throw fieldError('/portMax', 'is below portMin', 'send portMin <= portMax');
    const group = this.get('securityGroups', fields.securityGroup as string);
    if (fields.remoteGroup != null) {
      const remote = this.get('securityGroups', fields.remoteGroup as string);
      if (remote.tenant !== group.tenant)
        throw fieldError(
          '/remoteGroup',
          'belongs to another tenant',
          "use a group of the rule's tenant, or remotePrefix for outside addresses",
        );
    }
    if (fields.remoteGroup != null && fields.remotePrefix != null)
      throw fieldError(
        '/remotePrefix',
        'cannot be combined with remoteGroup',
        'send one of remoteGroup or remotePrefix',
      );
  }

  snapshot(): Snapshot {
    const read = this.db.transaction(() => {
      const revision = this.revision;
      const objects = {} as Record<CollectionName, AnyObject[]>;
      for (const name of DEPENDENCY_ORDER) objects[name] = this.list(name);
      return { revision, objects };
    });
    return read() as unknown as Snapshot;
  }

  /** Changes with revision > since, oldest first. */
  changesSince(since: number, limit = 1000): Change[] {
    const rows = this.db
      .prepare('SELECT * FROM changes WHERE revision > ? ORDER BY revision LIMIT ?')
      .all(since, limit) as Array<{
      revision: number;
      at: string;
      op: Change['op'];
      collection: CollectionName;
      id: string;
      object: string;
      previous: string | null;
    }>;
    return rows.map((r) => ({
      revision: r.revision,
      at: r.at,
      op: r.op,
      collection: r.collection,
      id: r.id,
      object: JSON.parse(r.object),
      ...(r.previous ? { previous: JSON.parse(r.previous) } : {}),
    }));
  }

  /** Resolves when a change after `since` exists or after `timeoutMs`. */
  waitForChange(since: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.revision > since) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        off();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      const off = this.onChange((change) => {
        if (change.revision > since) done();
      });
      signal?.addEventListener('abort', done);
    });
  }
}
