// The port servers of one hybrid driver (driver thread): listens on the
// driver's own ring (native/net_engine.h does the sockets), and after each
// ring turn dispatches the events of the turn to the handlers, in a batch.
//
// Per turn and per connection, no native call: writes are staged in an
// arena block and become OP_NET_SEND commands (one send per connection per
// turn, the cork); the buffers lent with this batch's data events go back
// with one OP_NET_RELEASE once every handler of the batch has returned.
import { native, type RawListenResult, type RawNetStats, type RawPeer } from '../native.js';
import type { Arena, Block } from '../tpc/arena.js';
import type { ListenOptions, Protocol } from '../tpc/ports.js';
import {
  NET_EVENT_BYTES,
  NET_HEADER_BYTES,
  NetEv,
  RECVMSG_NAME_AT,
  SEND_WANT_DRAIN,
  SENDTO_HEADER,
  SLOT_MASK,
  bufferBlockBytes,
  netBlockBytes,
  stagingAt,
} from '../drivers/protocol/net.js';
import { OP_NET_CLOSE, OP_NET_END, OP_NET_PAUSE, OP_NET_RELEASE, OP_NET_RESUME, OP_NET_SEND, OP_NET_SENDTO, type Ring } from '../drivers/protocol/ring.js';
import { findHandler, handlerNames, type Handler, type TcpHandlers, type UdpHandlers } from './handlers.js';
import { TcpConnection, type ConnectionOps } from './tcp.js';
import { UdpPeer, UdpSocket, type DatagramOps } from './udp.js';
import { fingerprint, type EffectiveConfig } from './fingerprint.js';
import { errnoError } from './errors.js';

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

/** Where a handler's failure goes (the main thread's 'error' event). */
export type HandlerErrorSink = (port: string, handler: string, callback: string, err: unknown) => void;

interface Server {
  index: number;
  key: string;
  port: number;
  handler: Handler;
  tcp: TcpHandlers<any> | undefined;
  udp: UdpHandlers | undefined;
  socket: UdpSocket | undefined;
  /** arena offset of buffer 0 */
  buffers: number;
  bufSize: number;
  highWater: number;
  stopped: boolean;
  /** handler failures, counted here (the engine counts the rest) */
  handlerErrors: number;
}

const EVENTS = 4096;
const SLOTS = 65536;
const STAGING = 256 * 1024;
const utf8 = new TextEncoder();

export class NetReactor implements ConnectionOps, DatagramOps {
  readonly #ring: Ring;
  readonly #arena: Arena;
  readonly #report: HandlerErrorSink;
  readonly #u8: Uint8Array;
  readonly #dv: DataView;
  readonly #hdr: Uint32Array;
  readonly #queued: Uint32Array;
  readonly #evBase: number;
  readonly #staging: Block;
  readonly #servers: (Server | undefined)[] = [];
  readonly #conns: (TcpConnection | undefined)[] = [];
  readonly #poke: () => void;
  #dispatching = false;
  #stageOff = 0;
  /** bumped at every turn and submit: bytes staged before it have reached the engine */
  #epoch = 0;

  /**
   * `poke`: makes the driver's loop turn (a parked driver wakes). Called
   * when a connection is used outside the batch (a timer, a task), since a
   * command only leaves with a turn.
   */
  constructor(ring: Ring, arena: Arena, report: HandlerErrorSink, poke: () => void) {
    this.#poke = poke;
    this.#ring = ring;
    this.#arena = arena;
    this.#report = report;
    const block = arena.alloc(netBlockBytes(EVENTS, SLOTS, STAGING), 64);
    try {
      native().netAttach(ring.id, { block: block.offset, events: EVENTS, slots: SLOTS, staging: STAGING }); // the ring owns the block from here
    } catch (err) {
      arena.free(block);
      throw err;
    }
    this.#staging = { offset: block.offset + stagingAt(EVENTS, SLOTS), size: STAGING };
    this.#u8 = new Uint8Array(arena.buffer);
    this.#dv = new DataView(arena.buffer);
    this.#hdr = new Uint32Array(arena.buffer, block.offset, 2);
    this.#evBase = block.offset + NET_HEADER_BYTES;
    this.#queued = new Uint32Array(arena.buffer, block.offset + NET_HEADER_BYTES + EVENTS * NET_EVENT_BYTES, SLOTS);
  }

