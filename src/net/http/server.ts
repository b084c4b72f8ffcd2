// An HTTP/1.1 port server on one driver thread: the TCP handlers a port of
// protocol "http" runs (port-side.ts calls them like any TCP handler's),
// turning each connection's bytes into requests for the fast handler
// `(req, res)` (a fetch handler is one of those too: fetch.ts).
//
// Per connection: one parser (native, wire.ts); the responses in request
// order (pipelining: a response written before the ones ahead of it ended
// waits, copied, and goes out when they have); the body of the request
// being received; the phase and times the timeout sweep reads. Per
// server: one sweep timer and the stats.
import type { HttpOptions } from '../../tpc/ports.js';
import type { HttpServerStats } from '../../drivers/protocol/messages.js';
export type { HttpServerStats };
import type { Arena, Block } from '../../tpc/arena.js';
import type { TcpConnection } from '../tcp.js';
import type { TcpHandlers } from '../handlers.js';
import type { HandlerErrorSink } from '../errors.js';
import { HttpRequest, type BodySource } from './request.js';
import { HttpResponse, type ResponseSink } from './response.js';
import { reasonPhrase, statusLine } from './status.js';
import { BodyAt, ErrorAt, HeadAt, OutAt, RECORDS_AT, REC_SIZE_AT, Rec, methodOf, wireFor, type Wire } from './wire.js';

export interface HttpHandlerSet {
  /** the fast handler */
  request(req: HttpRequest, res: HttpResponse): unknown;
  /** a handler threw or rejected (after the 500 went out, or the connection closed) */
  error?(err: unknown, req: HttpRequest): void;
}

export function emptyHttpStats(): HttpServerStats {
  return { requests: 0, status1xx: 0, status2xx: 0, status3xx: 0, status4xx: 0, status5xx: 0, parseErrors: 0, headersTimeouts: 0, requestTimeouts: 0, idleTimeouts: 0, aborted: 0, handlerErrors: 0, connections: 0 };
}

/** A connection we ended whose peer has not closed after this long is closed. */
const LINGER_MS = 2000;
/**
 * Pipelining's bound: a connection with this many requests unanswered stops
 * being read (TCP flow control then holds the client) until half of them
 * are answered; what one received buffer holds beyond it is still served.
 */
const MAX_PIPELINED = 128;
/** a response waiting its turn holds at most this many highWaters of bytes (its handler ignoring write()'s false) */
const PENDING_LIMIT = 64;

let clock = Date.now();
let dateSecond = -1;
let dateValue = '';

function now(): number {
  return (clock = Date.now());
}

/** status -> "HTTP/1.1 200 OK\r\nDate: ...\r\n" as bytes, for the current second */
const prefixes = new Map<number, Uint8Array>();

function date(): string {
  const s = Math.floor(clock / 1000);
  if (s !== dateSecond) (dateSecond = s), (dateValue = new Date(s * 1000).toUTCString()), prefixes.clear();
  return dateValue;
}

function prefix(status: number): Uint8Array {
  const d = date();
  let p = prefixes.get(status);
  if (p === undefined) prefixes.set(status, (p = Buffer.from(`${statusLine(status)}Date: ${d}\r\n`, 'latin1')));
  return p;
}

class HttpConn implements ResponseSink, BodySource {
  readonly server: HttpServer;
  readonly conn: TcpConnection;
  readonly wire: Wire;
  readonly parser: number;
  /** the oldest response not yet ended, and the newest */
  head: HttpResponse | null = null;
  tail: HttpResponse | null = null;
  /** the request whose body is arriving */
  reading: HttpRequest | null = null;
  phase = 0;
  headStart = 0;
  idleSince: number;
  /** no further request is served: the connection ends after the responses queued */
  closing = false;
  /** nothing more is parsed (a bad request, a timeout, a request after Connection: close) */
  dead = false;
  /** when we ended our side (0: not yet) */
  endedAt = 0;
  peerEnded = false;
  drainWaiters: Array<() => void> | null = null;
  /** responses queued (not yet ended and written in turn), and whether reading stopped for them */
  queued = 0;
  held = false;

  constructor(server: HttpServer, conn: TcpConnection) {
    this.server = server;
    this.conn = conn;
    this.wire = server.wire;
    this.parser = server.wire.native.open(server.limits);
    this.idleSince = clock;
  }

  prefix(status: number): Uint8Array {
    return prefix(status);
  }

  out(res: HttpResponse, data: string | Uint8Array): boolean {
    if (res === this.head) return this.conn.write(data);
    (res.pending ??= []).push(typeof data === 'string' ? data : data.slice());
    return this.#held(res, data.length);
  }

