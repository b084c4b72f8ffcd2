// An exec or hybrid driver: the loop that runs on one pinned worker thread.
//
// Each turn is one libuv macrotask (setImmediate), so Node's own timers,
// promises, fs and sockets run between turns (docs/drivers.md, "The driver
// loop"):
//   1. pop every inbox message (task starts, results, cancels, control);
//   2. one ring.turn(): submit the queued commands (timers), reap completions
//      and route each to the owner of its op (completions.ts);
//   3. the scheduler runs one queue for up to one quantum;
//   4. flush outgoing messages (wake only parked receivers).
// With nothing to do it spins for `spinUs` watching the inbox and the ring,
// then parks: it announces it on the inbox (so senders wake it through the
// eventfd) and returns to libuv, which sleeps in epoll_wait on that eventfd
// (also registered with the ring, so a timer completion wakes it too).
import { pinThread, threadBinding } from '../../tpc/affinity.js';
import { native } from '../../native.js';
import { Stat, STATS_SLOTS, type DriverInit, type Layout } from '../protocol/layout.js';
import { Mailbox, DriverDiedError, type SpawnOptions } from '../shared/mailbox.js';
import { setThreadRuntime, type DriverSide, type ThreadRuntime } from '../shared/thread.js';
import { ParkWatch } from '../shared/park.js';
import { BIG, ControlOp, Kind, MAIN_ENDPOINT, endpointOfDriver, type DriverStatsReply } from '../protocol/messages.js';
import { Ring } from '../protocol/ring.js';
import { describeThrown, sendableThrown } from '../protocol/codec.js';
import { Scheduler, type TaskQueue } from './scheduler.js';
import { LazyTaskContext, registry, type TaskFn } from '../shared/tasks.js';
import { Timers } from './timers.js';
import { CompletionRegistry } from './completions.js';
import { IoClient } from '../shared/io.js';
import { deliverChannel } from '../shared/channels.js';
import { releaseShared } from '../shared/shared-buffer.js';
import { NetReactor, type ListenRequest } from '../../net/reactor.js';
import { RemoteNet, type RemoteAttach } from '../../net/remote.js';

/** The task-run mode of a ring whose thread parks in libuv (see the constructor). */
const PARKED_IN_LIBUV_RING_MODE = 'coop';

export class JsDriver implements ThreadRuntime, DriverSide {
  readonly id: number;
  readonly name: string;
  readonly tpc: number;
  readonly pu: number;
  readonly layout: Layout;
  readonly mailbox: Mailbox;
  readonly scheduler: Scheduler;
  readonly ring: Ring;
  /** routes each completion of the ring to the owner of its op (timers; the port servers next) */
  readonly completions: CompletionRegistry;
  readonly timers: Timers;
  /** io.* on this thread: requests to the io drivers of our TPC */
  readonly io: IoClient;
  readonly stats: Float64Array;
  private readonly queues: TaskQueue[];
  private readonly info: { id: number; name: string; tpc: number; pu: number };
  /** by task index (the sorted names: Mailbox.taskNames) */
  private tasks: TaskFn[] = [];
  /** async tasks still running, by "replyTo:callId": for cancels and shutdown */
  private readonly running = new Map<string, LazyTaskContext>();
  /** calls cancelled before their task started ("replyTo:callId") */
  private readonly cancelled = new Set<string>();
  /** the port servers on this driver's ring, made at the first Listen */
  private net: NetReactor | undefined;
  /** the port servers io drivers of our TPC run for us (io + exec), made at the first NetAttach */
  private remote: RemoteNet | undefined;
  private readonly watch: ParkWatch;
  private readonly spinMs: number;
  private readonly stallMs: number;
  private turnQueued = false;
  private parked = false;
  private draining = false;
  private forceExit = false;
  private exiting = false;
  private busySince = 0;
  private lastPublish = 0;
  private busyMs = 0;
  private windowStart = 0;
  private pending = 0;
  /** inbox messages dropped because they were meant for a predecessor that died */
  private stale = 0;
  private onExit?: () => void;

