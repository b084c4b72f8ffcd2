// The `ports` of a config: which port servers run, with which handler and
// options, on which drivers. Checked and resolved here, with the TPCs
// (validate.ts calls resolvePorts), so `gatio plan` shows the drivers of
// each port and a bad entry is an error with its path before anything starts.
// What runs them is src/net/ (driver side) and src/drivers/main (listen,
// then compare what each driver got: fingerprint.ts).
import { isObject, unknownKeys, type IssueSink } from './issues.js';
import { readFileSync } from 'node:fs';
import { formatSize, parseSize } from './size.js';

// (config.ts's DriverKind and Size, restated: config.ts imports this file's types)
type DriverKind = 'io' | 'exec' | 'hybrid';
type Size = number | string;

export type Protocol = 'tcp' | 'udp' | 'http';
export const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp', 'http'];

/** The transport under a protocol: an HTTP port is a TCP port (one of them per port number). */
export function transportOf(p: Protocol): 'tcp' | 'udp' {
  return p === 'udp' ? 'udp' : 'tcp';
}

/** An HTTP port's limits and timeouts (docs/http.md); defaults like node:http's. */
export interface HttpOptions {
  /** request line + headers; more: 431 (node: 16 KiB) */
  maxHeaderBytes: number;
  /** more headers: 431 (node: 2000) */
  maxHeaders: number;
  /** a longer request target: 414 */
  maxUrl: number;
  /** a larger request body: 413 (node has no limit) */
  maxBody: number;
  /** ms from a request's first byte to the end of its head; then 408 (slowloris; node: 60 s) */
  headersTimeout: number;
  /** ms from a request's first byte to its response's end; then 408, or close once the response began (node: 300 s) */
  requestTimeout: number;
  /** ms an idle keep-alive connection stays open (node: 5 s) */
  keepAliveTimeout: number;
}

export const HTTP_DEFAULTS: HttpOptions = {
  maxHeaderBytes: 16 * 1024,
  maxHeaders: 2000,
  maxUrl: 8 * 1024,
  maxBody: 64 * 1024 * 1024,
  headersTimeout: 60_000,
  requestTimeout: 300_000,
  keepAliveTimeout: 5_000,
};

/** Options a port's drivers must all get alike (the fingerprint covers each). */
export interface PortOptions {
  /** listen() backlog; the kernel clamps it to net.core.somaxconn (default 1024) */
  backlog?: number;
  /** the provided-buffer ring of each driver: `count` buffers (a power of two) of `size` bytes (default 256 x 16 KiB) */
  buffers?: { count?: number; size?: Size };
  /** connections per driver; more are accepted and closed at once, counted as refused (default 65536) */
  maxConnections?: number;
  /** TCP_NODELAY on every connection (default true) */
  noDelay?: boolean;
  /** SO_RCVBUF / SO_SNDBUF; the kernel doubles and clamps them (default: the kernel's) */
  recvBuffer?: Size;
  sendBuffer?: Size;
  /** bytes queued on a connection past which write() returns false (default 1 MiB) */
  highWater?: Size;
  /** bytes queued past which the connection is closed: its peer does not read and write()'s false was ignored (default 64 MiB) */
  maxQueued?: Size;
  /**
   * Which driver gets a connection: 'hash' (default), the kernel's reuseport
   * hash; 'cpu', the driver on the CPU that received it (a classic BPF
   * program on the reuseport group), when the port has a driver there.
   */
  steering?: 'hash' | 'cpu';
  /** protocol "http" only: limits and timeouts (sizes as numbers or "16kb"; times in ms) */
  http?: Partial<Record<keyof HttpOptions, Size>>;
}

