// A response as the fast handler writes it: status(), header(), write(),
// end(). The head is the status line and Date (cached bytes, per status and
// second) and the rest as one string; a response ended in one go
// (`res.end(body)`) is one write of head and body, and everything a turn
// writes to a connection leaves in one send (the port layer's cork).
// Framing is chosen here: Content-Length when the body is known at end(),
// chunked when write() streams to an HTTP/1.1 client, close-delimited to
// an HTTP/1.0 one; none for HEAD, 1xx, 204 and 304.
import type { HttpRequest } from './request.js';
import { statusLine } from './status.js';

/** "Content-Length: n\r\n\r\n" for small n: the whole rest of the common head, kept (a flat string: no concatenation per response) */
const HEAD_ENDS: string[] = [];

/** Where a response's bytes go, in order with the connection's other responses (server.ts). */
export interface ResponseSink {
  /** bytes of this response; false once the connection has more queued than its highWater */
  out(res: HttpResponse, data: string | Uint8Array): boolean;
  /** the response is complete (`close`: the connection ends after it) */
  finish(res: HttpResponse, close: boolean): void;
  /** resolves when the connection can take more */
  drained(res: HttpResponse): Promise<void>;
  /**
   * A response's head and body in one write: `prefix` (the status line and
   * Date, cached bytes), `text` (the rest of the head), `body`.
   */
  outParts(res: HttpResponse, prefix: Uint8Array, text: string, body: string | Uint8Array | undefined): boolean;
  /** "HTTP/1.1 <status> <reason>\r\nDate: <now>\r\n" as bytes, rebuilt each second */
  prefix(status: number): Uint8Array;
}

/** "HTTP/1.1 <status> <reason>\r\n" as bytes: the prefix of a response whose handler set its own Date */
const BARE_LINES = new Map<number, Uint8Array>();
function bareLine(status: number): Uint8Array {
  let l = BARE_LINES.get(status);
  if (l === undefined) BARE_LINES.set(status, (l = Buffer.from(statusLine(status), 'latin1')));
  return l;
}

/** a Connection value with the `close` token */
const CLOSE_TOKEN = /(?:^|,)\s*close\s*(?:,|$)/i;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;

export class HttpResponse {
  /** @internal */ readonly sink: ResponseSink;
  /** @internal the request asked for HEAD: no body goes out */
  readonly #head: boolean;
  /** @internal HTTP/1.0 client: no chunked framing */
  readonly #http10: boolean;
  /** @internal the connection ends after this response */
  close: boolean;
  #status = 200;
  #headers = '';
  #hasLength = false;
  #chunked = false;
  /** the handler set Date: the server's is left out (one Date, the handler's) */
  #hasDate = false;
  /** the head went out (status and headers can no longer change) */
  headersSent = false;
  /** end() was called */
  finished = false;
  /** @internal the connection is gone, or the server answered for the handler (a timeout): writes go nowhere */
  aborted = false;
  /** @internal its request (none for a refusal of a bad request) */
  req: HttpRequest | null = null;
  /** @internal the next response on the connection (pipelining: answered in order) */
  next: HttpResponse | null = null;
  /** @internal bytes written before the responses ahead of it ended */
  pending: Array<string | Uint8Array> | null = null;
  /** @internal their size (a string's length), for write()'s answer while it waits its turn */
  pendingBytes = 0;
  /** @internal drained() calls waiting for its turn */
  pendingWaiters: Array<() => void> | null = null;
  /** @internal when its request began (ms) */
  start = 0;

  /** @internal */
  constructor(sink: ResponseSink, head: boolean, http10: boolean, close: boolean) {
    this.sink = sink;
    this.#head = head;
    this.#http10 = http10;
    this.close = close;
  }

  /**
   * @internal The server answers instead of the handler (500 after a throw,
   * 408 on a timeout): false when the head had already gone out. The
   * connection ends after it; the handler's later writes go nowhere.
   */
  replace(status: number, text: string): boolean {
    if (this.headersSent || this.aborted) return false;
    this.#headers = 'Content-Type: text/plain; charset=UTF-8\r\n';
    this.#hasLength = this.#chunked = this.#hasDate = false;
    this.#status = status;
    this.close ||= status !== 500;
    this.finished = false;
    this.end(text);
    this.aborted = true;
    return true;
  }

  /**
   * @internal The response cannot be completed after its head went out (a
   * stream that failed, a handler that threw after write()): what it wrote
   * still goes out, in turn with the responses ahead of it, then the
   * connection ends without the rest, so the client sees a cut body (no
   * last chunk, or fewer bytes than its Content-Length), never a complete
   * one. Writes after it go nowhere.
   */
  cut(): void {
    if (this.finished) return;
    this.finished = true;
    this.aborted = true;
    this.close = true;
    this.sink.finish(this, true);
  }

  /** @internal no body goes out (HEAD, 1xx, 204, 304): a Content-Length set describes the body a GET would get */
  get bodyless(): boolean {
    return this.#bodyless();
  }

  /**
   * Sets the status (default 200): a final status, 200 to 599. 1xx are not
   * final (101 would switch protocols, which this server does not do), and
   * no client knows what to do with 600 or more.
   */
  status(code: number): this {
    if (!Number.isInteger(code) || code < 200 || code > 599) {
      const why = Number.isInteger(code) && code >= 100 && code < 200 ? ' (1xx is informational, not a final status; 101 would switch protocols, which this server does not do)' : '';
      throw new RangeError(`HttpResponse.status: status ${String(code)} cannot be sent: a final status is 200 to 599${why}`);
    }
    if (this.headersSent) throw new Error('HttpResponse.status: the head was already sent');
    this.#status = code;
    return this;
  }

