// What both kinds of port servers share on the thread that runs the
// handlers (a driver thread): the servers and connections it knows, how
// an event becomes a handler call, how a failing handler is reported, and
// the connection operations on top of three primitives the two kinds
// implement differently:
//   reactor.ts  hybrid drivers: the sockets are on this thread's own ring
//   remote.ts   exec drivers: an io driver owns the sockets, events and
//               commands travel as messages
import type { Arena } from '../tpc/arena.js';
import type { RawPeer } from '../native.js';
import { NetEv, RECVMSG_NAME_AT, SENDTO_HEADER } from '../drivers/protocol/net.js';
import { OP_NET_CLOSE, OP_NET_END, OP_NET_PAUSE, OP_NET_RESUME } from '../drivers/protocol/ring.js';
import type { Handler, TcpHandlers, UdpHandlers } from './handlers.js';
import { TcpConnection, type ConnectionOps } from './tcp.js';
import { UdpPeer, UdpSocket, type DatagramOps } from './udp.js';
import { errnoError } from './errors.js';
import type { ListenOptions } from '../tpc/ports.js';
import { HttpServer, type HttpServerStats } from './http/server.js';
import { fetchHandler } from './http/fetch.js';

import type { HandlerErrorSink } from './errors.js';
export type { HandlerErrorSink };

export interface ServerEntry {
  /** the io driver that owns its socket, or -1: this thread's ring */
  src: number;
  /** its index on the ring that owns it */
  index: number;
  /** "tcp:9000" */
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
  /** an HTTP port: the server whose TCP handlers `tcp` are */
  http: HttpServer | undefined;
}

const utf8 = new TextEncoder();
/** Marks a peer's end of stream among data held while paused. */
const END = new Uint8Array(0);

/** Calls `failed` if `r` is a promise (a thenable) that rejects. */
function onRejection(r: unknown, failed: (err: unknown) => void): void {
  if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') (r as PromiseLike<unknown>).then(undefined, failed);
}

export abstract class PortSide implements ConnectionOps, DatagramOps {
  protected readonly arena: Arena;
  protected readonly u8: Uint8Array;
  protected readonly report: HandlerErrorSink;
  protected readonly poke: () => void;
  protected readonly servers = new Map<number, ServerEntry>();
  protected readonly conns = new Map<number, TcpConnection>();
  /** handlers of a batch are running: commands leave with the turn, no poke needed */
  protected dispatching = false;
  /** bumped whenever staged bytes reach the engine (a turn, a submit): what was staged before is counted there */
  protected epoch = 0;

  constructor(arena: Arena, report: HandlerErrorSink, poke: () => void) {
    this.arena = arena;
    this.u8 = new Uint8Array(arena.buffer);
    this.report = report;
    this.poke = poke;
  }

  protected static serverKey(src: number, index: number): number {
    return (src + 1) * 256 + index;
  }

  protected static connKey(src: number, conn: number): number {
    return (src + 1) * 2 ** 32 + conn;
  }

  // ---- the primitives ------------------------------------------------------------

  /** A command without bytes for a connection (OP_NET_END, CLOSE, PAUSE, RESUME). */
  protected abstract command(c: TcpConnection, op: number): void;
  /** Bytes for a connection's send queue. */
  protected abstract stageSend(c: TcpConnection, data: Uint8Array, wantDrain: boolean): void;
  /** A datagram: the 32-byte address slot, then the payload. */
  protected abstract stageSendTo(s: ServerEntry, data: Uint8Array, address: Uint8Array): void;
  /** Bytes the connection has queued in the engine (what write() compares with highWater). */
  protected abstract engineQueued(c: TcpConnection): number;
  abstract peer(c: TcpConnection): RawPeer | null;

  /** A server's entry: the handler's callbacks for its protocol (an HTTP port's are its HttpServer's). */
  protected entry(src: number, index: number, key: string, port: number, h: Handler, o: Pick<ListenOptions, 'highWater' | 'http'>, buffers: number, bufSize: number, socket: UdpSocket | undefined): ServerEntry {
    let http: HttpServer | undefined;
    if (h.protocol === 'http') {
      const x = h.handlers;
      http = new HttpServer(key, h.name, { request: x.request ? x.request.bind(x) : fetchHandler(x.fetch!.bind(x), key, h.name, this.report), error: x.error?.bind(x) }, o.http!, this.arena, o.highWater, this.report);
    }
    return {
      src,
      index,
      key,
      port,
      handler: h,
      tcp: h.protocol === 'tcp' ? h.handlers : http?.tcp,
      udp: h.protocol === 'udp' ? h.handlers : undefined,
      socket,
      buffers,
      bufSize,
      highWater: o.highWater,
      stopped: false,
      handlerErrors: 0,
      http,
    };
  }

