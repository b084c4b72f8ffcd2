// One thread's view of the runtime's queues: its own inbox, the inboxes it
// sends to, the calls it is waiting on, and where its spawns go. The main
// thread and every JS driver have one; both spawn through spawn() here.
//
// Sending never drops a message: when a destination queue is full, the
// message waits in a per-destination backlog that flush() retries (the
// owner's loop calls it every turn, and keeps turning while anything is
// backlogged); wakeups are batched the same way, one wakeIfParked() per
// destination per flush.
import { didYouMean } from '../../tpc/did-you-mean.js';
import { abortReason } from './errors.js';
import { Arena } from '../../tpc/arena.js';
import { decode, encode, encodeInto } from '../protocol/codec.js';
import { Stat, STATS_SLOTS, type ArenaRef, type Layout } from '../protocol/layout.js';
import { BIG, HEADER, Kind, MAIN_ENDPOINT, driverOfEndpoint, endpointOfDriver } from '../protocol/messages.js';
import { MessageQueue } from '../protocol/queue.js';
import { Router, type DriverLoad } from './router.js';
import { installSharedResolver, releaseShared } from './shared-buffer.js';

export interface PendingCall {
  resolve(value: unknown): void;
  reject(err: Error): void;
  /** the endpoint that runs it: a call in flight to a driver that dies is rejected */
  endpoint: number;
  /** that endpoint's generation when the call was sent (a restart drops it there; DriverDied names it) */
  gen: number;
  task: string;
}

/** Thrown (as a rejection) when a driver running the call dies. */
export class DriverDiedError extends Error {
  override readonly name = 'DriverDiedError'; // like TimeoutError: the stack and logs say what it is
  readonly code = 'GATIO_DRIVER_DIED';
}

/** A spawn with onFull 'reject' found the driver's inbox full. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  readonly code = 'GATIO_QUEUE_FULL';
}

export interface SpawnOptions {
  /** run on this driver (id) */
  driver?: number;
  /** run on a driver of this TPC (index) */
  tpc?: number;
  /** same key, same driver (while it is alive) */
  key?: string | number;
  /** the task queue on the driver; default "default" */
  queue?: string;
  signal?: AbortSignal;
  /** when the driver's inbox is full: 'wait' (default) queues the call here until it fits; 'reject' fails at once */
  onFull?: 'wait' | 'reject';
}

export interface MailboxOptions {
  /** the owner's "make sure my loop runs soon": it flushes what was queued outside a turn */
  poke: () => void;
  /** this thread's handles of the TPC arenas (the main thread created them); default: attach by id */
  arenas?: Arena[];
}

const SCRATCH_BYTES = 64 * 1024;

