// A driver's io_uring, seen from JavaScript (native/ring.h, native/ring.cc;
// design in docs/drivers.md, "Ring").
//
// JS never calls into the ring per operation: the op helpers below write
// 64-byte command records into a command array, and turn() makes ONE native
// call that submits them all, optionally waits, and copies every available
// completion into a completion array, read with userDataAt(i) / resultAt(i)
// / flagsAt(i) (no allocation).
//
// Both arrays and a 64-byte header live in one block of the driver's arena
// (layout below). Only the creating thread may queue, turn or close;
// another thread can attach() a descriptor to read the header's stats.
import { native } from '../../native.js';
import { Arena, type Block } from '../../tpc/arena.js';

// Op codes of the command record (RingOp in native/ring.h).
export const OP_NOP = 0;
export const OP_TIMEOUT = 1;
export const OP_TIMEOUT_REMOVE = 2;
export const OP_ASYNC_CANCEL = 3;
export const OP_OPENAT = 4;
export const OP_CLOSE = 5;
export const OP_READ = 6;
export const OP_WRITE = 7;
export const OP_FSYNC = 8;
export const OP_POLL_ADD = 9;
// Commands to the ring's port servers (native/net_engine.h; src/net/): no SQE of their own.
export const OP_NET_SEND = 10; // target: connection id; buf, len: staged bytes; flags: SEND_WANT_DRAIN
export const OP_NET_END = 11; // target: connection id
export const OP_NET_CLOSE = 12; // target: connection id
export const OP_NET_PAUSE = 13; // target: connection id
export const OP_NET_RESUME = 14; // target: connection id
export const OP_NET_RELEASE = 15; // every buffer lent to JS since the last release goes back
export const OP_NET_SENDTO = 16; // target: UDP server; buf, len: address slot, then the payload
const OP_NAMES = ['NOP', 'TIMEOUT', 'TIMEOUT_REMOVE', 'ASYNC_CANCEL', 'OPENAT', 'CLOSE', 'READ', 'WRITE', 'FSYNC', 'POLL_ADD',
  'NET_SEND', 'NET_END', 'NET_CLOSE', 'NET_PAUSE', 'NET_RESUME', 'NET_RELEASE', 'NET_SENDTO'];
/** The Ring method that queues each op, for error messages. */
const OP_METHODS = ['nop', 'timeout', 'timeoutRemove', 'cancel', 'openat', 'closeFd', 'read', 'write', 'fsync', 'pollAdd',
  'net', 'net', 'net', 'net', 'net', 'net', 'net'];

/** openat's directory fd meaning "the current directory". */
export const AT_FDCWD = -100;
/** completion flag: more completions will come for this userData (multishot). */
export const CQE_F_MORE = 2;
/** fsync flag: data only (fdatasync). */
export const FSYNC_DATASYNC = 1;

// Layout of the ring's arena block: header, commands, completions.
const RING_HEADER_BYTES = 64;
const COMMAND_BYTES = 64;
const COMPLETION_BYTES = 16;
// Header fields (RingHeader in native/ring.cc), as typed-array indices.
// i32 0: completions copied by the last turn (also what ringTurn returns)
const H_MORE = 1; // i32: bit 0 = more are waiting, turn again without waiting; bit 1 = commands were refused (takeRefused)
// (f64 indices from here: byte offset / 8)
const H_SUBMITTED = 1; // f64
const H_COMPLETED = 2; // f64
const H_ENTERS = 3; // f64
const H_IN_FLIGHT = 4; // f64
// (i32 indices again: byte offset / 4) 10 mode, 11 sqEntries, 12 cqEntries, 13 fd, 14 owner tid
const H_STATE = 15; // i32: 1 open, 0 closed

const MAX_USER_DATA = 2 ** 53;
/** a TIMEOUT's nanoseconds become a uint64 timespec in the kernel */
export const MAX_TIMEOUT_NS = 2 ** 64;

export type RingMode = 'auto' | 'defer' | 'coop' | 'none';

