// The per-driver scheduler: task queues with shares and latency classes,
// CFS-like virtual runtime, cooperative yielding (design: docs/drivers.md,
// section "Scheduler"). One instance per driver thread; not thread-safe and
// it does not need to be: only its own thread touches it.
//
// The driver loop calls runTurn() once per libuv macrotask. A turn runs
// work items of one queue synchronously; the async continuations they
// release (awaits resumed by those items) run in the microtask checkpoint
// right after runTurn returns, still inside the same macrotask. So a turn's
// real cost is only known when the next turn starts: the "charge window"
// of a queue opens when a turn picks it and closes at the next runTurn()
// (or idle()), and everything in between is charged to it.
import { MAX_SHARES, MIN_SHARES, type TaskQueueSettings } from '../../tpc/settings.js';
import type { TaskQueueStats } from '../protocol/messages.js';

export type { TaskQueueStats };

export interface SchedulerOptions {
  /** longest a turn may keep one queue running before it yields to the loop; default 1 ms */
  quantumMs?: number;
  /**
   * how far (in virtual ms) a latency queue's virtual runtime may run ahead
   * of the smallest one before it loses its priority; default 10 ms
   */
  latencyBoostMs?: number;
  /** clock in milliseconds; default performance.now */
  now?: () => number;
  /**
   * the calling thread's CPU time in ms (CLOCK_THREAD_CPUTIME_ID). When
   * given, a window is charged only the share of its wall time the thread
   * actually ran: time the kernel gave other threads (a noisy neighbour, a
   * VM steal) is not billed to whichever queue happened to be running.
   */
  cpuNow?: () => number;
}

const DEFAULT_QUANTUM_MS = 1;
const DEFAULT_LATENCY_BOOST_MS = 10;
/** the loop's preempt check (e.g. "inbox not empty") is consulted at most this often */
const PREEMPT_CHECK_EVERY_MS = 0.1;
/** weight of the newest sample in the per-queue async cost average */
const ASYNC_COST_WEIGHT = 0.25;

type Work = () => void;

/** FIFO of work items with the time each was queued: a growable ring. */
class Fifo {
  private fns: Array<Work | undefined>;
  private times: Float64Array;
  private head = 0;
  size = 0;

  constructor(capacity = 16) {
    this.fns = new Array<Work | undefined>(capacity).fill(undefined);
    this.times = new Float64Array(capacity);
  }

  push(fn: Work, t: number): void {
    const cap = this.fns.length;
    if (this.size === cap) this.grow(cap);
    const i = (this.head + this.size) & (this.fns.length - 1);
    this.fns[i] = fn;
    this.times[i] = t;
    this.size++;
  }

  /** enqueue time of the oldest item; only when size > 0 */
  headTime(): number {
    return this.times[this.head]!;
  }

  /** removes the oldest item; only when size > 0 */
  shift(): Work {
    const i = this.head;
    const fn = this.fns[i]!;
    this.fns[i] = undefined; // let the closure go
    this.head = (i + 1) & (this.fns.length - 1);
    this.size--;
    return fn;
  }

  private grow(cap: number): void {
    const fns = new Array<Work | undefined>(cap * 2).fill(undefined);
    const times = new Float64Array(cap * 2);
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) & (cap - 1);
      fns[k] = this.fns[i];
      times[k] = this.times[i]!;
    }
    this.fns = fns;
    this.times = times;
    this.head = 0;
  }
}

/**
 * A task queue of one scheduler. Hand it back to that scheduler's enqueue(),
 * spawn() and run(); its fields are the scheduler's bookkeeping (read them
 * through Scheduler.stats()).
 */
