// The runtime on the main thread: start(config) plans, lays out the shared
// memory, starts one pinned thread per driver; spawn() routes tasks;
// shutdown() drains and frees everything. Drivers that die are restarted on
// their PU, and the calls they had in flight are rejected naming them.
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Arena } from '../../tpc/arena.js';
import { native } from '../../native.js';
import { pinThread, threadBinding } from '../../tpc/affinity.js';
import { WakeLatencyLimit } from '../../tpc/wake-latency.js';
import type { GatioConfig } from '../../tpc/config.js';
import { plan as makePlan, type Plan } from '../../tpc/plan.js';
import { topology, type Topology } from '../../tpc/topology.js';
import { Stat, STATS_BYTES, type DriverInit, type DriverLayout, type Layout, type ReadyMessage, type FailedMessage, type ThrownValue } from '../protocol/layout.js';
import { DriverDiedError, Mailbox, type SpawnOptions } from '../shared/mailbox.js';
import { setThreadRuntime, threadRuntime, type ThreadRuntime } from '../shared/thread.js';
import { eventfdClose, eventfdCreate, ParkWatch } from '../shared/park.js';
import { BIG, ControlOp, Kind, MAIN_ENDPOINT, endpointOfDriver, type DriverStatsReply, type PortServerStats } from '../protocol/messages.js';
import { STAGING_BYTES, IO_SLOTS, closePort, execDiedOn, execRestarted, leaveGroup, openIoPort, openPort, rejoinIoPort, rejoinPort, type Control, type IoPortContext, type OpenPort, type SetupReply } from './ports.js';
import { IO_NET_STAT_FIELDS, IO_NET_STAT_NAMES, IO_NET_STAT_SERVERS, NetSetupAt, NetSetupDoneAt, STAGING_HEADER, type SetupOp } from '../protocol/net.js';
import { resolvePorts, type PortConfig, type Protocol, type ResolvedPort } from '../../tpc/ports.js';
import { PortError, PortHandlerError } from '../../net/errors.js';
import { ConfigError, type ConfigIssue } from '../../tpc/issues.js';
import { taskName, type Task, type TaskArgs, type TaskFn, type TaskResult } from '../shared/tasks.js';
import { DriverStartError, StartError } from '../shared/errors.js';
export { DriverStartError, StartError } from '../shared/errors.js';
import { MessageQueue } from '../protocol/queue.js';
import { errorOfClass } from '../protocol/codec.js';
import { ShutdownError } from '../shared/errors.js';
import type { RouteReason } from '../shared/router.js';
import { checkRuntimeSettings, type RuntimeSettings } from '../../tpc/settings.js';
import { MIN_SHARES, MAX_SHARES } from '../../tpc/settings.js';
import { IoClient } from '../shared/io.js';
import { startIoDriver, stopIoDriver, type IoDriverHandle } from './io-driver.js';
import { ChannelHandlerError, deliverChannel } from '../shared/channels.js';

export { QueueFullError } from '../shared/mailbox.js';
export type { SpawnOptions };

export interface StartOptions {
  /** plan against this topology instead of the machine's (tests) */
  topology?: Topology;
  /** resolve relative module paths from here (default: the working directory) */
  baseDir?: string;
  /** how long to wait for every driver to be ready; default 30 s */
  startTimeoutMs?: number;
}

export interface ShutdownOptions {
  /** ms to let accepted tasks finish before they are aborted; default 5000 */
  deadline?: number;
}

export { ShutdownError };

interface DriverThread {
  layout: DriverLayout;
  eventfd: number;
  worker?: Worker;
  /** an io driver's native thread */
  io?: IoDriverHandle;
  generation: number;
  tid: number;
  state: 'starting' | 'running' | 'dead' | 'stopped';
  /** the task names its worker reported at ready (exec/hybrid drivers) */
  tasks?: string[];
  restarts: number;
  lastError?: string;
  stopped?: () => void;
}

let current: Runtime | undefined;

const RESOLVED = Promise.resolve();

/**
 * The Node options workers get: the process's, less those a worker refuses
 * (per-process options such as --input-type or --report-directory: a worker
 * inherits execArgv, and Node rejects the whole Worker for one of them).
 * Entry-point options are dropped up front; per-process ones are learnt
 * from Node's own error once, then reused.
 */
let workerExecArgv: string[] = process.execArgv.filter(
  // Options about the main entry point, meaningless (and fatal) for a worker
  // that runs a file: `node --input-type=module -e ...` and the like.
  (a) => !/^(--input-type(=.*)?|--eval|--print|--check|--interactive|--test|-e|-p|-c|-i)$/.test(a),
);

function newWorker(init: DriverInit, name: string): Worker {
  for (;;) {
    try {
      // "gatio-driver": a task module's `import 'gatio'` resolves to dist/driver-api.js, without the main thread's code.
      return new Worker(new URL('./worker.js', import.meta.url), { workerData: init, name, execArgv: [...workerExecArgv, '--conditions=gatio-driver'] });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const bad = e.code === 'ERR_WORKER_INVALID_EXEC_ARGV' ? (/flags: (.*)$/.exec(e.message)?.[1] ?? '').split(/,\s*/).filter(Boolean) : [];
      const next = workerExecArgv.filter((a) => !bad.includes(a));
      if (bad.length === 0 || next.length === workerExecArgv.length) throw err;
      workerExecArgv = next;
    }
  }
}

/** how long the main thread waits, spinning, for the answer of a driver it just woke */
const COLD_SPIN_MS = 0.3;

export async function start(config: GatioConfig = {}, opts: StartOptions = {}): Promise<Runtime> {
  if (current) {
    throw new Error(
      current.isClosing
        ? 'gatio: the runtime of this process is shutting down: await its rt.shutdown() before starting another (one runtime per process)'
        : 'gatio: a runtime is already running in this process (one per process): shut it down first',
    );
  }
  const topo = opts.topology ?? topology();
  const p = makePlan(topo, config); // throws ConfigError listing every problem
  // plan() has checked these (validate.ts runs checkRuntimeSettings): only the values are wanted here.
  const settings = checkRuntimeSettings(config as Record<string, unknown>, () => {});
  const rt = new Runtime(p, settings, opts);
  current = rt;
  if (settings.knobs.mainAffinity === 'spare') {
    const used = new Set(p.drivers.map((d) => d.pu));
    rt.confineMainThread(topo.allowed.pus.filter((pu) => !used.has(pu)));
  }
  try {
    if (settings.knobs.wakeLatencyUs !== null) rt.boundWakeLatency(settings.knobs.wakeLatencyUs);
    await rt.boot(opts.startTimeoutMs ?? 30_000);
  } catch (err) {
    await rt.shutdown({ deadline: 0 }).catch(() => {});
    throw err;
  }
  return rt;
}