export interface RingOptions {
  /** the arena the ring's block comes from; every `buf` offset is relative to it */
  arena: Arena;
  /** SQ entries (the kernel rounds up to a power of two); default 256 */
  entries?: number;
  /** command array capacity; default `entries` */
  commands?: number;
  /** completion array capacity; default 2 * `entries` (the CQ size) */
  completions?: number;
  /** 'auto' (default): DEFER_TASKRUN if the kernel has it, else COOP_TASKRUN; see docs/drivers.md */
  mode?: RingMode;
  /** an eventfd the kernel signals on completions (io_uring_register_eventfd); not owned */
  eventfd?: number;
}

/** Plain data naming a ring, for Ring.attach in another thread (postMessage / workerData). */
export interface RingDescriptor {
  id: number;
  arenaId: number;
  block: number;
  commands: number;
  completions: number;
}

export interface RingStats {
  /** SQEs the kernel consumed */
  submitted: number;
  /** completions reaped */
  completed: number;
  /** io_uring_enter calls made */
  enters: number;
  /** ops submitted or queued whose final completion has not been reaped */
  inFlight: number;
}

export class RingError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'RingError';
  }
}

export class Ring {
  readonly id: number;
  readonly arena: Arena;
  /** the ring's block in the arena (header, commands, completions) */
  readonly block: Block;
  /** the task-run mode in use (the kernel may not have the one asked for) */
  readonly mode: 'defer' | 'coop' | 'none';
  /** IORING_SETUP_TASKRUN_FLAG is on: an idle turn() makes no syscall */
  readonly taskrunFlag: boolean;
  readonly sqEntries: number;
  readonly cqEntries: number;
  /** the ring's fd (-1 on an attached view) */
  readonly fd: number;
  readonly commandCapacity: number;
  readonly completionCapacity: number;
  readonly #owner: boolean;
  readonly #f64: Float64Array;
  readonly #i32: Int32Array;
  readonly #u32: Uint32Array;
  readonly #u8: Uint8Array;
  /** f64 / i32 index of the first completion record */
  readonly #cplF64: number;
  readonly #cplI32: number;
  #pending = 0;
  #count = 0;
  #closed = false;

  /** Bytes of the arena block for a ring with these capacities. */
  static bytesFor(commands: number, completions: number): number {
    return RING_HEADER_BYTES + commands * COMMAND_BYTES + completions * COMPLETION_BYTES;
  }

  /** Creates a ring owned by the calling thread, with its block in `opts.arena`. */
  static create(opts: RingOptions): Ring {
    if (opts === null || typeof opts !== 'object' || !(opts.arena instanceof Arena)) {
      throw new TypeError('Ring.create: expected options { arena: Arena, entries?, commands?, completions?, mode?, eventfd? }');
    }
    const entries = opts.entries ?? 256;
    const commands = opts.commands ?? entries;
    const completions = opts.completions ?? 2 * entries;
    for (const [k, v, max] of [
      ['entries', entries, 32768],
      ['commands', commands, 1 << 20],
      ['completions', completions, 1 << 20],
    ] as const) {
      if (!Number.isInteger(v) || v < 1 || v > max) throw new RangeError(`Ring.create: ${k} must be a whole number in 1..${max}, got ${v}`);
    }
    const mode = opts.mode ?? 'auto';
    if (!['auto', 'defer', 'coop', 'none'].includes(mode)) {
      throw new RangeError(`Ring.create: mode must be 'auto', 'defer', 'coop' or 'none', got ${String(mode)}`);
    }
    const arena = opts.arena;
    const block = arena.alloc(Ring.bytesFor(commands, completions), 64);
    try {
      const info = native().ringCreate({
        arenaId: arena.id,
        block: block.offset,
        commands,
        completions,
        entries,
        mode,
        ...(opts.eventfd !== undefined ? { eventfd: opts.eventfd } : {}),
      });
      return new Ring(true, info.id, arena, block, commands, completions, info);
    } catch (err) {
      arena.free(block);
      throw err;
    }
  }

  /**
   * A view of a ring created by another thread: stats() and inFlight work;
   * queuing commands throws, turn() throws GATIO_RING_WRONG_THREAD.
   */
  static attach(desc: RingDescriptor): Ring {
    const arena = Arena.attach(desc.arenaId);
    const block = { offset: desc.block, size: Ring.bytesFor(desc.commands, desc.completions) };
    return new Ring(false, desc.id, arena, block, desc.commands, desc.completions, null);
  }

