// The port servers of one hybrid driver (driver thread): listens on the
// driver's own ring (native/net_engine.h does the sockets), and after each
// ring turn dispatches the events of the turn to the handlers, in a batch.
//
// Per turn and per connection, no native call: writes are staged in the
// ring's net block and become OP_NET_SEND commands (one send per
// connection per turn, the cork); the buffers lent with this batch's data
// events go back with one OP_NET_RELEASE once every handler of the batch
// has returned.
import { native, type RawListenResult, type RawPeer } from '../native.js';
import type { PortServerStats } from '../drivers/protocol/messages.js';
import type { Arena, Block } from '../tpc/arena.js';
import { transportOf, type ListenOptions, type Protocol } from '../tpc/ports.js';
import { NET_EVENT_BYTES, NET_HEADER_BYTES, SLOT_MASK, sendFlags, bufferBlockBytes, netBlockBytes, stagingAt } from '../drivers/protocol/net.js';
import { OP_NET_RELEASE, OP_NET_SEND, OP_NET_SENDTO, type Ring } from '../drivers/protocol/ring.js';
import { findHandler, handlerNames, type Handler } from './handlers.js';
import type { TcpConnection } from './tcp.js';
import { UdpSocket } from './udp.js';
import { effectiveConfig, fingerprint, type EffectiveConfig } from './fingerprint.js';
import { PortSide, type HandlerErrorSink, type ServerEntry } from './port-side.js';

export type { HandlerErrorSink } from './port-side.js';

/** What the main thread asks a driver to listen on (one port and protocol). */
export interface ListenRequest {
  key: string;
  protocol: Protocol;
  host: string;
  port: number;
  handler: string;
  options: ListenOptions;
  /** steering 'cpu': the CPUs of the group's sockets in join order, this one last; [] otherwise */
  steer: number[];
}

/** A driver's answer to a ListenRequest: what it got, and the fingerprint of that. */
export interface ListenReply {
  server: number;
  effective: EffectiveConfig;
  fingerprint: string;
}

/** The handler registered under `name` for a port of `protocol`, or an error saying what is defined. */
export function handlerFor(name: string, protocol: Protocol, key: string): Handler {
  const h = findHandler(name);
  if (!h) {
    const names = handlerNames();
    throw new Error(`no port handler named "${name}" is defined by the task modules (${names.length ? `defined: ${names.join(', ')}` : 'none is'}; defineTcpHandler / defineUdpHandler)`);
  }
  if (h.protocol !== protocol) throw new Error(`handler "${name}" is a ${h.protocol} handler, and ${key} is a ${protocol} port`);
  return h;
}

const EVENTS = 4096;
const NO_BYTES = new Uint8Array(0);
const SLOTS = 65536;
const STAGING = 256 * 1024;

export class NetReactor extends PortSide {
  readonly #ring: Ring;
  readonly #dv: DataView;
  /** the arena as a Buffer: utf8Write encodes strings in place */
  readonly #bytes: Buffer;
  readonly #hdr: Uint32Array;
  readonly #queued: Uint32Array;
  readonly #evBase: number;
  readonly #staging: Block;
  #stageOff = 0;

  /**
   * `poke`: makes the driver's loop turn (a parked driver wakes). Called
   * when a connection is used outside the batch (a timer, a task), since a
   * command only leaves with a turn.
   */
  constructor(ring: Ring, arena: Arena, report: HandlerErrorSink, poke: () => void) {
    super(arena, report, poke);
    this.#ring = ring;
    const block = arena.alloc(netBlockBytes(EVENTS, SLOTS, STAGING), 64);
    try {
      native().netAttach(ring.id, { block: block.offset, events: EVENTS, slots: SLOTS, staging: STAGING }); // the ring owns the block from here
    } catch (err) {
      arena.free(block);
      throw err;
    }
    this.#staging = { offset: block.offset + stagingAt(EVENTS, SLOTS), size: STAGING };
    this.#dv = new DataView(arena.buffer);
    this.#bytes = Buffer.from(arena.buffer);
    this.#hdr = new Uint32Array(arena.buffer, block.offset, 2);
    this.#evBase = block.offset + NET_HEADER_BYTES;
    this.#queued = new Uint32Array(arena.buffer, block.offset + NET_HEADER_BYTES + EVENTS * NET_EVENT_BYTES, SLOTS);
  }