  outParts(res: HttpResponse, pre: Uint8Array, text: string, body: string | Uint8Array | undefined): boolean {
    if (res === this.head) return this.conn.writeParts(pre, text, body);
    const p = (res.pending ??= []);
    p.push(pre, text); // (the prefix is replaced each second, never changed: no copy needed)
    if (body !== undefined) p.push(typeof body === 'string' ? body : body.slice());
    return this.#held(res, pre.length + text.length + (body?.length ?? 0));
  }

  /**
   * write()'s answer for a response waiting its turn (a pipelined one
   * behind a slow one): its bytes are held here, so the same highWater
   * applies to them. A handler that writes on past PENDING_LIMIT highWaters
   * regardless has its connection closed, as the engine closes one over
   * maxQueued: held bytes are bounded.
   */
  #held(res: HttpResponse, n: number): boolean {
    res.pendingBytes += n;
    if (res.pendingBytes > PENDING_LIMIT * this.server.highWater) {
      this.conn.close();
      return false;
    }
    return res.pendingBytes < this.server.highWater;
  }

  finish(res: HttpResponse, close: boolean): void {
    this.server.countStatus(res.statusCode);
    res.req?.dump(); // a body nobody read is not kept for the life of the connection
    if (close) this.closing = true; // no request after this one is served
    if (res !== this.head) return; // its turn comes when the ones ahead have ended
    let r: HttpResponse | null = res;
    let closeNow = false;
    while (r && r.finished) {
      if (r.close) {
        closeNow = true;
        break;
      }
      r = r.next;
      this.head = r;
      this.queued--;
      if (r?.pending) {
        for (const d of r.pending) this.conn.write(d);
        r.pending = null;
        r.pendingBytes = 0;
      }
      if (r?.pendingWaiters) {
        // Its turn: they wait for the connection now, as the head's writers do.
        const w = r.pendingWaiters;
        r.pendingWaiters = null;
        if (this.conn.bufferedAmount < this.server.highWater) for (const f of w) f();
        else (this.drainWaiters ??= []).push(...w);
      }
    }
    if (!this.head) (this.tail = null), (this.idleSince = clock), (this.queued = 0);
    if (this.held && this.queued <= MAX_PIPELINED / 2 && !closeNow) {
      this.held = false;
      // (not now: resuming delivers held bytes at once, and this may run inside the parse of a buffer)
      queueMicrotask(() => this.conn.readyState === 'open' && this.conn.resume());
    }
    if (closeNow || (!this.head && (this.closing || this.peerEnded))) {
      // Responses queued behind one that closes never go out.
      for (let x = closeNow ? r!.next : null; x; x = x.next) (x.aborted = true), x.req?.abort(closedError(this.server.key));
      this.head = this.tail = null;
      this.endOurSide();
    }
  }

  drained(res: HttpResponse): Promise<void> {
    if (res.aborted || this.conn.readyState === 'closed') return Promise.resolve();
    // Waiting its turn: until its held bytes went out behind the responses ahead, and the connection took them.
    if (res !== this.head && res.pendingBytes >= this.server.highWater) return new Promise((resolve) => (res.pendingWaiters ??= []).push(resolve));
    if (this.conn.bufferedAmount < this.server.highWater) return Promise.resolve();
    return new Promise((resolve) => (this.drainWaiters ??= []).push(resolve));
  }

  wantBody(req: HttpRequest): void {
    // Expect: 100-continue: the client waits for this before it sends the body.
    if (req.expectsContinue && !req.ended && req.httpVersion === '1.1' && this.reading === req && this.head?.req === req && !this.head.headersSent) this.conn.write('HTTP/1.1 100 Continue\r\n\r\n');
  }

  endOurSide(): void {
    this.dead = true;
    if (this.endedAt === 0) (this.endedAt = clock || 1), this.conn.end();
  }

  /** Appends a response to the connection's queue. */
  enqueue(res: HttpResponse): void {
    res.start = clock;
    if (this.tail) this.tail.next = res;
    else this.head = res;
    this.tail = res;
    if (++this.queued >= MAX_PIPELINED && !this.held) {
      this.held = true;
      this.conn.pause();
    }
  }
}

function closedError(key: string): Error {
  return Object.assign(new Error(`${key}: the connection closed before the response ended`), { code: 'GATIO_HTTP_CLIENT_GONE' });
}

function timeoutError(key: string, what: string): Error {
  return Object.assign(new Error(`${key}: ${what}`), { code: 'GATIO_HTTP_TIMEOUT' });
}