export class Mailbox {
  readonly inbox: MessageQueue;
  private readonly statViews: Float64Array[] = [];
  private readonly loads: DriverLoad[] = [];
  readonly arenas: Arena[];
  /** this thread's TPC: the main thread's is layout.mainTpc */
  readonly tpc: number;
  readonly poke: () => void;
  readonly router: Router;
  readonly calls = new Map<number, PendingCall>();
  /** the task names, sorted: a SPAWN names its task by index in this list */
  taskNames: string[] = [];
  private taskIndexes = new Map<string, number>();
  private readonly queues: (MessageQueue | undefined)[] = [];
  /** messages waiting for room in a full queue, per destination; `queued` is called once one is pushed */
  private readonly backlog = new Map<number, { bytes: Uint8Array; queued?: () => void }[]>();
  private readonly dirty = new Set<number>();
  private nextCall: number;
  /** this thread's generation: its inbox's, read when it started (0 for the main thread) */
  readonly generation: number;
  /**
   * Wake a parked driver at spawn, before the message is built. Only where
   * it cannot slow a burst: the main thread on a CPU of its own (a woken
   * driver sharing its CPU would preempt the rest of the burst, and a
   * driver that parks again mid-burst needs another wakeup: with two
   * threads and no spare CPU it cut tiny-task throughput from 23x to 14x
   * piscina's), and drivers that spin for the message (spinUs > 0).
   * The Runtime turns it on when it confines the main thread.
   */
  earlyWake = false;
  /** the destination generation stamped into the message sendBody() sent last */
  private sentGen = 0;
  /** parked receivers this mailbox has woken (a syscall each): by flush(), and at spawn (earlyWake) */
  woke = 0;
  wokeEarly = 0;
  // Messages are built here, then copied into a slot (or an arena block).
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);
  private readonly scratchView = new DataView(this.scratch.buffer);
  private readonly f64 = new Float64Array(this.scratch.buffer, 0, 3);
  private readonly u16 = new Uint16Array(this.scratch.buffer, 0, 12);
  private readonly u32 = new Uint32Array(this.scratch.buffer, 0, 6);
  private inView?: DataView;

  constructor(
    readonly layout: Layout,
    readonly self: number,
    opts: MailboxOptions,
  ) {
    this.arenas = opts.arenas ?? layout.arenas.map((id) => Arena.attach(id));
    this.tpc = self === MAIN_ENDPOINT ? layout.mainTpc : layout.drivers[driverOfEndpoint(self)]!.tpc;
    this.poke = opts.poke;
    installSharedResolver(this.arenas);
    this.inbox = this.queue(self);
    // This thread's call ids are unique across its generations (2^32 each):
    // a late reply meant for a predecessor that died settles nothing here.
    this.generation = this.inbox.generation;
    this.nextCall = this.generation * 2 ** 32 + 1;
    this.router = new Router(
      layout.drivers.map((d) => ({ id: d.id, tpc: d.tpc, runsTasks: d.kind !== 'io' })),
      (id) => this.load(id),
      layout.settings.knobs.spillThreshold,
      layout.settings.knobs.restart,
    );
  }

  /** Driver `id`'s stats block (layout.ts, Stat), as seen from this thread. */
  stats(id: number): Float64Array {
    let v = this.statViews[id];
    if (!v) {
      const d = this.layout.drivers[id]!;
      v = this.statViews[id] = new Float64Array(this.arenas[d.tpc]!.buffer, d.stats.offset, STATS_SLOTS);
    }
    return v;
  }

  /**
   * Driver `id`'s published load. The object is reused for the next call
   * with the same id (routing reads it at once: no garbage per decision).
   */
  load(id: number): DriverLoad {
    const s = this.stats(id);
    const l = (this.loads[id] ??= { alive: false, pending: 0, busy: 0 });
    l.alive = s[Stat.Alive] === 1;
    l.pending = s[Stat.Pending]!;
    l.busy = s[Stat.Busy]!;
    return l;
  }

  queue(endpoint: number): MessageQueue {
    let q = this.queues[endpoint];
    if (!q) {
      const ref: ArenaRef | undefined = this.layout.endpoints[endpoint];
      if (!ref) throw new Error(`no endpoint ${endpoint} (the runtime has ${this.layout.endpoints.length})`);
      q = MessageQueue.attach(this.arenas[ref.tpc]!.buffer, ref.offset);
      this.queues[endpoint] = q;
    }
    return q;
  }

  /** A DataView over the buffer `bytes` lives in: the inbox hands out views into its arena, so one serves every message. */
  view(bytes: Uint8Array): DataView {
    if (this.inView?.buffer !== bytes.buffer) this.inView = new DataView(bytes.buffer, bytes.byteOffset);
    return this.inView;
  }

  newCallId(): number {
    return this.nextCall++;
  }

  /** The tasks every driver defines (sorted): spawn() looks names up here. */
  setTasks(names: string[]): void {
    this.taskNames = names;
    this.taskIndexes = new Map(names.map((n, i) => [n, i]));
  }

  // ---------------------------------------------------------------------------
  // Calls.

  /**
   * Runs task `task` with `args` on the driver routing picks for `opts`, and
   * returns the promise of its result. Unknown names and bad arguments throw
   * at once. The SPAWN is queued, not flushed: the owner's loop (poked here)
   * sends a burst of spawns with one wakeup per driver. `avoid`: a driver
   * routing passes over when another is as good (Router, RouteOptions.avoid).
   */
  spawn<T>(task: string, args: unknown[], opts: SpawnOptions, avoid = -1): Promise<T> {
    const taskIndex = this.taskIndexes.get(task) ?? -1;
    if (taskIndex < 0) {
      throw new Error(`gatio: unknown task "${task}" (the task modules define: ${this.taskNames.join(', ') || 'no tasks'})`);
    }
    if (!Array.isArray(args)) throw new TypeError(`gatio: spawn("${task}", args): args must be an array of arguments`);
    checkSpawnOptions(task, opts, this.layout.drivers.length, this.layout.arenas.length);
    const queueIndex = opts.queue === undefined ? 0 : this.layout.queues.indexOf(opts.queue);
    if (queueIndex < 0) throw new Error(`gatio: unknown task queue "${opts.queue}" (queues: ${this.layout.queues.join(', ')})`);
    const signal = opts.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let driver: number;
    try {
      driver = this.router.route({ driver: opts.driver, tpc: opts.tpc, key: opts.key, fromTpc: this.tpc, avoid }).driver;
    } catch (err) {
      return Promise.reject(err); // no driver for it (down, none of that TPC): a rejection, like every failure of a call
    }
    const endpoint = endpointOfDriver(driver);
    if (opts.onFull === 'reject' && this.isFull(endpoint)) {
      return Promise.reject(new QueueFullError(`gatio: driver ${this.layout.drivers[driver]!.name}'s inbox is full (${this.queue(endpoint).capacity} messages)`));
    }
    // A parked driver takes a thread wakeup to answer (on this VM ~100 us
    // for a pinned thread on an idle CPU, docs/benchmarks.md "Cold calls"):
    // ring its doorbell first, so that wakeup overlaps the encoding and
    // pushing below instead of following them. The driver spins (spinUs)
    // for the message if it comes up first; without a spin it would park
    // again at once and need a second wakeup, so then the flush wakes it.
    if (this.earlyWake && this.queue(endpoint).wakeIfParked()) this.wokeEarly++;
    const callId = this.nextCall++;
    let call!: PendingCall;
    const promise = new Promise<T>((resolve, reject) => {
      call = { resolve: resolve as (v: unknown) => void, reject, endpoint, gen: 0, task };
    });
    this.calls.set(callId, call);
    try {
      this.sendSpawn(endpoint, callId, taskIndex, queueIndex, args);
      call.gen = this.sentGen;
    } catch (err) {
      // Nothing was sent (an argument cannot be cloned, the arena is full):
      // forget the call, or it would stay outstanding for ever (keeping the
      // process alive, and rejected unhandled at shutdown).
      this.calls.delete(callId);
      throw err;
    }
    this.stats(driver)[Stat.Pending]!++; // until the driver republishes: spreads a burst
    if (signal) this.cancelOnAbort(signal, callId, endpoint);
    this.poke();
    return promise;
  }

  /**
   * Aborting rejects the call with the signal's reason and sends CANCEL
   * (with the reason, which the task sees as its signal's). One listener per
   * signal, however many calls share it (one long-lived signal for many
   * calls would otherwise collect a listener per call: Node's
   * MaxListenersExceededWarning after 10); a settled call leaves the
   * signal's set, and the last one takes the listener away.
   */
  private cancelOnAbort(signal: AbortSignal, callId: number, endpoint: number): void {
    let waiting = this.bySignal.get(signal);
    if (!waiting) {
      const set = new Map<number, number>();
      waiting = set;
      const onAbort = () => {
        this.bySignal.delete(signal);
        for (const [id, ep] of set) {
          const call = this.calls.get(id);
          if (!call) continue;
          this.calls.delete(id);
          this.sendCancel(ep, id, signal.reason);
          call.reject(abortReason(signal, `task "${call.task}"`));
        }
        this.poke();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.signalListeners.set(signal, onAbort);
      this.bySignal.set(signal, set);
    }
    waiting.set(callId, endpoint);
    const call = this.calls.get(callId)!;
    const { resolve, reject } = call;
    const leave = () => {
      const set = this.bySignal.get(signal);
      if (!set) return;
      set.delete(callId);
      if (set.size === 0) {
        this.bySignal.delete(signal);
        const l = this.signalListeners.get(signal);
        if (l) signal.removeEventListener('abort', l);
        this.signalListeners.delete(signal);
      }
    };
    call.resolve = (v) => (leave(), resolve(v));
    call.reject = (e) => (leave(), reject(e));
  }

  /** calls waiting on each AbortSignal (call id -> endpoint), and its one listener */
  private readonly bySignal = new WeakMap<AbortSignal, Map<number, number>>();
  private readonly signalListeners = new WeakMap<AbortSignal, () => void>();

  /** A RESULT message: settles its call (unknown: already settled). A body that cannot be decoded rejects the call with why. */
  settleResult(bytes: Uint8Array, offset: number, len: number): void {
    const callId = this.view(bytes).getFloat64(offset + 8, true);
    let ok = bytes[offset + 1] === 1;
    let value: unknown;
    try {
      value = this.body(bytes, offset, len); // also for an unknown call: a BIG body's block is freed
    } catch (err) {
      ok = false;
      value = err;
    }
    const call = this.calls.get(callId);
    if (!call) {
      releaseShared(value); // the caller gave up on it (aborted, its driver died): nobody else will
      return;
    }
    this.calls.delete(callId);
    if (ok) call.resolve(value);
    // A non-Error thrown by the task is kept as .value (docs/drivers.md).
    else call.reject(value instanceof Error ? value : Object.assign(new Error(`task "${call.task}" failed with a non-error value: ${String(value)}`), { value }));
  }

  /**
   * Rejects every call in flight to `endpoint` sent to its generation `gen`
   * (that driver died; calls sent since to its successor stay).
   */
  rejectCallsTo(endpoint: number, gen: number, err: (call: PendingCall) => Error): number {
    let n = 0;
    for (const [id, call] of this.calls) {
      if (call.endpoint !== endpoint || call.gen !== gen) continue;
      this.calls.delete(id);
      call.reject(err(call));
      n++;
    }
    return n;
  }

  // ---------------------------------------------------------------------------
  // Sending.

  /** SPAWN: run task `taskIndex` from `queueIndex` with `args` on `endpoint`; replies come to this mailbox. */
  private sendSpawn(endpoint: number, callId: number, taskIndex: number, queueIndex: number, args: unknown[]): void {
    this.clearHeader();
    this.scratch[0] = Kind.Spawn;
    this.u16[1] = queueIndex;
    this.u32[1] = taskIndex;
    this.f64[1] = callId;
    this.u16[8] = this.self;
    this.sendBody(endpoint, args, undefined, 'args');
  }

  sendResult(endpoint: number, callId: number, ok: boolean, value: unknown): void {
    this.clearHeader();
    this.scratch[0] = Kind.Result;
    this.scratch[1] = ok ? 1 : 0;
    this.f64[1] = callId;
    this.sendBody(endpoint, value); // errors are values to the codec: name, message, remote stack, code
  }

  /** CANCEL for a call; `reason` (the caller's abort reason) becomes the task's signal.reason when it can travel. */
  sendCancel(endpoint: number, callId: number, reason?: unknown): void {
    this.clearHeader();
    this.scratch[0] = Kind.Cancel;
    this.f64[1] = callId;
    this.u16[8] = this.self;
    try {
      this.sendBody(endpoint, reason);
    } catch {
      this.clearHeader();
      this.scratch[0] = Kind.Cancel;
      this.f64[1] = callId;
      this.u16[8] = this.self;
      this.sendBody(endpoint, undefined); // a reason that cannot be encoded: the task gets a generic one
    }
  }

  sendControl(endpoint: number, op: number, body: unknown, callId = 0): void {
    this.clearHeader();
    this.scratch[0] = Kind.Control;
    this.u32[1] = op;
    this.f64[1] = callId;
    this.u16[8] = this.self;
    this.sendBody(endpoint, body);
  }

  /**
   * CHANNEL: `value` for channel `name` on `endpoint`. True when it is in
   * the destination's queue; false when the queue is full and the message
   * waits here, `queued` being called once it is in (backpressure).
   */
  sendChannel(endpoint: number, name: string, value: unknown, queued: () => void): boolean {
    this.clearHeader();
    this.scratch[0] = Kind.Channel;
    this.u16[1] = this.self;
    return this.sendBody(endpoint, [name, value], queued);
  }

  /** A message the caller built whole (IO_REQUEST: a fixed layout, no codec body); copied when it must wait. */
  sendRaw(endpoint: number, bytes: Uint8Array): void {
    this.push(endpoint, bytes);
  }

  /**
   * Retries backlogged messages and wakes every destination sent to since
   * the last flush (only the parked ones get a syscall). Returns how many
   * messages are still backlogged.
   */
  flush(): number {
    let left = 0;
    for (const [endpoint, list] of this.backlog) {
      const q = this.queue(endpoint);
      let i = 0;
      while (i < list.length && q.tryPush(list[i]!.bytes)) list[i++]!.queued?.();
      if (i > 0) this.dirty.add(endpoint);
      if (i === list.length) this.backlog.delete(endpoint);
      else {
        list.splice(0, i);
        left += list.length;
      }
    }
    for (const endpoint of this.dirty) if (this.queue(endpoint).wakeIfParked()) this.woke++;
    this.dirty.clear();
    return left;
  }

  /**
   * Forgets what waits here for `endpoint`, freeing the arena bodies of
   * those messages: all of it (it stopped for good), or what was stamped
   * for its generation `gen` (that driver died; its successor would drop it).
   */
  dropBacklog(endpoint: number, gen?: number): void {
    const list = this.backlog.get(endpoint);
    if (!list) return;
    // A port command to an io driver carries its generation at byte 2, not 18: one that waited here was for the dead one.
    const stale = (b: Uint8Array) => gen === undefined || b[0] === Kind.NetCmd || (!builtNatively(b) && (b[18]! | (b[19]! << 8)) === (gen & 0xffff));
    const keep = list.filter((e) => !stale(e.bytes));
    for (const e of list) if (stale(e.bytes)) this.discard(e.bytes, 0);
    if (keep.length) this.backlog.set(endpoint, keep);
    else {
      this.backlog.delete(endpoint);
      this.dirty.delete(endpoint);
    }
  }

  /**
   * A message this thread will not deliver (stamped for a generation of its
   * endpoint that is gone, or from a dropped backlog): its arena body, if
   * it has one, is freed. IO messages have no arena body of their own.
   */
  /**
   * Drops a message nobody will handle: its arena body (BIG) is freed, and
   * the SharedBuffers it carries are released, which its receiver would
   * have done. `len`: the message's length (its inline body is decoded for
   * shared buffers); messages with a fixed native layout carry none.
   */
  discard(bytes: Uint8Array, offset: number, len = bytes.length - offset): void {
    const kind = bytes[offset]! & ~BIG;
    if (kind >= Kind.IoRequest || builtNatively(bytes, offset)) return; // fixed layouts: no codec body
    try {
      releaseShared(this.body(bytes, offset, len)); // body() frees a BIG block
    } catch {
      // A body that cannot be decoded: free its block at least.
      if ((bytes[offset]! & BIG) !== 0) {
        const view = new DataView(bytes.buffer, bytes.byteOffset);
        const at = offset + HEADER;
        try {
          this.arenas[view.getUint16(at + 12, true)]!.free(view.getFloat64(at, true));
        } catch {
          // already freed
        }
      }
    }
  }

  /** Whether a message in this thread's inbox was meant for an earlier generation of this thread (a predecessor that died). */
  isStale(bytes: Uint8Array, offset: number): boolean {
    if (builtNatively(bytes, offset)) return false; // not stamped: their call ids are per generation
    return (bytes[offset + 18]! | (bytes[offset + 19]! << 8)) !== (this.generation & 0xffff);
  }

  /** Messages waiting here for room in their destination's queue. */
  backlogged(): number {
    let n = 0;
    for (const list of this.backlog.values()) n += list.length;
    return n;
  }

  /** No room for another message to `endpoint` now: its queue is full, or messages already wait here for room. */
  isFull(endpoint: number): boolean {
    const q = this.queue(endpoint);
    return this.backlog.has(endpoint) || q.size() >= q.capacity;
  }

  /** Decodes a message body: inline after the header, or (BIG) from an arena block that is freed here. */
  body(bytes: Uint8Array, offset: number, len: number): unknown {
    if ((bytes[offset]! & BIG) === 0) return decode(bytes, offset + HEADER, len - HEADER);
    const view = this.view(bytes);
    const at = offset + HEADER;
    const blockOffset = view.getFloat64(at, true);
    const blockLen = view.getUint32(at + 8, true);
    const arena = this.arenas[view.getUint16(at + 12, true)]!;
    try {
      return decode(new Uint8Array(arena.buffer), blockOffset, blockLen);
    } finally {
      arena.free(blockOffset);
    }
  }

  // ---------------------------------------------------------------------------

  private clearHeader(): void {
    this.f64[0] = 0;
    this.f64[1] = 0;
    this.f64[2] = 0;
  }

  /**
   * Encodes `value` after the header in scratch and queues the message.
   * Too big for a slot: the body goes into an arena block of the
   * destination's TPC (local memory for the reader), which the reader frees.
   */
  private sendBody(endpoint: number, value: unknown, queued?: () => void, what = 'value'): boolean {
    const q = this.queue(endpoint);
    this.sentGen = q.generation;
    this.u16[9] = this.sentGen & 0xffff; // bytes 18-19
    let n = encodeInto(value, this.scratch, HEADER, what);
    if (n >= 0 && HEADER + n <= q.maxPayload) return this.push(endpoint, this.scratch.subarray(0, HEADER + n), queued);
    // Big: encode on its own (it may not fit scratch either), then copy into an arena block.
    const body = n >= 0 ? this.scratch.subarray(HEADER, HEADER + n) : encode(value, what);
    n = body.length;
    const tpc = this.layout.endpoints[endpoint]!.tpc;
    const arena = this.arenas[tpc]!;
    const offset = arena.alloc(n).offset; // throws ArenaExhaustedError (with stats) when the arena is full
    new Uint8Array(arena.buffer, offset, n).set(body);
    this.scratch[0]! |= BIG;
    this.scratchView.setFloat64(HEADER, offset, true);
    this.scratchView.setUint32(HEADER + 8, n, true);
    this.scratchView.setUint16(HEADER + 12, tpc, true);
    return this.push(endpoint, this.scratch.subarray(0, HEADER + 16), queued);
  }

  /** Into `endpoint`'s queue (true), or behind what already waits for it (false; `bytes` is copied). */
  private push(endpoint: number, bytes: Uint8Array, queued?: () => void): boolean {
    const pending = this.backlog.get(endpoint);
    if (!pending && this.queue(endpoint).tryPush(bytes)) {
      this.dirty.add(endpoint);
      return true;
    }
    const entry = { bytes: bytes.slice(), queued };
    if (pending) pending.push(entry);
    else this.backlog.set(endpoint, [entry]);
    return false;
  }
}

