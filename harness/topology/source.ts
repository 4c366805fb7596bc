/**
 * A topology file's text with its YAML document, able to turn a YAML path into `file:line:col`.
 * Positions always refer to the file as the user wrote it, before `${VAR}` expansion.
 */
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, type Node as YamlNode } from 'yaml';
import { UserError } from '../util/errors.ts';
import type { Expansion } from './envsubst.ts';
import type { SourcePos } from './types.ts';

export type YamlPath = readonly (string | number)[];

/** `topology.nodes.r1.binds[0]`; keys that are not plain identifiers are quoted. */
export function formatPath(path: YamlPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out || '(document)';
}

export class TopologySource {
  private readonly lineStarts: number[] = [0];
  document: Document.Parsed | undefined;

  constructor(
    /** The file as shown in messages (relative to the working directory when inside it). */
    readonly displayFile: string,
    readonly original: string,
    readonly expansion: Expansion,
  ) {
    for (let i = 0; i < original.length; i++) if (original[i] === '\n') this.lineStarts.push(i + 1);
  }

  /** 1-based line and column of an offset in the original text. */
  lineCol(originalOffset: number): { line: number; col: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= originalOffset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: originalOffset - this.lineStarts[lo]! + 1 };
  }

  posAtExpanded(expandedOffset: number, path: YamlPath = []): SourcePos {
    const { line, col } = this.lineCol(this.expansion.originalOffset(expandedOffset));
    return { file: this.displayFile, line, col, path: formatPath(path) };
  }

  posAtOriginal(originalOffset: number, path: YamlPath = []): SourcePos {
    const { line, col } = this.lineCol(originalOffset);
    return { file: this.displayFile, line, col, path: formatPath(path) };
  }

  /**
   * Position of the value at `path` (or of its key with `key: true`). When the path does not exist
   * in the document (an inherited value, a missing field), the nearest existing ancestor is used.
   */
  pos(path: YamlPath, options: { key?: boolean } = {}): SourcePos {
    const offset = this.offsetOf(path, options.key ?? false);
    return this.posAtExpanded(offset, path);
  }

  private offsetOf(path: YamlPath, wantKey: boolean): number {
    const doc = this.document;
    if (!doc) return 0;
    let node: unknown = doc.contents;
    let offset = rangeStart(node) ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      if (isAlias(node)) node = node.resolve(doc);
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
        );
        if (!pair) return offset;
        const last = i === path.length - 1;
        const keyStart = rangeStart(pair.key);
        if (last && wantKey && keyStart !== undefined) return keyStart;
        const valueStart = rangeStart(pair.value);
        node = pair.value;
        offset = valueStart ?? keyStart ?? offset;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (item === undefined) return offset;
        node = item;
        offset = rangeStart(item) ?? offset;
      } else {
        return offset;
      }
    }
    return offset;
  }

  /** A UserError pointing at `path`, one paragraph: where, what, and the YAML path. */
  error(path: YamlPath, message: string, hint?: string, options: { key?: boolean } = {}): UserError {
    return errorAt(this.pos(path, options), message, hint);
  }
}

export function whereOf(pos: SourcePos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

export function errorAt(pos: SourcePos, message: string, hint?: string): UserError {
  const at = pos.path && pos.path !== '(document)' ? ` (at ${pos.path})` : '';
  return new UserError(`${message}${at}`, { where: whereOf(pos), ...(hint ? { hint } : {}) });
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as YamlNode | null | undefined)?.range;
  return Array.isArray(range) ? range[0] : undefined;
}
