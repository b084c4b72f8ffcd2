// Port servers whose sockets an io driver owns (io + exec), seen from an
// exec driver that runs their handlers (driver thread). The io driver
// sends one NetEvent message per event of a connection it gave us; the
// data is in its buffer ring, in our TPC's arena, so a data event is a view
// as on a hybrid driver (no copy). What the handlers do goes back as
// NetCmd messages: buffer returns, commands, and sends whose bytes we copy
// into our staging ring for that io driver (it copies them out and says so
// in the ring's header). Same handlers, same API as on a hybrid driver.
import type { Arena } from '../tpc/arena.js';
import type { RawPeer } from '../native.js';
import type { HttpOptions, Protocol } from '../tpc/ports.js';
import type { HttpServerStats } from '../drivers/protocol/messages.js';
import { Kind } from '../drivers/protocol/messages.js';
import { NetCmdAt, NetEv, NetEventAt, SLOT_MASK, STAGING_HEADER, sendFlags } from '../drivers/protocol/net.js';
import { OP_NET_RELEASE, OP_NET_SEND, OP_NET_SENDTO } from '../drivers/protocol/ring.js';
import type { Mailbox } from '../drivers/shared/mailbox.js';
import type { TcpConnection } from './tcp.js';
import { UdpSocket, compressIPv6 } from './udp.js';
import { handlerFor } from './reactor.js';
import { PortSide, type HandlerErrorSink, type ServerEntry } from './port-side.js';

/** What the main thread tells an exec driver about a port server an io driver runs for it (ControlOp.NetAttach). */
export interface RemoteAttach {
  /** the io driver's id and endpoint */
  io: number;
  ioEndpoint: number;
  /** its server index on the io driver */
  server: number;
  key: string;
  protocol: Protocol;
  port: number;
  handler: string;
  /** arena offset of buffer 0 of the server's buffer ring, and the buffers' size */
  buffers: number;
  bufSize: number;
  highWater: number;
  /** an HTTP port's limits and timeouts (the exec driver parses: src/net/http/) */
  http: HttpOptions | null;
  /** the io driver's per-slot send-queue sizes (u32 each) */
  queuedBlock: number;
  slots: number;
  /** our staging ring for that io driver (STAGING_HEADER, then `stagingBytes`) */
  staging: number;
  stagingBytes: number;
}

interface IoLink {
  endpoint: number;
  queued: Uint32Array;
  staging: number;
  size: number;
  /** bytes ever written to the staging ring (ours) */
  written: number;
  header: DataView;
  /** sends waiting for room in the staging ring, and the commands behind them, in order */
  waiting: Array<{ op: number; target: number; data: Uint8Array; address: Uint8Array | undefined; flags: number; command?: boolean }>;
}

export class RemoteNet extends PortSide {
  readonly #mailbox: Mailbox;
  readonly #links = new Map<number, IoLink>();
  readonly #msg = new Uint8Array(NetCmdAt.Bytes);
  readonly #msgView = new DataView(this.#msg.buffer);

  constructor(mailbox: Mailbox, arena: Arena, report: HandlerErrorSink, poke: () => void) {
    super(arena, report, poke);
    this.#mailbox = mailbox;
  }

  /** Runs the handlers of io server `a`; returns the handler's shape (the fingerprint compares it). */
  attach(a: RemoteAttach): { shape: string } {
    const h = handlerFor(a.handler, a.protocol, a.key);
    let link = this.#links.get(a.io);
    if (!link || link.staging !== a.staging) {
      const header = new DataView(this.arena.buffer, a.staging, STAGING_HEADER);
      // A fresh ring, or one the io driver reset when our predecessor died.
      header.setBigUint64(16, BigInt(a.stagingBytes), true);
      link = {
        endpoint: a.ioEndpoint,
        queued: new Uint32Array(this.arena.buffer, a.queuedBlock, a.slots),
        staging: a.staging,
        size: a.stagingBytes,
        written: Number(header.getBigUint64(8, true)),
        header,
        waiting: [],
      };
      this.#links.set(a.io, link);
    }
    link.queued = new Uint32Array(this.arena.buffer, a.queuedBlock, a.slots);
    const s = this.entry(a.io, a.server, a.key, a.port, h, { highWater: a.highWater, http: a.http }, a.buffers, a.bufSize, h.protocol === 'udp' ? new UdpSocket(this, a.server, a.port, a.io) : undefined);
    this.servers.get(PortSide.serverKey(a.io, a.server))?.http?.stop(); // (a rejoin replaces the entry)
    this.servers.set(PortSide.serverKey(a.io, a.server), s);
    return { shape: h.shape };
  }

