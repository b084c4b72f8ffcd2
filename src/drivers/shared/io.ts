// File I/O through the native io drivers (native/io_driver.cc), from any JS
// thread of the runtime: tasks on exec/hybrid drivers, and the main thread.
//
// Each such thread has one IoClient. It sends IO_REQUEST messages
// (protocol/messages.ts) through the thread's Mailbox to an io driver of its own TPC
// (the least loaded one), keeps the pending calls by call id, and settles
// them when the IO_DONE messages come back through the thread's inbox (the
// driver loop and the main thread's pump hand them to onDone()). On a
// driver, a completion is delivered as scheduler work of the task queue
// that issued the call.
//
// Buffers are arena memory, so the kernel reads and writes them in place:
// io.buffer(size) allocates one in the caller's TPC arena. From sending the
// request until its IO_DONE arrives the buffer belongs to the kernel and
// the io driver: the client refuses to release it or to use any byte of it
// in another request meanwhile (GATIO_IO_BUFFER_BUSY).
//
// Errors: every io.* operation returns a promise and reports every problem
// (bad arguments, no io driver, a busy buffer, the kernel's errno) as a
// rejection; only io.buffer() and IoBuffer.release() throw.
import { getSystemErrorMap } from 'node:util';
import type { Arena } from '../../tpc/arena.js';
import { Stat } from '../protocol/layout.js';
import type { Mailbox } from './mailbox.js';
import { IoDoneAt, IoReqAt, Kind, endpointOfDriver } from '../protocol/messages.js';
import { AT_FDCWD, FSYNC_DATASYNC, OP_CLOSE, OP_FSYNC, OP_NOP, OP_OPENAT, OP_READ, OP_WRITE } from '../protocol/ring.js';

/**
 * What the client needs of a driver's scheduler (thread/scheduler.ts): the
 * task queue running now, and a way to run a completion as work of it.
 */
export interface IoScheduler {
  current(): IoQueue | undefined;
  enqueue(queue: IoQueue, work: () => void): void;
}
/** a scheduler's task queue, opaque here */
export type IoQueue = object;

// ---------------------------------------------------------------------------
// Errors.

const errnoMap = getSystemErrorMap(); // -errno -> [name, description]
const SYSCALLS: Record<number, string> = { [OP_NOP]: 'nop', [OP_OPENAT]: 'open', [OP_CLOSE]: 'close', [OP_READ]: 'read', [OP_WRITE]: 'write', [OP_FSYNC]: 'fsync' };

/** The kernel failed an operation: `code` is the errno name (ENOENT), `errno` negative, as in Node's fs errors. */
export class IoError extends Error {
  override readonly name = 'IoError';
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;
  readonly fd?: number;
  constructor(res: number, syscall: string, where: { path?: string; fd?: number }) {
    const [code, text] = errnoMap.get(res) ?? [`E${-res}`, `errno ${-res}`];
    super(`${code}: ${text}, ${syscall}${where.path !== undefined ? ` '${where.path}'` : where.fd !== undefined ? ` (fd ${where.fd})` : ''}`);
    this.code = code;
    this.errno = res;
    this.syscall = syscall;
    if (where.path !== undefined) this.path = where.path;
    if (where.fd !== undefined) this.fd = where.fd;
  }
}

/** A buffer was released, or used in a second request, while a request using it is in flight. */
export class IoBufferBusyError extends Error {
  override readonly name = 'IoBufferBusyError';
  readonly code = 'GATIO_IO_BUFFER_BUSY';
}

// ---------------------------------------------------------------------------
// Buffers.

/** Arena memory for I/O: `bytes` is a view over the caller's TPC arena. */
export class IoBuffer {
  readonly bytes: Uint8Array;
  /** TPC (arena) index and byte offset of the block */
  readonly arena: number;
  readonly offset: number;
  #client: IoClient;
  #released = false;

  /** @internal use io.buffer(size) */
  constructor(client: IoClient, arena: number, offset: number, size: number) {
    this.#client = client;
    this.arena = arena;
    this.offset = offset;
    this.bytes = new Uint8Array(client.arenaOf(arena).buffer, offset, size);
  }

  get size(): number {
    return this.bytes.length;
  }

  get released(): boolean {
    return this.#released;
  }

  /** A request using (part of) this buffer is in flight. */
  get busy(): boolean {
    return this.#client.busyWith(this.arena, this.offset, this.offset + this.bytes.length) !== undefined;
  }