export interface PortConfig extends PortOptions {
  port: number;
  protocol: Protocol;
  /** a handler a task module registered (defineTcpHandler / defineUdpHandler / defineHttpHandler) */
  handler: string;
  /** address to bind (default "::", IPv4 and IPv6 on one socket, where the machine has IPv6; else "0.0.0.0") */
  host?: string;
  /** who serves it: a kind, driver ids, or { tpc, kind } (default: every hybrid driver) */
  drivers?: DriverKind | number[] | { tpc?: string; kind?: DriverKind };
  /** per-TPC overrides, by TPC name (drivers of one port must still end up alike: start() checks) */
  perTpc?: Record<string, Pick<PortOptions, 'buffers' | 'recvBuffer' | 'sendBuffer'>>;
}

/** A port's options as every driver gets them (all numbers). */
export interface ListenOptions {
  backlog: number;
  bufCount: number;
  bufSize: number;
  maxConnections: number;
  noDelay: boolean;
  rcvBuf: number;
  /** rcvBuf is the runtime's default (UDP), not the user's: asked with SO_RCVBUFFORCE where permitted */
  forceRcvBuf: boolean;
  sndBuf: number;
  highWater: number;
  maxQueued: number;
  steering: 'hash' | 'cpu';
  /** HTTP ports: their limits and timeouts; null otherwise */
  http: HttpOptions | null;
}

export interface ResolvedPort {
  /** "tcp:9000": how errors, stats and the plan name it */
  key: string;
  port: number;
  protocol: Protocol;
  host: string;
  handler: string;
  /** driver ids (plan numbering) */
  drivers: number[];
  options: ListenOptions;
  /** TPC index -> options for its drivers, where perTpc changes them */
  byTpc: Record<number, ListenOptions>;
}

let ipv6: boolean | undefined;
/**
 * The address a port binds when the config names none: "::" where the
 * kernel has IPv6 (a dual-stack socket, IPV6_V6ONLY off: IPv4 clients too,
 * as node:net's default), else "0.0.0.0".
 */
export function defaultHost(): string {
  if (ipv6 === undefined) {
    try {
      ipv6 = readFileSync('/proc/net/if_inet6', 'utf8').trim() !== '';
    } catch {
      ipv6 = false;
    }
  }
  return ipv6 ? '::' : '0.0.0.0';
}

export const PORT_KEYS = ['port', 'protocol', 'handler', 'host', 'drivers', 'perTpc', 'backlog', 'buffers', 'maxConnections', 'noDelay', 'recvBuffer', 'sendBuffer', 'highWater', 'maxQueued', 'steering', 'http'] as const;
const HTTP_KEYS = Object.keys(HTTP_DEFAULTS) as (keyof HttpOptions)[];
const OVERRIDE_KEYS = ['buffers', 'recvBuffer', 'sendBuffer'] as const;

export const PORT_DEFAULTS: ListenOptions = {
  backlog: 1024,
  bufCount: 256,
  bufSize: 16 * 1024,
  maxConnections: 65536,
  noDelay: true,
  rcvBuf: 0,
  forceRcvBuf: false,
  sndBuf: 0,
  highWater: 1024 * 1024,
  maxQueued: 64 * 1024 * 1024,
  steering: 'hash',
  http: null,
};

/**
 * A UDP port's defaults differ in two places. Buffers hold the largest
 * datagram (65,527 bytes over IPv6, 65,507 over IPv4, after the 44 bytes
 * the kernel writes in front: a truncated datagram is dropped, never
 * delivered cut), 128 of them: a 16 MiB block of the arena per driver, of
 * which a small datagram touches one page per buffer. And the socket's
 * receive buffer is 8 MiB (the kernel doubles it for its bookkeeping;
 * SO_RCVBUFFORCE where the process may, else clamped by net.core.rmem_max),
 * so that a burst waits in the kernel while the driver drains the ring
 * instead of overflowing the default ~208 KiB (a few hundred small datagrams).
 */
export const UDP_DEFAULTS: ListenOptions = { ...PORT_DEFAULTS, bufCount: 128, bufSize: 65_600, rcvBuf: 8 * 1024 * 1024, forceRcvBuf: true };