  /** One NetEvent message from an io driver (the inbox drain). */
  onMessage(bytes: Uint8Array, offset: number): void {
    const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, NetEventAt.Bytes);
    // Meant for a predecessor of ours that died: the io driver took its buffers back already.
    if (dv.getUint16(NetEventAt.Gen, true) !== (this.#mailbox.generation & 0xffff)) return;
    const io = dv.getUint16(NetEventAt.Driver, true);
    const server = dv.getUint8(NetEventAt.Server);
    const type = dv.getUint8(NetEventAt.Type);
    const conn = dv.getUint32(NetEventAt.Conn, true);
    const bid = dv.getUint16(NetEventAt.Bid, true);
    const s = this.servers.get(PortSide.serverKey(io, server));
    if (!s) {
      if (type === NetEv.Data || type === NetEv.Message) this.#release(io, server, bid);
      return;
    }
    let peer: RawPeer | null | undefined;
    if (type === NetEv.Open) peer = decodePeer(dv);
    this.dispatching = true;
    try {
      if (this.onEvent(s, type, conn, bid, dv.getUint32(NetEventAt.Len, true), dv.getInt32(NetEventAt.Aux, true), peer)) this.#release(io, server, bid);
    } finally {
      this.dispatching = false;
    }
  }

  /** Once per loop turn: sends that waited for room in a staging ring. True when some still wait. */
  turn(): boolean {
    this.epoch++;
    let waiting = false;
    for (const [io, link] of this.#links) {
      while (link.waiting.length > 0) {
        const w = link.waiting[0]!;
        if (w.command) {
          link.waiting.shift();
          this.#command(link, w.op, w.target);
          continue;
        }
        if (!this.#fits(link, w.data.length + (w.address?.length ?? 0))) break;
        link.waiting.shift();
        this.#send(io, link, w.op, w.target, w.data, w.address, w.flags);
      }
      if (link.waiting.length > 0) waiting = true;
    }
    return waiting;
  }

  /** An io driver died: its connections are gone (close handlers get the error), its servers forgotten until it rejoins. */
  ioDied(io: number, why: string): void {
    for (const [k, s] of this.servers) {
      if (s.src !== io) continue;
      this.servers.delete(k);
      s.http?.stop();
      for (const [ck, c] of this.conns) {
        if (c.src !== io || c.server !== s.index) continue;
        this.conns.delete(ck);
        this.gone(s, c, Object.assign(new Error(`${s.key}: connection: the io driver that owned it died: ${why}`), { code: 'GATIO_DRIVER_DIED' }));
      }
    }
    this.#links.delete(io);
  }

  /** Shutdown: end every connection (what it queued is sent first). */
  drain(): void {
    this.endAll();
  }

  stats(): Array<{ port: string; io: number; open: number; handlerErrors: number; http?: HttpServerStats }> {
    return [...this.servers.values()].map((s) => ({
      port: s.key,
      io: s.src,
      open: [...this.conns.values()].filter((c) => c.src === s.src && c.server === s.index).length,
      ...this.counters(s),
    }));
  }

  // ---- the primitives -------------------------------------------------------------

  protected command(c: TcpConnection, op: number): void {
    const link = this.#links.get(c.src);
    if (!link) return;
    // Behind sends still waiting for staging room: an end must not overtake the bytes written before it.
    if (link.waiting.length > 0) link.waiting.push({ op, target: c.id, data: EMPTY, address: undefined, flags: 0, command: true });
    else this.#command(link, op, c.id);
  }

  #command(link: IoLink, op: number, conn: number): void {
    this.#header(link, op);
    this.#msgView.setUint32(NetCmdAt.Conn, conn, true);
    this.#mailbox.sendRaw(link.endpoint, this.#msg);
  }

  protected stageSend(c: TcpConnection, data: Uint8Array, wantDrain: boolean): void {
    const link = this.#links.get(c.src);
    if (!link) return;
    this.countStaged(c, data.length);
    this.#queueSend(c.src, link, OP_NET_SEND, c.id, data, undefined, sendFlags(c, wantDrain));
  }

  protected stageSendTo(s: ServerEntry, data: Uint8Array, address: Uint8Array): void {
    const link = this.#links.get(s.src);
    if (!link) return;
    this.#queueSend(s.src, link, OP_NET_SENDTO, s.index, data, address, 0);
  }

  protected engineQueued(c: TcpConnection): number {
    const link = this.#links.get(c.src);
    return link ? link.queued[c.id & SLOT_MASK]! + link.waiting.reduce((n, w) => n + (w.target === c.id ? w.data.length : 0), 0) : 0;
  }

  peer(): RawPeer | null {
    return null; // the io driver sent it with the open (TcpConnection keeps it)
  }

  // ---- staging and messages --------------------------------------------------------

  #fits(link: IoLink, n: number): boolean {
    const consumed = Number(link.header.getBigUint64(8, true));
    return link.size - (link.written - consumed) >= n;
  }

