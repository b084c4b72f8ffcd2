// The identical-config guarantee (DESIGN.md, "Networking"): every driver
// serving a port and protocol reports the configuration it actually got
// (options after the kernel's clamps, socket options read back, the
// handler's name and shape as its module registered it) and a fingerprint
// of it; the main thread compares them before the port takes traffic.
import { createHash } from 'node:crypto';
import type { ListenOptions, Protocol } from '../tpc/ports.js';

export interface EffectiveConfig {
  protocol: Protocol;
  host: string;
  port: number;
  handler: string;
  /** "tcp:open,data,close": the callbacks the module registered */
  shape: string;
  /** after the kernel's clamp (net.core.somaxconn); 0 for UDP */
  backlog: number;
  bufCount: number;
  bufSize: number;
  maxConnections: number;
  /** read back with getsockopt */
  noDelay: boolean;
  reusePort: boolean;
  rcvBuf: number;
  sndBuf: number;
  highWater: number;
  maxQueued: number;
  steering: 'hash' | 'cpu';
  /** HTTP ports: the limits and timeouts, as JSON ("" otherwise) */
  http: string;
}

const FIELDS: (keyof EffectiveConfig)[] = ['protocol', 'host', 'port', 'handler', 'shape', 'backlog', 'bufCount', 'bufSize', 'maxConnections', 'noDelay', 'reusePort', 'rcvBuf', 'sndBuf', 'highWater', 'maxQueued', 'steering', 'http'];

/** sha256 over the fields in a fixed order, first 16 hex digits. */
export function fingerprint(e: EffectiveConfig): string {
  const h = createHash('sha256');
  for (const f of FIELDS) h.update(`${f}=${String(e[f])}\n`);
  return h.digest('hex').slice(0, 16);
}

/** The fields in which `b` differs from `a`, as "field: a vs b". */
export function differences(a: EffectiveConfig, b: EffectiveConfig): string[] {
  return FIELDS.filter((f) => a[f] !== b[f]).map((f) => `${f}: ${JSON.stringify(a[f])} vs ${JSON.stringify(b[f])}`);
}

/** What a driver got for a listen (`r`: what its socket reports), as the fingerprint covers it. */
export function effectiveConfig(
  req: { protocol: Protocol; host: string; handler: string; options: ListenOptions },
  shape: string,
  r: { port: number; backlog: number; noDelay: boolean; reusePort: boolean; rcvBuf: number; sndBuf: number },
): EffectiveConfig {
  const o = req.options;
  return {
    protocol: req.protocol,
    host: req.host,
    port: r.port,
    handler: req.handler,
    shape,
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
    http: o.http ? JSON.stringify(o.http) : '',
  };
}