  /**
   * Gives the block back to the arena. Throws IoBufferBusyError while a
   * request uses it. Idempotent. Once this thread's io is over (a driver
   * exiting, its requests rejected while the kernel may still use them) a
   * busy buffer is marked released but not freed: the reader of the
   * request's IO_DONE frees it.
   */
  release(): void {
    if (this.#released) return;
    const p = this.#client.busyWith(this.arena, this.offset, this.offset + this.bytes.length);
    if (p && this.#client.closed) {
      this.#released = true;
      return;
    }
    if (p) {
      throw new IoBufferBusyError(
        `io buffer (${this.bytes.length} bytes at arena offset ${this.offset}) cannot be released: a ${SYSCALLS[p.op]} (call ${p.callId}) using it is in flight; await it first`,
      );
    }
    this.#released = true;
    this.#client.arenaOf(this.arena).free(this.offset);
  }
}

// ---------------------------------------------------------------------------
// The client.

export interface IoCall {
  callId: number;
  op: number;
  driver: number;
  /** the io driver's generation the request was sent to */
  gen: number;
  resolve(v: number | undefined): void;
  reject(err: Error): void;
  queue: IoQueue | undefined;
  path?: string;
  fd?: number;
  /** arena offset of the OPENAT path block (caller's TPC), freed on completion */
  pathBlock?: number;
  /** the bytes the kernel may touch: [start, end) of arena `arena` */
  arena?: number;
  start?: number;
  end?: number;
  /** resolve with undefined rather than the result (nop, close, fsync) */
  noValue?: boolean;
}

export interface IoClientOptions {
  /** the calling thread's: its TPC's io drivers serve it, that TPC's arena holds its buffers */
  mailbox: Mailbox;
  /** on a driver: completions are delivered as work of the queue that was current at the call */
  scheduler?: IoScheduler;
  /** first call id (a restarted driver starts elsewhere, so a late completion for its predecessor matches nothing) */
  firstCallId?: number;
  /** called after each request is queued (the main thread keeps its inbox watch referenced) */
  onSend?: () => void;
}

const O_CLOEXEC = 0o2000000; // Linux; like libuv, every fd we open is close-on-exec
const OPEN_FLAGS: Record<string, number> = {
  r: 0, // O_RDONLY
  'r+': 0o2, // O_RDWR
  w: 0o1 | 0o100 | 0o1000, // O_WRONLY | O_CREAT | O_TRUNC
  'w+': 0o2 | 0o100 | 0o1000,
  wx: 0o1 | 0o100 | 0o1000 | 0o200, // | O_EXCL
  'wx+': 0o2 | 0o100 | 0o1000 | 0o200,
  a: 0o1 | 0o100 | 0o2000, // O_WRONLY | O_CREAT | O_APPEND
  'a+': 0o2 | 0o100 | 0o2000,
  ax: 0o1 | 0o100 | 0o2000 | 0o200,
  'ax+': 0o2 | 0o100 | 0o2000 | 0o200,
};

const encoder = new TextEncoder();
const RESOLVED = Promise.resolve();

export class IoClient {
  readonly tpc: number;
  private readonly mailbox: Mailbox;
  private readonly scheduler?: IoScheduler;
  private readonly onSend?: () => void;
  private readonly drivers: number[];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, IoCall>();
  /** per arena: the calls whose buffers the kernel may touch */
  private readonly busy: Set<IoCall>[] = [];
  private nextCall: number;
  /** this thread's first call id: lower ones are a predecessor's (a driver that died on this endpoint) */
  private readonly firstCallId: number;
  private readonly msg = new Uint8Array(IoReqAt.Bytes);
  private readonly msgView = new DataView(this.msg.buffer);
  private flushQueued = false;
  private closedWith?: Error;

  constructor(opts: IoClientOptions) {
    this.mailbox = opts.mailbox;
    this.tpc = opts.mailbox.tpc;
    this.scheduler = opts.scheduler;
    this.onSend = opts.onSend;
    this.nextCall = this.firstCallId = opts.firstCallId ?? 1;
    this.drivers = opts.mailbox.layout.drivers.filter((d) => d.kind === 'io' && d.tpc === this.tpc).map((d) => d.id);
  }

  /** Calls sent and not yet completed. */
  get outstanding(): number {
    return this.pending.size;
  }

  arenaOf(tpc: number): Arena {
    const a = this.mailbox.arenas[tpc];
    if (!a) throw new RangeError(`gatio io: no arena for TPC ${tpc}`);
    return a;
  }

  // ---- operations ----------------------------------------------------------

  nop(): Promise<void> {
    return this.submit('io.nop', OP_NOP, -1, -1, 0, 0, 0, undefined, {}) as Promise<void>;
  }