  constructor(init: DriverInit) {
    const d = init.layout.drivers[init.id]!;
    this.id = d.id;
    this.name = d.name;
    this.tpc = d.tpc;
    this.pu = d.pu;
    this.info = Object.freeze({ id: d.id, name: d.name, tpc: d.tpc, pu: d.pu });
    this.layout = init.layout;
    // Pinned (again: the thread inherited the PU from its creator) before
    // anything below allocates, so first-touch puts memory on our node.
    pinThread(d.pu);
    this.mailbox = new Mailbox(init.layout, endpointOfDriver(d.id), { poke: this.poke });
    const arena = this.mailbox.arenas[d.tpc]!;
    this.stats = new Float64Array(arena.buffer, d.stats.offset, STATS_SLOTS);
    const knobs = init.layout.settings.knobs;
    this.spinMs = knobs.spinUs / 1000;
    this.stallMs = knobs.stallMs;
    const n = native();
    this.scheduler = new Scheduler({ quantumMs: knobs.quantumMs, cpuNow: () => n.threadCpuMs() });
    this.queues = init.layout.queues.map((name) => this.scheduler.createQueue(name, init.layout.settings.queues[name]));
    // COOP_TASKRUN, not DEFER_TASKRUN: this thread parks in libuv's epoll_wait
    // on an eventfd, and under DEFER_TASKRUN the kernel signals that eventfd
    // for a socket's completion only after an RCU grace period (15 ms here,
    // every lone request waited that long). Under COOP_TASKRUN the
    // completion's task work wakes this thread itself (docs/drivers.md, "What
    // this kernel does"). The native io drivers park in io_uring_enter and keep DEFER.
    this.ring = Ring.create({ arena, entries: knobs.ringEntries, eventfd: init.eventfd, mode: PARKED_IN_LIBUV_RING_MODE });
    this.completions = new CompletionRegistry(this.ring);
    this.timers = new Timers(this.ring, this.completions, this.scheduler, this.poke);
    // Call ids per generation: a late completion meant for a predecessor that died matches nothing.
    this.io = new IoClient({ mailbox: this.mailbox, scheduler: this.scheduler, firstCallId: init.generation * 2 ** 32 + 1 });
    this.watch = new ParkWatch(init.eventfd, this.onWake);
    // While the driver runs, ring completions need not signal the eventfd
    // (they would only cause spurious wakeups); park() turns it back on.
    this.ring.setEventfdEnabled(false);
    // A running task preempts itself (yieldIfNeeded) when messages wait.
    this.scheduler.setPreemptCheck(() => !this.mailbox.inbox.isEmpty());
    setThreadRuntime(this);
    const b = threadBinding();
    this.stats[Stat.Tid] = b.tid;
    this.stats[Stat.Cpu] = b.cpu;
  }

  /** Imports the task modules; returns the sorted task names (the main thread checks every driver agrees). */
  /** the task module being imported (a failure names it) */
  loading: string | undefined;

  async load(): Promise<string[]> {
    for (const url of this.layout.modules) {
      this.loading = url;
      await import(url);
    }
    this.loading = undefined;
    const reg = registry().tasks;
    const names = [...reg.keys()].sort();
    this.tasks = names.map((n) => reg.get(n)!);
    this.mailbox.setTasks(names);
    return names;
  }

  /** Starts the loop; `onExit` runs once the driver has shut down. */
  run(onExit: () => void): void {
    this.onExit = onExit;
    this.windowStart = performance.now();
    this.busySince = this.windowStart;
    this.scheduleTurn();
  }

  /** This thread's runtime is a driver (shared/thread.ts): sleep() and yieldIfNeeded() use its ring and scheduler. */
  get driver(): DriverSide {
    return this;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.timers.sleep(ms, signal);
  }

  yieldIfNeeded(): Promise<void> | undefined {
    return this.scheduler.yieldIfNeeded();
  }

  /** A channel handler failed here: the main thread reports it (the runtime's 'error' event). */
  private readonly onHandlerError = (channel: string, err: unknown): void => this.sendReport(ControlOp.HandlerError, [channel, sendableThrown(err)]);

  /**
   * A failure report to the main thread (its body made sendable by the
   * caller: sendableThrown for a thrown value). Total: a report that still
   * cannot be sent is written to stderr; it never throws into the caller
   * (a handler's failure path: that killed the driver).
   */
  private sendReport(op: ControlOp, body: unknown[]): void {
    try {
      this.mailbox.sendControl(MAIN_ENDPOINT, op, body);
      this.poke();
    } catch (e) {
      try {
        process.stderr.write(`gatio: driver ${this.name}: a failure could not be reported (${describeThrown(e)}): ${body.map(describeThrown).join(': ')}\n`);
      } catch {
        // nothing is left to tell
      }
    }
  }

