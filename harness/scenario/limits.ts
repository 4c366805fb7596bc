/**
 * Limits a schema-valid scenario must respect before anything runs: `requires:` names features the
 * harness can detect (an unknown one used to skip the scenario silently); names that become interface
 * names fit the kernel (at most 15 bytes, no '/', ':' or whitespace); durations and stream rates stay
 * within sane maxima (counts are bounded by the schema). Each issue carries the YAML path.
 */
import { KERNEL_FEATURES, TOOLS } from '../doctor/features.ts';
import { isValidIfName } from '../runtime/netns/names.ts';
import { closest } from '../util/closest.ts';
import { checkKind } from './checks/index.ts';
import type { Path, SchemaIssue } from './schema.ts';
import { parseDuration } from './values.ts';

export const KNOWN_FEATURES: readonly string[] = [...KERNEL_FEATURES, ...TOOLS];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface DurationLimit {
  min?: number;
  max: number;
  what: string;
}

/** The bound of the duration at `path` (keys as in scenario.schema.json), or undefined if none. */
function durationLimit(path: Path): DurationLimit | undefined {
  const keys = path.filter((p): p is string => typeof p === 'string');
  const key = keys[keys.length - 1];
  const parent = keys[keys.length - 2];
  switch (key) {
    case 'interval':
      if (parent === 'stream')
        return {
          min: 1,
          max: 10_000,
          what: 'a stream interval (1 ms .. 10 s: at most 1,000 packets per second)',
        };
      return { max: MINUTE, what: 'an interval' };
    case 'within':
      return { max: 10 * MINUTE, what: 'a `within` budget' };
    case 'convergence':
    case 'sg':
    case 'loss':
      return parent === 'budgets' ? { max: 10 * MINUTE, what: `the ${key} budget` } : undefined;
    case 'maxLossWindow':
    case 'maxLossBeyondFaults':
    case 'settle':
      return { max: 10 * MINUTE, what: `\`${key}\`` };
    case 'duration':
      if (parent !== undefined && checkKind(parent)?.captureWindow)
        return { max: 5 * MINUTE, what: 'a capture window' };
      if (parent === 'chaos') return { max: 10 * MINUTE, what: 'a chaos fault duration' };
      return { max: HOUR, what: 'a fault duration' };
    case 'at':
    case 'wait':
    case 'deadline':
    case 'window':
      return { max: HOUR, what: `\`${key}\`` };
    default:
      return undefined;
  }
}

function isDuration(value: unknown): value is string | number {
  return (
    typeof value === 'number' || (typeof value === 'string' && /^[0-9]+(\.[0-9]+)?(ms|s|m)$/.test(value))
  );
}

function human(ms: number): string {
  return ms >= MINUTE && ms % MINUTE === 0
    ? `${ms / MINUTE} min`
    : ms >= 1000 && ms % 1000 === 0
      ? `${ms / 1000} s`
      : `${ms} ms`;
}

export function checkLimits(doc: Record<string, unknown>): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  const error = (path: Path, message: string, hint?: string) =>
    issues.push({ path, message, hint, atKey: false });

  const requires = Array.isArray(doc.requires) ? doc.requires : [];
  requires.forEach((feature, i) => {
    if (typeof feature !== 'string' || KNOWN_FEATURES.includes(feature)) return;
    const close = closest(feature, KNOWN_FEATURES);
    error(
      ['requires', i],
      `unknown feature '${feature}': the scenario would be skipped on every machine`,
      close ? `did you mean '${close}'?` : `features \`otwin doctor\` detects: ${KNOWN_FEATURES.join(', ')}`,
    );
  });

  const visit = (value: unknown, path: Path): void => {
    if (Array.isArray(value)) {
      const limit = durationLimit(path);
      // chaos `duration: [min, max]`
      if (limit && value.every(isDuration))
        value.forEach((v, i) => {
          checkDuration(v, [...path, i], limit);
        });
      else
        value.forEach((v, i) => {
          visit(v, [...path, i]);
        });
      return;
    }
    if (value === null || typeof value !== 'object') {
      const limit = durationLimit(path);
      if (limit && isDuration(value)) checkDuration(value, path, limit);
      return;
    }
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (key === 'iface' && typeof child === 'string' && !isValidIfName(child)) {
        error(
          [...path, key],
          `'${child}' cannot be a Linux interface name`,
          'at most 15 bytes, without /, : or whitespace',
        );
      }
      visit(child, [...path, key]);
    }
  };
  const checkDuration = (value: string | number, path: Path, limit: DurationLimit): void => {
    const ms = parseDuration(value);
    if (ms > limit.max)
      error(path, `${String(value)} is too long for ${limit.what}`, `at most ${human(limit.max)}`);
    else if (limit.min !== undefined && ms < limit.min)
      error(path, `${String(value)} is too short for ${limit.what}`, `at least ${human(limit.min)}`);
  };
  visit(doc, []);
  return issues;
}