  /** Opens `path` (relative: to the process's working directory); resolves with the fd. */
  open(path: string, flags: string | number = 'r', mode = 0o666): Promise<number> {
    if (typeof path !== 'string' || path === '') return this.fail(new TypeError(`io.open: path must be a non-empty string, got ${describe(path)}`));
    if (path.includes('\0')) return this.fail(new TypeError(`io.open: path must not contain NUL bytes: ${JSON.stringify(path)}`));
    let f: number;
    if (typeof flags === 'number' && Number.isInteger(flags) && flags >= 0 && flags <= 0xffffffff) f = flags;
    else if (typeof flags === 'string' && flags in OPEN_FLAGS) f = OPEN_FLAGS[flags]!;
    else return this.fail(new TypeError(`io.open('${path}'): flags must be one of ${Object.keys(OPEN_FLAGS).join(', ')} or a number of O_* flags, got ${describe(flags)}`));
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) return this.fail(new RangeError(`io.open('${path}'): mode must be a whole number from 0 to 0o7777, got ${describe(mode)}`));
    // The path goes into an arena block the kernel reads; it is ours again at the completion.
    const bytes = encoder.encode(path);
    const arena = this.arenaOf(this.tpc);
    let block: number;
    try {
      block = arena.alloc(bytes.length + 1).offset;
    } catch (err) {
      return this.fail(err as Error);
    }
    const view = new Uint8Array(arena.buffer, block, bytes.length + 1);
    view.set(bytes);
    view[bytes.length] = 0;
    const p = this.submit(`io.open('${path}')`, OP_OPENAT, AT_FDCWD, -1, bytes.length + 1, f | O_CLOEXEC, mode, { arena: this.tpc, start: block, end: block + bytes.length + 1, block }, { path, pathBlock: block });
    return p as Promise<number>;
  }

  /** Reads into `buf` (an IoBuffer or a Uint8Array over arena memory) at `position` (-1: the file position); resolves with the bytes read. */
  read(fd: number, buf: IoBuffer | Uint8Array, position = -1): Promise<number> {
    return this.rw('io.read', OP_READ, fd, buf, position);
  }

  /** Writes `buf` at `position` (-1: the file position); resolves with the bytes written. */
  write(fd: number, buf: IoBuffer | Uint8Array, position = -1): Promise<number> {
    return this.rw('io.write', OP_WRITE, fd, buf, position);
  }

  fsync(fd: number, opts: { datasync?: boolean } = {}): Promise<void> {
    const bad = checkFd('io.fsync', fd);
    if (bad) return this.fail(bad);
    return this.submit(`io.fsync(${fd})`, OP_FSYNC, fd, -1, 0, opts.datasync ? FSYNC_DATASYNC : 0, 0, undefined, { fd }) as Promise<void>;
  }

  close(fd: number): Promise<void> {
    const bad = checkFd('io.close', fd);
    if (bad) return this.fail(bad);
    return this.submit(`io.close(${fd})`, OP_CLOSE, fd, -1, 0, 0, 0, undefined, { fd }) as Promise<void>;
  }

  /** `size` bytes of the caller's TPC arena, for the kernel to read or write in place. */
  buffer(size: number): IoBuffer {
    if (!Number.isInteger(size) || size <= 0 || size > 0xffffffff) throw new RangeError(`io.buffer: size must be a whole number of bytes from 1 to 2^32-1, got ${describe(size)}`);
    return new IoBuffer(this, this.tpc, this.arenaOf(this.tpc).alloc(size).offset, size);
  }

  /** The in-flight call whose buffer overlaps [start, end) of arena `arena`, if any. */
  busyWith(arena: number, start: number, end: number): IoCall | undefined {
    const set = this.busy[arena];
    if (!set) return undefined;
    for (const p of set) if (p.start! < end && start < p.end!) return p;
    return undefined;
  }

