// Large binary data between threads without copying: a SharedBuffer is a
// block of a TPC arena. Passed in spawn() arguments, results or channel
// messages it travels as (TPC, offset, length), and the receiver gets a
// SharedBuffer over the same memory.
//
// Ownership: one block, many views. Whoever is done with it last calls
// release() (any thread may); until then nobody may free it, and after it
// no view may be used. The usual pattern: the producer allocates and fills,
// passes it on, and the consumer releases it. A reference carries the
// block's allocation serial: a second release, from any thread, is an
// error, and never frees a block that was handed out again since.
import type { Arena } from '../../tpc/arena.js';
import { SHARED_REF } from '../protocol/codec.js';
import { threadSlot } from '../slot.js';

export class SharedBuffer {
  /** the bytes, a view over arena memory (no copy) */
  readonly bytes: Uint8Array;

  /** @internal serial: the block's allocation serial (Arena.serialOf) */
  constructor(
    private readonly arena: Arena,
    readonly tpc: number,
    readonly offset: number,
    readonly length: number,
    private readonly serial: number,
  ) {
    this.bytes = new Uint8Array(arena.buffer, offset, length);
  }

  /** Frees the arena block. Once, by the last user: a second release (from any thread) throws. */
  release(): void {
    if (!this.arena.freeIf(this.offset, this.serial)) {
      throw new Error(
        `SharedBuffer.release: the block (TPC ${this.tpc}, arena offset ${this.offset}, ${this.length} bytes) was already released ` +
          '(by this or another holder; its memory may already be someone else\'s): release a shared buffer once, when its last user is done',
      );
    }
  }

  [SHARED_REF](): { tpc: number; offset: number; length: number; serial: number } {
    return { tpc: this.tpc, offset: this.offset, length: this.length, serial: this.serial };
  }
}

/** Lets the codec on this thread turn references into SharedBuffers over `arenas` (by TPC). */
export function installSharedResolver(arenas: Arena[]): void {
  threadSlot().sharedResolver = (r: { tpc: number; offset: number; length: number; serial: number }) => {
    const arena = arenas[r.tpc];
    if (!arena) throw new Error(`a shared buffer names TPC ${r.tpc}, which this runtime does not have`);
    return new SharedBuffer(arena, r.tpc, r.offset, r.length, r.serial);
  };
}

/** A block of `size` bytes in a TPC arena. */
export function allocShared(arenas: Arena[], tpc: number, size: number): SharedBuffer {
  const arena = arenas[tpc];
  if (!arena) throw new RangeError(`sharedBuffer: there is no TPC ${tpc} (TPCs 0-${arenas.length - 1})`);
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`sharedBuffer: size must be a whole number of bytes > 0, got ${size}`);
  const block = arena.alloc(size);
  return new SharedBuffer(arena, tpc, block.offset, size, arena.serialOf(block.offset));
}

/**
 * Releases every SharedBuffer inside `value` (arrays, plain objects, Maps,
 * Sets, a few levels deep): for a message nobody will receive (meant for a
 * driver that died, the result of a call already given up, the arguments
 * of a task cancelled before it started), whose buffers would otherwise
 * stay allocated for good. One already released is left alone.
 */
export function releaseShared(value: unknown, depth = 0): number {
  if (value === null || typeof value !== 'object' || depth > 8) return 0;
  if (value instanceof SharedBuffer) {
    try {
      value.release();
      return 1;
    } catch {
      return 0; // released already: by the sender, or a second copy of the reference
    }
  }
  let n = 0;
  if (Array.isArray(value)) for (const v of value) n += releaseShared(v, depth + 1);
  else if (value instanceof Map) for (const [k, v] of value) n += releaseShared(k, depth + 1) + releaseShared(v, depth + 1);
  else if (value instanceof Set) for (const v of value) n += releaseShared(v, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype || value instanceof Error) for (const v of Object.values(value)) n += releaseShared(v, depth + 1);
  return n;
}