function size(v: unknown, path: string, min: number, max: number, report: IssueSink): number | undefined {
  if (v === undefined) return undefined;
  let n: number;
  try {
    n = typeof v === 'number' ? v : parseSize(v as string);
  } catch (err) {
    report(path, (err as Error).message, v);
    return undefined;
  }
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    report(path, `must be a whole number of bytes from ${formatSize(min)} to ${formatSize(max)}, got ${JSON.stringify(v)}`, v);
    return undefined;
  }
  return n;
}

function whole(v: unknown, path: string, min: number, max: number, report: IssueSink): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    report(path, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`, v);
    return undefined;
  }
  return v;
}

function options(o: Record<string, unknown>, path: string, base: ListenOptions, report: IssueSink): ListenOptions {
  const r = { ...base };
  r.backlog = whole(o.backlog, `${path}.backlog`, 1, 65535, report) ?? r.backlog;
  if (o.buffers !== undefined) {
    if (!isObject(o.buffers)) report(`${path}.buffers`, 'expected { count, size }', o.buffers);
    else {
      unknownKeys(o.buffers, `${path}.buffers`, ['count', 'size'], report);
      const count = whole(o.buffers.count, `${path}.buffers.count`, 1, 32768, report);
      if (count !== undefined && (count & (count - 1)) !== 0) report(`${path}.buffers.count`, `must be a power of two (the kernel's buffer ring), got ${count}`, count);
      else if (count !== undefined) r.bufCount = count;
      r.bufSize = size(o.buffers.size, `${path}.buffers.size`, 64, 16 * 1024 * 1024, report) ?? r.bufSize;
    }
  }
  r.maxConnections = whole(o.maxConnections, `${path}.maxConnections`, 1, 1 << 20, report) ?? r.maxConnections;
  if (o.noDelay !== undefined) {
    if (typeof o.noDelay !== 'boolean') report(`${path}.noDelay`, `expected true or false, got ${JSON.stringify(o.noDelay)}`, o.noDelay);
    else r.noDelay = o.noDelay;
  }
  const rcv = size(o.recvBuffer, `${path}.recvBuffer`, 1, 1 << 30, report);
  if (rcv !== undefined) (r.rcvBuf = rcv), (r.forceRcvBuf = false);
  r.sndBuf = size(o.sendBuffer, `${path}.sendBuffer`, 1, 1 << 30, report) ?? r.sndBuf;
  r.highWater = size(o.highWater, `${path}.highWater`, 1, 2 ** 32 - 1, report) ?? r.highWater;
  r.maxQueued = size(o.maxQueued, `${path}.maxQueued`, 1, 2 ** 32 - 1, report) ?? r.maxQueued;
  if (o.steering !== undefined) {
    if (o.steering !== 'hash' && o.steering !== 'cpu') report(`${path}.steering`, `expected "hash" or "cpu", got ${JSON.stringify(o.steering)}`, o.steering);
    else r.steering = o.steering;
  }
  if (r.maxQueued < r.highWater) report(`${path}.maxQueued`, `must be at least highWater (${formatSize(r.highWater)})`, o.maxQueued);
  return r;
}