  /** spawn() from a task on this driver. */
  spawn<T = unknown>(task: string, args: unknown[] = [], opts: SpawnOptions = {}): Promise<T> {
    return this.mailbox.spawn<T>(task, args, opts);
  }

  /** Something was queued from outside the loop (a ring command, a message): make sure a turn runs. */
  readonly poke = (): void => {
    if (this.parked) this.unpark();
    this.scheduleTurn();
  };

  // ---------------------------------------------------------------------------
  // The loop.

  private scheduleTurn(): void {
    if (this.turnQueued || this.exiting) return;
    this.turnQueued = true;
    setImmediate(this.turn);
  }

  /** wall-clock ms of this turn's start; the task during which it crossed stallMs (stall reports) */
  private turnStart = 0;
  private stallTask: string | null = null;

  private readonly turn = (): void => {
    this.turnQueued = false;
    if (this.exiting) return;
    this.turnStart = performance.timeOrigin + performance.now();
    this.stats[Stat.TurnStart] = this.turnStart;
    this.turnBody();
    const end = performance.timeOrigin + performance.now();
    this.stats[Stat.TurnStart] = 0;
    if (this.stallMs > 0 && end - this.turnStart > this.stallMs) this.reportStall(end - this.turnStart);
  };

  /** A turn longer than runtime.stallMs (Seastar's reactor stall): counted, and reported to the main thread with the task. */
  private reportStall(ms: number): void {
    this.stats[Stat.Stalls]!++;
    const task = this.stallTask;
    this.stallTask = null;
    if (this.exiting) return;
    this.mailbox.sendControl(MAIN_ENDPOINT, ControlOp.Stall, [Math.round(ms), task, this.scheduler.current()?.name ?? null]);
    this.mailbox.flush();
  }

  private turnBody(): void {
    this.scheduler.idle(); // inbox and ring work is not charged to the last queue
    this.stats[Stat.Turns]!++;
    this.pollInbox();
    this.pollRing();
    const ran = this.scheduler.runTurn();
    const sendsWait = this.remote?.turn() ?? false;
    const backlog = this.mailbox.flush();
    this.publish();
    if (this.forceExit || (this.draining && this.pending === 0 && !this.scheduler.hasWork() && backlog === 0 && this.netQuiet())) return this.finishExit();
    // Continuations released by runTurn() run right after this function
    // returns; the next turn sees what they did.
    // (sends waiting for room in a staging ring: the io driver frees it as it reads our commands, without waking us)
    if (ran || this.scheduler.hasWork() || this.ring.pending > 0 || backlog > 0 || this.ring.more || sendsWait) return this.scheduleTurn();
    this.scheduler.idle();
    if (this.spin()) return this.scheduleTurn();
    this.park();
  };

  /** Busy-polls inbox and ring for up to spinUs; true when work showed up. */
  private spin(): boolean {
    if (this.spinMs <= 0) return false;
    const inbox = this.mailbox.inbox;
    const until = performance.now() + this.spinMs;
    for (let i = 1; ; i++) {
      if (!inbox.isEmpty() || this.ringHasCompletions()) return true;
      if ((i & 31) === 0 && performance.now() >= until) return false;
    }
  }

  /** Completions to reap: in the CQ, or held by the kernel until we enter it (DEFER_TASKRUN). No syscall. */
  private ringHasCompletions(): boolean {
    return this.ring.inFlight > 0 && (this.ring.ready > 0 || this.ring.held);
  }

  // Parking: announce it on the inbox (senders then write the eventfd) and
  // let the ring signal the same eventfd, then look once more at both: a
  // message or completion that slipped in before the announcement would
  // otherwise never wake us.
  private park(): void {
    this.markIdle();
    // Counted before it is announced: whoever sees the inbox's parked flag
    // (an Atomics store after this write) sees this park counted too.
    this.stats[Stat.Parks]!++;
    if (!this.mailbox.inbox.prepareToPark()) {
      this.stats[Stat.Parks]!--;
      return this.scheduleTurn();
    }
    this.ring.setEventfdEnabled(true);
    if (this.ringHasCompletions()) {
      this.ring.setEventfdEnabled(false);
      this.mailbox.inbox.unparked();
      this.stats[Stat.Parks]!--;
      return this.scheduleTurn();
    }
    this.parked = true;
    this.publish(true);
  }