  private constructor(
    owner: boolean,
    id: number,
    arena: Arena,
    block: Block,
    commands: number,
    completions: number,
    info: { mode: 'defer' | 'coop' | 'none'; taskrunFlag: boolean; sqEntries: number; cqEntries: number; fd: number } | null,
  ) {
    this.#owner = owner;
    this.id = id;
    this.arena = arena;
    this.block = block;
    this.commandCapacity = commands;
    this.completionCapacity = completions;
    const bytes = Ring.bytesFor(commands, completions);
    const buf = arena.buffer;
    this.#f64 = new Float64Array(buf, block.offset, bytes / 8);
    this.#i32 = new Int32Array(buf, block.offset, bytes / 4);
    this.#u32 = new Uint32Array(buf, block.offset, bytes / 4);
    this.#u8 = new Uint8Array(buf, block.offset, bytes);
    this.#cplF64 = (RING_HEADER_BYTES + commands * COMMAND_BYTES) / 8;
    this.#cplI32 = this.#cplF64 * 2;
    const hdrMode = this.#i32[10];
    this.mode = info?.mode ?? (hdrMode === 1 ? 'defer' : hdrMode === 2 ? 'coop' : 'none');
    this.taskrunFlag = info?.taskrunFlag ?? false;
    this.sqEntries = info?.sqEntries ?? this.#i32[11];
    this.cqEntries = info?.cqEntries ?? this.#i32[12];
    this.fd = info?.fd ?? -1;
  }

  // ---- queuing commands -------------------------------------------------------

  /** Commands written but not yet handed to the kernel (the next turn() submits them). */
  get pending(): number {
    return this.#pending;
  }

  nop(userData: number): void {
    this.#push(OP_NOP, -1, userData, 0, 0, 0, 0, 0);
  }

  /** Completes with -ETIME after `ns` nanoseconds (relative), or -ECANCELED if removed. */
  timeout(ns: number, userData: number, flags = 0): void {
    if (!(ns >= 0 && ns < MAX_TIMEOUT_NS)) throw new RangeError(`Ring.timeout: ns must be in [0, 2^64) (about 584 years), got ${ns}`);
    this.#push(OP_TIMEOUT, -1, userData, ns, 0, flags, 0, 0);
  }

  /** Removes the TIMEOUT whose userData is `target`. */
  timeoutRemove(target: number, userData: number): void {
    checkUserData('timeoutRemove', target, 'target');
    this.#push(OP_TIMEOUT_REMOVE, -1, userData, target, 0, 0, 0, 0);
  }

  /** Cancels the op whose userData is `target` (IORING_OP_ASYNC_CANCEL). */
  cancel(target: number, userData: number, flags = 0): void {
    checkUserData('cancel', target, 'target');
    this.#push(OP_ASYNC_CANCEL, -1, userData, target, 0, flags, 0, 0);
  }

  /** Opens the NUL-terminated path at arena offset `pathOffset` (see putPath); res is the fd. */
  openat(pathOffset: number, flags: number, mode: number, userData: number, dirFd = AT_FDCWD): void {
    this.#range('openat', pathOffset, 1);
    this.#push(OP_OPENAT, dirFd, userData, 0, 0, flags, pathOffset, mode);
  }

  /** Closes `fd` (IORING_OP_CLOSE). Not to be confused with close(), which closes the ring. */
  closeFd(fd: number, userData: number): void {
    this.#push(OP_CLOSE, fd, userData, 0, 0, 0, 0, 0);
  }

  /** Reads up to `len` bytes into the arena at `bufOffset`; fileOffset -1 = the file position. */
  read(fd: number, bufOffset: number, len: number, fileOffset: number, userData: number): void {
    this.#range('read', bufOffset, len);
    this.#push(OP_READ, fd, userData, fileOffset, len, 0, bufOffset, 0);
  }

  /** Writes `len` bytes from the arena at `bufOffset`; fileOffset -1 = the file position. */
  write(fd: number, bufOffset: number, len: number, fileOffset: number, userData: number): void {
    this.#range('write', bufOffset, len);
    this.#push(OP_WRITE, fd, userData, fileOffset, len, 0, bufOffset, 0);
  }

  fsync(fd: number, userData: number, flags = 0): void {
    this.#push(OP_FSYNC, fd, userData, 0, 0, flags, 0, 0);
  }