function httpOptions(raw: unknown, path: string, report: IssueSink): HttpOptions {
  const r = { ...HTTP_DEFAULTS };
  if (raw === undefined) return r;
  if (!isObject(raw)) {
    report(path, `expected { ${HTTP_KEYS.join(', ')} }`, raw);
    return r;
  }
  unknownKeys(raw, path, HTTP_KEYS, report);
  r.maxHeaderBytes = size(raw.maxHeaderBytes, `${path}.maxHeaderBytes`, 256, 1024 * 1024, report) ?? r.maxHeaderBytes;
  r.maxHeaders = whole(raw.maxHeaders, `${path}.maxHeaders`, 1, 65535, report) ?? r.maxHeaders;
  r.maxUrl = size(raw.maxUrl, `${path}.maxUrl`, 16, 1024 * 1024, report) ?? r.maxUrl;
  r.maxBody = size(raw.maxBody, `${path}.maxBody`, 0, 2 ** 53 - 1, report) ?? r.maxBody;
  for (const k of ['headersTimeout', 'requestTimeout', 'keepAliveTimeout'] as const) r[k] = whole(raw[k], `${path}.${k}`, 1, 2 ** 31 - 1, report) ?? r[k];
  return r;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
function validHost(h: string): boolean {
  const m = IPV4.exec(h);
  if (m) return m.slice(1).every((x) => Number(x) <= 255);
  return /^[0-9a-fA-F:.]+$/.test(h) && h.includes(':');
}

interface DriverRef {
  id: number;
  kind: DriverKind;
  tpc: number;
  tpcName: string;
}

/** Checks `ports` (the config's) against the resolved TPCs; each problem is reported with its path. */
/** What resolvePorts needs of a TPC: its name and its drivers' kinds, in plan order. */
export interface PortTpc {
  name: string;
  slots: ReadonlyArray<{ kind: DriverKind }>;
}

export function resolvePorts(raw: unknown, tpcs: readonly PortTpc[], report: IssueSink): ResolvedPort[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    report('ports', 'expected a list of ports, like [{ "port": 9000, "protocol": "tcp", "handler": "echo" }]', raw);
    return [];
  }
  // Driver ids as plan.ts numbers them: TPC order, then slot order.
  const all: DriverRef[] = [];
  tpcs.forEach((t, ti) => t.slots.forEach((s) => all.push({ id: all.length, kind: s.kind, tpc: ti, tpcName: t.name })));
  const out: ResolvedPort[] = [];
  const seen = new Map<string, string>();
  raw.forEach((p, i) => {
    const path = `ports[${i}]`;
    if (!isObject(p)) return report(path, 'expected { port, protocol, handler, ... }', p);
    let bad = false;
    const err: IssueSink = (pa, m, v) => {
      bad = true;
      report(pa, m, v);
    };
    unknownKeys(p, path, PORT_KEYS, err);
    const port = whole(p.port, `${path}.port`, 0, 65535, err);
    if (p.port === undefined) err(`${path}.port`, 'missing: the port number (0: the kernel picks one for every driver of the port)', undefined);
    const protocol = p.protocol as Protocol;
    if (!PROTOCOLS.includes(protocol)) err(`${path}.protocol`, `expected "tcp", "udp" or "http", got ${JSON.stringify(p.protocol)}`, p.protocol);
    if (typeof p.handler !== 'string' || p.handler === '') err(`${path}.handler`, 'expected the name of a handler a task module defines (defineTcpHandler / defineUdpHandler / defineHttpHandler)', p.handler);
    if (p.http !== undefined && protocol !== 'http') err(`${path}.http`, `HTTP options on a ${String(p.protocol)} port (they apply to protocol "http")`, p.http);
    const host = p.host ?? defaultHost();
    if (typeof host !== 'string' || !validHost(host)) err(`${path}.host`, `expected an IPv4 or IPv6 address like "127.0.0.1" or "::", got ${JSON.stringify(p.host)}`, p.host);
    const opts = options(p, path, protocol === 'udp' ? UDP_DEFAULTS : PORT_DEFAULTS, err);
    if (protocol === 'http') opts.http = httpOptions(p.http, `${path}.http`, err);
    const byTpc: Record<number, ListenOptions> = {};
    if (p.perTpc !== undefined) {
      if (!isObject(p.perTpc)) err(`${path}.perTpc`, 'expected { "<tpc name>": { buffers, recvBuffer, sendBuffer } }', p.perTpc);
      else
        for (const [name, o] of Object.entries(p.perTpc)) {
          const ti = tpcs.findIndex((t) => t.name === name);
          const pp = `${path}.perTpc.${name}`;
          if (ti < 0) err(pp, `no TPC is named "${name}" (TPCs: ${tpcs.map((t) => t.name).join(', ')})`, name);
          else if (!isObject(o)) err(pp, 'expected { buffers, recvBuffer, sendBuffer }', o);
          else {
            unknownKeys(o, pp, OVERRIDE_KEYS, err);
            byTpc[ti] = options(o, pp, opts, err);
          }
        }
    }
    // Who serves it.
    let chosen: DriverRef[] = [];
    const d = p.drivers;
    const dpath = `${path}.drivers`;
    if (d === undefined) {
      chosen = all.filter((x) => x.kind === 'hybrid');
      if (chosen.length === 0) err(dpath, 'no hybrid driver to serve it (the default); name the drivers, or plan hybrid drivers', d);
    } else if (typeof d === 'string') {
      if (!['io', 'exec', 'hybrid'].includes(d)) err(dpath, `expected "hybrid", "io", driver ids or { tpc, kind }, got ${JSON.stringify(d)}`, d);
      else chosen = all.filter((x) => x.kind === d);
    } else if (Array.isArray(d)) {
      for (const [j, id] of d.entries()) {
        const x = typeof id === 'number' ? all[id] : undefined;
        if (!x) err(`${dpath}[${j}]`, `no driver has id ${JSON.stringify(id)} (ids 0..${all.length - 1})`, id);
        else if (!chosen.includes(x)) chosen.push(x);
      }
    } else if (isObject(d)) {
      unknownKeys(d, dpath, ['tpc', 'kind'], err);
      const ti = d.tpc === undefined ? -1 : tpcs.findIndex((t) => t.name === d.tpc);
      if (d.tpc !== undefined && ti < 0) err(`${dpath}.tpc`, `no TPC is named ${JSON.stringify(d.tpc)} (TPCs: ${tpcs.map((t) => t.name).join(', ')})`, d.tpc);
      const kind = (d.kind as DriverKind | undefined) ?? 'hybrid';
      if (!['io', 'exec', 'hybrid'].includes(kind)) err(`${dpath}.kind`, `expected "hybrid" or "io", got ${JSON.stringify(d.kind)}`, d.kind);
      chosen = all.filter((x) => x.kind === kind && (ti < 0 || x.tpc === ti));
    } else err(dpath, `expected "hybrid", "io", driver ids or { tpc, kind }, got ${JSON.stringify(d)}`, d);
    if (!bad && chosen.length === 0) err(dpath, 'selects no driver: a port needs at least one', d);
    for (const x of chosen) {
      if (x.kind === 'exec') err(dpath, `driver ${x.id} (${x.tpcName}) is an exec driver: exec drivers own no sockets; serve ports with hybrid drivers, or io drivers (their TPC's exec drivers run the handlers)`, d);
      else if (x.kind === 'io' && !all.some((y) => y.tpc === x.tpc && y.kind === 'exec')) err(dpath, `driver ${x.id} is an io driver in TPC ${x.tpcName}, which has no exec driver to run the handlers`, d);
    }
    if (chosen.some((x) => x.kind === 'io') && chosen.some((x) => x.kind === 'hybrid')) err(dpath, 'mixes io and hybrid drivers: a port is served one way (hybrid drivers, or io drivers with exec drivers)', d);
    const key = `${protocol}:${port}`;
    if (port !== undefined && port !== 0 && PROTOCOLS.includes(protocol)) {
      const bound = `${transportOf(protocol)}:${port}`; // an HTTP port takes the TCP port of its number
      const prev = seen.get(bound);
      if (prev !== undefined) err(path, `${transportOf(protocol)} port ${port} is already declared by ${prev}: one entry per port and transport (an HTTP port is a TCP port)`, p.port);
      else seen.set(bound, path);
    }
    if (bad) return;
    out.push({ key, port: port!, protocol, host: host as string, handler: p.handler as string, drivers: chosen.map((x) => x.id), options: opts, byTpc });
  });
  return out;
}

/** Arena bytes a driver's port servers take (buffer rings), by the buddy allocator's rounding. */
export function portBufferBytes(ports: ResolvedPort[], driver: number, tpc: number): number {
  let n = 0;
  for (const p of ports) {
    if (!p.drivers.includes(driver)) continue;
    const o = p.byTpc[tpc] ?? p.options;
    n += 2 ** Math.ceil(Math.log2(o.bufCount * 16 + o.bufCount * o.bufSize));
  }
  return n;
}