  /** A server's own counters for its stats row: handler failures (an HTTP port's too) and the HTTP ones. */
  protected counters(s: ServerEntry): { handlerErrors: number; http?: HttpServerStats } {
    const handlerErrors = s.handlerErrors + (s.http?.stats.handlerErrors ?? 0);
    return s.http ? { handlerErrors, http: { ...s.http.stats } } : { handlerErrors };
  }

  /** Shutdown: end every connection once what it queued is sent (an HTTP port's busy ones after their responses). */
  protected endAll(src?: number): void {
    for (const s of this.servers.values()) if (s.http && (src === undefined || s.src === src)) s.http.drain();
    for (const c of this.conns.values()) if (c.state === 'open' && !this.serverOf(c)?.http && (src === undefined || c.src === src)) this.end(c);
  }

  // ---- events -----------------------------------------------------------------------

  /**
   * One event of server `s`. Returns true when it lent a buffer (the caller
   * gives it back once the handler has returned). `peer`: the address of an
   * accepted connection, when the event brings it.
   */
  protected onEvent(s: ServerEntry, type: number, conn: number, bid: number, len: number, aux: number, peer?: RawPeer | null): boolean {
    const ck = PortSide.connKey(s.src, conn);
    switch (type) {
      case NetEv.Open: {
        const c = new TcpConnection(this, conn, s.index, s.port, s.src, peer);
        this.conns.set(ck, c);
        if (s.tcp!.open) this.call(s, c, 'open', undefined);
        return false;
      }
      case NetEv.Data: {
        const c = this.conns.get(ck);
        if (!c || c.state === 'closed') return true;
        const view = new Uint8Array(this.arena.buffer, s.buffers + bid * s.bufSize, len);
        if (c.paused) (c.held ??= []).push(view.slice());
        else if (s.tcp!.data) this.call(s, c, 'data', view);
        return true;
      }
      case NetEv.End: {
        const c = this.conns.get(ck);
        if (!c || c.state === 'closed') return false;
        if (c.paused) (c.held ??= []).push(END);
        else this.ended(s, c);
        return false;
      }
      case NetEv.Drain: {
        const c = this.conns.get(ck);
        if (!c || c.state === 'closed') return false;
        c.wantDrain = false;
        if (s.tcp!.drain) this.call(s, c, 'drain', undefined);
        return false;
      }
      case NetEv.Close: {
        const c = this.conns.get(ck);
        if (!c) return false;
        this.conns.delete(ck);
        this.gone(s, c, aux < 0 ? errnoError(-aux, `${s.key}: connection`) : undefined);
        return false;
      }
      case NetEv.Message: {
        const base = s.buffers + bid * s.bufSize;
        const raw = new Uint8Array(SENDTO_HEADER);
        raw.set(this.u8.subarray(base + RECVMSG_NAME_AT, base + RECVMSG_NAME_AT + Math.min(conn, 28)));
        new DataView(raw.buffer).setUint32(28, conn, true);
        const view = new Uint8Array(this.arena.buffer, base + aux, len);
        const failed = (err: unknown): void => {
          s.handlerErrors++;
          this.report(s.key, s.handler.name, 'message', err);
          try {
            s.udp!.error?.(s.socket!, err);
          } catch {
            // reported once is enough
          }
        };
        try {
          onRejection(s.udp!.message(s.socket!, view, new UdpPeer(raw)), failed);
        } catch (err) {
          failed(err);
        }
        return true;
      }
    }
    return false;
  }

  /** The connection is gone (its Close event, or its io driver died). */
  protected gone(s: ServerEntry, c: TcpConnection, err: Error | undefined): void {
    c.state = 'closed';
    c.held = undefined;
    if (s.tcp!.close) this.call(s, c, 'close', err);
  }

  private ended(s: ServerEntry, c: TcpConnection): void {
    if (s.tcp!.end) this.call(s, c, 'end', undefined);
    else if (c.state === 'open') this.end(c);
  }

  /** Runs one callback; one that throws is reported and its connection closed (its state may be half-updated). */
  private call(s: ServerEntry, c: TcpConnection, cb: 'open' | 'data' | 'drain' | 'end' | 'close', arg: unknown): void {
    const failed = (err: unknown): void => {
      s.handlerErrors++;
      this.report(s.key, s.handler.name, cb, err);
      try {
        s.tcp!.error?.(c, err);
      } catch {
        // reported once is enough
      }
      if (cb !== 'close' && c.state !== 'closed') this.close(c);
    };
    try {
      // An async callback's rejection is its throw (left alone, it would be an unhandled rejection: the driver's death).
      onRejection((s.tcp![cb] as (c: TcpConnection, a: unknown) => unknown)(c, arg), failed);
    } catch (err) {
      failed(err);
    }
  }

  /** A command was queued: outside the batch, make sure a turn sends it. */
  protected queuedOne(): void {
    if (!this.dispatching) this.poke();
  }

  protected serverOf(c: TcpConnection): ServerEntry | undefined {
    return this.servers.get(PortSide.serverKey(c.src, c.server));
  }

  // ---- what connections do (TcpConnection, UdpSocket) ---------------------------------