export class HttpServer {
  readonly key: string;
  readonly handlerName: string;
  readonly handlers: HttpHandlerSet;
  readonly options: HttpOptions;
  readonly limits: { maxUrl: number; maxHeaderBytes: number; maxHeaders: number; maxChunkExtension: number; requireHost: boolean };
  readonly highWater: number;
  readonly wire: Wire;
  readonly stats = emptyHttpStats();
  readonly #report: HandlerErrorSink;
  readonly #arena: Arena;
  readonly #conns = new Set<HttpConn>();
  #sweep: ReturnType<typeof setInterval> | undefined;
  /** where held (copied) bytes are parsed from */
  #scratch: Block | undefined;
  #draining = false;
  /** the TCP handlers the port layer calls */
  readonly tcp: TcpHandlers<HttpConn>;

  constructor(key: string, handlerName: string, handlers: HttpHandlerSet, options: HttpOptions, arena: Arena, highWater: number, report: HandlerErrorSink) {
    this.key = key;
    this.handlerName = handlerName;
    this.handlers = handlers;
    this.options = options;
    this.limits = { maxUrl: options.maxUrl, maxHeaderBytes: options.maxHeaderBytes, maxHeaders: options.maxHeaders, maxChunkExtension: 1024, requireHost: true };
    this.highWater = highWater;
    this.#arena = arena;
    this.#report = report;
    this.wire = wireFor(arena, options.maxHeaderBytes);
    this.tcp = {
      open: (conn) => this.#open(conn),
      data: (conn, bytes) => this.#data(conn.data!, bytes),
      drain: (conn) => this.#drain(conn.data!),
      end: (conn) => this.#peerEnded(conn.data!),
      close: (conn, err) => this.#closed(conn.data, err),
    };
  }

  // ---- connections ---------------------------------------------------------------

  #open(conn: TcpConnection<HttpConn>): void {
    now();
    const st = new HttpConn(this, conn);
    conn.data = st;
    this.#conns.add(st);
    this.stats.connections++;
    if (this.#draining) st.endOurSide();
    this.#sweep ??= this.#startSweep();
  }

  #closed(st: HttpConn | undefined, err?: Error): void {
    if (!st || !this.#conns.delete(st)) return;
    this.stats.connections--;
    st.wire.native.close(st.parser);
    // The io driver that owned the socket died: say so (its error); else the client went away (a reset: its errno as the cause).
    const gone = (err as { code?: string } | undefined)?.code === 'GATIO_DRIVER_DIED' ? err! : Object.assign(closedError(this.key), err ? { cause: err } : {});
    this.#abortInFlight(st, gone);
    this.#drain(st);
  }

