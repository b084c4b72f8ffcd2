// What task code calls: sleep, timeout, interval, yieldIfNeeded, spawn and
// driverInfo. Inside a driver they use its ring and scheduler; on the main
// thread (or any other thread) timers fall back to Node's, yieldIfNeeded
// never yields, and spawn goes through the runtime started there.
import { currentDriver } from './driver.js';
import { threadRuntime } from './mailbox.js';
import type { SpawnOptions } from './runtime.js';
import { TimeoutError } from './timers.js';
import { allocShared, type SharedBuffer } from './shared-buffer.js';

/** Resolves after `ms` milliseconds: a ring timer on a driver, a Node timer elsewhere. */
export function sleep(ms: number, opts: { signal?: AbortSignal } = {}): Promise<void> {
  const d = currentDriver();
  if (d) return d.timers.sleep(ms, opts.signal);
  return new Promise((resolve, reject) => {
    const signal = opts.signal;
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => (clearTimeout(t), reject(signal!.reason));
    // The listener goes when the timer fires: interval() passes one signal to every tick's sleep.
    const t = setTimeout(() => (signal?.removeEventListener('abort', onAbort), resolve()), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `promise`, or a TimeoutError when it has not settled after `ms`. The timer is cancelled when it settles. */
export async function timeout<T>(promise: PromiseLike<T>, ms: number): Promise<T> {
  const ac = new AbortController();
  const timer = sleep(ms, { signal: ac.signal }).then(
    () => {
      throw new TimeoutError(`timed out after ${ms} ms`);
    },
    () => undefined as never, // cancelled because the promise won
  );
  try {
    return await Promise.race([promise, timer]);
  } finally {
    ac.abort();
  }
}

/**
 * Ticks every `ms` milliseconds, anchored to the start (no drift): yields the
 * tick number; a tick that is late by more than a period is skipped, not
 * bunched. `for await (const n of interval(10)) { ... }`; break to stop.
 */
export async function* interval(ms: number, opts: { signal?: AbortSignal } = {}): AsyncGenerator<number, void, undefined> {
  if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError(`interval: expected a positive number of milliseconds, got ${ms}`);
  const start = performance.now();
  let n = 0;
  for (;;) {
    n++;
    let due = start + n * ms;
    const now = performance.now();
    if (now > due + ms) {
      n = Math.floor((now - start) / ms) + 1;
      due = start + n * ms;
    }
    await sleep(Math.max(0, due - now), opts);
    yield n;
  }
}

/**
 * For long tasks: `await yieldIfNeeded()` between chunks of work. Yields to
 * the driver's scheduler when this task's quantum is spent or other work
 * waits (a latency-class queue, new messages); otherwise costs one microtask.
 */
export function yieldIfNeeded(): Promise<void> | undefined {
  return currentDriver()?.scheduler.yieldIfNeeded();
}

/** Runs task `name` with `args` on a driver and resolves with its result (main thread or inside a driver). */
export function spawn<T = unknown>(name: string, args: unknown[] = [], opts: SpawnOptions = {}): Promise<T> {
  const rt = threadRuntime();
  if (!rt) throw new Error('gatio: spawn() needs a running runtime: call start(config) first (or spawn from inside a task)');
  return rt.spawn<T>(name, args, opts);
}

/** Where the calling code runs: a driver's identity, or null on a thread that is not a driver. */
export function driverInfo(): { id: number; name: string; tpc: number; pu: number } | null {
  const d = currentDriver();
  return d ? { id: d.id, name: d.name, tpc: d.tpc, pu: d.pu } : null;
}

/**
 * A SharedBuffer of `size` bytes in a TPC arena (default: the caller's TPC;
 * the main thread's is the runtime's mainTpc): pass it to spawn() or a
 * channel and the receiver sees the same memory, nothing is copied.
 */
export function sharedBuffer(size: number, opts: { tpc?: number } = {}): SharedBuffer {
  const mailbox = threadRuntime()?.mailbox;
  if (!mailbox) throw new Error('gatio: sharedBuffer() needs a running runtime (start(config) first, or call it on a driver)');
  return allocShared(mailbox.arenas, opts.tpc ?? mailbox.tpc, size);
}
