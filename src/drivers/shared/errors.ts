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