  private rw(fn: string, op: number, fd: number, buf: IoBuffer | Uint8Array, position: number): Promise<number> {
    const bad = checkFd(fn, fd);
    if (bad) return this.fail(bad);
    if (position !== -1 && !(Number.isInteger(position) && position >= 0 && position <= Number.MAX_SAFE_INTEGER)) {
      return this.fail(new RangeError(`${fn}(${fd}): position must be a whole number >= 0, or -1 for the file position; got ${describe(position)}`));
    }
    let arena: number;
    let start: number;
    let len: number;
    let block = -1; // a view of arena memory someone else owns: not ours to free
    if (buf instanceof IoBuffer) {
      if (buf.released) return this.fail(new Error(`${fn}(${fd}): the io buffer was released`));
      arena = buf.arena;
      start = buf.offset;
      len = buf.size;
      block = buf.offset;
    } else if (buf instanceof Uint8Array) {
      arena = this.mailbox.arenas.findIndex((a) => a.buffer === buf.buffer);
      if (arena < 0) {
        return this.fail(new TypeError(`${fn}(${fd}): the buffer must be arena memory (io.buffer(size), or a view of it) so the kernel can use it in place; got a Uint8Array over ${buf.buffer.constructor.name === 'SharedArrayBuffer' ? 'a SharedArrayBuffer that is not an arena of this runtime' : 'an ArrayBuffer'}`));
      }
      start = buf.byteOffset;
      len = buf.byteLength;
    } else {
      return this.fail(new TypeError(`${fn}(${fd}): buf must be an IoBuffer (io.buffer(size)) or a Uint8Array over arena memory, got ${describe(buf)}`));
    }
    const other = this.busyWith(arena, start, start + len);
    if (other) {
      return this.fail(
        new IoBufferBusyError(`${fn}(${fd}): its buffer (arena offset ${start}, ${len} bytes) is in use by a ${SYSCALLS[other.op]} (call ${other.callId}) still in flight; await it before reusing the buffer`),
      );
    }
    return this.submit(`${fn}(${fd})`, op, fd, position, len, 0, 0, { arena, start, end: start + len, block }, { fd }) as Promise<number>;
  }

  private fail(err: Error): Promise<never> {
    return Promise.reject(err);
  }

  // ---- sending ------------------------------------------------------------

  private submit(
    what: string,
    op: number,
    fd: number,
    off: number,
    len: number,
    flags: number,
    mode: number,
    buf: { arena: number; start: number; end: number; block: number } | undefined,
    extra: { path?: string; fd?: number; pathBlock?: number },
  ): Promise<number | undefined> {
    const free = () => extra.pathBlock !== undefined && this.arenaOf(this.tpc).free(extra.pathBlock);
    if (this.closedWith) {
      free();
      return this.fail(this.closedWith);
    }
    const driver = this.pick(what);
    if (driver instanceof Error) {
      free();
      return this.fail(driver);
    }
    const callId = this.nextCall++;
    const gen = this.mailbox.queue(endpointOfDriver(driver)).generation;
    const m = this.msgView;
    this.msg.fill(0);
    m.setUint8(0, Kind.IoRequest);
    m.setUint8(IoReqAt.Op, op);
    m.setUint16(IoReqAt.BufArena, buf?.arena ?? 0, true);
    m.setInt32(IoReqAt.Fd, fd, true);
    m.setFloat64(IoReqAt.CallId, callId, true);
    m.setUint16(IoReqAt.ReplyTo, this.mailbox.self, true);
    m.setUint16(IoReqAt.Gen, gen & 0xffff, true);
    m.setUint32(IoReqAt.Mode, mode, true);
    m.setFloat64(IoReqAt.Off, off, true);
    m.setUint32(IoReqAt.Len, len, true);
    m.setUint32(IoReqAt.Flags, flags, true);
    m.setFloat64(IoReqAt.Buf, buf?.start ?? 0, true);
    m.setFloat64(IoReqAt.Block, buf?.block ?? -1, true);
    const promise = new Promise<number | undefined>((resolve, reject) => {
      const p: IoCall = { callId, op, driver, gen, resolve, reject, queue: this.scheduler?.current(), ...extra };
      if (op === OP_NOP || op === OP_CLOSE || op === OP_FSYNC) p.noValue = true;
      if (buf) {
        p.arena = buf.arena;
        p.start = buf.start;
        p.end = buf.end;
        (this.busy[buf.arena] ??= new Set()).add(p);
      }
      this.pending.set(callId, p);
    });
    this.mailbox.sendRaw(endpointOfDriver(driver), this.msg);
    this.load[driver] = (this.load[driver] ?? 0) + 1;
    this.scheduleFlush();
    this.onSend?.();
    return promise;
  }

  /** The least loaded live io driver of our TPC, or why there is none. */
  private pick(what: string): number | Error {
    const ids = this.drivers;
    if (ids.length === 0) {
      const here = this.mailbox.layout.drivers.filter((d) => d.tpc === this.tpc).map((d) => d.name);
      return new Error(
        `${what}: TPC ${this.tpc} has no io driver (its drivers: ${here.join(', ') || 'none'}); ` +
          `give it one in the config, e.g. tpcs: [{ ..., drivers: { io: 1, hybrid: 1 } }]`,
      );
    }
    let best = -1;
    let bestLoad = Infinity;
    for (const id of ids) {
      const s = this.mailbox.stats(id);
      if (s[Stat.Alive] !== 1) continue;
      const l = s[Stat.Pending]! + (this.load[id] ?? 0);
      if (l < bestLoad) {
        best = id;
        bestLoad = l;
      }
    }
    if (best < 0) return new Error(`${what}: no io driver of TPC ${this.tpc} is running (stopped, restarting, or the runtime is shutting down)`);
    return best;
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    RESOLVED.then(this.flush); // not queueMicrotask: Node wraps each of those in an AsyncResource
  }

