// The fetch-style handler, `fetch(request, ctx) => Response`, on top of the
// fast one: `fetch: app.fetch` runs a Hono app.
//
// WHATWG objects are costly in Node (undici's Request parses its URL and
// copies its headers); most handlers touch two fields. So the request is a
// LazyRequest: method, url, headers, the body readers and signal come from
// the HttpRequest directly, and anything else builds the real Request once,
// on first use. Its prototype is Request.prototype: `instanceof Request`
// holds. Likewise, on a driver thread that serves a fetch handler,
// `globalThis.Response` becomes LazyResponse: `new Response(text, init)`
// keeps its body and init, which the server writes without reading a
// stream; anything else (a stream body, clone(), ...) builds the real one.
import { authorityEnd, type HttpRequest } from './request.js';
import type { HttpResponse } from './response.js';
import type { HandlerErrorSink } from '../errors.js';

export interface FetchContext {
  /** the fast handler's request: remoteAddress, the raw header list, ... */
  readonly request: HttpRequest;
  /** Work that may outlive the response (Workers' ctx.waitUntil); its failure is reported. */
  waitUntil(p: Promise<unknown>): void;
  passThroughOnException(): void;
}

// Node's Request and Response (undici, loaded on first touch): taken, and
// the lazy versions built, only when a fetch handler is set up (setup()),
// so that a driver serving no fetch handler never loads undici.
let RealRequest: typeof Request;
let RealResponse: typeof Response;
let LazyRequestProto: object;
type BodyInit = ConstructorParameters<typeof Response>[0];
type HeadersInit = ConstructorParameters<typeof Headers>[0];
const REAL = Symbol('gatio.real');
const REQ = Symbol('gatio.req');
const BODY = Symbol('gatio.body');
const INIT = Symbol('gatio.init');

/** Every method and getter of `real` that `lazy` does not define itself: on the real object, built by `make` on first use. */
function delegateTheRest<T>(lazy: object, real: object, make: (self: T) => object): void {
  for (const key of Object.getOwnPropertyNames(real)) {
    if (key === 'constructor' || Object.prototype.hasOwnProperty.call(lazy, key)) continue;
    const d = Object.getOwnPropertyDescriptor(real, key)!;
    if (typeof d.value === 'function') {
      Object.defineProperty(lazy, key, {
        value(this: T, ...a: unknown[]) {
          return (make(this) as Record<string, (...x: unknown[]) => unknown>)[key]!(...a);
        },
      });
    } else if (d.get) {
      Object.defineProperty(lazy, key, {
        get(this: T) {
          return (make(this) as Record<string, unknown>)[key];
        },
      });
    }
  }
}

// ---- the request -------------------------------------------------------------------------

interface LazyRequest {
  [REQ]: HttpRequest;
  [REAL]?: Request;
  url: string;
  method: string;
  headers: Headers;
}

function realRequest(r: LazyRequest): Request {
  if (r[REAL]) return r[REAL];
  const req = r[REQ];
  const init: RequestInit & { duplex?: 'half' } = { method: req.method, headers: r.headers, signal: req.signal };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    init.body = new ReadableStream<Uint8Array>({
      start(controller) {
        req.data((chunk, last) => (last ? controller.close() : controller.enqueue(chunk.slice())));
      },
    });
    init.duplex = 'half';
  }
  return (r[REAL] = new RealRequest(r.url, init));
}

function buildRequestProto(): object {
  const proto = Object.create(RealRequest.prototype, {
    method: {
      get(this: LazyRequest) {
        return this[REQ].method;
      },
    },
    url: {
      get(this: LazyRequest & { _url?: string }) {
        if (this._url === undefined) {
          const req = this[REQ];
          const u = req.url;
          // (an absolute-form target is the URL; else the Host header names the authority)
          this._url = authorityEnd(u) > 0 ? u : `http://${req.header('host') ?? `localhost:${req.conn.localPort}`}${u}`;
        }
        return this._url;
      },
    },
    headers: {
      get(this: LazyRequest & { _headers?: Headers }) {
        return (this._headers ??= new Headers(this[REQ].headerList()));
      },
    },
    signal: {
      get(this: LazyRequest) {
        return this[REQ].signal;
      },
    },
    bodyUsed: {
      get(this: LazyRequest & { _used?: boolean }) {
        return this._used === true || (this[REAL]?.bodyUsed ?? false);
      },
    },
    text: {
      value(this: LazyRequest & { _used?: boolean }) {
        this._used = true;
        return this[REQ].text();
      },
    },
    json: {
      value(this: LazyRequest & { _used?: boolean }) {
        this._used = true;
        return this[REQ].json();
      },
    },
    arrayBuffer: {
      async value(this: LazyRequest & { _used?: boolean }) {
        this._used = true;
        const b = await this[REQ].body();
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      },
    },
  });
  // Everything else Request has (body, clone, formData, blob, cache, ...): from the real one.
  delegateTheRest(proto, RealRequest.prototype, realRequest);
  return proto;
}

