// What task code calls: sleep, timeout, interval, yieldIfNeeded, spawn and
// driverInfo. Inside a driver they use its ring and scheduler; on the main
// thread (or any other thread) timers fall back to Node's, yieldIfNeeded
// never yields, and spawn goes through the runtime started there.
import type { SpawnOptions } from './mailbox.js';
import { threadRuntime } from './thread.js';
import { taskName, type Task, type TaskArgs, type TaskFn, type TaskResult } from './tasks.js';
import { TimeoutError, abortReason, badSleepMs } from './errors.js';
import type { IoBuffer, IoClient } from './io.js';
import { allocShared, type SharedBuffer } from './shared-buffer.js';

/** Resolves after `ms` milliseconds: a ring timer on a driver, a Node timer elsewhere. */
export function sleep(ms: number, opts: { signal?: AbortSignal } = {}): Promise<void> {
  const d = threadRuntime()?.driver;
  if (d) return d.sleep(ms, opts.signal);
  // The main thread (or any other): Node's timers, under the drivers' rules.
  const bad = badSleepMs(ms);
  if (bad) return Promise.reject(bad);
  const signal = opts?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) return Promise.reject(new TypeError(`sleep: opts.signal must be an AbortSignal, got ${typeof signal}`));
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal, 'the sleep'));
    let t: NodeJS.Timeout;
    const onAbort = () => (clearTimeout(t), reject(abortReason(signal, 'the sleep')));
    // Node's timers stop at 2^31 - 1 ms (24.8 days): longer sleeps are that many steps.
    const due = performance.now() + ms;
    const step = () => {
      const left = due - performance.now();
      if (left <= 0) return signal?.removeEventListener('abort', onAbort), resolve(); // the listener goes when the timer fires: interval() passes one signal to every tick's sleep
      t = setTimeout(step, Math.min(left, MAX_NODE_TIMER_MS));
    };
    t = setTimeout(step, Math.min(ms, MAX_NODE_TIMER_MS));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const MAX_NODE_TIMER_MS = 2 ** 31 - 1;

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
    // Ticks more than a period late are skipped: the one now due (less than a period late) fires at once.
    if (now > due + ms) {
      n = Math.floor((now - start) / ms);
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
  return threadRuntime()?.driver?.yieldIfNeeded();
}

/** Runs task `name` with `args` on a driver and resolves with its result (main thread or inside a driver). */
export function spawn<F extends TaskFn>(task: Task<F>, args: TaskArgs<F>, opts?: SpawnOptions): Promise<TaskResult<F>>;
export function spawn<T = unknown>(name: string, args?: unknown[], opts?: SpawnOptions): Promise<T>;
export function spawn<T = unknown>(name: string | TaskFn, args: unknown[] = [], opts: SpawnOptions = {}): Promise<T> {
  const rt = threadRuntime();
  if (!rt) throw new Error('gatio: spawn() needs a running runtime: call start(config) first (or spawn from inside a task)');
  return rt.spawn<T>(taskName(name), args, opts);
}

/** Where the calling code runs: a driver's identity, or null on a thread that is not a driver. */
export function driverInfo(): { id: number; name: string; tpc: number; pu: number } | null {
  const d = threadRuntime()?.driver;
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

// ---------------------------------------------------------------------------
// The calling thread's client, and the public API.

/** This thread's io client: the runtime's on the main thread, the driver's on a driver. */
export function currentIoClient(): IoClient | undefined {
  return threadRuntime()?.io;
}

function client(): IoClient {
  const c = currentIoClient();
  if (!c) throw new Error('gatio io: no runtime on this thread: call start() on the main thread first, or use io inside a task');
  return c;
}

function call<T>(fn: (c: IoClient) => Promise<T>): Promise<T> {
  const c = currentIoClient();
  return c ? fn(c) : Promise.reject(new Error('gatio io: no runtime on this thread: call start() on the main thread first, or use io inside a task'));
}

/**
 * File I/O through the io drivers of the caller's TPC. Buffers are arena
 * memory (`io.buffer(size)`), read and written by the kernel in place; a
 * buffer belongs to the request from the call until its promise settles.
 */
export const io = {
  /** A no-op round trip through an io driver (its ring included). */
  nop: (): Promise<void> => call((c) => c.nop()),
  /** Resolves with the fd. flags: 'r' (default), 'r+', 'w', 'w+', 'wx', 'a', ... or a number of O_* flags. */
  open: (path: string, flags?: string | number, mode?: number): Promise<number> => call((c) => c.open(path, flags, mode)),
  /** Resolves with the bytes read (0 at end of file). position -1 (default): the file position. */
  read: (fd: number, buf: IoBuffer | Uint8Array, position?: number): Promise<number> => call((c) => c.read(fd, buf, position)),
  /** Resolves with the bytes written. position -1 (default): the file position. */
  write: (fd: number, buf: IoBuffer | Uint8Array, position?: number): Promise<number> => call((c) => c.write(fd, buf, position)),
  fsync: (fd: number, opts?: { datasync?: boolean }): Promise<void> => call((c) => c.fsync(fd, opts)),
  close: (fd: number): Promise<void> => call((c) => c.close(fd)),
  /** `size` bytes of the caller's TPC arena; release() it when done (not while a request uses it). */
  buffer: (size: number): IoBuffer => client().buffer(size),
};
