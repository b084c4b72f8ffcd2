// Config problems: how a check reports one (a path, why, the value), how
// they are printed, and the error plan() throws with all of them.
import { didYouMean } from './did-you-mean.js';

/** One problem found in a config: where (a path like "tpcs[1].cores"), why, and the offending value. */
export interface ConfigIssue {
  path: string;
  message: string;
  value?: unknown;
}

/** Where a check reports a problem: the path, why, and the offending value. */
export type IssueSink = (path: string, message: string, value: unknown) => void;

/** A plain object as a config level: not null, not a list. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reports each key of `obj` that is not in `known`: "unknown key; did you
 * mean "x"?" when one is close, else "unknown key" plus `hint(key)`.
 */
export function unknownKeys(
  obj: Record<string, unknown>,
  path: string,
  known: readonly string[],
  report: IssueSink,
  hint?: (key: string) => string | undefined,
): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const close = didYouMean(key, known);
    const extra = close !== undefined ? `; did you mean "${close}"?` : (hint?.(key) ?? '');
    report(path === '' ? key : `${path}.${key}`, `unknown key${extra}`, obj[key]);
  }
}

/** "tpcs[1].cores: core 9 is on NUMA node 0, not node 1" (a root issue has an empty path). */
export function formatIssue(issue: ConfigIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
}

/** One issue per line; with a file, each line reads "config <file>: <path>: <message>". */
export function formatIssues(issues: readonly ConfigIssue[], file?: string): string {
  const prefix = file === undefined ? '' : `config ${file}: `;
  return issues.map((i) => prefix + formatIssue(i)).join('\n');
}

/** Thrown by plan() (and loadConfig()) for an invalid config; lists every error at once. */
export class ConfigError extends Error {
  readonly code = 'GATIO_CONFIG';
  readonly errors: ConfigIssue[];
  readonly warnings: ConfigIssue[];
  /** the config file the issues come from, when it was loaded from one */
  readonly file: string | undefined;

  constructor(errors: ConfigIssue[], warnings: ConfigIssue[] = [], file?: string) {
    const n = errors.length;
    const head = `invalid gatio config${file === undefined ? '' : ` ${file}`} (${n} error${n === 1 ? '' : 's'}):`;
    super(`${head}\n${formatIssues(errors)
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n')}`);
    this.name = 'ConfigError';
    this.errors = errors;
    this.warnings = warnings;
    this.file = file;
  }
}
