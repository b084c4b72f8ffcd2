// One thread's view of the runtime's queues: its own inbox, the inboxes it
// sends to, and the calls it is waiting on. The main thread and every JS
// driver have one.
//
// Sending never drops a message: when a destination queue is full, the
// encoded message waits in a per-destination backlog that flush() retries
// (the loop calls it every turn); wakeups are batched the same way, one
// wakeIfParked() per destination per flush.
import { Arena } from '../tpc/arena.js';
import { decode, encode, encodeInto } from './codec.js';
import type { ArenaRef, Layout } from './layout.js';
import { BIG, HEADER, Kind } from './protocol.js';
import { MessageQueue } from './queue.js';
import { installSharedResolver } from './shared-buffer.js';

export interface PendingCall {
  resolve(value: unknown): void;
  reject(err: Error): void;
  /** the endpoint that runs it: a call in flight to a driver that dies is rejected */
  endpoint: number;
  task: string;
}

/** Thrown (as a rejection) when a driver running the call dies. */
export class DriverDiedError extends Error {
  override readonly name = 'DriverDiedError'; // like TimeoutError: the stack and logs say what it is
  readonly code = 'GATIO_DRIVER_DIED';
}

const SCRATCH_BYTES = 64 * 1024;

export class Mailbox {
  readonly inbox: MessageQueue;
  readonly arenas: Arena[];
  readonly calls = new Map<number, PendingCall>();
  private readonly queues: (MessageQueue | undefined)[] = [];
  /** messages waiting for room in a full queue, per destination; `queued` is called once one is pushed */
  private readonly backlog = new Map<number, { bytes: Uint8Array; queued?: () => void }[]>();
  private readonly dirty = new Set<number>();
  private nextCall = 1;
  /** parked receivers this mailbox has woken (a syscall each) */
  woke = 0;
  // Messages are built here, then copied into a slot (or an arena block).
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);
  private readonly f64 = new Float64Array(this.scratch.buffer, 0, 3);
  private readonly u16 = new Uint16Array(this.scratch.buffer, 0, 12);
  private readonly u32 = new Uint32Array(this.scratch.buffer, 0, 6);

  constructor(
    readonly layout: Layout,
    readonly self: number,
  ) {
    this.arenas = layout.arenas.map((id) => Arena.attach(id));
    installSharedResolver(this.arenas);
    this.inbox = this.queue(self);
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

  newCallId(): number {
    return this.nextCall++;
  }

  /** SPAWN: run task `taskIndex` from `queueIndex` with `args` on `endpoint`; replies come to this mailbox. */
  sendSpawn(endpoint: number, callId: number, taskIndex: number, queueIndex: number, args: unknown[]): void {
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

  sendCancel(endpoint: number, callId: number): void {
    this.clearHeader();
    this.scratch[0] = Kind.Cancel;
    this.f64[1] = callId;
    this.u16[8] = this.self;
    this.sendBody(endpoint, undefined);
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

  /** Forgets what waits for `endpoint` (its driver died: those calls were rejected). */
  dropBacklog(endpoint: number): void {
    this.backlog.delete(endpoint);
    this.dirty.delete(endpoint);
  }

  backlogged(endpoint?: number): number {
    if (endpoint !== undefined) return this.backlog.get(endpoint)?.length ?? 0;
    let n = 0;
    for (const list of this.backlog.values()) n += list.length;
    return n;
  }

  /** Settles a call from a RESULT message; false when the call is unknown (already settled). */
  settle(callId: number, ok: boolean, value: unknown): boolean {
    const call = this.calls.get(callId);
    if (!call) return false;
    this.calls.delete(callId);
    if (ok) call.resolve(value);
    else call.reject(value instanceof Error ? value : new Error(`task "${call.task}" failed with a non-error value: ${String(value)}`));
    return true;
  }

  /** Rejects every call in flight to `endpoint` (its driver died). */
  rejectCallsTo(endpoint: number, err: (call: PendingCall) => Error): number {
    let n = 0;
    for (const [id, call] of this.calls) {
      if (call.endpoint !== endpoint) continue;
      this.calls.delete(id);
      call.reject(err(call));
      n++;
    }
    return n;
  }

  /** Decodes a message body: inline after the header, or (BIG) from an arena block that is freed here. */
  body(bytes: Uint8Array, offset: number, len: number): unknown {
    if ((bytes[offset]! & BIG) === 0) return decode(bytes, offset + HEADER, len - HEADER);
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset + HEADER, 16);
    const blockOffset = view.getFloat64(0, true);
    const blockLen = view.getUint32(8, true);
    const arena = this.arenas[view.getUint16(12, true)]!;
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
    let n = encodeInto(value, this.scratch, HEADER, what);
    let bytes: Uint8Array;
    if (n >= 0 && HEADER + n <= q.maxPayload) {
      bytes = this.scratch.subarray(0, HEADER + n);
    } else {
      // Big: encode on its own (it may not fit scratch either), then copy into an arena block.
      const body = n >= 0 ? this.scratch.subarray(HEADER, HEADER + n) : encode(value, what);
      n = body.length;
      const tpc = this.layout.endpoints[endpoint]!.tpc;
      const arena = this.arenas[tpc]!;
      const offset = arena.alloc(n).offset; // throws ArenaExhaustedError (with stats) when the arena is full
      new Uint8Array(arena.buffer, offset, n).set(body);
      this.scratch[0]! |= BIG;
      const view = new DataView(this.scratch.buffer, HEADER, 16);
      view.setFloat64(0, offset, true);
      view.setUint32(8, n, true);
      view.setUint16(12, tpc, true);
      bytes = this.scratch.subarray(0, HEADER + 16);
    }
    const pending = this.backlog.get(endpoint);
    if (!pending && q.tryPush(bytes)) {
      this.dirty.add(endpoint);
      return true;
    }
    // Full (or others already wait): keep a copy, in order, for flush().
    const entry = { bytes: bytes.slice(), queued };
    if (pending) pending.push(entry);
    else this.backlog.set(endpoint, [entry]);
    return false;
  }
}