  // ---- setup (control messages from the main thread) ---------------------------

  /** Opens the socket and its buffer ring; nothing is accepted before start(). */
  listen(req: ListenRequest): ListenReply {
    const h = findHandler(req.handler);
    if (!h) {
      const names = handlerNames();
      throw new Error(`no port handler named "${req.handler}" is defined by the task modules (${names.length ? `defined: ${names.join(', ')}` : 'none is'}; defineTcpHandler / defineUdpHandler)`);
    }
    if (h.protocol !== req.protocol) throw new Error(`handler "${req.handler}" is a ${h.protocol} handler, and ${req.key} is a ${req.protocol} port`);
    const o = req.options;
    const block = this.#arena.alloc(bufferBlockBytes(o.bufCount, o.bufSize), 4096);
    let r: RawListenResult;
    try {
      r = native().netListen(this.#ring.id, {
        protocol: req.protocol,
        host: req.host,
        port: req.port,
        backlog: o.backlog,
        reusePort: true,
        noDelay: o.noDelay,
        rcvBuf: o.rcvBuf,
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
      this.#arena.free(block);
      throw err;
    }
    const s: Server = {
      index: r.server,
      key: `${req.protocol}:${r.port}`,
      port: r.port,
      handler: h,
      tcp: h.protocol === 'tcp' ? h.handlers : undefined,
      udp: h.protocol === 'udp' ? h.handlers : undefined,
      socket: undefined,
      buffers: block.offset + o.bufCount * 16,
      bufSize: o.bufSize,
      highWater: o.highWater,
      stopped: false,
      handlerErrors: 0,
    };
    if (h.protocol === 'udp') s.socket = new UdpSocket(this, r.server, r.port);
    this.#servers[r.server] = s;
    const effective: EffectiveConfig = {
      protocol: req.protocol,
      host: req.host,
      port: r.port,
      handler: req.handler,
      shape: h.shape,
      backlog: r.backlog,
      bufCount: o.bufCount,
      bufSize: o.bufSize,
      maxConnections: o.maxConnections,
      noDelay: r.noDelay,
      reusePort: r.reusePort,
      rcvBuf: r.rcvBuf,
      sndBuf: r.sndBuf,
      highWater: o.highWater,
      maxQueued: o.maxQueued,
      steering: o.steering,
    };
    return { server: r.server, effective, fingerprint: fingerprint(effective) };
  }

  start(server: number): void {
    native().netStart(this.#ring.id, server);
  }

  /** Stops accepting; `closeConnections` closes the server's connections too. */
  stop(server: number, closeConnections: boolean): void {
    const s = this.#servers[server];
    if (!s || s.stopped) return;
    s.stopped = true;
    native().netStop(this.#ring.id, server, closeConnections);
  }

  /** Shutdown: stop accepting everywhere; end every connection (what it queued is sent first). */
  drain(): void {
    for (const s of this.#servers) if (s && !s.stopped) this.stop(s.index, false);
    for (const c of this.#conns) if (c && c.state === 'open') this.end(c);
  }

  /** No connection has bytes waiting to be sent. */
  quiet(): boolean {
    for (const c of this.#conns) if (c && this.queued(c) > 0) return false;
    return true;
  }

  /** Connections still open (JS's view), for shutdown. */
  get openConnections(): number {
    let n = 0;
    for (const c of this.#conns) if (c) n++;
    return n;
  }

  /** Servers and connections whose kernel ops or fds are not gone yet (the engine's view). */
  get live(): number {
    return native().netLive(this.#ring.id);
  }

  stats(): Array<RawNetStats & { port: string; handlerErrors: number }> {
    const out = [];
    for (const s of this.#servers) {
      if (!s) continue;
      const st = native().netStats(this.#ring.id, s.index);
      if (st) out.push({ port: s.key, ...st, handlerErrors: s.handlerErrors });
    }
    return out;
  }

  // ---- the batch: after each ring turn ------------------------------------------

  dispatch(): void {
    this.#stageOff = 0;
    this.#epoch++;
    const hdr = this.#hdr;
    const dv = this.#dv;
    let lent = false;
    let i = 0;
    this.#dispatching = true;
    // hdr[0] is re-read: a submit made by a handler can add events to this batch.
    for (; i < hdr[0]!; i++) {
      const at = this.#evBase + i * NET_EVENT_BYTES;
      const type = this.#u8[at]!;
      const s = this.#servers[this.#u8[at + 1]!];
      const bid = dv.getUint16(at + 2, true);
      const conn = dv.getUint32(at + 4, true);
      const len = dv.getUint32(at + 8, true);
      const aux = dv.getInt32(at + 12, true);
      if (!s) continue;
      switch (type) {
        case NetEv.Open: {
          const c = new TcpConnection(this, conn, s.index, s.port);
          this.#conns[conn & SLOT_MASK] = c;
          if (s.tcp!.open) this.#call(s, c, 'open', undefined);
          break;
        }
        case NetEv.Data: {
          lent = true;
          const c = this.#conns[conn & SLOT_MASK];
          if (!c || c.id !== conn || c.state === 'closed') break;
          const view = new Uint8Array(this.#arena.buffer, s.buffers + bid * s.bufSize, len);
          if (c.paused) (c.held ??= []).push(view.slice());
          else if (s.tcp!.data) this.#call(s, c, 'data', view);
          break;
        }
        case NetEv.End: {
          const c = this.#conns[conn & SLOT_MASK];
          if (!c || c.id !== conn || c.state === 'closed') break;
          if (c.paused) (c.held ??= []).push(END);
          else this.#ended(s, c);
          break;
        }
        case NetEv.Drain: {
          const c = this.#conns[conn & SLOT_MASK];
          if (!c || c.id !== conn || c.state === 'closed') break;
          c.wantDrain = false;
          if (s.tcp!.drain) this.#call(s, c, 'drain', undefined);
          break;
        }
        case NetEv.Close: {
          const c = this.#conns[conn & SLOT_MASK];
          if (!c || c.id !== conn) break;
          this.#conns[conn & SLOT_MASK] = undefined;
          c.state = 'closed';
          c.held = undefined;
          if (s.tcp!.close) this.#call(s, c, 'close', aux < 0 ? errnoError(-aux, `${s.key}: connection`) : undefined);
          break;
        }
        case NetEv.Message: {
          lent = true;
          const base = s.buffers + bid * s.bufSize;
          const raw = new Uint8Array(SENDTO_HEADER);
          raw.set(this.#u8.subarray(base + RECVMSG_NAME_AT, base + RECVMSG_NAME_AT + Math.min(conn, 28)));
          new DataView(raw.buffer).setUint32(28, conn, true);
          const view = new Uint8Array(this.#arena.buffer, base + aux, len);
          try {
            s.udp!.message(s.socket!, view, new UdpPeer(raw));
          } catch (err) {
            s.handlerErrors++;
            this.#report(s.key, s.handler.name, 'message', err);
            try {
              s.udp!.error?.(s.socket!, err);
            } catch {
              // reported once is enough
            }
          }
          break;
        }
      }
    }
    this.#dispatching = false;
    hdr[1] = i;
    if (lent) this.#ring.net(OP_NET_RELEASE, 0);
  }

  /** A command was queued: outside the batch, make sure a turn sends it. */
  #queuedOne(): void {
    if (!this.#dispatching) this.#poke();
  }

  #ended(s: Server, c: TcpConnection): void {
    if (s.tcp!.end) this.#call(s, c, 'end', undefined);
    else if (c.state === 'open') this.end(c);
  }

  /** Runs one callback; one that throws is reported and its connection closed (its state may be half-updated). */
  #call(s: Server, c: TcpConnection, cb: 'open' | 'data' | 'drain' | 'end' | 'close', arg: unknown): void {
    try {
      (s.tcp![cb] as (c: TcpConnection, a: unknown) => void)(c, arg);
    } catch (err) {
      s.handlerErrors++;
      this.#report(s.key, s.handler.name, cb, err);
      try {
        s.tcp!.error?.(c, err);
      } catch {
        // reported once is enough
      }
      if (cb !== 'close' && c.state !== 'closed') this.close(c);
    }
  }

  // ---- what connections do (TcpConnection, UdpSocket) ---------------------------------

  write(c: TcpConnection, bytes: Uint8Array | string): boolean {
    if (c.state !== 'open') return false;
    const data = typeof bytes === 'string' ? utf8.encode(bytes) : bytes;
    if (!(data instanceof Uint8Array)) throw new TypeError('TcpConnection.write: expected a Uint8Array (or Buffer) or a string');
    const queued = this.queued(c) + data.length;
    const ok = queued < this.#highWater(c);
    if (!ok) c.wantDrain = true;
    this.#stage(OP_NET_SEND, c.id, data, undefined, c.wantDrain ? SEND_WANT_DRAIN : 0, c);
    return ok;
  }

  end(c: TcpConnection): void {
    if (c.state !== 'open') return;
    c.state = 'ending';
    this.#ring.net(OP_NET_END, c.id);
    this.#queuedOne();
  }

  close(c: TcpConnection): void {
    if (c.state === 'closed') return;
    c.state = 'closed'; // the Close event comes with the next turn; nothing more is sent
    this.#ring.net(OP_NET_CLOSE, c.id);
    this.#queuedOne();
  }

  pause(c: TcpConnection): void {
    if (c.paused || c.state === 'closed') return;
    c.paused = true;
    this.#ring.net(OP_NET_PAUSE, c.id);
    this.#queuedOne();
  }

  resume(c: TcpConnection): void {
    if (!c.paused || c.state === 'closed') return;
    c.paused = false;
    const held = c.held;
    c.held = undefined;
    const s = this.#serverOf(c);
    if (held && s) {
      for (const chunk of held) {
        if (c.paused || gone(c)) {
          (c.held ??= []).push(chunk); // paused again by a handler: keep the rest
          continue;
        }
        if (chunk === END) this.#ended(s, c);
        else if (s.tcp!.data) this.#call(s, c, 'data', chunk);
      }
    }
    if (!c.paused && !gone(c)) this.#ring.net(OP_NET_RESUME, c.id);
    this.#queuedOne();
  }

  queued(c: TcpConnection): number {
    return this.#queued[c.id & SLOT_MASK]! + (c.stagedTurn === this.#epoch ? c.staged : 0);
  }

  peer(c: TcpConnection): RawPeer | null {
    return native().netPeer(this.#ring.id, c.id);
  }

  sendTo(sock: UdpSocket, bytes: Uint8Array | string, peer: UdpPeer): void {
    const s = this.#servers[sock.server];
    if (!s || s.stopped) return;
    const data = typeof bytes === 'string' ? utf8.encode(bytes) : bytes;
    if (data.length + SENDTO_HEADER > STAGING) throw new RangeError(`UdpSocket.send: a datagram of ${data.length} bytes is larger than UDP allows`);
    this.#stage(OP_NET_SENDTO, sock.server, data, peer.raw, 0, undefined);
  }

  // ---- staging ----------------------------------------------------------------------

  #serverOf(c: TcpConnection): Server | undefined {
    return this.#servers[c.server];
  }

  #highWater(c: TcpConnection): number {
    return this.#servers[c.server]?.highWater ?? 1 << 20;
  }

  /** Copies bytes into the staging block (chunks of at most its size) and queues the command(s). */
  #stage(op: number, target: number, data: Uint8Array, header: Uint8Array | undefined, flags: number, c: TcpConnection | undefined): void {
    const u8 = this.#u8;
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
      if (c) {
        if (c.stagedTurn !== this.#epoch) (c.stagedTurn = this.#epoch), (c.staged = 0);
        c.staged += chunk;
      }
    } while (off < data.length);
    this.#queuedOne();
  }

  /** The staging block is full: hand the commands that point into it to the engine (it copies the bytes out). */
  #flushStaging(): void {
    this.#ring.submit();
    this.#stageOff = 0;
    this.#epoch++;
  }
}

/** (a call, so that TypeScript does not narrow the state across handler calls that change it) */
function gone(c: TcpConnection): boolean {
  return c.state === 'closed';
}

/** Marks a peer's end of stream among data held while paused. */
const END = new Uint8Array(0);