  private unpark(): void {
    this.parked = false;
    this.ring.setEventfdEnabled(false);
    this.mailbox.inbox.unparked();
    this.stats[Stat.Wakeups]!++;
    this.busySince = performance.now();
  }

  private readonly onWake = (err?: Error): void => {
    if (err) throw err;
    if (!this.parked) return this.scheduleTurn();
    // Woken from a park: run the turn now rather than one loop phase later;
    // this is the latency of a cold call.
    this.unpark();
    if (!this.turnQueued) this.turn();
  };

  private pollRing(): void {
    // (more: completions left over, refused commands' among them, which are never in flight)
    if (this.ring.pending === 0 && this.ring.inFlight === 0 && !this.ring.more) return;
    this.ring.turn(0);
    if (this.ring.refused) this.sendReport(ControlOp.RingRefused, this.ring.takeRefused());
    this.completions.deliver();
    this.net?.dispatch();
  }

  /** Draining: every connection's writes have gone out (the ring's close then closes the sockets). */
  private netQuiet(): boolean {
    return (this.net === undefined || (this.ring.pending === 0 && this.net.quiet())) && (this.remote === undefined || this.remote.quiet());
  }

  private readonly onPortHandlerError = (port: string, handler: string, callback: string, err: unknown): void =>
    this.sendReport(ControlOp.PortHandlerError, [port, handler, callback, sendableThrown(err)]);

  // ---------------------------------------------------------------------------
  // Messages.

  /** one clock reading for every message of a drain: their arrival time */
  private drainTime = 0;

  private pollInbox(): void {
    this.drainTime = performance.now();
    const n = this.mailbox.inbox.drain(this.onMessage);
    this.stats[Stat.Messages]! += n;
  }

  private readonly onMessage = (bytes: Uint8Array, offset: number, len: number): void => {
    if (this.mailbox.isStale(bytes, offset)) {
      // Meant for a predecessor that died (its callers were told): dropped, its arena body freed.
      this.stale++;
      this.mailbox.discard(bytes, offset, len);
      return;
    }
    const kind = bytes[offset]! & ~BIG;
    const dv = this.mailbox.view(bytes);
    switch (kind) {
      case Kind.Spawn: {
        const queue = this.queues[dv.getUint16(offset + 2, true)] ?? this.queues[0]!;
        const taskIndex = dv.getUint32(offset + 4, true);
        const callId = dv.getFloat64(offset + 8, true);
        const replyTo = dv.getUint16(offset + 16, true);
        let args: unknown;
        try {
          args = this.mailbox.body(bytes, offset, len);
        } catch (err) {
          this.mailbox.sendResult(replyTo, callId, false, err);
          return;
        }
        this.pending++;
        this.scheduler.spawn(queue, () => this.startTask(taskIndex, callId, replyTo, queue, args as unknown[]), this.drainTime);
        return;
      }
      case Kind.Result:
        this.mailbox.settleResult(bytes, offset, len);
        return;
      case Kind.Cancel: {
        const key = `${dv.getUint16(offset + 16, true)}:${dv.getFloat64(offset + 8, true)}`;
        let reason: unknown;
        try {
          reason = this.mailbox.body(bytes, offset, len); // the caller's abort reason (also frees an arena body)
        } catch {
          reason = undefined;
        }
        const ctx = this.running.get(key);
        if (ctx) ctx.abort(reason ?? new Error('the caller aborted the task'));
        // Not running: still queued here (startTask drops it; the caller has
        // already rejected), or already finished (forgotten when nothing is pending).
        else if (this.pending > 0) this.cancelled.add(key);
        return;
      }
      case Kind.Control:
        this.onControl(dv.getUint32(offset + 4, true), dv.getFloat64(offset + 8, true), dv.getUint16(offset + 16, true), this.mailbox.body(bytes, offset, len));
        return;
      case Kind.IoDone:
        this.io.onDone(bytes, offset); // settles as work of the queue that made the call
        return;
      case Kind.NetEvent:
        // An event of a connection an io driver runs for us: handled now, like a hybrid driver's ring events.
        this.remote?.onMessage(bytes, offset);
        return;
      case Kind.Channel: {
        // Delivered as work of the default queue: handlers are scheduled like everything else.
        const from = dv.getUint16(offset + 2, true);
        const body = this.mailbox.body(bytes, offset, len);
        this.scheduler.enqueue(this.queues[0]!, () => deliverChannel(from, body, this.onHandlerError), this.drainTime);
        return;
      }
      default:
        throw new Error(`driver ${this.name}: unknown message kind ${kind} in its inbox`);
    }
  };