  /** Completes when `fd` has any of the poll `mask` events; multishot: a completion per event (CQE_F_MORE). */
  pollAdd(fd: number, mask: number, userData: number, multishot = false): void {
    this.#push(OP_POLL_ADD, fd, userData, 0, multishot ? 1 : 0, mask >>> 0, 0, 0);
  }

  /**
   * A command for the ring's port servers (OP_NET_*, src/net/). The staged
   * bytes at `buf` are copied out when the command is read (the next turn()
   * or a submit), so the staging memory is free again after that.
   */
  net(op: number, target: number, buf = 0, len = 0, flags = 0): void {
    this.#push(op, target, 0, 0, len, flags, buf, 0);
  }

  /** Hands every pending command to the native side now (without reaping). */
  submit(): void {
    this.#check('submit');
    const n = this.#pending;
    if (n === 0) return;
    this.#pending = 0;
    native().ringSubmit(this.id, n);
  }

  // ---- the loop turn ----------------------------------------------------------

  /**
   * One native call: submits every pending command, waits up to `waitNs`
   * for a completion if none is ready (0: never waits), and copies every
   * available completion (up to completionCapacity) into the completion
   * array. Returns how many; `more` says whether others are waiting. The
   * previous turn's completions are overwritten.
   */
  turn(waitNs = 0): number {
    this.#check('turn');
    if (!(waitNs >= 0 && Number.isFinite(waitNs))) throw new RangeError(`Ring.turn: waitNs must be >= 0, got ${waitNs}`);
    const n = this.#pending;
    // Taken out first: a batch the native side refuses is reported, not retried for ever.
    this.#pending = 0;
    this.#count = 0;
    this.#count = native().ringTurn(this.id, n, Math.floor(waitNs));
    return this.#count;
  }

  /** Completions copied by the last turn(). */
  get count(): number {
    return this.#count;
  }

