/**
 * The OVSDB wire types of RFC 7047 §5.1 that the reference controller uses: atoms, sets, maps and
 * the `transact` operations and `monitor` updates built from them.
 */
export type OvsdbUuid = ['uuid', string];
export type OvsdbNamedUuid = ['named-uuid', string];
export type OvsdbAtom = string | number | boolean | OvsdbUuid | OvsdbNamedUuid;
export type OvsdbSet = ['set', OvsdbAtom[]];
export type OvsdbMap = ['map', [OvsdbAtom, OvsdbAtom][]];
export type OvsdbValue = OvsdbAtom | OvsdbSet | OvsdbMap;
export type OvsdbRow = Record<string, OvsdbValue>;

export type OvsdbCondition = [string, '==' | '!=' | 'includes' | 'excludes', OvsdbValue];

export type OvsdbOperation =
  | { op: 'insert'; table: string; row: OvsdbRow; 'uuid-name'?: string }
  | { op: 'select'; table: string; where: OvsdbCondition[]; columns?: string[] }
  | { op: 'update'; table: string; where: OvsdbCondition[]; row: OvsdbRow }
  | {
      op: 'mutate';
      table: string;
      where: OvsdbCondition[];
      mutations: [string, 'insert' | 'delete' | '+=' | '-=', OvsdbValue][];
    }
  | { op: 'delete'; table: string; where: OvsdbCondition[] }
  | {
      op: 'wait';
      table: string;
      where: OvsdbCondition[];
      columns: string[];
      until: '==' | '!=';
      rows: OvsdbRow[];
    }
  | { op: 'comment'; comment: string };

export interface OvsdbOperationResult {
  uuid?: OvsdbUuid;
  rows?: OvsdbRow[];
  count?: number;
  error?: string;
  details?: string;
}

/** One table's part of a monitor request (RFC 7047 §4.1.5). */
export interface MonitorRequest {
  columns?: string[];
  select?: { initial?: boolean; insert?: boolean; delete?: boolean; modify?: boolean };
}

/** `{ table: { rowUuid: { old?, new? } } }` (§4.1.6). */
export type TableUpdates = Record<string, Record<string, { old?: OvsdbRow; new?: OvsdbRow }>>;

export const uuid = (id: string): OvsdbUuid => ['uuid', id];
export const namedUuid = (name: string): OvsdbNamedUuid => ['named-uuid', name];

/** A set value with the given members (an empty set is how OVSDB writes "no value"). */
export function ovsSet(members: OvsdbAtom[]): OvsdbSet {
  return ['set', members];
}

export function ovsMap(entries: [OvsdbAtom, OvsdbAtom][]): OvsdbMap {
  return ['map', entries];
}

/** The members of a set column (a one-member set may be sent as the bare atom, §5.1). */
export function setMembers(value: OvsdbValue | undefined): OvsdbAtom[] {
  if (value === undefined) return [];
  if (Array.isArray(value) && value[0] === 'set') return (value as OvsdbSet)[1];
  return [value as OvsdbAtom];
}

export function mapEntries(value: OvsdbValue | undefined): [OvsdbAtom, OvsdbAtom][] {
  if (Array.isArray(value) && value[0] === 'map') return (value as OvsdbMap)[1];
  return [];
}

/** The UUID string of a uuid atom, or undefined for anything else. */
export function uuidOf(value: OvsdbValue | undefined): string | undefined {
  return Array.isArray(value) && value[0] === 'uuid' ? (value as OvsdbUuid)[1] : undefined;
}
