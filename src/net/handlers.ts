// Port handlers: a task module defines one handler set per server with
// defineTcpHandler / defineUdpHandler (as Bun.listen takes one object of
// callbacks, not a closure per socket). Every driver imports the same
// modules, so every driver serving a port finds the same handler under the
// port's `handler` name; the shape each module registered (its callbacks)
// is part of the port's fingerprint (fingerprint.ts).
import { threadSlot } from '../drivers/slot.js';
import type { TcpConnection } from './tcp.js';
import type { UdpPeer, UdpSocket } from './udp.js';
import type { HttpRequest } from './http/request.js';
import type { HttpResponse } from './http/response.js';
import type { FetchContext } from './http/fetch.js';

export interface TcpHandlers<Data = unknown> {
  /** a connection was accepted */
  open?(conn: TcpConnection<Data>): void | Promise<void>;
  /**
   * Bytes arrived. `bytes` is a view into a buffer of the driver's arena,
   * valid until the handler returns (it goes back to the kernel after the
   * batch): `slice()` what you keep. An async handler's rejection is
   * handled as a throw (reported, the connection closed); bytes read after
   * its first await are not valid.
   */
  data?(conn: TcpConnection<Data>, bytes: Uint8Array): void | Promise<void>;
  /** write() had returned false and everything queued has been sent */
  drain?(conn: TcpConnection<Data>): void | Promise<void>;
  /** the peer shut down its sending side; without this handler the connection is ended (after what is queued) */
  end?(conn: TcpConnection<Data>): void | Promise<void>;
  /** the connection is gone; `error` when a failure closed it */
  close?(conn: TcpConnection<Data>, error?: Error): void | Promise<void>;
  /** a handler of this connection threw, or its promise rejected (the connection is then closed) */
  error?(conn: TcpConnection<Data>, error: unknown): void;
}

export interface UdpHandlers {
  /** A datagram. `bytes` is valid until the handler returns (slice() to keep); `peer` can be kept. */
  message(socket: UdpSocket, bytes: Uint8Array, peer: UdpPeer): void | Promise<void>;
  /** message() threw, or its promise rejected */
  error?(socket: UdpSocket, error: unknown): void;
}

/**
 * An HTTP port server's handler: `request(req, res)`, the fast one, or
 * `fetch(request, ctx)` with WHATWG Request and Response (`fetch: app.fetch`
 * runs a Hono app). Exactly one of the two.
 */
export interface HttpHandlers {
  request?(req: HttpRequest, res: HttpResponse): unknown;
  fetch?(request: Request, ctx: FetchContext): Response | Promise<Response>;
  /** the handler threw or rejected (the client got a 500, or the connection closed if the response had begun) */
  error?(err: unknown, req: HttpRequest): void;
}

const TCP_CALLBACKS = ['open', 'data', 'drain', 'end', 'close', 'error'] as const;
const UDP_CALLBACKS = ['message', 'error'] as const;
const HTTP_CALLBACKS = ['request', 'fetch', 'error'] as const;

export type Handler =
  | { protocol: 'tcp'; name: string; handlers: TcpHandlers<any>; shape: string }
  | { protocol: 'udp'; name: string; handlers: UdpHandlers; shape: string }
  | { protocol: 'http'; name: string; handlers: HttpHandlers; shape: string };

function handlers(): Map<string, Handler> {
  const slot = threadSlot();
  return (slot.net ??= new Map<string, Handler>()) as Map<string, Handler>;
}

function define(protocol: 'tcp' | 'udp' | 'http', fn: string, name: string, h: Record<string, unknown>, known: readonly string[]): void {
  if (typeof name !== 'string' || name === '') throw new TypeError(`${fn}: the name must be a non-empty string`);
  if (h === null || typeof h !== 'object') throw new TypeError(`${fn}("${name}"): expected an object of callbacks (${known.join(', ')})`);
  for (const [k, v] of Object.entries(h)) {
    if (!known.includes(k)) throw new TypeError(`${fn}("${name}"): unknown callback "${k}" (a ${protocol} handler has ${known.join(', ')})`);
    if (v !== undefined && typeof v !== 'function') throw new TypeError(`${fn}("${name}"): ${k} must be a function, got ${typeof v}`);
  }
  if (protocol === 'udp' && typeof h.message !== 'function') throw new TypeError(`${fn}("${name}"): a UDP handler needs message(socket, bytes, peer)`);
  if (protocol === 'http' && (typeof h.request === 'function') === (typeof h.fetch === 'function')) throw new TypeError(`${fn}("${name}"): an HTTP handler has exactly one of request(req, res) and fetch(request, ctx)`);
  const map = handlers();
  const prev = map.get(name);
  if (prev && prev.handlers !== h) throw new Error(`${fn}: a port handler named "${name}" is already defined (each name once across all modules)`);
  const shape = `${protocol}:${known.filter((k) => typeof h[k] === 'function').join(',')}`;
  map.set(name, { protocol, name, handlers: h as never, shape });
}

/** Registers the callbacks of a TCP port server; a port with `handler: name` uses them. */
export function defineTcpHandler<Data = unknown>(name: string, h: TcpHandlers<Data>): TcpHandlers<Data> {
  define('tcp', 'defineTcpHandler', name, h as Record<string, unknown>, TCP_CALLBACKS);
  return h;
}

/** Registers the callbacks of a UDP port server. */
export function defineUdpHandler(name: string, h: UdpHandlers): UdpHandlers {
  define('udp', 'defineUdpHandler', name, h as unknown as Record<string, unknown>, UDP_CALLBACKS);
  return h;
}

/** Registers an HTTP port server's handler (a port with `protocol: "http"` and `handler: name`). */
export function defineHttpHandler(name: string, h: HttpHandlers): HttpHandlers {
  define('http', 'defineHttpHandler', name, h as unknown as Record<string, unknown>, HTTP_CALLBACKS);
  return h;
}

/** The handler this thread's modules registered under `name`. */
export function findHandler(name: string): Handler | undefined {
  return handlers().get(name);
}

/** Every handler name registered on this thread, sorted. */
export function handlerNames(): string[] {
  return [...handlers().keys()].sort();
}
