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

function copyHeaders(res: HttpResponse, headers: Headers | HeadersInit | undefined, skipLength: boolean): boolean {
  let type = false;
  if (!headers) return false;
  const put = (k: string, v: string): void => {
    const l = k.toLowerCase();
    if (l === 'content-type') type = true;
    if (skipLength && l === 'content-length') return;
    if (l === 'transfer-encoding' || l === 'connection' || l === 'keep-alive') return; // framing is ours
    res.header(k, v);
  };
  if (headers instanceof Headers) {
    for (const [k, v] of headers) if (k !== 'set-cookie') put(k, v);
    for (const c of headers.getSetCookie()) put('set-cookie', c);
  } else if (Array.isArray(headers)) for (const [k, v] of headers) put(k!, v!);
  else for (const [k, v] of Object.entries(headers)) put(k, v as string);
  return type;
}

async function writeStream(res: HttpResponse, body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  const first = await reader.read();
  if (first.done) return res.end();
  const second = await reader.read();
  if (second.done) return res.end(first.value); // one piece: a Content-Length response
  if (!res.write(first.value)) await res.drained();
  let chunk: Awaited<ReturnType<typeof reader.read>> = second;
  while (!chunk.done) {
    if (res.aborted) {
      await reader.cancel(res.req?.abortedBy ?? undefined);
      return;
    }
    if (!res.write(chunk.value)) await res.drained();
    chunk = await reader.read();
  }
  res.end();
}

/** Writes a Response to the fast handler's response. */
export async function writeResponse(res: HttpResponse, r: Response): Promise<void> {
  setup();
  if (!(r instanceof RealResponse)) throw new TypeError(`the fetch handler returned ${r === null ? 'null' : typeof r}, not a Response`);
  const lazy = r as unknown as LazyResponse;
  if (Object.getPrototypeOf(r) === LazyResponse.prototype) {
    if (!lazy[REAL]) {
      // A LazyResponse nobody turned into the real one: status, headers and body as given.
      const init = lazy[INIT];
      res.status(init?.status ?? 200);
      const typed = copyHeaders(res, init?.headers, true);
      const body = lazy[BODY] as LightBody;
      if (typeof body === 'string' && !typed) res.header('content-type', 'text/plain;charset=UTF-8');
      return res.end(body == null ? undefined : body instanceof ArrayBuffer ? new Uint8Array(body) : body);
    }
    r = lazy[REAL];
  }
  res.status(r.status);
  const length = r.headers.get('content-length');
  copyHeaders(res, r.headers, length === null);
  if (!r.body) return res.end();
  return writeStream(res, r.body);
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
