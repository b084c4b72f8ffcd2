// Timers of a driver, served by its ring: each sleep is an IORING_OP_TIMEOUT
// whose completion wakes the driver (the ring signals the eventfd the driver
// parks on), routed back here by the ring's completion registry and
// delivered through the scheduler in the queue of the task that slept. Accuracy: the kernel's hrtimer plus the wakeup of a parked thread
// (measured by bench/timers.mjs, results in docs/benchmarks.md; the bounds
// test/timers.test.mjs asserts are in docs/drivers.md, "Timers").
import { abortReason, badSleepMs } from '../shared/errors.js';
import type { Ring } from '../protocol/ring.js';
import type { CompletionOwner, CompletionRegistry } from './completions.js';
import type { Scheduler, TaskQueue } from './scheduler.js';

const ETIME = 62;
const ECANCELED = 125;
const ENOENT = 2;

interface Sleeper {
  /** the TIMEOUT op's userData in the ring */
  userData: number;
  resolve(): void;
  reject(err: Error): void;
  queue: TaskQueue | undefined;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class Timers implements CompletionOwner {
  readonly name = 'timers';
  /** by timer id (the token of its TIMEOUT op in the registry) */
  private readonly sleepers = new Map<number, Sleeper>();
  private next = 1;

  constructor(
    private readonly ring: Ring,
    private readonly completions: CompletionRegistry,
    private readonly scheduler: Scheduler,
    /** called when a command was queued outside a loop turn, so the loop submits it */
    private readonly poke: () => void = () => {},
  ) {}

  get size(): number {
    return this.sleepers.size;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const bad = badSleepMs(ms);
    if (bad) return Promise.reject(bad);
    if (signal?.aborted) return Promise.reject(abortReason(signal, 'the sleep'));
    const id = this.next++;
    return new Promise<void>((resolve, reject) => {
      const s: Sleeper = { userData: this.completions.register(this, id), resolve, reject, queue: this.scheduler.current() };
      if (signal) {
        s.signal = signal;
        s.onAbort = () => this.cancel(id);
        signal.addEventListener('abort', s.onAbort, { once: true });
      }
      this.sleepers.set(id, s);
      this.ring.timeout(Math.round(ms * 1e6), s.userData);
      this.poke();
    });
  }

  /** Asks the kernel to remove timer `id`; its completion (-ECANCELED) rejects the sleep. */
  cancel(id: number): void {
    const s = this.sleepers.get(id);
    if (!s) return;
    this.ring.timeoutRemove(s.userData, this.completions.ignore());
    this.poke();
  }

  /** A TIMEOUT's completion (from the registry): -ETIME when it fired, -ECANCELED when removed. */
  complete(id: number, res: number): void {
    const s = this.sleepers.get(id);
    if (!s) return;
    this.sleepers.delete(id);
    if (s.signal && s.onAbort) s.signal.removeEventListener('abort', s.onAbort);
    const settle =
      res === -ETIME || res === 0
        ? s.resolve
        : () => s.reject(res === -ECANCELED || res === -ENOENT ? abortReason(s.signal, 'the sleep') : new Error(`timer failed: errno ${-res}`));
    if (s.queue) this.scheduler.enqueue(s.queue, settle);
    else settle();
  }

  /** At shutdown: every sleeper is rejected; the ring's close cancels the kernel side. */
  cancelAll(): void {
    for (const s of this.sleepers.values()) s.reject(new Error('the driver is shutting down'));
    this.sleepers.clear();
  }
}