  // ---- setup (control messages from the main thread) ---------------------------

  /** Opens the socket and its buffer ring; nothing is accepted before start(). */
  listen(req: ListenRequest): ListenReply {
    const h = handlerFor(req.handler, req.protocol, req.key);
    const o = req.options;
    const block = this.arena.alloc(bufferBlockBytes(o.bufCount, o.bufSize), 4096);
    let r: RawListenResult;
    try {
      r = native().netListen(this.#ring.id, {
        protocol: transportOf(req.protocol),
        host: req.host,
        port: req.port,
        backlog: o.backlog,
        reusePort: true,
        noDelay: o.noDelay,
        rcvBuf: o.rcvBuf,
        forceRcvBuf: o.forceRcvBuf,
        sndBuf: o.sndBuf,
        bufBlock: block.offset,
        bufCount: o.bufCount,
        bufSize: o.bufSize,
        maxConnections: o.maxConnections,
        highWater: o.highWater,
        maxQueued: o.maxQueued,
        steer: req.steer,
      });
    } catch (err) {
      this.arena.free(block);
      throw err;
    }
    const key = `${req.protocol}:${r.port}`;
    const s = this.entry(-1, r.server, key, r.port, h, o, block.offset + o.bufCount * 16, o.bufSize, h.protocol === 'udp' ? new UdpSocket(this, r.server, r.port) : undefined);
    this.servers.set(PortSide.serverKey(-1, r.server), s);
    const effective = effectiveConfig(req, h.shape, r);
    return { server: r.server, effective, fingerprint: fingerprint(effective) };
  }

  start(server: number): void {
    native().netStart(this.#ring.id, server);
  }

  /** Stops accepting; `closeConnections` closes the server's connections too. */
  stop(server: number, closeConnections: boolean): void {
    const s = this.servers.get(PortSide.serverKey(-1, server));
    if (!s || s.stopped) return;
    s.stopped = true;
    // Draining (shutdown), its connections live on a while: its timeouts must go on running for
    // them (a stalled body or a silent client held shutdown to its deadline). Closed with it: done.
    if (closeConnections) s.http?.stop();
    native().netStop(this.#ring.id, server, closeConnections);
  }

  /** Shutdown: stop accepting everywhere; end every connection (what it queued is sent first). */
  drain(): void {
    for (const s of this.servers.values()) if (!s.stopped) this.stop(s.index, false);
    this.endAll();
  }

  stats(): PortServerStats[] {
    const out = [];
    for (const s of this.servers.values()) {
      const st = native().netStats(this.#ring.id, s.index);
      if (st) out.push({ port: s.key, ...st, ...this.counters(s) });
    }
    return out;
  }

  // ---- the batch: after each ring turn ------------------------------------------

  dispatch(): void {
    this.#stageOff = 0;
    this.epoch++;
    const hdr = this.#hdr;
    const dv = this.#dv;
    const u8 = this.u8;
    let lent = false;
    let i = 0;
    this.dispatching = true;
    // hdr[0] is re-read: a submit made by a handler can add events to this batch.
    for (; i < hdr[0]!; i++) {
      const at = this.#evBase + i * NET_EVENT_BYTES;
      const s = this.servers.get(PortSide.serverKey(-1, u8[at + 1]!));
      if (!s) continue;
      if (this.onEvent(s, u8[at]!, dv.getUint32(at + 4, true), dv.getUint16(at + 2, true), dv.getUint32(at + 8, true), dv.getInt32(at + 12, true))) lent = true;
    }
    this.dispatching = false;
    hdr[1] = i;
    if (lent) this.#ring.net(OP_NET_RELEASE, 0);
  }

  // ---- the primitives -------------------------------------------------------------

  protected command(c: TcpConnection, op: number): void {
    this.#ring.net(op, c.id);
  }

  protected stageSend(c: TcpConnection, data: Uint8Array, wantDrain: boolean): void {
    this.#stage(OP_NET_SEND, c.id, data, undefined, sendFlags(c, wantDrain), c);
  }

  /** Encodes the string straight into the staging area (no intermediate bytes). */
  protected override stageText(c: TcpConnection, text: string, wantDrain: boolean): void {
    if (text.length * 3 > STAGING) return super.stageText(c, text, wantDrain);
    this.#inPlace(c, NO_BYTES, text, undefined, wantDrain, text.length * 3);
  }

  /** The three pieces copied and encoded back to back into the staging area: one command. */
  protected override stageParts(c: TcpConnection, prefix: Uint8Array, text: string, body: Uint8Array | string | undefined, wantDrain: boolean): void {
    const max = prefix.length + text.length * 3 + (body === undefined ? 0 : typeof body === 'string' ? body.length * 3 : body.length);
    if (max > STAGING) return super.stageParts(c, prefix, text, body, wantDrain);
    this.#inPlace(c, prefix, text, body, wantDrain, max);
  }

  /** Stages bytes, a string and a body (at most `max` bytes in all, <= STAGING) contiguously, as one OP_NET_SEND. */
  #inPlace(c: TcpConnection, prefix: Uint8Array, text: string, body: Uint8Array | string | undefined, wantDrain: boolean, max: number): void {
    if (this.#stageOff + max > STAGING) this.#flushStaging();
    const at = this.#staging.offset + this.#stageOff;
    this.u8.set(prefix, at);
    let n = prefix.length;
    if (text !== '') n += this.#bytes.utf8Write(text, at + n, max - n);
    if (body !== undefined) {
      if (typeof body === 'string') n += this.#bytes.utf8Write(body, at + n, max - n);
      else this.u8.set(body, at + n), (n += body.length);
    }
    this.#ring.net(OP_NET_SEND, c.id, at, n, sendFlags(c, wantDrain));
    this.#stageOff += (n + 7) & ~7;
    this.countStaged(c, n);
  }

  protected stageSendTo(s: ServerEntry, data: Uint8Array, address: Uint8Array): void {
    this.#stage(OP_NET_SENDTO, s.index, data, address, 0, undefined);
  }

  protected engineQueued(c: TcpConnection): number {
    return this.#queued[c.id & SLOT_MASK]!;
  }

  peer(c: TcpConnection): RawPeer | null {
    return native().netPeer(this.#ring.id, c.id);
  }

  /** Copies bytes into the staging area (chunks of at most its size) and queues the command(s). */
  #stage(op: number, target: number, data: Uint8Array, header: Uint8Array | undefined, flags: number, c: TcpConnection | undefined): void {
    const u8 = this.u8;
    const base = this.#staging.offset;
    const head = header ? header.length : 0;
    let off = 0;
    do {
      const chunk = Math.min(data.length - off, STAGING - head);
      if (this.#stageOff + head + chunk > STAGING) this.#flushStaging();
      const at = base + this.#stageOff;
      if (header) u8.set(header, at);
      u8.set(chunk === data.length ? data : data.subarray(off, off + chunk), at + head);
      const last = off + chunk >= data.length;
      this.#ring.net(op, target, at, head + chunk, last ? flags : 0);
      this.#stageOff += (head + chunk + 7) & ~7;
      off += chunk;
      if (c) this.countStaged(c, chunk);
    } while (off < data.length);
  }

  /** The staging area is full: hand the commands that point into it to the engine (it copies the bytes out). */
  #flushStaging(): void {
    this.#ring.submit();
    this.#stageOff = 0;
    this.epoch++;
  }
}