/**
 * Events: 'error' (a ChannelHandlerError: a channel handler threw, on the
 * main thread or a driver; without a listener it is printed to stderr).
 */
export class Runtime extends EventEmitter implements ThreadRuntime {
  readonly plan: Plan;
  readonly layout: Layout;
  private readonly arenas: Arena[] = [];
  private readonly threads: DriverThread[] = [];
  /** @internal the main thread's queues and pending calls */
  readonly mailbox: Mailbox;
  /** the main thread's io client (io.* on this thread) */
  readonly io: IoClient;
  private readonly mainFd: number;
  private readonly watch: ParkWatch;
  private readonly spinMs: number;
  private pumpQueued = false;
  /** mailbox.wokeEarly when the last pump ran: a pump that sees more has a driver waking up to answer */
  private wokeEarlySeen = 0;
  private microPumps = 0;
  private closing = false;
  private readonly stopWaiters = new Map<number, () => void>();
  private mainAffinity: number[] | undefined;
  /** the main thread may run on drivers' PUs (no spare PU to confine it to) */
  private mainShares = true;
  /** driver id by PU */
  private readonly driverOnPu: number[] = [];
  /** runtime.wakeLatencyUs's bound on the drivers' CPUs, held until shutdown */
  private wakeLatency: WakeLatencyLimit | undefined;
  /** the driver on the CPU the main thread last ran on: routing passes it over when it can */
  private sharedCpuDriver = -1;

