// A request as the fast handler `(req, res)` sees it. Its head is the
// parser's record (wire.ts), decoded a field at a time when read: a handler
// that reads the method, the path and one header decodes those three
// strings and nothing else. The record lives in the thread's record block
// until the next buffer is parsed; a request still unanswered when its
// handler returns gets its own copy of it (one slice), so an async handler
// may read its headers later; one answered by then gets a copy just before
// that parse (Wire.keepLive), so a late read never sees another request.
import type { TcpConnection } from '../tcp.js';
import { FLAG_CHUNKED, FLAG_EXPECT_CONTINUE, FLAG_KEEP_ALIVE, FLAG_UPGRADE, FieldAt, HeadAt, REC_SIZE_AT } from './wire.js';

/** What the request's exchange does for it (server.ts implements it). */
export interface BodySource {
  /** the handler wants the body: answer `Expect: 100-continue`, hand over what came already */
  wantBody(req: HttpRequest): void;
}

type DataCallback = (chunk: Uint8Array, last: boolean) => void;

export class HttpRequest {
  /** GET, POST, ... */
  readonly method: string;
  /** @internal */ rec: Buffer;
  /** @internal */ at: number;
  /** @internal */ readonly conn: TcpConnection;
  /** @internal */ readonly source: BodySource;
  #url: string | undefined;
  #q = -2; // index of '?' in the URL; -1: none; -2: not looked for
  /**
   * @internal the body received before anyone asked: one buffer its pieces
   * are copied into (grown by doubling: a Uint8Array per piece cost more
   * than the bytes of a body of small chunks), `held` bytes of it
   */
  chunks: Buffer | null = null;
  held = 0;
  /** @internal the response ended before the body was read: the rest is discarded as it comes */
  dumped = false;
  /** @internal */ bodyBytes = 0;
  /** @internal */ ended = false;
  /** @internal */ onData: DataCallback | null = null;
  /** @internal */ waiters: Array<{ resolve: (b: Uint8Array) => void; reject: (e: unknown) => void }> | null = null;
  /** @internal the reason it was aborted (the client went away, a timeout), once it was */
  abortedBy: Error | null = null;
  #signal: AbortController | null = null;

  /** @internal */
  constructor(conn: TcpConnection, source: BodySource, rec: Buffer, at: number, method: string) {
    this.conn = conn;
    this.source = source;
    this.rec = rec;
    this.at = at;
    this.method = method;
  }

  /** The request target as sent: "/path?query". */
  get url(): string {
    let u = this.#url;
    if (u === undefined) {
      const r = this.rec;
      const at = this.at + r.readUInt32LE(this.at + HeadAt.UrlAt);
      this.#url = u = r.latin1Slice(at, at + r.readUInt32LE(this.at + HeadAt.UrlLength));
    }
    return u;
  }

  /** The target's path, without the query (of an absolute-form target, `http://host/p?q`, too). */
  get path(): string {
    const u = this.url;
    const q = this.#query();
    const p = q < 0 ? u : u.slice(0, q);
    if (p.charCodeAt(0) === 47 /* / */) return p;
    const a = authorityEnd(p);
    return a < 0 ? p : p.slice(a) || '/';
  }

  /** The query string without its "?" ("" when there is none). */
  get query(): string {
    const q = this.#query();
    return q < 0 ? '' : this.url.slice(q + 1);
  }

  #query(): number {
    if (this.#q === -2) this.#q = this.url.indexOf('?');
    return this.#q;
  }

  /** "1.1" or "1.0" */
  get httpVersion(): string {
    return this.rec[this.at + HeadAt.Minor] === 0 ? '1.0' : '1.1';
  }

  /** @internal */ get keepAlive(): boolean {
    return (this.rec[this.at + HeadAt.Flags]! & FLAG_KEEP_ALIVE) !== 0;
  }

  /** @internal */ get expectsContinue(): boolean {
    return (this.rec[this.at + HeadAt.Flags]! & FLAG_EXPECT_CONTINUE) !== 0;
  }

  /**
   * CONNECT, or an `Upgrade` header: the server answers it like any request
   * (it does not switch protocols) and the connection stays HTTP.
   */
  get upgrade(): boolean {
    return (this.rec[this.at + HeadAt.Flags]! & FLAG_UPGRADE) !== 0;
  }

  /** The body comes chunked (Transfer-Encoding: chunked). */
  get chunked(): boolean {
    return (this.rec[this.at + HeadAt.Flags]! & FLAG_CHUNKED) !== 0;
  }

  /** Content-Length, when the request has one. */
  get contentLength(): number | undefined {
    const n = this.rec.readDoubleLE(this.at + HeadAt.ContentLength);
    return n < 0 ? undefined : n;
  }

  /** How many headers the request has. */
  get headerCount(): number {
    return this.rec.readUInt16LE(this.at + HeadAt.Headers);
  }

