/**
 * Environment-variable expansion of a topology file before it is parsed, as containerlab does it
 * (github.com/hellt/envsubst with containerlab's "no replace" restriction):
 * - `$VAR` / `${VAR}`: the variable's value when set; left as written when unset (so shell variables
 *   in `exec:` lines survive);
 * - `${VAR:=default}` / `${VAR:-default}`: the value when set and non-empty, else the default
 *   (itself expanded); `${VAR=default}` / `${VAR-default}`: the value when set, else the default;
 * - `${VAR:+alt}` / `${VAR+alt}`: alt when set (and non-empty for `:+`), else '';
 * - `$$` is an escaped `$`; names starting with a digit (`$1`) and `$_` are left alone.
 *
 * The result carries an offset map so that parse and validation errors found in the expanded text
 * point back to line:column of the file as the user wrote it.
 */

export interface Expansion {
  text: string;
  /** Offset in the expanded text → offset in the original text. */
  originalOffset(expandedOffset: number): number;
}

interface Segment {
  outStart: number;
  inStart: number;
  length: number;
  /** Copied verbatim (offsets map one to one) or substituted (every offset maps to inStart). */
  literal: boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

export function expandEnv(input: string, env: Record<string, string | undefined>): Expansion {
  const segments: Segment[] = [];
  let out = '';
  let literalStart = 0;

  const flushLiteral = (upTo: number): void => {
    if (upTo > literalStart) {
      segments.push({
        outStart: out.length,
        inStart: literalStart,
        length: upTo - literalStart,
        literal: true,
      });
      out += input.slice(literalStart, upTo);
    }
  };
  const substitute = (at: number, consumed: number, value: string): void => {
    flushLiteral(at);
    if (value.length > 0)
      segments.push({ outStart: out.length, inStart: at, length: value.length, literal: false });
    out += value;
    literalStart = at + consumed;
  };

  let i = 0;
  while (i < input.length) {
    const dollar = input.indexOf('$', i);
    if (dollar < 0) break;
    const next = input[dollar + 1];
    if (next === '$') {
      substitute(dollar, 2, '$');
      i = dollar + 2;
      continue;
    }
    if (next === '{') {
      const close = findClosingBrace(input, dollar + 2);
      if (close < 0) {
        i = dollar + 2;
        continue;
      }
      const body = input.slice(dollar + 2, close);
      const value = expandBraced(body, env);
      if (value !== undefined) substitute(dollar, close + 1 - dollar, value);
      i = close + 1;
      continue;
    }
    const name = NAME.exec(input.slice(dollar + 1))?.[0];
    if (name && name !== '_') {
      const value = env[name];
      if (value !== undefined) substitute(dollar, 1 + name.length, value);
      i = dollar + 1 + name.length;
      continue;
    }
    i = dollar + 1;
  }
  flushLiteral(input.length);

  return {
    text: out,
    originalOffset(expandedOffset: number): number {
      // Binary search for the last segment starting at or before the offset.
      let lo = 0;
      let hi = segments.length - 1;
      let found: Segment | undefined;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const seg = segments[mid]!;
        if (seg.outStart <= expandedOffset) {
          found = seg;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      if (!found) return Math.min(expandedOffset, input.length);
      const delta = expandedOffset - found.outStart;
      if (found.literal) return found.inStart + Math.min(delta, found.length);
      return found.inStart;
    },
  };
}

/** Index of the `}` closing a `${`, honouring nested `${...}` in defaults. */
function findClosingBrace(input: string, from: number): number {
  let depth = 1;
  for (let i = from; i < input.length; i++) {
    const ch = input[i];
    if (ch === '\n') return -1;
    if (ch === '$' && input[i + 1] === '{') {
      depth++;
      i++;
    } else if (ch === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Expands the inside of `${...}`; undefined means "leave the whole expression as written". */
function expandBraced(body: string, env: Record<string, string | undefined>): string | undefined {
  const name = NAME.exec(body)?.[0];
  if (!name || name === '_' || /^[0-9]/.test(body)) return undefined;
  const rest = body.slice(name.length);
  const value = env[name];
  if (rest === '') return value;
  const op = /^(:=|:-|=|-|:\+|\+)/.exec(rest)?.[0];
  if (!op) return undefined;
  const word = (): string => expandEnv(rest.slice(op.length), env).text;
  switch (op) {
    case ':=':
    case ':-':
      return value !== undefined && value !== '' ? value : word();
    case '=':
    case '-':
      return value !== undefined ? value : word();
    case ':+':
      return value !== undefined && value !== '' ? word() : '';
    default:
      return value !== undefined ? word() : '';
  }
}
