// Errors that any thread's code may see from the runtime's timers and
// lifecycle (exported to users from index.ts).

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