  #queueSend(io: number, link: IoLink, op: number, target: number, data: Uint8Array, address: Uint8Array | undefined, flags: number): void {
    // Larger than the ring: in pieces, each of which fits once the io driver has caught up.
    const max = link.size - (address?.length ?? 0);
    for (let off = 0; off < data.length || (off === 0 && data.length === 0); off += max) {
      const part = data.subarray(off, Math.min(data.length, off + max));
      const last = off + max >= data.length;
      if (link.waiting.length === 0 && this.#fits(link, part.length + (address?.length ?? 0))) this.#send(io, link, op, target, part, address, last ? flags : 0);
      else link.waiting.push({ op, target, data: part.slice(), address, flags: last ? flags : 0 });
      if (data.length === 0) break;
    }
  }

  #send(_io: number, link: IoLink, op: number, target: number, data: Uint8Array, address: Uint8Array | undefined, flags: number): void {
    const pos = link.written;
    if (address) this.#copyIn(link, address);
    this.#copyIn(link, data);
    link.header.setBigUint64(0, BigInt(link.written), true);
    this.#header(link, op);
    const m = this.#msgView;
    m.setUint32(NetCmdAt.Conn, op === OP_NET_SEND ? target : 0, true);
    m.setFloat64(NetCmdAt.Staging, link.staging, true);
    m.setFloat64(NetCmdAt.Pos, pos, true);
    m.setUint32(NetCmdAt.Len, link.written - pos, true);
    m.setUint8(NetCmdAt.Server, op === OP_NET_SENDTO ? target : 0);
    m.setUint8(NetCmdAt.Flags, flags);
    this.#mailbox.sendRaw(link.endpoint, this.#msg);
  }

  #copyIn(link: IoLink, bytes: Uint8Array): void {
    const base = link.staging + STAGING_HEADER;
    const at = link.written % link.size;
    const first = Math.min(bytes.length, link.size - at);
    this.u8.set(first === bytes.length ? bytes : bytes.subarray(0, first), base + at);
    if (first < bytes.length) this.u8.set(bytes.subarray(first), base);
    link.written += bytes.length;
  }

  #release(io: number, server: number, bid: number): void {
    const link = this.#links.get(io);
    if (!link) return;
    this.#header(link, OP_NET_RELEASE);
    this.#msgView.setUint8(NetCmdAt.Server, server);
    this.#msgView.setUint16(NetCmdAt.Bid, bid, true);
    this.#mailbox.sendRaw(link.endpoint, this.#msg);
  }

  #header(link: IoLink, op: number): void {
    this.#msg.fill(0);
    const m = this.#msgView;
    m.setUint8(0, Kind.NetCmd);
    m.setUint8(NetCmdAt.Op, op);
    m.setUint16(NetCmdAt.Gen, this.#mailbox.queue(link.endpoint).generation & 0xffff, true);
    m.setUint16(NetCmdAt.From, this.#mailbox.self, true);
    m.setUint16(NetCmdAt.FromGen, this.#mailbox.generation & 0xffff, true);
  }
}

const EMPTY = new Uint8Array(0);

function decodePeer(dv: DataView): RawPeer | null {
  const family = dv.getUint8(NetEventAt.Family);
  const port = dv.getUint16(NetEventAt.PeerPort, true);
  if (family === 4) return { family: 'IPv4', port, address: [0, 1, 2, 3].map((i) => dv.getUint8(NetEventAt.Peer + i)).join('.') };
  if (family === 6) {
    const parts: string[] = [];
    for (let i = 0; i < 8; i++) parts.push(dv.getUint16(NetEventAt.Peer + 2 * i, false).toString(16));
    return { family: 'IPv6', port, address: compressIPv6(parts) };
  }
  return null;
}