function lazyRequest(req: HttpRequest): Request {
  const r = Object.create(LazyRequestProto) as LazyRequest;
  r[REQ] = req;
  return r as unknown as Request;
}

// ---- the response ---------------------------------------------------------------------------

type LightBody = string | Uint8Array | ArrayBuffer | null | undefined;

interface LazyResponse {
  [BODY]: unknown;
  [INIT]: ResponseInit | undefined;
  [REAL]?: Response;
}

function realResponse(r: LazyResponse): Response {
  return (r[REAL] ??= new RealResponse(r[BODY] as BodyInit, r[INIT]));
}

function light(body: unknown): body is LightBody {
  return body === null || body === undefined || typeof body === 'string' || body instanceof Uint8Array || body instanceof ArrayBuffer;
}

/** `new Response(body, init)` that keeps both until someone needs the real Response. */
function LazyResponse(this: LazyResponse, body?: unknown, init?: ResponseInit): void {
  if (!new.target) throw new TypeError("Class constructor Response cannot be invoked without 'new'");
  if (init?.status !== undefined) {
    // as the real one checks it (WebIDL's unsigned short, then the range): a status no client could take is refused here, not sent
    const st = Math.trunc(Number(init.status)) & 0xffff;
    if (st < 200 || st > 599) throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive (got ${String(init.status)})`);
    if (st !== init.status) init = { ...init, status: st };
  }
  this[BODY] = body;
  this[INIT] = init;
  if (!light(body)) realResponse(this); // a stream, a Blob, FormData, ...: the real one now (it checks them)
}
function buildResponseProto(): void {
  LazyResponse.prototype = Object.create(RealResponse.prototype, {
    status: {
      get(this: LazyResponse) {
        return this[REAL] ? this[REAL].status : (this[INIT]?.status ?? 200);
      },
    },
    ok: {
      get(this: LazyResponse) {
        const s = (this as unknown as Response).status;
        return s >= 200 && s < 300;
      },
    },
    headers: {
      get(this: LazyResponse) {
        return realResponse(this).headers;
      },
    },
  });
  delegateTheRest(LazyResponse.prototype, RealResponse.prototype, realResponse);
  Object.defineProperty(LazyResponse.prototype, 'constructor', { value: LazyResponse });
  // Handler code sees LazyResponse as `Response`: Node's own Responses (Response.json(), clone(), a fetch() result) are Responses too.
  // (A subclass of it keeps the ordinary check.)
  Object.defineProperty(LazyResponse, Symbol.hasInstance, {
    value(this: unknown, x: unknown): boolean {
      return this === LazyResponse ? x instanceof RealResponse : Function.prototype[Symbol.hasInstance].call(this, x);
    },
  });
  for (const k of ['json', 'error', 'redirect'] as const) (LazyResponse as unknown as Record<string, unknown>)[k] = (RealResponse as unknown as Record<string, unknown>)[k];
}

function setup(): void {
  if (RealRequest) return;
  RealRequest = globalThis.Request;
  RealResponse = globalThis.Response;
  LazyRequestProto = buildRequestProto();
  buildResponseProto();
}

/** Makes `new Response()` on this thread a LazyResponse (once). */
export function installLazyResponse(): void {
  setup();
  if (globalThis.Response !== (LazyResponse as unknown)) globalThis.Response = LazyResponse as unknown as typeof Response;
}

// ---- writing a Response ------------------------------------------------------------------------

/** What @hono/node-server gives a body without a Content-Type (Node's adapter, which Hono apps are written for). */
const DEFAULT_TYPE = 'text/plain; charset=UTF-8';
const DIGITS = /^[0-9]+$/;

/** Headers of another fetch implementation: what the Fetch interface promises of them. */
interface PonyHeaders {
  [Symbol.iterator]?: () => Iterator<[string, string]>;
  forEach?(cb: (v: string, k: string) => void): void;
  getSetCookie?: () => string[];
}

/** The framing headers of the app's, which the server decides on (the rest is copied as given). */
interface AppFraming {
  type: boolean;
  /** the app's Content-Length, as written */
  length: string | null;
  /** the app said Transfer-Encoding: chunked */
  chunked: boolean;
}

function copyHeaders(res: HttpResponse, headers: Headers | HeadersInit | undefined): AppFraming {
  const f: AppFraming = { type: false, length: null, chunked: false };
  if (!headers) return f;
  const put = (k: string, v: string): void => {
    const l = k.length === 12 || k.length === 14 || k.length === 17 || k.length === 10 ? k.toLowerCase() : '';
    if (l === 'content-type') f.type = true;
    else if (l === 'content-length') return void (f.length = v.trim());
    else if (l === 'transfer-encoding') return void (f.chunked ||= /chunked/i.test(v));
    else if (l === 'keep-alive') return; // framing is ours
    // (Connection included: res.header keeps a `close` token, the only say a fetch handler has, and drops the rest)
    res.header(k, v);
  };
  if (headers instanceof Headers) {
    for (const [k, v] of headers) if (k !== 'set-cookie') put(k, v);
    for (const c of headers.getSetCookie()) put('set-cookie', c);
  } else if (Array.isArray(headers)) for (const [k, v] of headers) put(k!, v!);
  else if (typeof (headers as unknown as PonyHeaders)[Symbol.iterator] === 'function' || typeof (headers as unknown as PonyHeaders).forEach === 'function') {
    // another fetch implementation's Headers (a ponyfill): its interface, not its class
    const h = headers as unknown as PonyHeaders;
    const cookies = typeof h.getSetCookie === 'function' ? h.getSetCookie() : null; // (iterating joins them: unusable)
    const each = (k: string, v: string): void => {
      if (cookies === null || String(k).toLowerCase() !== 'set-cookie') put(String(k), String(v));
    };
    if (typeof h[Symbol.iterator] === 'function') for (const [k, v] of h as Iterable<[string, string]>) each(k, v);
    else h.forEach!((v, k) => each(k, v));
    if (cookies) for (const c of cookies) put('set-cookie', String(c));
  } else for (const [k, v] of Object.entries(headers)) put(k, v as string);
  return f;
}

/**
 * A Response of another fetch implementation (a ponyfill such as
 * @whatwg-node/fetch's): not `instanceof Response`, but with the Fetch
 * interface the server writes from: a numeric status, headers, and a body
 * that is null or has getReader().
 */
function responseLike(r: unknown): r is Response {
  if (typeof r !== 'object' || r === null) return false;
  const x = r as { status?: unknown; headers?: unknown; body?: unknown };
  return typeof x.status === 'number' && typeof x.headers === 'object' && x.headers !== null && (x.body == null || typeof (x.body as { getReader?: unknown }).getReader === 'function');
}

/**
 * The app's Content-Length for a body of `n` bytes: kept as written (`00011`
 * too) when it is true, or when no body goes out (HEAD, 204, 304: it
 * describes the GET's); one that contradicts the body is dropped and the
 * server's written (sent as given, the client would read the next response
 * from this one's body).
 */
function knownLength(res: HttpResponse, f: AppFraming, n: number): void {
  if (f.length !== null && DIGITS.test(f.length) && (Number(f.length) === n || res.bodyless)) res.header('content-length', f.length);
}

type Chunk = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;
/** `p`'s result if it is there within this turn's next few microtasks, else undefined (what @hono/node-server's readWithoutBlocking does). */
function ready(p: Promise<Chunk>): Promise<Chunk | undefined> {
  return Promise.race([p, Promise.resolve().then(() => Promise.resolve(undefined))]);
}

function bytesOf(value: unknown): Uint8Array | string {
  if (value instanceof Uint8Array || typeof value === 'string') return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`the Response body stream gave a chunk that is not bytes (${value === null ? 'null' : typeof value})`);
}

function lengthOf(b: Uint8Array | string): number {
  return typeof b === 'string' ? Buffer.byteLength(b) : b.length;
}

/**
 * Streams `body` with backpressure. The head goes out with the first chunk,
 * or at once when the stream has nothing yet: an SSE client waits for the
 * head before it does anything else. `whole` (a Node Response, whose body
 * is always a stream): a body that is all there without waiting (two
 * chunks at most, as @hono/node-server reads) goes out with a Content-Length.
 * An app's Content-Length on a stream is trusted; a stream that gives more
 * or fewer bytes cuts the connection.
 */
async function writeStream(res: HttpResponse, body: ReadableStream<Uint8Array>, f: AppFraming, whole: boolean): Promise<void> {
  const reader = body.getReader();
  let declared = f.length !== null && DIGITS.test(f.length) ? Number(f.length) : -1;
  if (res.bodyless) {
    // HEAD, 204, 304: nothing of the stream goes out
    reader.cancel().catch(() => {});
    knownLength(res, f, 0);
    res.write(''); // (the head without framing of its own; a Content-Length given stays)
    return res.end();
  }
  const collect = whole && !f.chunked;
  // What the stream has without waiting: the first chunk (the head goes with it), or up to two (collect).
  let pending = reader.read();
  let got = await ready(pending);
  const parts: Array<Uint8Array | string> = [];
  while (got !== undefined && !got.done && (parts.length === 0 || (collect && parts.length < 2))) {
    parts.push(bytesOf(got.value));
    got = await ready((pending = reader.read()));
  }
  if (got?.done && (collect || (parts.length === 0 && declared < 0))) {
    // all of it: a Node Response's body that was all there, or an empty stream, goes out with a Content-Length
    const all = parts.length < 2 ? parts[0] : Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    knownLength(res, f, all === undefined ? 0 : lengthOf(all));
    return res.end(all);
  }
  if (declared >= 0) res.header('content-length', f.length!);
  const put = (b: Uint8Array | string): boolean | 'cut' => {
    if (declared >= 0 && (declared -= lengthOf(b)) < 0) return 'cut'; // more than the app's Content-Length
    return res.write(b);
  };
  let ok: boolean | 'cut' = res.write(''); // the head: with the first chunk (same turn, one send) or alone
  for (const p of parts) if ((ok = put(p)) === 'cut') break;
  // `got`: the result after `parts`, or undefined while `pending` is still out
  while (ok !== 'cut') {
    if (ok === false) await res.drained();
    if (res.aborted) {
      pending.catch(() => {});
      return void reader.cancel(res.req?.abortedBy ?? undefined).catch(() => {});
    }
    const c = got ?? (await pending);
    got = undefined;
    if (c.done) break;
    ok = put(bytesOf(c.value));
    pending = reader.read();
  }
  if (ok === 'cut' || declared > 0) {
    pending.catch(() => {});
    reader.cancel().catch(() => {});
    throw new Error(`the Response body stream gave ${ok === 'cut' ? 'more' : 'fewer'} bytes than its Content-Length (${f.length})`);
  }
  res.end();
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  const t = typeof x;
  return t === 'object' ? 'an object' : /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

/** Writes a Response to the fast handler's response. */
export async function writeResponse(res: HttpResponse, r: Response): Promise<void> {
  setup();
  if (!(r instanceof RealResponse) && !responseLike(r)) throw new TypeError(`the fetch handler returned ${describe(r)}, not a Response (nor an object with a numeric status, headers, and a body that is null or has getReader())`);
  const lazy = r as unknown as LazyResponse;
  let whole = true;
  if (Object.getPrototypeOf(r) === LazyResponse.prototype) {
    if (!lazy[REAL]) {
      // A LazyResponse nobody turned into the real one: status, headers and body as given.
      const init = lazy[INIT];
      res.status(init?.status ?? 200);
      const f = copyHeaders(res, init?.headers);
      const b = lazy[BODY] as LightBody;
      const body = b == null ? undefined : b instanceof ArrayBuffer ? new Uint8Array(b) : b;
      if (body !== undefined && !f.type) res.header('content-type', DEFAULT_TYPE);
      knownLength(res, f, body === undefined ? 0 : lengthOf(body));
      return res.end(body);
    }
    // gatio's Response made with a stream: chunked, as @hono/node-server's lightweight Response (Hono's stream() must stay so)
    whole = light(lazy[BODY]) || typeof (lazy[BODY] as { getReader?: unknown }).getReader !== 'function';
    r = lazy[REAL];
  }
  res.status(r.status);
  const f = copyHeaders(res, r.headers);
  if (!r.body) {
    knownLength(res, f, 0);
    return res.end();
  }
  if (!f.type) res.header('content-type', DEFAULT_TYPE);
  return writeStream(res, r.body, f, whole);
}

/** A fast handler that runs `fetch` (port-side.ts makes one per HTTP port with a fetch handler). */
export function fetchHandler(
  fetch: (request: Request, ctx: FetchContext) => Response | Promise<Response>,
  key: string,
  handlerName: string,
  report: HandlerErrorSink,
): (req: HttpRequest, res: HttpResponse) => unknown {
  installLazyResponse();
  return (req, res) => {
    const ctx: FetchContext = {
      request: req,
      waitUntil(p) {
        // (after the response, maybe: reported like a handler's failure, the 'error' event)
        Promise.resolve(p).catch((err) => report(key, handlerName, `waitUntil() of ${req.method} ${req.path}`, err));
      },
      passThroughOnException() {},
    };
    const out = fetch(lazyRequest(req), ctx);
    if (out instanceof RealResponse) return writeResponse(res, out);
    return Promise.resolve(out).then((r) => writeResponse(res, r));
  };
}
