// A TPC arena: one native allocation bound to a NUMA node, shared by every
// thread of the process, sub-allocated by a thread-safe buddy allocator that
// lives in C++ (native/arena.cc, native/buddy.cc; design in docs/memory.md).
//
// Blocks are byte offsets into `buffer`, not copies: any thread that
// attaches the arena by id sees the same bytes at the same offsets.
import { native, type RawArenaStats, type RawPlacement } from '../native.js';
import { formatSize, parseSize } from './size.js';

export interface ArenaOptions {
  /** NUMA node (OS index) whose memory backs the arena */
  node: number;
  /** size: bytes or a string like "256MiB"; rounded up to pages (to 2 MiB from 2 MiB up) */
  bytes: number | string;
  /** fault every page in now, on the node, instead of on first touch */
  prefault?: boolean;
  /** smallest block, a power of two; default 256 */
  minBlock?: number;
}

/** A block of the arena; `size` is the rounded (power-of-two) block size. */
export interface Block {
  offset: number;
  size: number;
}

export type ArenaStats = RawArenaStats;
export type ArenaPlacement = RawPlacement;

/** No free block is large enough. Nothing already allocated is affected. */
export class ArenaExhaustedError extends Error {
  readonly code = 'GATIO_ARENA_EXHAUSTED';
  constructor(
    /** the size that was asked for */
    readonly requested: number,
    /** the arena's stats right after the failure */
    readonly stats: ArenaStats,
  ) {
    super(
      `arena on node ${stats.node}: no free block for ${formatSize(requested)} ` +
        `(${formatSize(stats.inUse)} of ${formatSize(stats.bytes)} in use, largest free block ${formatSize(stats.largestFree)})`,
    );
    this.name = 'ArenaExhaustedError';
  }
}

const MAX_ALIGN = 2 * 1024 * 1024;

export class Arena {
  readonly id: number;
  readonly node: number;
  readonly bytes: number;
  /** the whole arena: shared memory, no copy. Stays mapped while referenced, even after close() (whose pages then read as zeros). */
  readonly buffer: SharedArrayBuffer;
  readonly #minBlock: number;
  /** the creator releases the arena on close; attached handles only let go of their buffer */
  readonly #owner: boolean;
  #closed = false;

  private constructor(id: number, owner: boolean) {
    const n = native();
    const s = n.arenaStats(id);
    this.id = id;
    this.node = s.node;
    this.bytes = s.bytes;
    this.#minBlock = s.minBlock;
    this.#owner = owner;
    this.buffer = n.arenaBuffer(id);
  }

  /** Maps and binds a new arena; this handle owns it (close() releases it). */
  static create(opts: ArenaOptions): Arena {
    if (opts === null || typeof opts !== 'object') throw new TypeError('Arena.create: expected options { node, bytes }');
    if (!Number.isInteger(opts.node) || opts.node < 0) {
      throw new RangeError(`Arena.create: node must be a NUMA node number (>= 0), got ${String(opts.node)}`);
    }
    let bytes: number;
    try {
      bytes = parseSize(opts.bytes);
    } catch (err) {
      throw new RangeError(`Arena.create: bytes: ${(err as Error).message}`);
    }
    if (bytes === 0) throw new RangeError('Arena.create: bytes must be > 0');
    const minBlock = opts.minBlock ?? 0;
    if (minBlock !== 0 && !isPow2(minBlock)) {
      throw new RangeError(`Arena.create: minBlock must be a power of two, got ${minBlock}`);
    }
    const n = native();
    const id = n.arenaCreate(bytes, opts.node, opts.prefault === true, minBlock);
    try {
      return new Arena(id, true);
    } catch (err) {
      n.arenaRelease(id);
      throw err;
    }
  }

  /** The same arena, from another thread (pass `arena.id` in workerData). */
  static attach(id: number): Arena {
    return new Arena(id, false);
  }

  /** A block of at least `size` bytes, aligned to `align` (a power of two up to 2 MiB) and to its own size. */
  alloc(size: number, align = 0): Block {
    this.#check('alloc');
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`Arena.alloc: size must be a whole number > 0, got ${size}`);
    if (align !== 0 && (!isPow2(align) || align > MAX_ALIGN)) {
      throw new RangeError(`Arena.alloc: align must be a power of two up to 2 MiB, got ${align}`);
    }
    const n = native();
    const offset = n.arenaAlloc(this.id, size, align);
    if (offset < 0) throw new ArenaExhaustedError(size, n.arenaStats(this.id));
    // Mirrors BuddyAllocator::Allocate's rounding.
    let block = this.#minBlock;
    while (block < size || block < align) block *= 2;
    return { offset, size: block };
  }

  /** Returns a block; throws (code GATIO_ARENA_BAD_FREE) if it is not a live block. */
  free(block: Block | number): void {
    this.#check('free');
    const offset = typeof block === 'number' ? block : block?.offset;
    native().arenaFree(this.id, offset as number);
  }

  /**
   * The allocation serial of the live block at `offset` (every allocation
   * gets a new one; 0: no live block starts there). With freeIf, a handle
   * that several threads share frees its block once, and never a block
   * that was freed and handed out again.
   */
  serialOf(offset: number): number {
    this.#check('serialOf');
    return native().arenaSerial(this.id, offset);
  }

  /** Frees the block at `offset` only if it is still allocation `serial`; false (nothing freed) otherwise. */
  freeIf(offset: number, serial: number): boolean {
    this.#check('freeIf');
    return native().arenaFreeIf(this.id, offset, serial);
  }

  /** The block's bytes, as a view over the shared buffer. */
  view(block: Block): Uint8Array {
    this.#check('view');
    if (!block || !Number.isInteger(block.offset) || !Number.isInteger(block.size) || block.offset < 0 || block.offset + block.size > this.bytes) {
      throw new RangeError(`Arena.view: ${JSON.stringify(block)} is not a block inside this arena of ${this.bytes} bytes`);
    }
    return new Uint8Array(this.buffer, block.offset, block.size);
  }

  stats(): ArenaStats {
    this.#check('stats');
    return native().arenaStats(this.id);
  }

  /** Where the arena's pages live right now (move_pages). */
  placement(): ArenaPlacement {
    this.#check('placement');
    return native().arenaPlacement(this.id);
  }

  /**
   * Releases this handle; idempotent. The owner's close releases the arena:
   * its id stops working in every thread and its pages go back to the
   * system; the mapping stays until every thread's buffer over it is gone
   * (reading zeros where nothing was written since).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owner) native().arenaRelease(this.id);
  }

  #check(op: string): void {
    if (this.#closed) throw new Error(`Arena.${op}: arena ${this.id} is closed`);
  }
}

function isPow2(x: number): boolean {
  return Number.isSafeInteger(x) && x > 0 && Number.isInteger(Math.log2(x));
}