  // Requests of one synchronous stretch go out with one wakeup per io
  // driver (only a parked one costs a syscall), right after that stretch
  // rather than at the owner's next turn. What a full inbox refused waits in
  // the mailbox's backlog, which the owner's loop retries while it is not empty.
  private readonly flush = (): void => {
    this.flushQueued = false;
    if (this.mailbox.flush() > 0) this.mailbox.poke();
  };

  // ---- completions -------------------------------------------------------------

  /** An IO_DONE message from this thread's inbox (bytes[at...] is its first byte). */
  onDone(bytes: Uint8Array, at: number): void {
    const dv = this.mailbox.view(bytes);
    const callId = dv.getFloat64(at + IoDoneAt.CallId, true);
    const res = dv.getInt32(at + IoDoneAt.Res, true);
    const p = this.pending.get(callId);
    if (!p) {
      // A call of a predecessor that died on this endpoint: nobody else can
      // know the kernel is done with its block (an io buffer, a path), so
      // its block is freed here. (A call of ours that is gone was rejected
      // at close, its io driver drained: nothing to free.)
      const block = dv.getFloat64(at + IoDoneAt.Block, true);
      if (callId < this.firstCallId && block >= 0) this.arenaOf(dv.getUint16(at + IoDoneAt.BufArena, true)).free(block);
      return;
    }
    this.pending.delete(callId);
    this.load[p.driver]!--;
    // From here the buffer is the caller's again (the kernel is done with it).
    if (p.arena !== undefined) this.busy[p.arena]!.delete(p);
    if (p.pathBlock !== undefined) this.arenaOf(this.tpc).free(p.pathBlock);
    const settle = () => {
      if (res < 0) p.reject(new IoError(res, SYSCALLS[p.op] ?? `op ${p.op}`, { path: p.path, fd: p.fd }));
      else p.resolve(p.noValue ? undefined : res);
    };
    if (p.queue && this.scheduler) this.scheduler.enqueue(p.queue, settle);
    else settle();
  }

  /**
   * Io driver `driver` (its generation `gen`) stopped on its own: the calls
   * sent to it reject with `err`. `drained`: it completed or cancelled every
   * op before exiting, so the kernel is done with their buffers and they are
   * the callers' again; if not, they stay refused for good (a leak, never a
   * kernel write into memory handed out again).
   */
  driverDied(driver: number, gen: number, drained: boolean, err: (what: string) => Error): number {
    let n = 0;
    for (const [id, p] of this.pending) {
      if (p.driver !== driver || p.gen !== gen) continue;
      this.pending.delete(id);
      this.load[driver]!--;
      if (drained) {
        if (p.arena !== undefined) this.busy[p.arena]!.delete(p);
        if (p.pathBlock !== undefined) this.arenaOf(this.tpc).free(p.pathBlock);
      }
      const e = err(SYSCALLS[p.op] ?? `op ${p.op}`);
      const settle = () => p.reject(e);
      if (p.queue && this.scheduler) this.scheduler.enqueue(p.queue, settle);
      else settle();
      n++;
    }
    return n;
  }

  /**
   * This thread's io is over (the runtime shuts down, or this driver thread
   * is exiting): rejects every call still pending with `err` and refuses
   * new ones. Their buffers stay busy: the kernel may still write them
   * (this thread will not see their IO_DONE), so releasing one now frees
   * nothing; the reader of its IO_DONE does (a restarted successor), or the
   * arena goes at shutdown, after the io drivers have drained.
   */
  shutdown(err: Error): void {
    this.closedWith = err;
    for (const id of this.drivers) this.mailbox.dropBacklog(endpointOfDriver(id));
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) p.reject(err);
  }

  /** shutdown() was called: a busy buffer's release() frees nothing (see shutdown). */
  get closed(): boolean {
    return this.closedWith !== undefined;
  }
}

function checkFd(fn: string, fd: number): Error | undefined {
  if (Number.isInteger(fd) && fd >= 0 && fd <= 0x7fffffff) return undefined;
  return new TypeError(`${fn}: fd must be a file descriptor (a whole number >= 0), got ${describe(fd)}`);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || typeof v !== 'object') return String(v);
  return v.constructor?.name ?? 'an object';
}
