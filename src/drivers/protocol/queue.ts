// Bounded MPSC message queue in shared (arena) memory: any number of
// producer threads, one consumer thread. JS threads use it through Atomics
// on a SharedArrayBuffer; native threads use the same bytes through
// native/queue.h. Layout and protocol: docs/drivers.md, "Message queue".
//
// Hot paths (push, pop, drain, park checks) allocate nothing: the typed
// array views are made once per queue handle, and payloads are written and
// read in place.
import { native } from '../../native.js';

/** "GQUE" as a little-endian int32 at byte 0 of every queue. */
const QUEUE_MAGIC = 0x47515545;
/** Bytes before slot 0 (the header). */
const QUEUE_HEADER_BYTES = 256;
/** Byte offsets of the header fields (docs/drivers.md). */
const QueueField = {
  magic: 0,
  capacity: 4,
  slotBytes: 8,
  tail: 64,
  head: 128,
  state: 192,
  wakeFd: 196,
  wakeups: 200,
  full: 204,
  generation: 208,
} as const;
/** A slot whose len is this was claimed by a producer whose write threw: the consumer skips it. */
const QUEUE_TOMBSTONE = -1;

const SLOT_HEADER = 8; // seq + len
const EMPTY = -1; // #ready's answers other than a slot offset
const AHEAD = -2;
const MAX_CAPACITY = 2 ** 30; // keeps seq - pos differences within int32
const MAX_SLOT_BYTES = 2 ** 24;

export interface QueueStats {
  capacity: number;
  /** messages claimed and not yet popped (approximate while threads run) */
  size: number;
  /** eventfd writes made by producers that found the consumer parked */
  wakeups: number;
  /** pushes refused because the queue was full */
  full: number;
  /** whether the consumer has announced it is parked */
  parked: boolean;
}

/** A consumer handler: the payload is bytes[offset, offset + len), valid only during the call. */
export type QueueHandler = (bytes: Uint8Array, offset: number, len: number) => void;

export class MessageQueue {
  /** the buffer the queue lives in, and the queue's byte offset in it */
  readonly buffer: SharedArrayBuffer;
  readonly offset: number;
  readonly capacity: number;
  readonly slotBytes: number;
  /** the largest payload a slot holds: slotBytes - 8 */
  readonly maxPayload: number;
  /** Int32 and byte views over the whole buffer: offsets below are absolute. */
  readonly #i32: Int32Array;
  readonly #u8: Uint8Array;
  readonly #mask: number;
  readonly #slot0: number; // byte offset of slot 0
  readonly #tail: number; // Int32 indexes of the header fields
  readonly #head: number;
  readonly #state: number;
  readonly #wakeFd: number;
  readonly #wakeups: number;
  readonly #full: number;
  readonly #generation: number;

  private constructor(buffer: SharedArrayBuffer, offset: number, capacity: number, slotBytes: number) {
    this.buffer = buffer;
    this.offset = offset;
    this.capacity = capacity;
    this.slotBytes = slotBytes;
    this.maxPayload = slotBytes - SLOT_HEADER;
    this.#i32 = new Int32Array(buffer, 0, Math.floor(buffer.byteLength / 4));
    this.#u8 = new Uint8Array(buffer);
    this.#mask = capacity - 1;
    this.#slot0 = offset + QUEUE_HEADER_BYTES;
    const at = (field: number) => (offset + field) >> 2;
    this.#tail = at(QueueField.tail);
    this.#head = at(QueueField.head);
    this.#state = at(QueueField.state);
    this.#wakeFd = at(QueueField.wakeFd);
    this.#wakeups = at(QueueField.wakeups);
    this.#full = at(QueueField.full);
    this.#generation = at(QueueField.generation);
  }

  /** Bytes a queue of `capacity` slots of `slotBytes` bytes occupies (header included). */
  static bytesFor(capacity: number, slotBytes: number): number {
    checkGeometry('MessageQueue.bytesFor', capacity, slotBytes);
    return QUEUE_HEADER_BYTES + capacity * slotBytes;
  }