  write(c: TcpConnection, bytes: Uint8Array | string): boolean {
    if (c.state !== 'open') return false;
    const text = typeof bytes === 'string';
    if (!text && !(bytes instanceof Uint8Array)) throw new TypeError('TcpConnection.write: expected a Uint8Array (or Buffer) or a string');
    // (a string's length: at most its UTF-8 size, good enough for the highWater check)
    c.afterFalse = c.wantDrain;
    const ok = this.admit(c, bytes.length);
    if (text) this.stageText(c, bytes, c.wantDrain);
    else this.stageSend(c, bytes, c.wantDrain);
    this.queuedOne();
    return ok;
  }

  writeParts(c: TcpConnection, prefix: Uint8Array, text: string, body: Uint8Array | string | undefined): boolean {
    if (c.state !== 'open') return false;
    c.afterFalse = c.wantDrain;
    const ok = this.admit(c, prefix.length + text.length + (body === undefined ? 0 : body.length));
    this.stageParts(c, prefix, text, body, c.wantDrain);
    this.queuedOne();
    return ok;
  }

  /** write()'s answer for `n` more bytes: below the port's highWater; past it, a drain is wanted. */
  private admit(c: TcpConnection, n: number): boolean {
    const ok = this.queued(c) + n < (this.serverOf(c)?.highWater ?? 1 << 20);
    if (!ok) c.wantDrain = true;
    return ok;
  }

  /** Three pieces for a connection's send queue, in order; a kind that can stage them as one overrides this. */
  protected stageParts(c: TcpConnection, prefix: Uint8Array, text: string, body: Uint8Array | string | undefined, wantDrain: boolean): void {
    const last = body === undefined ? (text === '' ? 0 : 1) : 2;
    this.stageSend(c, prefix, last === 0 && wantDrain);
    if (text !== '') this.stageText(c, text, last === 1 && wantDrain);
    if (body !== undefined) {
      if (typeof body === 'string') this.stageText(c, body, wantDrain);
      else this.stageSend(c, body, wantDrain);
    }
  }

  /** A string for a connection's send queue; a kind that can encode it in place overrides this. */
  protected stageText(c: TcpConnection, text: string, wantDrain: boolean): void {
    this.stageSend(c, utf8.encode(text), wantDrain);
  }

  end(c: TcpConnection): void {
    if (c.state !== 'open') return;
    c.state = 'ending';
    this.command(c, OP_NET_END);
    this.queuedOne();
  }

  close(c: TcpConnection): void {
    if (c.state === 'closed') return;
    c.state = 'closed'; // the Close event comes with a later turn; nothing more is sent
    this.command(c, OP_NET_CLOSE);
    this.queuedOne();
  }

  pause(c: TcpConnection): void {
    if (c.paused || c.state === 'closed') return;
    c.paused = true;
    this.command(c, OP_NET_PAUSE);
    this.queuedOne();
  }

  resume(c: TcpConnection): void {
    if (!c.paused || c.state === 'closed') return;
    c.paused = false;
    const held = c.held;
    c.held = undefined;
    const s = this.serverOf(c);
    if (held && s) {
      for (const chunk of held) {
        if (c.paused || gone(c)) {
          (c.held ??= []).push(chunk); // paused again by a handler: keep the rest
          continue;
        }
        if (chunk === END) this.ended(s, c);
        else if (s.tcp!.data) this.call(s, c, 'data', chunk);
      }
    }
    if (!c.paused && !gone(c)) this.command(c, OP_NET_RESUME);
    this.queuedOne();
  }

  queued(c: TcpConnection): number {
    return this.engineQueued(c) + (c.stagedTurn === this.epoch ? c.staged : 0);
  }

  sendTo(sock: UdpSocket, bytes: Uint8Array | string, peer: UdpPeer): void {
    const s = this.servers.get(PortSide.serverKey(sock.src, sock.server));
    if (!s || s.stopped) return;
    const data = typeof bytes === 'string' ? utf8.encode(bytes) : bytes;
    if (data.length > 65507) throw new RangeError(`UdpSocket.send: a datagram of ${data.length} bytes is larger than UDP allows (65,507)`);
    this.stageSendTo(s, data, peer.raw);
    this.queuedOne();
  }

  /** No connection has bytes waiting to be sent. */
  quiet(): boolean {
    for (const s of this.servers.values()) if (s.http?.busy()) return false;
    for (const c of this.conns.values()) if (this.queued(c) > 0) return false;
    return true;
  }

  /** Counts bytes staged for `c` in this epoch (write()'s view of what the engine has not seen yet). */
  protected countStaged(c: TcpConnection, n: number): void {
    if (c.stagedTurn !== this.epoch) (c.stagedTurn = this.epoch), (c.staged = 0);
    c.staged += n;
  }

}

/** (a call, so that TypeScript does not narrow the state across handler calls that change it) */
function gone(c: TcpConnection): boolean {
  return c.state === 'closed';
}