  /** More completions are waiting than the last turn() copied: turn() again without waiting. */
  get more(): boolean {
    return (this.#i32[H_MORE]! & 1) === 1;
  }

  /**
   * Commands the native side refused since the last takeRefused() (they
   * failed its checks of what it read out of shared memory: a bug, or
   * memory written behind this class's checks). Each costs that command
   * only: the rest of its batch was submitted, and one with a userData
   * completed with -EINVAL.
   */
  get refused(): boolean {
    return (this.#i32[H_MORE]! & 2) === 2;
  }

  /** Why each refused command was refused (and forgets them). */
  takeRefused(): string[] {
    return this.refused ? native().ringRefused(this.id) : [];
  }

  userDataAt(i: number): number {
    return this.#f64[this.#cplF64 + 2 * i]!;
  }

  /** The op's result: >= 0 success (bytes, fd...), < 0 a negated errno. */
  resultAt(i: number): number {
    return this.#i32[this.#cplI32 + 4 * i + 2]!;
  }

  flagsAt(i: number): number {
    return this.#u32[this.#cplI32 + 4 * i + 3]!;
  }

  /** Calls fn for each completion of the last turn(), in order. */
  forEachCompletion(fn: (userData: number, res: number, flags: number) => void): void {
    for (let i = 0; i < this.#count; i++) fn(this.userDataAt(i), this.resultAt(i), this.flagsAt(i));
  }

  /** Completions the kernel has posted and turn() would copy now; read without a syscall. */
  get ready(): number {
    this.#check('ready');
    return native().ringReady(this.id);
  }

  /**
   * The kernel holds completions that only a kernel entry posts (DEFER_TASKRUN
   * task work, CQ overflow); turn() enters for them. Without TASKRUN_FLAG
   * the ring cannot tell and this is always true.
   */
  get held(): boolean {
    this.#check('held');
    return native().ringHeld(this.id);
  }

  /**
   * Turns eventfd signalling off while the driver runs (completions would
   * only make spurious wakeups) and on before it parks; no syscall. After
   * turning it on, check `ready` / `held` once more before sleeping.
   */
  setEventfdEnabled(enabled: boolean): void {
    this.#check('setEventfdEnabled');
    native().ringEventfd(this.id, enabled);
  }

  /** Ops submitted or queued whose final completion has not been reaped. */
  get inFlight(): number {
    return this.#f64[H_IN_FLIGHT]! + this.#pending;
  }

  stats(): RingStats {
    return {
      submitted: this.#f64[H_SUBMITTED]!,
      completed: this.#f64[H_COMPLETED]!,
      enters: this.#f64[H_ENTERS]!,
      inFlight: this.#f64[H_IN_FLIGHT]!,
    };
  }

  /** False once the owner has closed the ring (as seen from the shared header). */
  get open(): boolean {
    return !this.#closed && this.#i32[H_STATE] === 1;
  }

  descriptor(): RingDescriptor {
    return {
      id: this.id,
      arenaId: this.arena.id,
      block: this.block.offset,
      commands: this.commandCapacity,
      completions: this.completionCapacity,
    };
  }

  // ---- internals --------------------------------------------------------------

  #push(op: number, fd: number, userData: number, off: number, len: number, flags: number, buf: number, mode: number): void {
    this.#check(OP_METHODS[op]!);
    if (!this.#owner) {
      throw new RingError(
        `Ring: ring ${this.id} is attached here for its stats only; queue ${OP_NAMES[op]} on the thread that created it`,
        'GATIO_RING_WRONG_THREAD',
      );
    }
    checkUserData(OP_METHODS[op]!, userData, 'userData');
    // A full command array is submitted (not turned: that would overwrite
    // completions the caller may not have read yet).
    if (this.#pending === this.commandCapacity) {
      const n = this.#pending;
      this.#pending = 0;
      native().ringSubmit(this.id, n);
    }
    const i = this.#pending++;
    const f = 8 + 8 * i; // f64 index of the record
    const w = 16 + 16 * i; // i32/u32 index of the record
    this.#u8[RING_HEADER_BYTES + COMMAND_BYTES * i] = op;
    this.#i32[w + 1] = fd;
    this.#f64[f + 1] = userData;
    this.#f64[f + 2] = off;
    this.#u32[w + 6] = len;
    this.#u32[w + 7] = flags;
    this.#f64[f + 4] = buf;
    this.#u32[w + 10] = mode;
  }

  #range(op: string, offset: number, len: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(len) || offset < 0 || len < 0 || offset + len > this.arena.bytes) {
      throw new RangeError(
        `Ring.${op}: buffer [${offset}, ${offset + len}) is not inside the ring's arena ${this.arena.id} (${this.arena.bytes} bytes); ` +
          'pass an arena offset (Block.offset), not a pointer or a JS buffer',
      );
    }
  }

  /**
   * Closes the ring; idempotent. Cancels every op in flight and waits until
   * each has completed (their completions are dropped), so the kernel never
   * writes into memory that is freed afterwards; then frees the ring's
   * block (the native ring owns it from creation: a thread that ends
   * without closing its ring has it freed by the addon's cleanup). On an
   * attached view it only lets go of the view.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#owner) {
      this.arena.close();
      return;
    }
    this.#pending = 0;
    const drained = native().ringClose(this.id); // frees the ring's block (the ring owns it from creation)
    if (!drained) {
      process.emitWarning(
        `ring ${this.id}: ops were still in flight 10 s after cancelling them; the arena stays mapped so the kernel cannot write into freed memory`,
        { code: 'GATIO_RING_LEAK' },
      );
    }
  }

  #check(op: string): void {
    if (this.#closed) throw new RingError(`Ring.${op}: ring ${this.id} is closed`, 'GATIO_RING_CLOSED');
  }
}

/** Writes `path` (UTF-8, NUL-terminated) into a new arena block, for openat. Free it after the completion. */
export function putPath(arena: Arena, path: string): Block {
  const bytes = new TextEncoder().encode(path);
  if (bytes.includes(0)) throw new RangeError(`putPath: the path contains a NUL byte: ${JSON.stringify(path)}`);
  const block = arena.alloc(bytes.length + 1);
  const view = arena.view(block);
  view.set(bytes);
  view[bytes.length] = 0;
  return block;
}

function checkUserData(op: string, v: number, name: string): void {
  if (!(Number.isInteger(v) && v >= 0 && v < MAX_USER_DATA)) {
    throw new RangeError(`Ring.${op}: ${name} must be a whole number in [0, 2^53), got ${v}`);
  }
}