  /**
   * Formats a new, empty queue at `offset` (64-byte aligned) of `buffer`.
   * Nobody may use the memory as a queue while this runs. `start` is the
   * initial position of the int32 counters (tests use it to start near
   * 2^31 and cross the wrap-around).
   */
  static init(
    buffer: SharedArrayBuffer,
    offset: number,
    capacity: number,
    slotBytes: number,
    wakeFd = -1,
    start = 0,
  ): MessageQueue {
    const fn = 'MessageQueue.init';
    checkGeometry(fn, capacity, slotBytes);
    checkPlace(fn, buffer, offset, QUEUE_HEADER_BYTES + capacity * slotBytes);
    if (!Number.isInteger(wakeFd) || wakeFd < -1 || wakeFd > 0x7fffffff) {
      throw new RangeError(`${fn}: wakeFd must be a file descriptor or -1, got ${wakeFd}`);
    }
    if (!Number.isInteger(start) || start < -(2 ** 31) || start >= 2 ** 32) {
      throw new RangeError(`${fn}: start must be an int32 (or uint32) position, got ${start}`);
    }
    const i32 = new Int32Array(buffer, offset, (QUEUE_HEADER_BYTES + capacity * slotBytes) >> 2);
    i32.fill(0, 0, QUEUE_HEADER_BYTES >> 2);
    const f = (field: number) => field >> 2;
    i32[f(QueueField.capacity)] = capacity;
    i32[f(QueueField.slotBytes)] = slotBytes;
    i32[f(QueueField.tail)] = start | 0;
    i32[f(QueueField.head)] = start | 0;
    i32[f(QueueField.wakeFd)] = wakeFd;
    // Position p lives in slot p & mask, which waits for a producer at seq == p.
    const mask = capacity - 1;
    const words = slotBytes >> 2;
    for (let i = 0; i < capacity; i++) {
      const p = (start + i) | 0;
      const s = (QUEUE_HEADER_BYTES >> 2) + (p & mask) * words;
      i32[s] = p;
      i32[s + 1] = 0;
    }
    // Magic last: a queue with its magic is fully formatted.
    Atomics.store(i32, 0, QUEUE_MAGIC);
    return new MessageQueue(buffer, offset, capacity, slotBytes);
  }

  /** A queue formatted earlier (by any thread) at `offset` of `buffer`. */
  static attach(buffer: SharedArrayBuffer, offset: number): MessageQueue {
    const fn = 'MessageQueue.attach';
    checkPlace(fn, buffer, offset, QUEUE_HEADER_BYTES);
    const i32 = new Int32Array(buffer, offset, QUEUE_HEADER_BYTES >> 2);
    const magic = Atomics.load(i32, 0);
    if (magic !== QUEUE_MAGIC) {
      throw new Error(
        `${fn}: no message queue at offset ${offset} (magic 0x${(magic >>> 0).toString(16).padStart(8, '0')}, ` +
          `expected 0x${QUEUE_MAGIC.toString(16)} "GQUE"); was MessageQueue.init called there?`,
      );
    }
    const capacity = i32[QueueField.capacity >> 2]!;
    const slotBytes = i32[QueueField.slotBytes >> 2]!;
    try {
      checkGeometry(fn, capacity, slotBytes);
      checkPlace(fn, buffer, offset, QUEUE_HEADER_BYTES + capacity * slotBytes);
    } catch (err) {
      throw new Error(`${fn}: the queue header at offset ${offset} is corrupt: ${(err as Error).message}`);
    }
    return new MessageQueue(buffer, offset, capacity, slotBytes);
  }

