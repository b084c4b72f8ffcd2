// Helpers of the HTTP tests: raw sockets speaking HTTP/1.1 byte by byte,
// and a strict reader of the responses that come back (Content-Length,
// chunked, or until close), so that framing errors fail the test.
import * as assert from 'uvu/assert';
import { start } from '../dist/index.js';
import { HOST, connect } from './_net-support.mjs';

/** Reads responses off a socket in order. `next()` resolves one { status, headers, body, raw }, or null once the socket ended. */
export function responses(s, { head = [] } = {}) {
  let buf = Buffer.alloc(0);
  let ended = false;
  let waiter = null;
  let count = 0;
  s.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    waiter?.();
  });
  const done = () => {
    ended = true;
    waiter?.();
  };
  s.on('end', done);
  s.on('close', done);
  s.on('error', done);
  const more = () => new Promise((r) => (waiter = () => ((waiter = null), r())));
  return {
    get ended() {
      return ended && buf.length === 0;
    },
    /** bytes received and not yet parsed */
    get rest() {
      return buf;
    },
    async next() {
      const isHead = head.includes(count++);
      for (;;) {
        const r = parse(buf, ended, isHead);
        if (r) {
          buf = buf.subarray(r.used);
          return r.response;
        }
        if (ended) {
          if (buf.length) throw new Error(`the connection ended inside a response: ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`);
          return null;
        }
        await more();
      }
    },
  };
}

/** One response at the start of `b`, or null if it is not all there yet. */
function parse(b, ended, isHead) {
  const end = b.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = b.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(lines[0]);
  if (!m) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i <= 0) throw new Error(`bad header line ${JSON.stringify(l)}`);
    const k = l.slice(0, i).toLowerCase();
    const v = l.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  const status = Number(m[1]);
  let at = end + 4;
  let body;
  const bodyless = isHead || status < 200 || status === 204 || status === 304;
  if (bodyless) body = Buffer.alloc(0);
  else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts = [];
    for (;;) {
      const le = b.indexOf('\r\n', at);
      if (le < 0) return null;
      const size = parseInt(b.subarray(at, le).toString('latin1'), 16);
      if (!Number.isFinite(size)) throw new Error(`bad chunk size line ${JSON.stringify(b.subarray(at, le).toString('latin1'))}`);
      if (b.length < le + 2 + size + 2) return null;
      if (size === 0) {
        at = le + 4;
        break;
      }
      parts.push(b.subarray(le + 2, le + 2 + size));
      at = le + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (b.length < at + n) return null;
    body = b.subarray(at, at + n);
    at += n;
  } else {
    if (!ended) return null; // close-delimited
    body = b.subarray(at);
    at = b.length;
  }
  return { used: at, response: { status, reason: m[2], headers, body: Buffer.from(body), text: body.toString('latin1') } };
}

/** Connects, writes `bytes` (a string or buffer, or pieces with pauses), reads `n` responses (or all until the server closes). */
export async function ask(port, bytes, n = 1, opts = {}) {
  const s = await connect(port);
  const rs = responses(s, opts);
  for (const piece of Array.isArray(bytes) ? bytes : [bytes]) {
    if (typeof piece === 'number') await new Promise((r) => setTimeout(r, piece));
    else s.write(piece);
  }
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = await rs.next();
    if (!r) break;
    out.push(r);
  }
  return { socket: s, responses: out, reader: rs };
}

/** Resolves true when the server closes the socket within `ms`, false otherwise. */
export function closesWithin(s, ms) {
  if (s.destroyed || s.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    const yes = () => (clearTimeout(t), resolve(true));
    s.once('end', yes);
    s.once('close', yes);
  });
}

/** A GET request's bytes. */
export const get = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;

/**
 * A runtime serving one HTTP port (`handler` from `modules`) on hybrid
 * drivers, or on an io driver with an exec driver (`io`); `fn(port, rt,
 * errors)` runs against it. `port` adds to the port entry, the rest to the
 * config. Unless `errors`, no handler error may have been reported.
 */
export async function serveHttp(modules, io, handler, fn, { port: extra = {}, errors, ...rest } = {}) {
  const entry = { port: 0, protocol: 'http', handler, host: HOST, ...(io ? { drivers: 'io' } : {}), ...extra };
  const rt = await start({ modules, ports: [entry], ...(io ? { drivers: { io: 1, exec: 1 } } : {}), ...rest });
  const seen = [];
  rt.on('error', (e) => seen.push(e));
  try {
    return await fn(rt.ports()[0].port, rt, seen);
  } finally {
    await rt.shutdown({ deadline: 3000 });
    if (!errors) assert.equal(seen.map((e) => e.message), [], 'no handler errors reported');
  }
}