  /**
   * The value of header `name` (lowercase, as HTTP compares names without
   * case), or undefined. Repeated headers: their values joined with ", "
   * (with "; " for cookie).
   */
  header(name: string): string | undefined {
    const r = this.rec;
    const n = this.headerCount;
    let found: string | undefined;
    for (let i = 0, s = this.at + HeadAt.Fields; i < n; i++, s += FieldAt.Bytes) {
      if (r.readUInt32LE(s + FieldAt.NameLength) !== name.length) continue;
      const at = this.at + r.readUInt32LE(s + FieldAt.NameAt);
      let j = 0;
      while (j < name.length && r[at + j] === name.charCodeAt(j)) j++;
      if (j !== name.length) continue;
      found = joinValues(name, found, this.#value(s));
    }
    return found;
  }

  /** Every header as [name (lowercase), value] in the order sent. */
  headerList(): Array<[string, string]> {
    const r = this.rec;
    const out: Array<[string, string]> = [];
    for (let i = 0, s = this.at + HeadAt.Fields, n = this.headerCount; i < n; i++, s += FieldAt.Bytes) {
      const at = this.at + r.readUInt32LE(s + FieldAt.NameAt);
      out.push([r.latin1Slice(at, at + r.readUInt32LE(s + FieldAt.NameLength)), this.#value(s)]);
    }
    return out;
  }

  /** The headers as an object, like node:http's `req.headers` (repeated ones joined). */
  headers(): Record<string, string> {
    const o: Record<string, string> = {};
    for (const [k, v] of this.headerList()) o[k] = joinValues(k, o[k], v);
    return o;
  }

  #value(s: number): string {
    const r = this.rec;
    const at = this.at + r.readUInt32LE(s + FieldAt.ValueAt);
    return r.latin1Slice(at, at + r.readUInt32LE(s + FieldAt.ValueLength));
  }

  /** The client's address. */
  get remoteAddress(): string | undefined {
    return this.conn.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.conn.remotePort;
  }

  /** Aborted when the client goes away before the response ended, or the request timed out. */
  get signal(): AbortSignal {
    if (!this.#signal) {
      this.#signal = new AbortController();
      if (this.abortedBy) this.#signal.abort(this.abortedBy);
    }
    return this.#signal.signal;
  }

  /** @internal */
  abort(reason: Error): void {
    if (this.abortedBy) return;
    this.abortedBy = reason;
    this.#signal?.abort(reason);
    const w = this.waiters;
    this.waiters = null;
    if (w) for (const x of w) x.reject(reason);
  }

  // ---- the body --------------------------------------------------------------------

  /**
   * Streams the body: `cb(chunk, last)` for each piece as it arrives
   * (`chunk` is valid during the call: copy what you keep), then once with
   * `last` true. Pieces that came before the call are delivered first.
   */
  data(cb: DataCallback): void {
    if (this.onData || this.waiters) throw new Error('HttpRequest.data: the body is already being read');
    this.onData = cb;
    const held = this.chunks;
    const n = this.held;
    this.chunks = null;
    this.held = 0;
    if (held && n > 0) cb(held.subarray(0, n), false);
    if (this.ended) cb(EMPTY, true);
    this.source.wantBody(this);
  }

  /** The whole body (after any 100 Continue the client waits for). */
  body(): Promise<Uint8Array> {
    if (this.onData) return Promise.reject(new Error('HttpRequest.body: the body is being streamed with data()'));
    if (this.abortedBy) return Promise.reject(this.abortedBy);
    if (this.dumped) return Promise.reject(Object.assign(new Error('HttpRequest.body: the response ended before the body was read, and it was discarded (read it before ending the response)'), { code: 'GATIO_HTTP_BODY_DISCARDED' }));
    if (this.ended) return Promise.resolve(this.#joined());
    const p = new Promise<Uint8Array>((resolve, reject) => (this.waiters ??= []).push({ resolve, reject }));
    this.source.wantBody(this);
    return p;
  }

  /** The body as UTF-8 text. */
  async text(): Promise<string> {
    return Buffer.from(await this.body()).toString('utf8');
  }

  /** The body parsed as JSON. */
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  /** @internal a piece arrived (a view valid during this call) */
  push(view: Uint8Array): void {
    this.bodyBytes += view.length;
    if (this.onData) return this.onData(view, false);
    if (this.dumped) return;
    const need = this.held + view.length;
    if (!this.chunks || this.chunks.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, Math.min(2 * (this.chunks?.length ?? 0), need + (1 << 20)), 256));
      if (this.chunks) this.chunks.copy(grown, 0, 0, this.held);
      this.chunks = grown;
    }
    this.chunks.set(view, this.held);
    this.held = need;
  }

  /**
   * @internal its response ended and nobody reads the body: what was held
   * goes, and the rest is discarded as it comes (node:http dumps it too);
   * the connection reads on to the next request.
   */
  dump(): void {
    if (this.onData || this.waiters || this.ended) return;
    this.dumped = true;
    this.chunks = null;
    this.held = 0;
  }

  /** @internal the body is complete */
  end(): void {
    this.ended = true;
    if (this.onData) this.onData(EMPTY, true);
    const w = this.waiters;
    this.waiters = null;
    if (w) {
      const b = this.#joined();
      for (const x of w) x.resolve(b);
    }
  }

  #joined(): Uint8Array {
    return this.chunks ? this.chunks.subarray(0, this.held) : EMPTY;
  }

  /** @internal the record goes away with the next parse: keep a copy */
  detach(): void {
    const size = this.rec.readUInt32LE(this.at + REC_SIZE_AT);
    this.rec = Buffer.from(this.rec.subarray(this.at, this.at + size));
    this.at = 0;
  }
}

const EMPTY = new Uint8Array(0);

/** A repeated header's values as one: joined with ", " (cookie: "; "). */
function joinValues(name: string, before: string | undefined, value: string): string {
  return before === undefined ? value : before + (name === 'cookie' ? '; ' : ', ') + value;
}

/** Where the path of an absolute-form target ("http://host:port/path") starts, or -1 for another form ("*", "host:443"). */
export function authorityEnd(target: string): number {
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(target);
  return m ? m[0].length : -1;
}