  /**
   * The consumer's generation: 0 when formatted, one more each time its
   * consumer dies and a new one takes over (bumpGeneration). Senders stamp
   * it in the messages they build (protocol/messages.ts) and the consumer
   * drops those stamped for a predecessor: a queue that other threads can
   * reach is never re-formatted.
   */
  get generation(): number {
    return Atomics.load(this.#i32, this.#generation);
  }

  /** The consumer died (main thread only, before starting the next): returns the new generation. */
  bumpGeneration(): number {
    return Atomics.add(this.#i32, this.#generation, 1) + 1;
  }

  // ---- producer side (any thread) ----

  /** Copies `payload` into a free slot; false when the queue is full. */
  tryPush(payload: Uint8Array): boolean {
    // Checked before claiming: a claimed slot must always be published.
    if (!(payload instanceof Uint8Array)) throw new TypeError('MessageQueue.tryPush: payload must be a Uint8Array (or Buffer)');
    const len = payload.length;
    if (len > this.maxPayload) this.#tooLong('tryPush', len);
    const s = this.#claim();
    if (s < 0) return false;
    const i32 = this.#i32;
    const at = s >> 2;
    i32[at + 1] = len;
    this.#u8.set(payload, s + SLOT_HEADER);
    Atomics.store(i32, at, (i32[at]! + 1) | 0); // publish: seq = pos + 1
    return true;
  }

  /**
   * Claims a slot and lets `write` fill bytes[offset, offset + len) in
   * place; false (without calling write) when the queue is full. If write
   * throws, the slot is published as a tombstone the consumer skips, and
   * the error is rethrown.
   */
  tryPushWith(len: number, write: (bytes: Uint8Array, offset: number) => void): boolean {
    if (!Number.isInteger(len) || len < 0) throw new RangeError(`MessageQueue.tryPushWith: len must be a whole number >= 0, got ${len}`);
    if (len > this.maxPayload) this.#tooLong('tryPushWith', len);
    const s = this.#claim();
    if (s < 0) return false;
    const i32 = this.#i32;
    const at = s >> 2;
    try {
      write(this.#u8, s + SLOT_HEADER);
      i32[at + 1] = len;
    } catch (err) {
      i32[at + 1] = QUEUE_TOMBSTONE;
      throw err;
    } finally {
      Atomics.store(i32, at, (i32[at]! + 1) | 0);
    }
    return true;
  }

  /**
   * Call after pushing (once per batch): if the consumer is parked, the one
   * producer that wins the CAS on `state` writes its eventfd. Returns
   * whether this call woke it.
   */
  wakeIfParked(): boolean {
    const i32 = this.#i32;
    if (Atomics.load(i32, this.#state) !== 1) return false;
    if (Atomics.compareExchange(i32, this.#state, 1, 0) !== 1) return false;
    Atomics.add(i32, this.#wakeups, 1);
    const fd = Atomics.load(i32, this.#wakeFd);
    if (fd >= 0) native().eventfdWrite(fd);
    return true;
  }

  // ---- consumer side (one thread at a time) ----

  /** Pops one message as a fresh copy (the slot is reused at once); null when empty. */
  tryPop(): Uint8Array | null {
    const i32 = this.#i32;
    let pos = Atomics.load(i32, this.#head);
    for (;;) {
      const s = this.#ready(pos);
      if (s < 0) return s === EMPTY ? null : this.#ahead(pos);
      const at = s >> 2;
      const len = i32[at + 1]!;
      const out = len >= 0 ? this.#u8.slice(s + SLOT_HEADER, s + SLOT_HEADER + len) : null;
      Atomics.store(i32, at, (pos + this.capacity) | 0); // hand the slot back to producers
      pos = (pos + 1) | 0;
      Atomics.store(i32, this.#head, pos);
      if (out) return out;
    }
  }

  /**
   * Zero-copy pop of up to `max` messages: `handler(bytes, offset, len)`
   * sees the payload in place, in the shared buffer; it must copy what it
   * keeps, since the slot is handed back to producers when it returns.
   * A message whose handler throws counts as consumed (then the error
   * propagates). Returns the number of messages handled.
   */
  drain(handler: QueueHandler, max = Infinity): number {
    const i32 = this.#i32;
    const u8 = this.#u8;
    const cap = this.capacity;
    let pos = Atomics.load(i32, this.#head);
    let n = 0;
    let at = -1; // the slot being handled, until released
    try {
      while (n < max) {
        const s = this.#ready(pos);
        if (s === EMPTY) break;
        if (s === AHEAD) this.#ahead(pos);
        at = s >> 2;
        const len = i32[at + 1]!;
        if (len >= 0) {
          handler(u8, s + SLOT_HEADER, len);
          n++;
        }
        Atomics.store(i32, at, (pos + cap) | 0);
        at = -1;
        pos = (pos + 1) | 0;
      }
    } finally {
      if (at >= 0) {
        Atomics.store(i32, at, (pos + cap) | 0);
        pos = (pos + 1) | 0;
      }
      Atomics.store(i32, this.#head, pos);
    }
    return n;
  }

  /** Exact on the consumer's thread (a claimed but unpublished message counts as not there yet); approximate elsewhere. */
  isEmpty(): boolean {
    return this.#ready(Atomics.load(this.#i32, this.#head)) === EMPTY;
  }

  /** Messages claimed and not yet popped; approximate while other threads run. */
  size(): number {
    const d = (Atomics.load(this.#i32, this.#tail) - Atomics.load(this.#i32, this.#head)) | 0;
    return d < 0 ? 0 : d > this.capacity ? this.capacity : d;
  }

  /**
   * Announces that the consumer is about to sleep on wakeFd, then re-checks
   * the queue. True: it is still empty and producers will wake the consumer
   * (sleep now). False: a message arrived meanwhile; state is back to
   * running (do not sleep).
   */
  prepareToPark(): boolean {
    const i32 = this.#i32;
    Atomics.store(i32, this.#state, 1);
    if (this.isEmpty()) return true;
    Atomics.store(i32, this.#state, 0);
    return false;
  }

  /** Call after waking (after draining the eventfd). */
  unparked(): void {
    Atomics.store(this.#i32, this.#state, 0);
  }

  /** The eventfd producers write to wake a parked consumer (-1: none). */
  get wakeFd(): number {
    return Atomics.load(this.#i32, this.#wakeFd);
  }

  /** Sets the consumer's eventfd; set it before the consumer first parks. */
  setWakeFd(fd: number): void {
    if (!Number.isInteger(fd) || fd < -1 || fd > 0x7fffffff) {
      throw new RangeError(`MessageQueue.setWakeFd: expected a file descriptor or -1, got ${fd}`);
    }
    Atomics.store(this.#i32, this.#wakeFd, fd);
  }

  stats(): QueueStats {
    const i32 = this.#i32;
    return {
      capacity: this.capacity,
      size: this.size(),
      wakeups: Atomics.load(i32, this.#wakeups) >>> 0,
      full: Atomics.load(i32, this.#full) >>> 0,
      parked: Atomics.load(i32, this.#state) === 1,
    };
  }

  /** Claims the next position for a producer: its slot's byte offset, or -1 when full. */
  #claim(): number {
    const i32 = this.#i32;
    const tail = this.#tail;
    let pos = Atomics.load(i32, tail);
    for (;;) {
      const s = this.#slot0 + (pos & this.#mask) * this.slotBytes;
      const d = (Atomics.load(i32, s >> 2) - pos) | 0;
      if (d === 0) {
        const seen = Atomics.compareExchange(i32, tail, pos, (pos + 1) | 0);
        if (seen === pos) return s;
        pos = seen;
      } else if (d < 0) {
        Atomics.add(i32, this.#full, 1);
        return -1;
      } else {
        pos = Atomics.load(i32, tail);
      }
    }
  }

  /**
   * The byte offset of the slot at head position `pos` if it holds a
   * published message; EMPTY if not yet; AHEAD if the slot already moved
   * past `pos` (on the consumer's thread that means a second consumer; on
   * another thread, only that head moved meanwhile).
   */
  #ready(pos: number): number {
    const s = this.#slot0 + (pos & this.#mask) * this.slotBytes;
    const d = (Atomics.load(this.#i32, s >> 2) - ((pos + 1) | 0)) | 0;
    return d === 0 ? s : d < 0 ? EMPTY : AHEAD;
  }

  #ahead(pos: number): never {
    throw new Error(
      `MessageQueue at offset ${this.offset}: slot ${pos & this.#mask} is ahead of head ${pos} ` +
        `(more than one consumer at a time?)`,
    );
  }

  #tooLong(fn: string, len: number): never {
    throw new RangeError(
      `MessageQueue.${fn}: a payload of ${len} bytes does not fit the queue at offset ${this.offset} ` +
        `(maxPayload ${this.maxPayload}); send larger messages through an arena block and queue its offset`,
    );
  }
}

function checkGeometry(fn: string, capacity: number, slotBytes: number): void {
  if (!Number.isInteger(capacity) || capacity < 2 || capacity > MAX_CAPACITY || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`${fn}: capacity must be a power of two from 2 to 2^30, got ${capacity}`);
  }
  if (!Number.isInteger(slotBytes) || slotBytes < 16 || slotBytes > MAX_SLOT_BYTES || slotBytes % 8 !== 0) {
    throw new RangeError(`${fn}: slotBytes must be a multiple of 8 from 16 to 16 MiB, got ${slotBytes}`);
  }
}

function checkPlace(fn: string, buffer: SharedArrayBuffer, offset: number, bytes: number): void {
  if (!(buffer instanceof SharedArrayBuffer)) {
    throw new TypeError(`${fn}: expected a SharedArrayBuffer (e.g. arena.buffer), got ${Object.prototype.toString.call(buffer)}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset % 64 !== 0) {
    throw new RangeError(`${fn}: offset must be a multiple of 64 bytes, got ${offset}`);
  }
  if (offset + bytes > buffer.byteLength) {
    throw new RangeError(
      `${fn}: a queue of ${bytes} bytes at offset ${offset} does not fit in a buffer of ${buffer.byteLength} bytes`,
    );
  }
}