  /** A control request answered with what `fn` returns, or with what it throws. */
  private answer(from: number, callId: number, fn: () => unknown): void {
    let ok = true;
    let value: unknown;
    try {
      value = fn();
    } catch (err) {
      ok = false;
      value = err;
    }
    this.mailbox.sendResult(from, callId, ok, value);
  }

  private onControl(op: number, callId: number, from: number, body: unknown): void {
    switch (op) {
      case ControlOp.Drain:
        this.draining = true;
        this.net?.drain(); // stop accepting; end every connection once what it queued is sent
        this.remote?.drain();
        return;
      case ControlOp.NetAttach:
        return this.answer(from, callId, () => {
          this.remote ??= new RemoteNet(this.mailbox, this.mailbox.arenas[this.tpc]!, this.onPortHandlerError, this.poke);
          return this.remote.attach(body as RemoteAttach);
        });
      case ControlOp.Listen:
        return this.answer(from, callId, () => {
          this.net ??= new NetReactor(this.ring, this.mailbox.arenas[this.tpc]!, this.onPortHandlerError, this.poke);
          return this.net.listen(body as ListenRequest);
        });
      case ControlOp.NetStart:
      case ControlOp.NetStop:
        return this.answer(from, callId, () => {
          const [server, closeConnections] = body as [number, boolean?];
          if (!this.net) throw new Error(`driver ${this.name} has no port servers`);
          if (op === ControlOp.NetStart) this.net.start(server);
          else this.net.stop(server, closeConnections === true);
        });
      case ControlOp.Exit: {
        // The shutdown deadline passed: abort what still runs (the main
        // thread rejects the callers' promises) and stop at the end of this turn.
        const reason = new Error(`driver ${this.name} is shutting down: the shutdown deadline passed`);
        for (const ctx of this.running.values()) ctx.abort(reason);
        this.running.clear();
        this.draining = true;
        this.forceExit = true;
        return;
      }
      case ControlOp.Stats: {
        const reply: DriverStatsReply = { driver: this.id, queues: this.scheduler.stats(), ring: { ...this.ring.stats(), completions: this.completions.stats() }, timers: this.timers.size, stale: this.stale, ports: this.net?.stats() ?? [], remotePorts: this.remote?.stats() ?? [] };
        this.mailbox.sendResult(from, callId, true, reply);
        return;
      }
      case ControlOp.DriverDied: {
        const [dead, gen, drained, why] = body as [number, number, boolean?, string?];
        this.mailbox.dropBacklog(endpointOfDriver(dead), gen);
        if (this.layout.drivers[dead]?.kind === 'io') {
          const d = this.layout.drivers[dead]!;
          this.io.driverDied(dead, gen, drained === true, (what) => new DriverDiedError(`gatio io: ${what}: io driver ${d.name} (id ${dead}, PU ${d.pu}) stopped before completing it: ${why}`));
          this.remote?.ioDied(dead, `io driver ${d.name} (id ${dead}) stopped: ${why}`);
          // (asked as a call: the main thread frees the dead driver's blocks once every JS driver answered)
          if (callId !== 0) this.mailbox.sendResult(from, callId, true, null);
          return;
        }
        this.mailbox.rejectCallsTo(endpointOfDriver(dead), gen, (c) => new DriverDiedError(`driver ${dead} died before the call to task "${c.task}" settled (it was running it, or had not started it)`));
        return;
      }
      case ControlOp.SetShares: {
        const [name, shares] = body as [string, number];
        this.scheduler.setShares(name, shares);
        return;
      }
      default:
        throw new Error(`driver ${this.name}: unknown control op ${op}`);
    }
  }