  /** The requests whose responses have not ended, and the body being read, are aborted with `why`; nothing queued goes out. */
  #abortInFlight(st: HttpConn, why: Error): void {
    for (let r = st.head; r; r = r.next) {
      const w = r.pendingWaiters;
      r.pendingWaiters = null;
      if (w) for (const f of w) f(); // (drained() resolves once a response is aborted)
      if (r.finished) continue;
      this.stats.aborted++;
      r.aborted = true;
      r.req?.abort(why);
    }
    if (st.reading && !st.reading.ended) st.reading.abort(why);
    st.head = st.tail = st.reading = null;
  }

  #drain(st: HttpConn): void {
    const w = st.drainWaiters;
    st.drainWaiters = null;
    if (w) for (const f of w) f();
  }

  /**
   * The client shut down its side. As node:http does (without
   * allowHalfOpen): requests in flight are aborted, what is already
   * written still goes out, then our side ends.
   */
  #peerEnded(st: HttpConn): void {
    st.peerEnded = true;
    this.#abortInFlight(st, closedError(this.key));
    st.endOurSide();
  }

  // ---- bytes in --------------------------------------------------------------------

  #data(st: HttpConn, bytes: Uint8Array): void {
    if (st.dead) return;
    now();
    const w = st.wire;
    // Bytes held while the connection was paused are copies, not in the arena: the parser reads the arena.
    if (bytes.buffer !== this.#arena.buffer) bytes = this.#inArena(bytes);
    let off = bytes.byteOffset;
    let left = bytes.length;
    while (left > 0 && !st.dead) {
      if (w.live.length !== 0) w.keepLive(); // (the parse overwrites the records they read)
      const took = w.native.feed(st.parser, off, left);
      this.#records(st, off);
      off += took;
      left -= took;
    }
    const phase = w.dv.getUint32(OutAt.Phase, true);
    if (phase === 1 && st.phase !== 1) st.headStart = clock;
    st.phase = phase;
  }

  /** `bytes` copied into this server's scratch block of the arena (grown as needed). */
  #inArena(bytes: Uint8Array): Uint8Array {
    if (!this.#scratch || this.#scratch.size < bytes.length) {
      if (this.#scratch) this.#arena.free(this.#scratch);
      this.#scratch = undefined;
      this.#scratch = this.#arena.alloc(Math.max(bytes.length, 16 * 1024));
    }
    const view = new Uint8Array(this.#arena.buffer, this.#scratch.offset, bytes.length);
    view.set(bytes);
    return view;
  }

  #records(st: HttpConn, base: number): void {
    const out = st.wire.out;
    const end = RECORDS_AT + out.readUInt32LE(OutAt.RecordBytes);
    for (let p = RECORDS_AT; p < end && !st.dead; p += out.readUInt32LE(p + REC_SIZE_AT)) {
      switch (out[p]) {
        case Rec.Head:
          this.#head(st, out, p);
          break;
        case Rec.Body: {
          const req = st.reading;
          if (!req) break;
          const n = out.readUInt32LE(p + BodyAt.Length);
          if (req.bodyBytes + n > this.options.maxBody) {
            this.#tooLarge(st, req);
            break;
          }
          req.push(new Uint8Array(this.#arena.buffer, base + out.readUInt32LE(p + BodyAt.Offset), n));
          break;
        }
        case Rec.End:
          st.reading?.end();
          st.reading = null;
          break;
        case Rec.Error: {
          const text = p + ErrorAt.Text;
          const codeEnd = text + out.readUInt16LE(p + ErrorAt.CodeLength);
          const reason = out.latin1Slice(codeEnd, codeEnd + out.readUInt16LE(p + ErrorAt.ReasonLength));
          this.#refuse(st, out.readUInt16LE(p + ErrorAt.Status), out.latin1Slice(text, codeEnd), reason);
          break;
        }
      }
    }
  }

  #head(st: HttpConn, out: Buffer, p: number): void {
    st.headStart = clock;
    if (st.closing) {
      st.dead = true; // pipelined after a Connection: close (or during shutdown): not served
      return;
    }
    this.stats.requests++;
    const method = methodOf(out, p + out.readUInt32LE(p + HeadAt.MethodAt), out.readUInt16LE(p + HeadAt.MethodLength));
    const req = new HttpRequest(st.conn, st, out, p, method);
    const close = !req.keepAlive || this.#draining;
    const res = new HttpResponse(st, method === 'HEAD', out[p + HeadAt.Minor] === 0, close);
    res.req = req;
    if (close) st.closing = true;
    st.enqueue(res);
    st.reading = req;
    if (st.wire.dv.getFloat64(p + HeadAt.ContentLength, true) > this.options.maxBody) return this.#tooLarge(st, req); // (-1: no Content-Length)
    try {
      const r = this.handlers.request(req, res) as Promise<unknown> | undefined;
      if (r !== undefined && r !== null && typeof r.then === 'function') r.then(undefined, (err) => this.#failed(st, res, err));
    } catch (err) {
      this.#failed(st, res, err);
    }
    // Still unanswered: its own copy now. Answered: it may still be read later; copied when the block is next written.
    if (!res.finished) req.detach();
    else st.wire.live.push(req);
  }

  /** The handler threw or rejected: 500 if nothing went out yet, else the connection closes. */
  #failed(st: HttpConn, res: HttpResponse, err: unknown): void {
    const req = res.req!;
    // The server's own abort (a timeout, the body limit, the client gone) surfacing through the handler: already answered and counted.
    if (err !== null && err === req.abortedBy) return;
    this.stats.handlerErrors++;
    this.#report(this.key, this.handlerName, `request ${req.method} ${safePath(req)}`, err);
    try {
      this.handlers.error?.(err, req);
    } catch {
      // reported once is enough
    }
    if (res.finished && !res.aborted) return;
    if (res.replace(500, reasonPhrase(500))) return;
    // The head went out: what was written goes out, then the connection ends (a cut body); gone already: close.
    if (res.aborted) st.conn.close();
    else res.cut();
  }

  #tooLarge(st: HttpConn, req: HttpRequest): void {
    this.stats.parseErrors++;
    this.#abandon(st, req, 413, Object.assign(new Error(`${this.key}: the request body is larger than http.maxBody (${this.options.maxBody} bytes)`), { code: 'GATIO_HTTP_BODY_TOO_LARGE' }));
  }

  /** A request the parser refused: its status (after the responses ahead of it), then the connection ends. */
  #refuse(st: HttpConn, status: number, code: string, reason: string): void {
    this.stats.parseErrors++;
    const req = st.reading;
    // The bad bytes were in the body of a request already handed to its handler.
    if (req && !req.ended) return this.#abandon(st, req, status, Object.assign(new Error(`${this.key}: bad request (${code}): ${reason}`), { code: 'GATIO_HTTP_BAD_REQUEST' }));
    st.reading = null;
    st.dead = true;
    this.#answer(st, status, reasonPhrase(status));
  }

  /**
   * The request whose body is arriving cannot be completed (too large,
   * malformed): nothing more is read; its own response becomes the refusal
   * (one queued behind it would wait for a handler that lost its body), or
   * closes the connection if its head went out; answered already, the
   * connection ends after what is queued.
   */
  #abandon(st: HttpConn, req: HttpRequest, status: number, why: Error): void {
    req.abort(why);
    st.reading = null;
    st.dead = true;
    st.closing = true;
    let res = st.head;
    while (res && res.req !== req) res = res.next;
    if (res && !res.finished) {
      if (!res.replace(status, reasonPhrase(status))) st.conn.close();
    } else if (!st.head) st.endOurSide();
  }

  /** Queues a response the server writes itself (a refusal), closing the connection after it. */
  #answer(st: HttpConn, status: number, text: string): void {
    if (st.closing) {
      if (!st.head) st.endOurSide();
      return;
    }
    const res = new HttpResponse(st, false, false, true);
    st.enqueue(res);
    res.status(status).header('Content-Type', 'text/plain; charset=UTF-8').end(text);
  }

  // ---- timeouts --------------------------------------------------------------------

  #startSweep(): ReturnType<typeof setInterval> {
    const o = this.options;
    const every = Math.max(10, Math.min(1000, Math.floor(Math.min(o.headersTimeout, o.requestTimeout, o.keepAliveTimeout) / 4)));
    const t = setInterval(() => this.#sweepOnce(), every);
    t.unref();
    return t;
  }

  #sweepOnce(): void {
    const t = now();
    const o = this.options;
    for (const st of this.#conns) {
      if (st.endedAt !== 0) {
        if (t - st.endedAt > LINGER_MS) st.conn.close(); // a peer that keeps its side open after ours ended
        continue;
      }
      const res = st.head;
      if (res) {
        // http.requestTimeout bounds receiving the request, as node's does: once its body is in,
        // the response may take (or stream for) as long as the handler wants.
        if (res.req?.ended !== false || t - res.start <= o.requestTimeout) continue;
        this.stats.requestTimeouts++;
        res.req?.abort(timeoutError(this.key, `the request was not received within http.requestTimeout (${o.requestTimeout} ms)`));
        if (!res.replace(408, reasonPhrase(408))) st.conn.close();
        st.dead = true;
      } else if (st.phase !== 0) {
        if (t - st.headStart <= (st.phase === 1 ? o.headersTimeout : o.requestTimeout)) continue;
        if (st.phase === 1) this.stats.headersTimeouts++;
        else this.stats.requestTimeouts++;
        st.reading?.abort(timeoutError(this.key, 'the request did not arrive in time'));
        st.reading = null;
        this.#answer(st, 408, reasonPhrase(408));
        st.dead = true;
      } else if (t - st.idleSince > o.keepAliveTimeout) {
        this.stats.idleTimeouts++;
        st.endOurSide();
      }
    }
  }

  // ---- the server ----------------------------------------------------------------

  countStatus(status: number): void {
    const s = this.stats;
    if (status < 200) s.status1xx++;
    else if (status < 300) s.status2xx++;
    else if (status < 400) s.status3xx++;
    else if (status < 500) s.status4xx++;
    else s.status5xx++;
  }

  /** Shutdown: idle connections end now; busy ones after the responses in flight (each says Connection: close). */
  drain(): void {
    this.#draining = true;
    now();
    for (const st of this.#conns) {
      for (let r = st.head; r; r = r.next) if (!r.headersSent) r.close = true;
      st.closing = true;
      if (!st.head) st.endOurSide();
    }
  }

  /** Requests in flight (shutdown waits for them, up to its deadline). */
  busy(): boolean {
    for (const st of this.#conns) if (st.head) return true;
    return false;
  }

  /** The port stopped: no more sweeps. */
  stop(): void {
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = undefined;
    if (this.#scratch) this.#arena.free(this.#scratch);
    this.#scratch = undefined;
  }
}

function safePath(req: HttpRequest): string {
  try {
    const p = req.path;
    return p.length > 200 ? p.slice(0, 200) + '...' : p;
  } catch {
    return '?';
  }
}