export class TaskQueue {
  /** @internal */ shares: number;
  /** @internal latency bound in ms; 0 = batch queue */ latencyMs: number;
  /** @internal */ vruntime: number;
  /** @internal */ runtimeMs = 0;
  /** @internal */ items = 0;
  /** @internal */ started = 0;
  /** @internal */ running = 0;
  /** @internal */ yields = 0;
  /** @internal */ maxDelayMs = 0;
  /** @internal */ late = 0;
  /** @internal EWMA of the time one item's continuations take after runTurn returns */
  asyncPerItemMs = 0;
  /** @internal */ readonly fifo = new Fifo();

  /** @internal */
  constructor(
    readonly name: string,
    /** @internal */ readonly owner: Scheduler,
    shares: number,
    latencyMs: number,
    vruntime: number,
  ) {
    this.shares = shares;
    this.latencyMs = latencyMs;
    this.vruntime = vruntime;
  }

  get latency(): { maxDelayMs: number } | undefined {
    return this.latencyMs > 0 ? { maxDelayMs: this.latencyMs } : undefined;
  }
}

function checkShares(where: string, shares: unknown): number {
  if (typeof shares !== 'number' || !Number.isFinite(shares) || shares < MIN_SHARES || shares > MAX_SHARES) {
    throw new RangeError(
      `${where}: shares must be a finite number in [${MIN_SHARES}, ${MAX_SHARES}], got ${describe(shares)}`,
    );
  }
  return shares;
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeof v;
}

export class Scheduler {
  readonly quantumMs: number;
  readonly latencyBoostMs: number;
  private readonly now: () => number;
  private readonly queues: TaskQueue[] = [];
  private readonly byName = new Map<string, TaskQueue>();
  /** queues with pending items */
  private runnable = 0;
  /** latency queues with pending items */
  private latencyRunnable = 0;
  /** CFS min_vruntime: never decreases; where waking queues start */
  private minVruntime = 0;

  // The charge window (see the top of the file).
  private win: TaskQueue | undefined;
  private winStart = 0;
  private winSyncMs = 0;
  private winItems = 0;
  private winStartCpu = 0;
  /** the last CPU clock reading (closeWindow's, reused to open the next window) */
  private cpuAt = 0;
  private readonly cpuNow: (() => number) | undefined;
  /** time inside the window already charged elsewhere (run() of another queue) */
  private excludedMs = 0;
  /** when the window's quantum is spent */
  private deadline = -Infinity;
  /** the queue whose work is running: the window's, or run()'s */
  private cur: TaskQueue | undefined;

  private inTurn = false;
  private preemptCheck: (() => boolean) | undefined;
  private lastPreemptCheck = -Infinity;
  /**
   * The preempt check said yes during this turn: the answer holds until the
   * turn ends. (Re-asking would hit the rate limit and read as "no", and the
   * turn would run the next item of its queue first.)
   */
  private preempting = false;

  constructor(opts: SchedulerOptions = {}) {
    const q = opts.quantumMs ?? DEFAULT_QUANTUM_MS;
    if (typeof q !== 'number' || !Number.isFinite(q) || q <= 0) {
      throw new RangeError(`scheduler: quantumMs must be a finite number > 0, got ${describe(q)}`);
    }
    const b = opts.latencyBoostMs ?? DEFAULT_LATENCY_BOOST_MS;
    if (typeof b !== 'number' || !Number.isFinite(b) || b < 0) {
      throw new RangeError(`scheduler: latencyBoostMs must be a finite number >= 0, got ${describe(b)}`);
    }
    this.cpuNow = opts.cpuNow;
    if (opts.now !== undefined && typeof opts.now !== 'function') {
      throw new TypeError(`scheduler: now must be a function returning milliseconds, got ${describe(opts.now)}`);
    }
    this.quantumMs = q;
    this.latencyBoostMs = b;
    this.now = opts.now ?? performance.now.bind(performance);
  }