/** IO_DONE / DRIVER_EXITED: built by native io drivers, with no generation stamp and no codec body. */
function builtNatively(bytes: Uint8Array, offset = 0): boolean {
  const kind = bytes[offset]! & ~BIG;
  return kind === Kind.IoDone || kind === Kind.DriverExited || kind === Kind.NetEvent || kind === Kind.NetSetupDone;
}

const SPAWN_OPTION_KEYS = ['driver', 'tpc', 'key', 'queue', 'signal', 'onFull'] as const;

/** spawn()'s options, checked where they are given: type, range, unknown keys (with a did-you-mean). */
function checkSpawnOptions(task: string, opts: SpawnOptions, drivers: number, tpcs: number): void {
  const where = `gatio: spawn("${task}")`;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new TypeError(`${where}: options must be an object, got ${opts === null ? 'null' : Array.isArray(opts) ? 'an array' : typeof opts}`);
  for (const k of Object.keys(opts)) {
    if ((SPAWN_OPTION_KEYS as readonly string[]).includes(k)) continue;
    const close = didYouMean(k, SPAWN_OPTION_KEYS);
    throw new TypeError(`${where}: unknown option "${k}"${close ? `; did you mean "${close}"?` : ` (options: ${SPAWN_OPTION_KEYS.join(', ')})`}`);
  }
  const o = opts as Record<string, unknown>;
  const show = (v: unknown) => (typeof v === 'string' ? `the string ${JSON.stringify(v)}` : typeof v === 'number' ? String(v) : typeof v);
  // A whole number; one out of range is the router's to refuse (a RouteError rejection, as for a driver that is down).
  const id = (name: string, n: number, what: string) => {
    const v = o[name];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${where}: options.${name} must be a ${what} id (a whole number, 0 to ${n - 1}), got ${show(v)}`);
  };
  id('driver', drivers, 'driver');
  id('tpc', tpcs, 'TPC');
  if (o.key !== undefined && typeof o.key !== 'string' && !(typeof o.key === 'number' && Number.isFinite(o.key))) throw new TypeError(`${where}: options.key must be a string or a finite number, got ${show(o.key)}`);
  if (o.queue !== undefined && typeof o.queue !== 'string') throw new TypeError(`${where}: options.queue must be the name of a task queue, got ${show(o.queue)}`);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError(`${where}: options.signal must be an AbortSignal, got ${show(o.signal)}`);
  if (o.onFull !== undefined && o.onFull !== 'wait' && o.onFull !== 'reject') throw new TypeError(`${where}: options.onFull must be "wait" or "reject", got ${JSON.stringify(o.onFull)}`);
}