  get statusCode(): number {
    return this.#status;
  }

  /**
   * Adds a header (call again for a repeated one). Content-Length set here
   * is trusted (the body must match); Date and framing are added unless
   * set. Connection is the server's to say: a `close` token ends the
   * connection after this response (the head says so once), other values
   * are dropped.
   */
  header(name: string, value: string | number): this {
    if (this.headersSent) throw new Error(`HttpResponse.header: the head was already sent (setting ${name})`);
    if (typeof name !== 'string' || !TOKEN.test(name)) throw new TypeError(`HttpResponse.header: ${JSON.stringify(name)} is not a valid header name`);
    const v = typeof value === 'number' ? String(value) : value;
    if (typeof v !== 'string') throw new TypeError(`HttpResponse.header: the value of ${name} must be a string or number`);
    if (BAD_VALUE.test(v)) throw new TypeError(`HttpResponse.header: the value of ${name} holds CR, LF or NUL (header injection)`);
    const lower = name.length === 14 || name.length === 10 || name.length === 17 || name.length === 4 ? name.toLowerCase() : '';
    if (lower === 'content-length') this.#hasLength = true;
    else if (lower === 'transfer-encoding') this.#chunked = /chunked/i.test(v);
    else if (lower === 'date') this.#hasDate = true;
    else if (lower === 'connection') {
      if (CLOSE_TOKEN.test(v)) this.close = true; // (#headRest says it)
      return this;
    }
    this.#headers += `${name}: ${v}\r\n`;
    return this;
  }

  /** node-style: status and headers at once. */
  writeHead(status: number, headers?: Record<string, string | number | readonly string[]>): this {
    this.status(status);
    if (headers) for (const [k, v] of Object.entries(headers)) for (const x of Array.isArray(v) ? v : [v]) this.header(k, x as string);
    return this;
  }

  /** No body may follow this status (1xx, 204, 304). */
  #bodylessStatus(): boolean {
    const s = this.#status;
    return s < 200 || s === 204 || s === 304;
  }

  /** No body may follow this status or method (HEAD). */
  #bodyless(): boolean {
    return this.#head || this.#bodylessStatus();
  }

  /** The status line and the server's Date (cached bytes), or the status line alone when the handler set a Date. */
  #prefix(): Uint8Array {
    return this.#hasDate ? bareLine(this.#status) : this.sink.prefix(this.#status);
  }

  /** The head after the cached prefix: the handler's headers, the framing, Connection, the blank line. */
  #headRest(framing: string): string {
    const c = this.close ? 'Connection: close\r\n\r\n' : this.#http10 ? 'Connection: keep-alive\r\n\r\n' : '\r\n';
    return this.#headers + framing + c;
  }

  /**
   * Streams a piece of the body (the head goes first, chunked unless a
   * Content-Length was set). Returns false once the connection has more
   * queued than its highWater: `await res.drained()` before writing more.
   */
  write(chunk: string | Uint8Array): boolean {
    if (this.aborted) return false;
    if (this.finished) throw new Error('HttpResponse.write: the response already ended');
    if (!this.headersSent) {
      let framing = '';
      if (!this.#bodyless() && !this.#hasLength && !this.#chunked) {
        if (this.#http10) this.close = true; // close-delimited: an HTTP/1.0 client has no chunked
        else (framing = 'Transfer-Encoding: chunked\r\n'), (this.#chunked = true);
      }
      this.headersSent = true;
      this.sink.outParts(this, this.#prefix(), this.#headRest(framing), undefined);
    }
    if (this.#bodyless()) return true;
    const n = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (n === 0) return true;
    if (!this.#chunked) return this.sink.out(this, chunk);
    this.sink.out(this, n.toString(16) + '\r\n');
    this.sink.out(this, chunk);
    return this.sink.out(this, '\r\n');
  }

  /** Resolves when the connection can take more (after write() returned false). */
  drained(): Promise<void> {
    return this.sink.drained(this);
  }

  /** Ends the response, with a last piece of body. Without write() before, the body gets a Content-Length. */
  end(body?: string | Uint8Array): void {
    if (this.finished) return;
    if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) throw new TypeError('HttpResponse.end: the body must be a string or a Uint8Array');
    if (this.headersSent && body !== undefined && !this.aborted) this.write(body);
    this.finished = true;
    if (this.aborted) return this.sink.finish(this, true);
    if (!this.headersSent) {
      this.headersSent = true;
      const bodyless = this.#bodyless();
      const n = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      let framing = '';
      // (a HEAD response has the Content-Length its GET would have)
      if (!this.#hasLength && !this.#chunked && !this.#bodylessStatus()) framing = `Content-Length: ${n}\r\n`;
      // The common head (no headers of the handler's, keep-alive, a short body) is one cached string.
      const rest = this.#headers === '' && !this.close && !this.#http10 && framing !== '' && n < 4096 ? (HEAD_ENDS[n] ??= framing + '\r\n') : this.#headRest(framing);
      this.sink.outParts(this, this.#prefix(), rest, bodyless || n === 0 ? undefined : body);
    } else if (!this.#bodyless() && this.#chunked) this.sink.out(this, '0\r\n\r\n');
    this.sink.finish(this, this.close);
  }
}