  createQueue(name: string, opts: TaskQueueSettings = {}): TaskQueue {
    if (typeof name !== 'string' || name === '') {
      throw new TypeError(`task queue name must be a non-empty string, got ${describe(name)}`);
    }
    if (this.byName.has(name)) throw new Error(`task queue "${name}" already exists on this driver`);
    if (opts === null || typeof opts !== 'object') {
      throw new TypeError(`task queue "${name}": options must be an object, got ${describe(opts)}`);
    }
    const shares = opts.shares === undefined ? 1 : checkShares(`task queue "${name}"`, opts.shares);
    let latencyMs = 0;
    if (opts.latency !== undefined) {
      const d = (opts.latency as { maxDelayMs?: unknown } | null)?.maxDelayMs;
      if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0) {
        throw new RangeError(`task queue "${name}": latency.maxDelayMs must be a finite number > 0, got ${describe(d)}`);
      }
      latencyMs = d;
    }
    // A new queue starts level with the others: no credit, no debt.
    const q = new TaskQueue(name, this, shares, latencyMs, this.minVruntime);
    this.queues.push(q);
    this.byName.set(name, q);
    return q;
  }

  queue(name: string): TaskQueue | undefined {
    return this.byName.get(name);
  }

  /** Changes a queue's shares; takes effect from the next charge (vruntime is kept). */
  setShares(name: string, shares: number): void {
    const q = this.byName.get(name);
    if (q === undefined) throw new Error(`setShares: no task queue named ${describe(name)} (queues: ${this.names()})`);
    q.shares = checkShares(`task queue "${name}"`, shares);
  }

  /**
   * Queues one unit of work (a task start, a completion delivery, a
   * resumption) on `queue`. `t`: when the work arrived (default now); a loop
   * queuing a batch passes one reading for all.
   */
  enqueue(queue: TaskQueue, work: () => void, t = this.now()): void {
    this.own(queue, 'enqueue');
    if (typeof work !== 'function') throw new TypeError(`enqueue on "${queue.name}": work must be a function, got ${describe(work)}`);
    if (queue.fifo.size === 0) this.wake(queue);
    queue.fifo.push(work, t);
  }

  /**
   * Queues the start of a task: like enqueue(), and also counts the task in
   * stats (started, running until its promise settles). spawn() observes the
   * returned promise, which marks it handled: the caller's wrapper must
   * report its rejection (the driver sends it back to the spawner).
   */
  spawn(queue: TaskQueue, task: () => unknown, t = this.now()): void {
    if (typeof task !== 'function') throw new TypeError(`spawn on "${queue?.name}": task must be a function, got ${describe(task)}`);
    this.enqueue(queue, () => {
      queue.started++;
      const r = task();
      if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
        queue.running++;
        const done = () => void queue.running--;
        (r as PromiseLike<unknown>).then(done, done);
      }
    }, t);
  }

  /**
   * Runs `fn` now, synchronously, as work of `queue`: current() is `queue`
   * while it runs and its time is charged to `queue` (and not to the open
   * window). For what the loop must do immediately rather than queue.
   */
  run<T>(queue: TaskQueue, fn: () => T): T {
    this.own(queue, 'run');
    const prev = this.cur;
    const deadline0 = this.deadline;
    const excluded0 = this.excludedMs;
    const t0 = this.now();
    this.cur = queue;
    // Outside a turn, fn gets a quantum of its own for yieldIfNeeded().
    if (this.win === undefined) this.deadline = t0 + this.quantumMs;
    queue.items++;
    try {
      return fn();
    } finally {
      const dt = this.now() - t0;
      // nested run()s already charged their own time
      this.charge(queue, Math.max(0, dt - (this.excludedMs - excluded0)));
      this.excludedMs = excluded0 + dt;
      this.cur = prev;
      this.deadline = deadline0;
    }
  }

  /**
   * One scheduling turn: charges the previous window, picks a queue, runs
   * its items until the quantum is (or, counting the continuations they
   * will release, is expected to be) spent, it empties, or something must
   * preempt it. Returns whether anything ran. An item that throws ends the
   * turn and the exception propagates to the caller; the rest stay queued.
   */
  runTurn(): boolean {
    if (this.inTurn) throw new Error('runTurn: called from a work item of the running turn');
    const t0 = this.now();
    const fresh = this.closeWindow(t0);
    const q = this.pick();
    if (q === undefined) return false;
    this.win = q;
    this.cur = q;
    this.winStart = t0;
    if (this.cpuNow) this.winStartCpu = fresh ? this.cpuAt : (this.cpuAt = this.cpuNow());
    this.deadline = t0 + this.quantumMs;
    this.preempting = false;
    const est = q.asyncPerItemMs;
    let t = t0;
    let n = 0;
    this.inTurn = true;
    try {
      do {
        const delay = t - q.fifo.headTime();
        const work = q.fifo.shift();
        if (q.fifo.size === 0) this.drained(q);
        if (delay > q.maxDelayMs) q.maxDelayMs = delay;
        if (q.latencyMs > 0 && delay > q.latencyMs) q.late++;
        n++;
        q.items++;
        work();
        t = this.now();
      } while (q.fifo.size > 0 && t - t0 + n * est < this.quantumMs && !this.mustPreempt(q, t));
    } finally {
      this.inTurn = false;
      this.winItems = n;
      this.winSyncMs = this.now() - t0;
    }
    return true;
  }

  /**
   * Closes the charge window: time until now goes to the queue the last
   * turn picked, nothing after is charged until the next runTurn(). The loop
   * calls it before it spins or parks (so waiting is never charged), and may
   * call it at the top of each macrotask so inbox and ring work are not
   * charged to the previous queue.
   */
  idle(): void {
    if (this.inTurn) throw new Error('idle: called from a work item of the running turn');
    this.closeWindow(this.now());
  }

  hasWork(): boolean {
    return this.runnable > 0;
  }

  /**
   * For the running task: undefined if it may go on, or a promise that
   * resolves when the scheduler picks its queue again. It yields when the
   * turn's quantum is spent, when a latency queue other than its own has
   * work (within its boost), or when the loop's preempt check says so.
   * Usage: `await scheduler.yieldIfNeeded()`; awaiting undefined costs one
   * microtask. Outside of the scheduler's work (no current queue) it never
   * yields.
   */
  yieldIfNeeded(): Promise<void> | undefined {
    const q = this.cur;
    if (q === undefined) return undefined;
    const t = this.now();
    if (t < this.deadline && !this.mustPreempt(q, t)) return undefined;
    q.yields++;
    return new Promise<void>((resolve) => this.enqueue(q, resolve));
  }

  /** Installs the loop's cheap "something outside wants the thread" check (e.g. inbox not empty); undefined removes it. */
  setPreemptCheck(fn: (() => boolean) | undefined): void {
    if (fn !== undefined && typeof fn !== 'function') {
      throw new TypeError(`setPreemptCheck: expected a function or undefined, got ${describe(fn)}`);
    }
    this.preemptCheck = fn;
  }

  /** The queue whose work is running (see docs/drivers.md for what counts). */
  current(): TaskQueue | undefined {
    return this.cur;
  }

  stats(): TaskQueueStats[] {
    return this.queues.map((q) => ({
      name: q.name,
      shares: q.shares,
      latency: q.latency,
      vruntime: q.vruntime,
      runtimeMs: q.runtimeMs,
      items: q.items,
      started: q.started,
      running: q.running,
      yields: q.yields,
      pending: q.fifo.size,
      maxDelayMs: q.maxDelayMs,
      late: q.late,
    }));
  }

  // --- internals ---

  private own(queue: TaskQueue, what: string): void {
    if (!(queue instanceof TaskQueue)) throw new TypeError(`${what}: expected a TaskQueue, got ${describe(queue)}`);
    if (queue.owner !== this) throw new Error(`${what}: task queue "${queue.name}" belongs to another scheduler`);
  }

  private names(): string {
    return this.queues.length === 0 ? 'none' : this.queues.map((q) => `"${q.name}"`).join(', ');
  }

  private wake(q: TaskQueue): void {
    // No banked credit: a queue that was idle starts level with the others.
    if (q.vruntime < this.minVruntime) q.vruntime = this.minVruntime;
    this.runnable++;
    if (q.latencyMs > 0) this.latencyRunnable++;
  }

  private drained(q: TaskQueue): void {
    this.runnable--;
    if (q.latencyMs > 0) this.latencyRunnable--;
  }

  private charge(q: TaskQueue, ms: number): void {
    q.runtimeMs += ms;
    q.vruntime += ms / q.shares;
    // min_vruntime follows min(charged queue, runnable queues), never back.
    let m = q.vruntime;
    for (const o of this.queues) if (o.fifo.size > 0 && o.vruntime < m) m = o.vruntime;
    if (m > this.minVruntime) this.minVruntime = m;
  }

  /** Closes the open window (if any); true when it read the thread's CPU clock (cpuAt is now current). */
  private closeWindow(t: number): boolean {
    const q = this.win;
    // The CPU clock is a system call: read it only when a window closes (a turn with no task reads none).
    const read = q !== undefined && this.cpuNow !== undefined;
    if (read) this.cpuAt = this.cpuNow!();
    if (q !== undefined) {
      let elapsed = Math.max(0, t - this.winStart - this.excludedMs);
      if (this.cpuNow) {
        // Charge only the fraction of the window this thread was on a CPU.
        const wall = t - this.winStart;
        const cpu = this.cpuAt - this.winStartCpu;
        if (wall > 0 && cpu < wall) elapsed *= Math.max(0, cpu) / wall;
      }
      this.charge(q, elapsed);
      // What ran after runTurn returned: the continuations its items released.
      const perItem = Math.max(0, elapsed - this.winSyncMs) / this.winItems;
      q.asyncPerItemMs += (perItem - q.asyncPerItemMs) * ASYNC_COST_WEIGHT;
      this.win = undefined;
    }
    this.cur = undefined;
    this.excludedMs = 0;
    this.deadline = -Infinity;
    return read;
  }

  private minRunnableVruntime(): number {
    let m = Infinity;
    for (const q of this.queues) if (q.fifo.size > 0 && q.vruntime < m) m = q.vruntime;
    return m;
  }

  /** A latency queue is eligible while it is at most latencyBoostMs ahead of the smallest vruntime. */
  private pick(): TaskQueue | undefined {
    if (this.runnable === 0) return undefined;
    let best: TaskQueue | undefined;
    let minV = Infinity;
    for (const q of this.queues) {
      if (q.fifo.size > 0 && q.vruntime < minV) {
        minV = q.vruntime;
        best = q;
      }
    }
    if (this.latencyRunnable > 0) {
      // Earliest deadline first among eligible latency queues.
      let lat: TaskQueue | undefined;
      let due = Infinity;
      for (const q of this.queues) {
        if (q.latencyMs > 0 && q.fifo.size > 0 && q.vruntime <= minV + this.latencyBoostMs) {
          const d = q.fifo.headTime() + q.latencyMs;
          if (d < due) {
            due = d;
            lat = q;
          }
        }
      }
      if (lat !== undefined) return lat;
    }
    return best;
  }

  private mustPreempt(q: TaskQueue, t: number): boolean {
    if (this.latencyRunnable > (q.latencyMs > 0 && q.fifo.size > 0 ? 1 : 0)) {
      const limit = this.minRunnableVruntime() + this.latencyBoostMs;
      for (const o of this.queues) {
        if (o !== q && o.latencyMs > 0 && o.fifo.size > 0 && o.vruntime <= limit) return true;
      }
    }
    if (this.preempting) return true;
    if (this.preemptCheck !== undefined && t - this.lastPreemptCheck >= PREEMPT_CHECK_EVERY_MS) {
      this.lastPreemptCheck = t;
      return (this.preempting = this.preemptCheck() === true);
    }
    return false;
  }
}