  // ---------------------------------------------------------------------------
  // Tasks.

  private startTask(taskIndex: number, callId: number, replyTo: number, queue: TaskQueue, args: unknown[]): unknown {
    if (this.cancelled.size > 0 && this.cancelled.delete(`${replyTo}:${callId}`)) {
      this.pending--; // aborted while it waited: never run it (nobody waits for its result)
      releaseShared(args); // the task would have owned its shared buffers
      return undefined;
    }
    const fn = this.tasks[taskIndex];
    if (!fn) {
      this.finish(replyTo, callId, false, new Error(`driver ${this.name} has no task #${taskIndex} (its modules define ${this.tasks.length})`));
      return undefined;
    }
    const ctx = new LazyTaskContext(this.info, queue.name);
    const reg = registry();
    reg.current = ctx;
    let result: unknown;
    this.stats[Stat.RunningTask] = taskIndex + 1;
    try {
      result = fn(...args);
    } catch (err) {
      this.finish(replyTo, callId, false, err);
      return undefined;
    } finally {
      reg.current = undefined;
      this.stats[Stat.RunningTask] = 0;
      // The task during which the turn grew past stallMs is the one a stall report names.
      if (this.stallMs > 0 && this.stallTask === null && performance.timeOrigin + performance.now() - this.turnStart > this.stallMs) this.stallTask = this.mailbox.taskNames[taskIndex] ?? null;
    }
    if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function') {
      this.finish(replyTo, callId, true, result);
      return undefined;
    }
    const key = `${replyTo}:${callId}`;
    this.running.set(key, ctx);
    return (result as Promise<unknown>).then(
      (v) => {
        this.running.delete(key);
        this.finish(replyTo, callId, true, v);
      },
      (err) => {
        this.running.delete(key);
        this.finish(replyTo, callId, false, err);
      },
    );
  }

  private finish(replyTo: number, callId: number, ok: boolean, value: unknown): void {
    if (--this.pending === 0 && this.cancelled.size > 0) this.cancelled.clear(); // cancels that came too late
    this.stats[ok ? Stat.TasksRun : Stat.TasksFailed]!++;
    try {
      this.mailbox.sendResult(replyTo, callId, ok, value);
    } catch (err) {
      // The result cannot be sent (not cloneable, arena full): the caller gets why.
      const e = err as Error;
      this.mailbox.sendResult(replyTo, callId, false, new Error(`driver ${this.name}: the task's ${ok ? 'result' : 'error'} cannot be sent back: ${e.message}`));
    }
    if (this.parked) this.poke();
  }

  // ---------------------------------------------------------------------------
  // Load and stats, published in shared memory for routers and stats().

  private markIdle(): void {
    const now = performance.now();
    this.busyMs += now - this.busySince;
    this.busySince = now;
  }

  private publish(force = false): void {
    const s = this.stats;
    s[Stat.Pending] = this.pending + this.mailbox.inbox.size();
    const now = performance.now();
    if (!force && now - this.lastPublish < 5) return;
    this.lastPublish = now;
    if (!this.parked) {
      this.busyMs += now - this.busySince;
      this.busySince = now;
    }
    const window = now - this.windowStart;
    if (window >= 100) {
      // EWMA of the busy fraction over ~100 ms windows
      s[Stat.Busy] = 0.5 * s[Stat.Busy]! + 0.5 * Math.min(1, this.busyMs / window);
      this.busyMs = 0;
      this.windowStart = now;
    }
    // The ring's counters are read here, at most every 5 ms (stats() makes an object), not every turn.
    const ring = this.ring.stats();
    s[Stat.RingSubmissions] = ring.submitted;
    s[Stat.RingCompletions] = ring.completed;
    s[Stat.Updated] = Date.now();
  }

  private finishExit(): void {
    this.exiting = true;
    this.watch.close();
    this.timers.cancelAll();
    this.io.shutdown(new Error(`driver ${this.name} is shutting down`));
    setThreadRuntime(undefined);
    this.ring.close(); // cancels and drains every in-flight op before the ring goes
    for (const a of this.mailbox.arenas) a.close();
    this.onExit?.();
  }
}


