// Helpers of the net tests: real sockets on loopback, bounded in time.
import net from 'node:net';
import dgram from 'node:dgram';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fixtures } from './_support.mjs';

export const NET = join(fixtures, 'net', 'handlers.mjs');
export const HOST = '127.0.0.1';

/** Within `ms`, or a failure naming what hung. */
export function bounded(p, ms, what) {
  let timer;
  return Promise.race([p, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Connects; resolves the socket once connected. */
export function connect(port, host = HOST) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host, noDelay: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the socket receives until it ends (or closes). */
export function readAll(s) {
  const parts = [];
  s.on('data', (d) => parts.push(d));
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('close', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

/** Resolves once `n` bytes have arrived (returns them). */
export function readBytes(s, n) {
  const parts = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    const on = (d) => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        s.off('data', on);
        resolve(Buffer.concat(parts));
      }
    };
    s.on('data', on);
    s.once('error', reject);
    s.once('close', () => got < n && reject(new Error(`closed after ${got} of ${n} bytes`)));
  });
}

/** A port nothing listens on right now (TCP and UDP), for tests that need the same number twice. */
export async function freePort() {
  for (;;) {
    const srv = net.createServer();
    await new Promise((r) => srv.listen(0, HOST, r));
    const port = srv.address().port;
    await new Promise((r) => srv.close(r));
    const u = dgram.createSocket('udp4');
    const ok = await new Promise((r) => {
      u.once('error', () => r(false));
      u.bind(port, HOST, () => r(true));
    });
    await new Promise((r) => (ok ? u.close(r) : r()));
    if (ok) return port;
  }
}

/** The fds this process has open. */
export function fdCount() {
  return readdirSync('/proc/self/fd').length;
}

/** A UDP request and its reply (or a rejection after ms). */
export function udpAsk(port, payload, ms = 2000, host = HOST) {
  const u = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  return bounded(
    new Promise((resolve, reject) => {
      u.once('message', (m, rinfo) => resolve({ m, rinfo }));
      u.once('error', reject);
      u.send(payload, port, host);
    }),
    ms,
    'udp reply',
  ).finally(() => u.close());
}

/** Random bytes from a seeded generator (reproducible failures). */
export function randomBytes(n, seed) {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Why this kernel cannot run the port servers (multishot accept and recv,
 * provided-buffer rings), or undefined when it can.
 */
export async function netMissing() {
  const { probeIoUring } = await import('../dist/index.js');
  const p = probeIoUring();
  if (!p.ok) return `io_uring is unavailable: ${p.error}`;
  const need = ['PBUF_RING', 'MULTISHOT_ACCEPT', 'MULTISHOT_RECV'].filter((f) => !p.features[f]);
  return need.length ? `the kernel lacks ${need.join(', ')} (${need.map((f) => p.details[f] ?? '').join('; ')})` : undefined;
}