  constructor(p: Plan, settings: RuntimeSettings, opts: StartOptions) {
    super();
    this.plan = p;
    const knobs = settings.knobs;
    this.spinMs = knobs.spinUs / 1000;
    // A failure half-way (an arena that cannot be mapped, no fd left) gives
    // back what was made so far: start() has no runtime to shut down yet.
    const fds: number[] = [];
    try {
      // One arena per TPC, bound to its node; queues and stats blocks inside.
      for (const t of p.tpcs) this.arenas.push(Arena.create({ node: t.node, bytes: t.arenaBytes, prefault: t.prefault }));
      const queueBytes = MessageQueue.bytesFor(knobs.inboxSlots, knobs.slotBytes);
      const mainTpc = 0;
      const inbox = (tpc: number) => {
        const arena = this.arenas[tpc]!;
        const block = arena.alloc(queueBytes, 64);
        return { tpc, offset: block.offset };
      };
      const base = opts.baseDir ?? process.cwd();
      const modules = settings.modules.map((m) =>
        /^[a-z]+:/.test(m) ? m : pathToFileURL(isAbsolute(m) ? m : resolvePath(base, m)).href,
      );
      const drivers: DriverLayout[] = p.drivers.map((d) => ({
        ...d,
        inbox: inbox(d.tpc),
        stats: { tpc: d.tpc, offset: this.arenas[d.tpc]!.alloc(STATS_BYTES, 64).offset },
      }));
      this.layout = {
        arenas: this.arenas.map((a) => a.id),
        endpoints: [inbox(mainTpc), ...drivers.map((d) => d.inbox)],
        drivers,
        settings,
        queues: Object.keys(settings.queues).sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : a < b ? -1 : 1)),
        modules,
        mainTpc,
      };
      this.mainFd = eventfdCreate();
      fds.push(this.mainFd);
      for (const [i, ref] of this.layout.endpoints.entries()) {
        const fd = i === MAIN_ENDPOINT ? this.mainFd : eventfdCreate();
        if (fd !== this.mainFd) fds.push(fd);
        MessageQueue.init(this.arenas[ref.tpc]!.buffer, ref.offset, knobs.inboxSlots, knobs.slotBytes, fd);
        if (i !== MAIN_ENDPOINT) {
          this.threads.push({ layout: drivers[i - 1]!, eventfd: fd, generation: 0, tid: 0, state: 'starting', restarts: 0 });
        }
      }
      this.mailbox = new Mailbox(this.layout, MAIN_ENDPOINT, { poke: this.poke, arenas: this.arenas });
      for (const d of drivers) if (d.kind !== 'io') this.driverOnPu[d.pu] = d.id;
      // Outstanding io calls keep the process alive, as outstanding spawns do.
      this.io = new IoClient({ mailbox: this.mailbox, onSend: () => this.watch.ref() });
      this.watch = new ParkWatch(this.mainFd, this.onWake);
      this.watch.unref(); // only outstanding calls keep the process alive
      this.mailbox.inbox.prepareToPark();
    } catch (err) {
      for (const fd of fds) eventfdClose(fd);
      for (const arena of this.arenas) arena.close();
      throw err;
    }
    setThreadRuntime(this); // spawn(), channels, sharedBuffer() and io on this thread use this runtime
  }

  /** Keeps the main thread off the drivers' PUs (when spare PUs exist) until shutdown. */
  confineMainThread(spare: number[]): void {
    if (spare.length === 0 || this.mainAffinity) return;
    this.mainShares = false;
    this.mailbox.earlyWake = this.layout.settings.knobs.spinUs > 0;
    this.mainAffinity = threadBinding().cpus;
    pinThread(spare);
  }

  /** runtime.wakeLatencyUs: the drivers' CPUs wake within `us` while the runtime runs (tpc/wake-latency.ts). */
  boundWakeLatency(us: number): void {
    this.wakeLatency = new WakeLatencyLimit(this.plan.drivers.map((d) => d.pu), us);
  }

  /** Starts every driver thread and waits until all are ready. */
  async boot(timeoutMs: number): Promise<void> {
    const results = await Promise.allSettled(this.threads.map((t) => this.startThread(t, timeoutMs)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [r.reason instanceof DriverStartError ? r.reason : new DriverStartError(this.threads[i]!.layout, undefined, r.reason)] : []));
    if (failed.length) throw new StartError(failed);
    // Every driver imported the same modules: they must define the same tasks.
    const lists = this.threads.filter((t) => t.layout.kind !== 'io').map((t) => t.tasks ?? []);
    const first = lists[0] ?? [];
    for (const [i, l] of lists.entries()) {
      if (l.join('\0') !== first.join('\0')) {
        throw new Error(`gatio: drivers disagree on the tasks they define (${this.threads[0]!.layout.name}: ${first.join(', ')}; ${this.threads[i]!.layout.name}: ${l.join(', ')}): task modules must define the same tasks on every thread`);
      }
    }
    this.mailbox.setTasks(first);
    // Ports, one after the other: each listens on its drivers, which must agree on what they got.
    for (const spec of this.plan.ports) await this.openPortSpec(spec);
  }

  // ---------------------------------------------------------------------------
  // Ports (drivers/main/ports.ts; the servers themselves are src/net/).

  private readonly portTable = new Map<string, OpenPort>();
  private readonly controlFn: Control = (driver, op, body, timeoutMs) => this.control(driver, op, body, timeoutMs);

  private async openPortSpec(spec: ResolvedPort): Promise<PortInfo> {
    const drivers = spec.drivers.map((id) => this.plan.drivers[id]!);
    const down = drivers.filter((d) => this.threads[d.id]!.state !== 'running');
    if (down.length > 0) throw new PortError(`gatio: ${spec.key}: ${down.map((d) => `driver ${d.id} (${d.name})`).join(', ')} ${down.length === 1 ? 'is' : 'are'} not running`, 'GATIO_PORT_LISTEN', spec.key);
    if (spec.port !== 0 && this.portTable.has(spec.key)) throw new PortError(`gatio: ${spec.key} is already being served`, 'GATIO_PORT_LISTEN', spec.key);
    const open = drivers[0]!.kind === 'io' ? await openIoPort(spec, drivers, this.ioCtx) : await openPort(spec, drivers, this.controlFn);
    open.key = `${open.protocol}:${open.port}`;
    this.portTable.set(open.key, open);
    if (open.io) {
      // An exec driver that died while the port was opening was taken out of
      // it by its io drivers (ExecDied), and one that was restarting was not
      // named: if it is back already, its rejoin ran before the port was in
      // the table, so it attaches here; if not, its rejoin will.
      const execs = new Set(drivers.flatMap((d) => this.ioCtx.execsFor(d)));
      for (const e of execs) {
        if (this.threads[e.id]?.state !== 'running' || open.execGens?.get(e.id) === this.ioCtx.generation(e.id)) continue;
        execRestarted(open, e, this.plan.drivers, this.ioCtx).catch((err: Error) => this.reportError(err));
      }
    }
    return portInfo(open);
  }

  /**
   * Opens a port server at run time, with the checks a config's `ports`
   * entry gets (ConfigError with the field at fault; PortError when the
   * drivers cannot listen or disagree). Resolves once every driver accepts.
   */
  async listen(config: PortConfig): Promise<PortInfo> {
    if (this.closing) throw new ShutdownError('gatio: the runtime is shutting down; no new ports');
    const errors: ConfigIssue[] = [];
    const tpcs = this.plan.tpcs.map((t) => ({ name: t.name, slots: t.drivers.map((id) => ({ kind: this.plan.drivers[id]!.kind })) }));
    const [spec] = resolvePorts([config], tpcs, (path, message, value) => errors.push({ path: path.replace(/^ports\[0\]/, 'listen()'), message, value }));
    if (errors.length > 0 || !spec) throw new ConfigError(errors);
    return this.openPortSpec(spec);
  }

  /** Stops serving a port ("tcp:9000", or its number and protocol): no more accepts, its connections closed. */
  async close(port: string | { port: number; protocol: Protocol }): Promise<void> {
    const key = typeof port === 'string' ? port : `${port.protocol}:${port.port}`;
    const open = this.portTable.get(key);
    if (!open) throw new Error(`gatio: ${key} is not being served (serving: ${[...this.portTable.keys()].join(', ') || 'nothing'})`);
    this.portTable.delete(key);
    await closePort(open, this.controlFn, this.ioCtx);
  }

  /** The ports being served, with their drivers and fingerprint. */
  ports(): PortInfo[] {
    return [...this.portTable.values()].map(portInfo);
  }

  /** A driver that restarted takes its place in its ports again (reported as an 'error' event when it cannot). */
  private rejoinPorts(t: DriverThread): void {
    const d = this.plan.drivers[t.layout.id]!;
    for (const open of this.portTable.values()) {
      if (open.spec.drivers.includes(d.id)) {
        (open.io ? rejoinIoPort(open, d, this.plan.drivers, this.ioCtx) : rejoinPort(open, d, this.plan.drivers, this.controlFn)).catch((err: Error) => this.reportError(err));
      } else if (open.io && d.kind === 'exec') {
        // An exec driver that runs connections of io drivers: attach again (the io drivers forgot its predecessor's).
        execRestarted(open, d, this.plan.drivers, this.ioCtx).catch((err: Error) => this.reportError(err));
      }
    }
  }

  /** An exec driver died: the io drivers whose connections it ran close them and take their buffers back. */
  private execDied(t: DriverThread): Promise<unknown> {
    const d = this.plan.drivers[t.layout.id]!;
    // Every io driver it may run connections for, once: not only those of the
    // open ports (a port being closed still waits for the buffers lent to it).
    const ios = this.plan.drivers.filter((io) => io.kind === 'io' && this.threads[io.id]?.state === 'running' && this.ioCtx.execsFor(io).some((e) => e.id === d.id));
    return Promise.all(ios.map((io) => execDiedOn(io, d, this.ioCtx).catch((err: Error) => this.reportError(err))));
  }

  // io + exec: what drivers/main/ports.ts needs of the runtime.
  private readonly ioQueued = new Map<number, number>();
  private readonly stagingBlocks = new Map<string, number>();
  private readonly ioCtx: IoPortContext = {
    control: (driver, op, body, timeoutMs) => this.control(driver, op, body, timeoutMs),
    ioSetup: (driver, op, fill) => this.ioSetup(driver, op, fill),
    alloc: (tpc, bytes, align) => this.arenas[tpc]!.alloc(bytes, align).offset,
    free: (tpc, offset) => this.arenas[tpc]!.free(offset),
    view: (tpc, offset, bytes) => new Uint8Array(this.arenas[tpc]!.buffer, offset, bytes),
    running: (id) => this.threads[id]?.state === 'running',
    execsFor: (io) => {
      const execs = this.plan.drivers.filter((d) => d.kind === 'exec' && d.tpc === io.tpc);
      const siblings = execs.filter((d) => d.core === io.core);
      return siblings.length > 0 ? siblings : execs;
    },
    generation: (id) => this.mailbox.queue(endpointOfDriver(id)).generation,
    queuedBlock: (io) => {
      const have = this.ioQueued.get(io.id);
      if (have !== undefined) return { offset: have, fresh: false };
      const bytes = IO_SLOTS * 4 + IO_NET_STAT_SERVERS * IO_NET_STAT_FIELDS * 8;
      const offset = this.arenas[io.tpc]!.alloc(bytes, 64).offset; // the io driver's from its first listen on
      new Uint8Array(this.arenas[io.tpc]!.buffer, offset, bytes).fill(0);
      this.ioQueued.set(io.id, offset);
      return { offset, fresh: true };
    },
    staging: (exec, io) => {
      const key = `${exec.id}:${io.id}`;
      let offset = this.stagingBlocks.get(key);
      if (offset === undefined) {
        offset = this.arenas[io.tpc]!.alloc(STAGING_HEADER + STAGING_BYTES, 64).offset; // kept for the runtime's life: successors reuse it
        new Uint8Array(this.arenas[io.tpc]!.buffer, offset, STAGING_HEADER).fill(0);
        this.stagingBlocks.set(key, offset);
      }
      return offset;
    },
  };

  /** The port servers of io driver `id`, from the counters it publishes in its net block. */
  private ioPortStats(id: number): PortServerStats[] {
    const offset = this.ioQueued.get(id);
    if (offset === undefined) return [];
    const d = this.plan.drivers[id]!;
    const f = new Float64Array(this.arenas[d.tpc]!.buffer, offset + IO_SLOTS * 4, IO_NET_STAT_SERVERS * IO_NET_STAT_FIELDS);
    const out = [];
    for (const open of this.portTable.values()) {
      const mine = open.drivers.get(id);
      if (!open.io || !mine || mine.server >= IO_NET_STAT_SERVERS || f[mine.server * IO_NET_STAT_FIELDS] !== 1) continue;
      const row: Record<string, number | string> = { port: open.key };
      IO_NET_STAT_NAMES.forEach((name, k) => (row[name] = f[mine.server * IO_NET_STAT_FIELDS + 1 + k]!));
      row.handlerErrors = 0; // counted by its exec drivers (their remotePorts)
      out.push(row as unknown as PortServerStats);
    }
    return out;
  }

  /** A NetSetup to io driver `driver`; resolves its NetSetupDone. */
  private ioSetup(driver: number, op: SetupOp, fill?: (m: DataView) => void, timeoutMs = 10_000): Promise<SetupReply> {
    const callId = this.mailbox.newCallId();
    const endpoint = endpointOfDriver(driver);
    const bytes = new Uint8Array(NetSetupAt.Bytes);
    const m = new DataView(bytes.buffer);
    m.setUint8(0, Kind.NetSetup);
    m.setUint8(NetSetupAt.Op, op);
    m.setUint16(NetSetupAt.ReplyTo, MAIN_ENDPOINT, true);
    m.setUint16(NetSetupAt.Gen, this.mailbox.queue(endpoint).generation & 0xffff, true);
    m.setFloat64(NetSetupAt.CallId, callId, true);
    fill?.(m);
    const p = new Promise<SetupReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.mailbox.calls.delete(callId);
        reject(new Error(`io driver ${driver} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.mailbox.calls.set(callId, {
        resolve: (v) => (clearTimeout(timer), resolve(v as SetupReply)),
        reject: (e) => (clearTimeout(timer), reject(e)),
        endpoint,
        gen: this.mailbox.queue(endpoint).generation,
        task: 'port setup',
      });
    });
    this.mailbox.sendRaw(endpoint, bytes);
    this.mailbox.flush();
    this.schedulePump();
    return p;
  }

  /** An io driver's NetSetupDone: settles its ioSetup call. */
  private onSetupDone(bytes: Uint8Array, offset: number): void {
    const v = new DataView(bytes.buffer, bytes.byteOffset + offset, NetSetupDoneAt.Bytes);
    const callId = v.getFloat64(NetSetupDoneAt.CallId, true);
    const call = this.mailbox.calls.get(callId);
    if (!call) return;
    this.mailbox.calls.delete(callId);
    call.resolve({
      ok: v.getUint8(NetSetupDoneAt.Ok) === 1,
      err: v.getInt32(NetSetupDoneAt.Err, true),
      server: v.getInt32(NetSetupDoneAt.Server, true),
      fd: v.getInt32(NetSetupDoneAt.Fd, true),
      port: v.getInt32(NetSetupDoneAt.Port, true),
      backlog: v.getInt32(NetSetupDoneAt.Backlog, true),
      rcvBuf: v.getInt32(NetSetupDoneAt.RcvBuf, true),
      sndBuf: v.getInt32(NetSetupDoneAt.SndBuf, true),
      reusePort: v.getUint8(NetSetupDoneAt.ReusePort) === 1,
      noDelay: v.getUint8(NetSetupDoneAt.NoDelay) === 1,
    } satisfies SetupReply);
  }

  /** shutdown() has begun (it may not have finished) */
  get isClosing(): boolean {
    return this.closing;
  }

  /** The tasks the task modules define (sorted). */
  get taskNames(): string[] {
    return this.mailbox.taskNames;
  }

  private startThread(t: DriverThread, timeoutMs: number): Promise<void> {
    if (t.layout.kind === 'io') {
      // A native thread, pinned at creation; no Worker, no JavaScript.
      try {
        t.io = startIoDriver(this.layout, t.layout, t.eventfd, this.layout.settings.knobs.spinUs);
      } catch (err) {
        t.state = 'dead';
        return Promise.reject(err);
      }
      t.tid = t.io.tid;
      t.state = 'running';
      this.mailbox.stats(t.layout.id)[Stat.Alive] = 1;
      return Promise.resolve();
    }
    const init: DriverInit = { layout: this.layout, id: t.layout.id, eventfd: t.eventfd, generation: t.generation };
    // A new thread inherits its creator's CPU affinity, and Node creates the
    // worker's OS thread inside `new Worker()`: pinning ourselves around the
    // call pins the driver before its isolate allocates anything.
    const saved = threadBinding().cpus;
    let worker: Worker;
    try {
      pinThread(t.layout.pu);
      worker = newWorker(init, `gatio ${t.layout.name}`);
    } catch (err) {
      t.state = 'dead';
      return Promise.reject(err);
    } finally {
      pinThread(saved);
    }
    t.worker = worker;
    t.state = 'starting';
    const stats = this.mailbox.stats(t.layout.id);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready after ${timeoutMs} ms`)), timeoutMs);
      let failed: FailedMessage | undefined;
      worker.on('message', (m: ReadyMessage | FailedMessage | { type: 'stopped' }) => {
        if (m.type === 'failed') {
          // A task module threw: start() rejects with it (class name, stack, cause kept), and the thread ends.
          failed = m;
          clearTimeout(timer);
          t.lastError = m.error.stack ?? m.error.message;
          reject(new DriverStartError(t.layout, m.module, revive(m.error)));
          void worker.terminate();
        } else if (m.type === 'ready') {
          clearTimeout(timer);
          t.tasks = m.tasks;
          t.tid = m.tid;
          t.state = 'running';
          // Like a timer with unref(): an idle runtime does not hold the
          // process open; outstanding calls do (the main inbox's watch is
          // ref'd while any wait), and a service keeps itself alive.
          worker.unref();
          stats[Stat.Alive] = 1;
          resolve();
        } else if (m.type === 'stopped') t.stopped?.();
      });
      worker.on('error', (err) => {
        t.lastError = err.stack ?? String(err);
        if (t.state === 'starting') {
          clearTimeout(timer);
          reject(failed ? new DriverStartError(t.layout, failed.module, revive(failed.error)) : new DriverStartError(t.layout, undefined, err));
        }
      });
      worker.on('exit', (code) => {
        clearTimeout(timer);
        const was = t.state;
        t.worker = undefined;
        stats[Stat.Alive] = 0;
        if (was === 'starting') {
          t.state = 'dead';
          reject(new Error(t.lastError ?? `the driver thread exited with code ${code} before it was ready`));
        } else if (this.closing || was === 'stopped') {
          t.state = 'stopped';
        } else {
          this.driverDied(t, code);
        }
        this.stopWaiters.get(t.layout.id)?.();
      });
    });
  }

  /** A driver thread ended on its own: reject its calls, tell the others, restart it on its PU. */
  private driverDied(t: DriverThread, code: number): void {
    t.state = 'dead';
    const why = t.lastError ? t.lastError.split('\n')[0] : `its thread exited with code ${code}`;
    const endpoint = endpointOfDriver(t.layout.id);
    // The next generation starts now. The inbox is not re-formatted (other
    // threads may be pushing into it this very moment): every message
    // stamped with the dead generation, in the inbox or still on its way,
    // is dropped by the successor, which resumes at the shared head; calls
    // sent from now on are the successor's.
    const dead = this.mailbox.queue(endpoint).generation;
    t.generation = this.mailbox.queue(endpoint).bumpGeneration();
    this.mailbox.dropBacklog(endpoint, dead);
    this.mailbox.rejectCallsTo(endpoint, dead, (c) => new DriverDiedError(`driver ${t.layout.name} (id ${t.layout.id}, PU ${t.layout.pu}) died before the call to task "${c.task}" settled (it was running it, or had not started it): ${why}`));
    for (const other of this.threads) {
      if (other !== t && other.state === 'running' && other.layout.kind !== 'io') this.mailbox.sendControl(endpointOfDriver(other.layout.id), ControlOp.DriverDied, [t.layout.id, dead]);
    }
    this.mailbox.flush();
    t.lastError = undefined;
    // An exec driver's io-driven connections: closed by their io drivers, which
    // take its buffers back and route to it no more (until a successor joins).
    const forgotten = t.layout.kind === 'exec' && !this.closing ? this.execDied(t) : Promise.resolve();
    if (!this.layout.settings.knobs.restart || this.closing) {
      this.mailbox.dropBacklog(endpoint); // nobody will read that inbox again
      return;
    }
    t.restarts++;
    for (const open of this.portTable.values()) leaveGroup(open, t.layout.id); // its sockets went with its ring
    // (the io drivers answer before it restarts)
    forgotten.then(() => this.startThread(t, 30_000)).then(
      () => this.rejoinPorts(t),
      (err: Error) => {
        t.lastError = `restart failed: ${err.message}`;
      },
    );
  }

  /**
   * A native io driver's thread stopped on its own (it said so, DRIVER_EXITED,
   * after draining its ring): join it, reject what was sent to it, tell the
   * JS drivers, restart it on its PU with the next generation of its inbox.
   */
  private ioDriverExited(id: number): void {
    const t = this.threads[id];
    if (!t?.io || t.state !== 'running') return;
    const r = stopIoDriver(t.io); // the thread has exited: this joins it
    t.io = undefined;
    t.state = 'dead';
    this.mailbox.stats(id)[Stat.Alive] = 0;
    const why = r.failure ?? 'its thread stopped';
    t.lastError = why;
    const endpoint = endpointOfDriver(id);
    const dead = this.mailbox.queue(endpoint).generation;
    t.generation = this.mailbox.queue(endpoint).bumpGeneration();
    this.mailbox.dropBacklog(endpoint, dead);
    const name = `io driver ${t.layout.name} (id ${id}, PU ${t.layout.pu})`;
    this.io.driverDied(id, dead, r.drained, (what) => new DriverDiedError(`gatio io: ${what}: ${name} stopped before completing it: ${why}`));
    // Each JS driver answers once it took the death in, after every event of
    // the dead driver before it (their data views point into its blocks):
    // then the blocks are freed. One that does not answer keeps them (a leak,
    // never memory read after it was handed out again); one that dies meanwhile lets go of them.
    const told = this.threads
      .filter((other) => other.state === 'running' && other.layout.kind !== 'io')
      .map((other) => this.control(other.layout.id, ControlOp.DriverDied, [id, dead, r.drained, why], 60_000).then(
        () => true,
        (e: Error) => e instanceof DriverDiedError || e instanceof ShutdownError,
      ));
    this.mailbox.flush();
    const tpc = t.layout.tpc;
    void Promise.all(told)
      .then((oks) => {
        // (after shutdown the arenas are gone, and their blocks with them)
        if (!oks.every(Boolean) || this.closing) return;
        for (const b of r.orphans) this.arenas[tpc]?.free(b);
      })
      .catch(() => {}); // a free that fails leaks the block, and must not become an unhandled rejection
    // Its queue-size block is among the orphans: no port may point at it any more, restarted or not.
    this.ioQueued.delete(id);
    for (const open of this.portTable.values()) leaveGroup(open, id);
    if (!this.layout.settings.knobs.restart || this.closing) {
      this.mailbox.dropBacklog(endpoint);
      return;
    }
    t.restarts++;
    this.startThread(t, 30_000).then(
      () => this.rejoinPorts(t),
      (err: Error) => {
        t.lastError = `restart failed: ${err.message}`;
      },
    );
  }

  /** @internal fault injection for tests: io driver `id`'s loop stops as on a failure */
  faultIoDriver(id: number): void {
    const h = this.threads[id]?.io;
    if (!h) throw new Error(`driver ${id} is not a running io driver`);
    native().ioDriverFault(h.handle);
  }

  // ---------------------------------------------------------------------------
  // Spawning.

  /** Runs a task on a driver: by handle (what defineTask returned: arguments and result typed) or by name. */
  spawn<F extends TaskFn>(task: Task<F>, args: TaskArgs<F>, opts?: SpawnOptions): Promise<TaskResult<F>>;
  spawn<T = unknown>(task: string, args?: unknown[], opts?: SpawnOptions): Promise<T>;
  spawn<T = unknown>(task: string | TaskFn, args: unknown[] = [], opts: SpawnOptions = {}): Promise<T> {
    if (this.closing) return Promise.reject(new ShutdownError(this.stopped ? 'gatio: the runtime has shut down; no new tasks' : 'gatio: the runtime is shutting down; no new tasks'));
    // No flush here: the pump (a microtask after the caller's synchronous
    // code) wakes each parked driver once for the whole burst of spawns.
    // The first spawn of a burst looks where the main thread runs now: it may
    // have moved since the last pump (a cold call comes after a wakeup,
    // which the kernel may have served on another CPU).
    if (this.mainShares && !this.pumpQueued) this.sharedCpuDriver = this.driverOnPu[native().currentCpu()] ?? -1;
    return this.mailbox.spawn<T>(taskName(task), args, opts, this.sharedCpuDriver);
  }

  // ---------------------------------------------------------------------------
  // The main thread's inbox: results come back here.
  //
  // While calls are outstanding the main thread pumps: it drains the inbox,
  // and when empty spins for spinUs (results of hot drivers arrive in
  // microseconds), then parks on its eventfd under libuv. Pumps run as
  // microtasks while they keep finding results, falling back to a libuv
  // turn (setImmediate) at least every millisecond so I/O never starves.

  /** Something was queued (a spawn, a cancel, a channel message): make sure a pump runs. */
  private readonly poke = (): void => this.schedulePump();

  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    if (this.microPumps < 64) {
      this.microPumps++;
      // Not queueMicrotask: Node wraps each of those in an AsyncResource,
      // which costs more than the pump itself.
      RESOLVED.then(this.pump);
    } else {
      this.microPumps = 0;
      setImmediate(this.pump);
    }
  }

  private readonly onWake = (err?: Error): void => {
    if (err) throw err;
    this.microPumps = 0;
    this.schedulePump();
  };

  private readonly pump = (): void => {
    this.pumpQueued = false;
    if (this.mainShares) this.sharedCpuDriver = this.driverOnPu[native().currentCpu()] ?? -1;
    const woke = this.mailbox.woke;
    this.mailbox.flush(); // wake the drivers sent to since the last pump
    const inbox = this.mailbox.inbox;
    inbox.unparked();
    let n = inbox.drain(this.onMessage);
    if (n === 0 && (this.mailbox.calls.size > 0 || this.io.outstanding > 0) && this.spinMs > 0) {
      // Having just woken a parked driver, wait out its wakeup (a thread
      // wakeup: bench/spawn.mjs's cold calls) instead of parking too: the
      // answer then costs one thread wakeup, not two.
      // (Woken by the flush above, or at spawn since the last pump: Mailbox.earlyWake.)
      const woken = this.mailbox.woke !== woke || this.mailbox.wokeEarly !== this.wokeEarlySeen;
      const spin = woken ? Math.max(this.spinMs, COLD_SPIN_MS) : this.spinMs;
      const until = performance.now() + spin;
      for (let i = 1; inbox.isEmpty(); i++) if ((i & 31) === 0 && performance.now() >= until) break;
      n = inbox.drain(this.onMessage);
    }
    this.wokeEarlySeen = this.mailbox.wokeEarly;
    const backlog = this.mailbox.flush();
    if (n > 0 || backlog > 0) return this.schedulePump();
    this.microPumps = 0;
    if (this.mailbox.calls.size > 0 || this.io.outstanding > 0) this.watch.ref();
    else this.watch.unref();
    if (!inbox.prepareToPark()) this.schedulePump();
  };

  private readonly onMessage = (bytes: Uint8Array, offset: number, len: number): void => {
    const kind = bytes[offset]! & ~BIG;
    if (kind === Kind.Result) this.mailbox.settleResult(bytes, offset, len);
    else if (kind === Kind.IoDone) this.io.onDone(bytes, offset);
    else if (kind === Kind.DriverExited) this.ioDriverExited(this.mailbox.view(bytes).getUint16(offset + 2, true));
    else if (kind === Kind.NetSetupDone) this.onSetupDone(bytes, offset);
    else if (kind === Kind.Channel) deliverChannel(this.mailbox.view(bytes).getUint16(offset + 2, true), this.mailbox.body(bytes, offset, len), this.onMainHandlerError);
    else if (kind === Kind.Control) this.onDriverReport(bytes, offset, len);
    // nothing else is sent to the main thread
  };

  /** A failure outside any call, on a driver (ControlOp.HandlerError): reported, nothing stops. */
  private onDriverReport(bytes: Uint8Array, offset: number, len: number): void {
    const view = this.mailbox.view(bytes);
    const op = view.getUint32(offset + 4, true);
    const from = view.getUint16(offset + 16, true);
    const body = this.mailbox.body(bytes, offset, len);
    if (op === ControlOp.Stall) {
      const [ms, task, queue] = body as [number, string | null, string | null];
      return this.reportStall(from - 1, ms, task, queue);
    }
    if (op === ControlOp.RingRefused) {
      const why = body as string[];
      const name = this.plan.drivers[from - 1]?.name ?? `driver ${from - 1}`;
      for (const w of why) this.reportError(Object.assign(new Error(`gatio: driver ${name}: ${w}`), { code: 'GATIO_RING_BAD_COMMAND', driver: from - 1 }));
      return;
    }
    if (op === ControlOp.PortHandlerError) {
      const [port, handler, callback, err] = body as [string, string, string, unknown];
      return this.reportError(new PortHandlerError(port, handler, callback, from - 1, err));
    }
    if (op !== ControlOp.HandlerError) return;
    const [channel, err] = body as [string, unknown];
    this.reportError(new ChannelHandlerError(channel, from === MAIN_ENDPOINT ? null : from - 1, err));
  }

  private readonly onMainHandlerError = (channel: string, err: unknown): void => this.reportError(new ChannelHandlerError(channel, null, err));

  private readonly lastStallWarning = new Map<number, number>();

  /**
   * A driver's loop turn ran longer than runtime.stallMs: the 'stall' event
   * ({ driver, name, ms, task, queue }); without a listener a process
   * warning (GATIO_STALL), at most one per driver per second.
   */
  private reportStall(driver: number, ms: number, task: string | null, queue: string | null): void {
    const d = this.plan.drivers[driver];
    const stall: DriverStall = { driver, name: d?.name ?? String(driver), ms, task, queue };
    if (this.listenerCount('stall') > 0) {
      this.emit('stall', stall);
      return;
    }
    const now = Date.now();
    if (now - (this.lastStallWarning.get(driver) ?? 0) < 1000) return;
    this.lastStallWarning.set(driver, now);
    process.emitWarning(`gatio: driver ${stall.name} stalled: one loop turn took ${ms} ms${task ? ` (task "${task}")` : ''}, past runtime.stallMs (${this.layout.settings.knobs.stallMs} ms)`, { code: 'GATIO_STALL' });
  }

  /** The 'error' event if anyone listens, else stderr: a handler's failure never stops the runtime. */
  private reportError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else console.error(`${err.message}\n${(err.cause as Error | undefined)?.stack ?? ''}`);
  }

  // ---------------------------------------------------------------------------
  // Stats and control.

  /** Per driver, from shared memory (no message round trip). */
  driverStats() {
    const now = performance.timeOrigin + performance.now();
    return this.threads.map((t) => {
      const s = this.mailbox.stats(t.layout.id);
      const turnMs = t.state === 'running' && s[Stat.TurnStart]! > 0 ? Math.max(0, now - s[Stat.TurnStart]!) : 0;
      return {
        id: t.layout.id,
        name: t.layout.name,
        kind: t.layout.kind,
        tpc: t.layout.tpc,
        pu: t.layout.pu,
        state: t.state,
        restarts: t.restarts,
        tid: t.tid,
        pending: s[Stat.Pending]!,
        /** ms the current loop turn has run (0 between turns): a long one is a task that keeps the driver */
        turnMs,
        /** the task whose synchronous part runs now, if one does */
        runningTask: s[Stat.RunningTask]! > 0 ? (this.mailbox.taskNames[s[Stat.RunningTask]! - 1] ?? null) : null,
        stalls: s[Stat.Stalls]!,
        /** tasks settled, by outcome: run = succeeded + failed */
        tasksRun: s[Stat.TasksRun]! + s[Stat.TasksFailed]!,
        tasksSucceeded: s[Stat.TasksRun]!,
        tasksFailed: s[Stat.TasksFailed]!,
        // The EWMA is published between turns: a driver inside a long turn is busy now, whatever it says.
        busy: turnMs >= 50 ? 1 : s[Stat.Busy]!,
        parks: s[Stat.Parks]!,
        wakeups: s[Stat.Wakeups]!,
        turns: s[Stat.Turns]!,
        messages: s[Stat.Messages]!,
        inboxDepth: this.mailbox.queue(endpointOfDriver(t.layout.id)).size(),
        ringSubmissions: s[Stat.RingSubmissions]!,
        ringCompletions: s[Stat.RingCompletions]!,
      };
    });
  }

  /** Everything: drivers, their task queues (asked of each driver), TPC arenas, routing decisions. */
  async stats(timeoutMs = 500) {
    if (this.stopped) throw new ShutdownError('gatio: the runtime has shut down: no stats (take them before shutdown())');
    // What only a JS driver knows (its task queues, ring counters, timers, ports) is asked of it;
    // one that does not answer in time is marked unanswered, with why, and its fields are null.
    const replies = await Promise.all(
      this.threads.map((t): Promise<DriverStatsReply | string | undefined> =>
        t.state !== 'running' || t.layout.kind === 'io'
          ? Promise.resolve(t.layout.kind === 'io' ? undefined : `the driver is ${t.state}`)
          : (this.control(t.layout.id, ControlOp.Stats, undefined, timeoutMs) as Promise<DriverStatsReply>).catch((e: Error) => e.message),
      ),
    );
    return {
      drivers: this.driverStats().map((d, i) => {
        const r = replies[i];
        const reply = typeof r === 'object' ? r : undefined;
        const ports: PortServerStats[] | null = d.kind === 'io' ? this.ioPortStats(d.id) : (reply?.ports ?? null);
        return {
          ...d,
          queues: reply?.queues ?? null,
          ring: reply?.ring ?? null,
          timers: reply?.timers ?? null,
          stale: reply?.stale ?? null,
          ports,
          remotePorts: reply?.remotePorts ?? null,
          ...(typeof r === 'string' ? { unanswered: true as const, reason: r } : {}),
        };
      }),
      tpcs: this.plan.tpcs.map((t, i) => ({ id: t.id, name: t.name, node: t.node, cpuset: t.cpuset, arena: this.arenas[i]!.stats() })),
      routing: { ...this.mailbox.router.decisions } as Record<RouteReason, number>,
      ports: this.ports(),
      main: { outstanding: this.mailbox.calls.size, backlog: this.mailbox.backlogged() },
    };
  }

  /** Changes a task queue's shares on every driver (or one). */
  setShares(queue: string, shares: number, driver?: number): void {
    if (!this.layout.queues.includes(queue)) throw new Error(`gatio: unknown task queue "${queue}" (queues: ${this.layout.queues.join(', ')})`);
    if (!(typeof shares === 'number' && shares >= MIN_SHARES && shares <= MAX_SHARES)) {
      // the same bounds the drivers' schedulers enforce: checked here, where the caller can see the error
      throw new RangeError(`gatio: shares must be a number from ${MIN_SHARES} to ${MAX_SHARES}, got ${shares}`);
    }
    for (const t of this.threads) {
      if (t.state === 'running' && (driver === undefined || driver === t.layout.id)) this.mailbox.sendControl(endpointOfDriver(t.layout.id), ControlOp.SetShares, [queue, shares]);
    }
    this.mailbox.flush();
  }

  private control(driver: number, op: ControlOp, body: unknown, timeoutMs: number): Promise<unknown> {
    const callId = this.mailbox.newCallId();
    const endpoint = endpointOfDriver(driver);
    const p = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.mailbox.calls.delete(callId);
        reject(new Error(`driver ${driver} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.mailbox.calls.set(callId, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
        endpoint,
        gen: this.mailbox.queue(endpoint).generation,
        task: 'stats',
      });
    });
    this.mailbox.sendControl(endpoint, op, body, callId);
    this.mailbox.flush();
    this.schedulePump();
    return p;
  }

  // ---------------------------------------------------------------------------
  // Shutdown.

  /**
   * Stops taking new work, lets accepted tasks finish until the deadline,
   * then aborts them; drains every ring, joins the threads, closes the
   * eventfds and frees the arenas. Idempotent.
   */
  shutdown(opts: ShutdownOptions = {}): Promise<{ aborted: number }> {
    // A second call, also while the first is still running, gets the first
    // one's outcome: running the steps twice would replace the exit waiters
    // (the first call then never finishes) and close the eventfds twice.
    return (this.shutdownPromise ??= this.stop(opts));
  }

  private shutdownPromise: Promise<{ aborted: number }> | undefined;
  /** shutdown() has finished: arenas and fds are gone */
  private stopped = false;

  private async stop(opts: ShutdownOptions): Promise<{ aborted: number }> {
    this.closing = true;
    const deadline = opts.deadline ?? 5000;
    const live = this.threads.filter((t) => t.worker);
    const exited = live.map((t) => new Promise<void>((r) => this.stopWaiters.set(t.layout.id, r)));
    for (const t of live) this.mailbox.sendControl(endpointOfDriver(t.layout.id), ControlOp.Drain, undefined);
    this.mailbox.flush();
    this.schedulePump();
    const all = Promise.all(exited);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), deadline)))]);
    clearTimeout(timer);
    let aborted = 0;
    const abortCalls = () => {
      for (const [id, call] of this.mailbox.calls) {
        this.mailbox.calls.delete(id);
        call.reject(new ShutdownError(`gatio: task "${call.task}" was aborted: the runtime shut down (deadline ${deadline} ms)`));
      }
    };
    if (timedOut) {
      aborted = this.mailbox.calls.size;
      // Past the deadline every caller gets ShutdownError now: what the
      // drivers reply while they abort (the abort reason) must not race it.
      abortCalls();
      for (const t of this.threads) if (t.worker) this.mailbox.sendControl(endpointOfDriver(t.layout.id), ControlOp.Exit, undefined);
      this.mailbox.flush();
      // A task stuck in a synchronous loop never reads Exit: terminate after a grace period.
      const grace = setTimeout(() => {
        for (const t of this.threads) void t.worker?.terminate();
      }, 1000);
      await all;
      clearTimeout(grace);
    }
    // Results a driver sent just before it exited may still wait in our
    // inbox (its exit can be seen before our eventfd wakeup): deliver them
    // rather than failing calls that completed.
    this.mailbox.inbox.drain(this.onMessage);
    abortCalls();
    // io drivers last: tasks may have used them until now. Each stop cancels
    // and drains its ring before the thread exits and is joined.
    for (const t of this.threads) {
      if (!t.io) continue;
      stopIoDriver(t.io);
      t.io = undefined;
      t.state = 'stopped';
      this.mailbox.stats(t.layout.id)[Stat.Alive] = 0;
    }
    this.io.shutdown(new ShutdownError('gatio: the runtime shut down; io calls still in flight were cancelled'));
    if (threadRuntime() === this) setThreadRuntime(undefined);
    this.watch.close();
    for (const t of this.threads) eventfdClose(t.eventfd);
    eventfdClose(this.mainFd);
    for (const a of this.arenas) a.close();
    if (this.mainAffinity) pinThread(this.mainAffinity);
    this.wakeLatency?.release();
    if (current === this) current = undefined;
    this.stopped = true;
    return { aborted };
  }
}


/** A port being served (rt.ports(), rt.listen()). */
export interface PortInfo {
  /** "tcp:9000" */
  key: string;
  protocol: Protocol;
  host: string;
  port: number;
  handler: string;
  /** ids of the drivers serving it */
  drivers: number[];
  /** what every one of them got (fingerprint.ts) */
  fingerprint: string;
}

function portInfo(o: OpenPort): PortInfo {
  return { key: o.key, protocol: o.protocol, host: o.host, port: o.port, handler: o.handler, drivers: [...o.drivers.keys()], fingerprint: o.fingerprint };
}

/** A thrown value sent as data (worker-entry.ts) as an Error again: same name, message, stack, code, cause. */
function revive(t: ThrownValue): Error {
  // Of its own class where that is a standard one (a TypeError stays a TypeError, as through spawn()).
  const e = errorOfClass(t.name, t.message) as Error & { code?: string | number; value?: unknown };
  if (t.stack) e.stack = t.stack;
  if (t.code !== undefined) e.code = t.code;
  if (t.cause) (e as Error).cause = revive(t.cause);
  if ('value' in t) e.value = t.value;
  return e;
}

/** A driver's loop turn that ran past runtime.stallMs (the runtime's 'stall' event). */
export interface DriverStall {
  driver: number;
  name: string;
  /** how long the turn ran */
  ms: number;
  /** the task during which the turn grew past the threshold, when a task's synchronous part did */
  task: string | null;
  /** the task queue that was running */
  queue: string | null;
}
