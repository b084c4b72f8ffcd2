// The handlers of examples/http-server.mjs. Every driver imports this module.
import { defineHttpHandler } from 'gatio';

const CHUNK = new Uint8Array(64 * 1024).fill(120); // 'x'

/** Sends `n` bytes, in pieces, waiting whenever the connection has enough queued. */
async function sendSize(req, res, n) {
  res.header('content-length', n);
  if (req.method === 'HEAD') return res.end(); // the length only: no body is sent, so none is made
  let left = n;
  while (left > 0) {
    const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
    left -= piece.length;
    if (!res.write(piece)) await res.drained();
  }
  res.end();
}

defineHttpHandler('site', {
  request(req, res) {
    const path = req.path;
    // HEAD is answered wherever GET is (RFC 9110 9.3.2): the server sends its headers, no body
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/' && get) return res.end('hello');
    if (path === '/echo' && (req.method === 'POST' || req.method === 'PUT')) {
      return req.body().then((body) => res.end(body));
    }
    if (path.startsWith('/size/') && get) {
      const n = Number(path.slice(6));
      if (!Number.isSafeInteger(n) || n < 0) return res.status(400).end('bad size');
      return sendSize(req, res, n);
    }
    if (path.startsWith('/slow/') && get) {
      const ms = Number(path.slice(6));
      if (!Number.isFinite(ms) || ms < 0) return res.status(400).end('bad delay');
      return new Promise((resolve) => setTimeout(resolve, ms)).then(() => res.end('done'));
    }
    res.status(404).end('not found');
  },
});
