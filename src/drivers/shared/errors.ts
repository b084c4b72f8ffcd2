// Errors that any thread's code may see from the runtime's timers and
// lifecycle (exported to users from index.ts).
import { fileURLToPath } from 'node:url';

/** A sleep or other wait ended by its AbortSignal (the name matches the DOM's AbortError). */
export class AbortedError extends Error {
  readonly code = 'ABORT_ERR';
  override readonly name = 'AbortError';
}

export class TimeoutError extends Error {
  readonly code = 'GATIO_TIMEOUT';
  override readonly name = 'TimeoutError';
}

export class ShutdownError extends Error {
  override readonly name = 'ShutdownError'; // like TimeoutError: the stack and logs say what it is
  readonly code = 'GATIO_SHUTDOWN';
}

/** What aborting a wait rejects with: the signal's own reason if it is an Error, else an AbortedError (keeping the reason). */
export function abortReason(signal: AbortSignal | undefined, what: string): Error {
  const r = signal?.reason;
  if (r instanceof Error) return r;
  return Object.assign(new AbortedError(`${what} was aborted`), r === undefined ? {} : { reason: r });
}

/** a TIMEOUT's nanoseconds become a uint64 timespec in the kernel: the bound of every sleep, on any thread */
const MAX_SLEEP_MS = 2 ** 64 / 1e6;

/** The one rule for sleep() everywhere (a driver's ring timer, the main thread's Node timer): undefined, or why `ms` is refused. */
export function badSleepMs(ms: unknown): RangeError | TypeError | undefined {
  if (typeof ms !== 'number') return new TypeError(`sleep: expected a number of milliseconds, got ${typeof ms === 'string' ? `the string ${JSON.stringify(ms)}` : typeof ms}`);
  if (!(ms >= 0) || ms >= MAX_SLEEP_MS) return new RangeError(`sleep: expected a number of milliseconds from 0 to 2^64 ns (about 584 years), got ${String(ms)}`);
  return undefined;
}

/** One driver that could not start: which, the task module it was importing (if that was it), and what was thrown (`cause`). */
export class DriverStartError extends Error {
  override readonly name = 'DriverStartError';
  readonly code = 'GATIO_DRIVER_START';
  readonly driver: number;
  readonly driverName: string;
  /** the task module (file URL) whose import threw, when that is what failed */
  readonly module: string | undefined;
  constructor(d: { id: number; name: string }, module: string | undefined, cause: unknown) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`driver ${d.name} (id ${d.id}): ${module ? `importing task module ${displayPath(module)} threw ` : ''}${why}`, { cause });
    this.driver = d.id;
    this.driverName = d.name;
    this.module = module;
  }
}

/**
 * start() failed because drivers could not start: `errors` has one
 * DriverStartError per driver (each with the original as `cause`); `cause`
 * is the first one's original. The message says each distinct failure once.
 */
export class StartError extends AggregateError {
  override readonly name = 'StartError';
  readonly code = 'GATIO_START';
  constructor(errors: DriverStartError[]) {
    const byWhy = new Map<string, string[]>();
    for (const e of errors) {
      const c = e.cause;
      const why = `${e.module ? `task module ${displayPath(e.module)} threw ` : ''}${c instanceof Error ? `${c.name}: ${c.message}` : String(c)}`;
      byWhy.set(why, [...(byWhy.get(why) ?? []), e.driverName]);
    }
    const lines = [...byWhy].map(([why, names]) => `${why} (on ${names.join(', ')})`);
    super(errors, `gatio: drivers failed to start:\n  ${lines.join('\n  ')}`, { cause: errors[0]?.cause });
  }
}

export function displayPath(url: string): string {
  return url.startsWith('file:') ? fileURLToPath(url) : url;
}

