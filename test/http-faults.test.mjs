// Serving faults found by reading the code (issue 16, section 2), each
// reproduced through a real server on loopback: what a client could do to
// stall a connection, kill a driver or see another client's data.
import { skip, test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { start } from '../dist/index.js';
import { fixtures } from './_support.mjs';
import { HOST, bounded, connect, netMissing } from './_net-support.mjs';
import { get, responses } from './_http-support.mjs';

const HANDLERS = join(fixtures, 'net', 'http-handlers.mjs');
const missing = await netMissing();
const netTest = missing ? (name) => test(name, () => skip(missing)) : test;

for (const mode of ['hybrid', 'io+exec']) {
  const io = mode === 'io+exec';
  const httpPort = (handler, extra = {}) => ({ port: 0, protocol: 'http', handler, host: HOST, ...(io ? { drivers: 'io' } : { drivers: [0] }), ...extra });

  async function withServer(handler, fn, { errors, ...rest } = {}) {
    const rt = await start({ modules: [HANDLERS], ports: [httpPort(handler)], ...(io ? { drivers: { io: 1, exec: 1 } } : {}), ...rest });
    const seen = [];
    rt.on('error', (e) => seen.push(e));
    try {
      return await fn(rt.ports()[0].port, rt, seen);
    } finally {
      await rt.shutdown({ deadline: 3000 });
      if (!errors) assert.equal(seen.map((e) => e.message), [], 'no handler errors reported');
    }
  }

  // The pipelining bound pauses reading at 128 unanswered requests and
  // resumes at 64; a handler that settles in a microtask (a Hono app) makes
  // both happen in one turn, and the connection stopped reading for good.
  netTest(`[${mode}] pipelining past the bound to a Hono app (handlers settle in microtasks): every request is answered`, async () => {
    await withServer('hono', async (port) => {
      const N = 3000;
      const s = await connect(port);
      const rs = responses(s);
      let all = '';
      for (let i = 0; i < N; i++) all += get(i % 2 ? '/' : `/users/${i}`);
      s.write(all);
      for (let i = 0; i < N; i++) {
        const r = await bounded(rs.next(), 10_000, `response ${i} of ${N}`);
        assert.is(r.status, 200, `response ${i}`);
        if (i % 2 === 0) assert.is(JSON.parse(r.text).id, String(i));
      }
      s.destroy();
    });
  });

  netTest(`[${mode}] a burst just past the pipelining bound, answered in microtasks, then one more request later: the connection still reads`, async () => {
    await withServer('hono', async (port) => {
      for (const burst of [129, 150, 200, 256]) {
        const s = await connect(port);
        const rs = responses(s);
        s.write(get('/').repeat(burst));
        for (let i = 0; i < burst; i++) assert.is((await bounded(rs.next(), 10_000, `burst of ${burst}: response ${i}`)).status, 200);
        await new Promise((r) => setTimeout(r, 20));
        s.write(get('/users/7'));
        const r = await bounded(rs.next(), 3000, `burst of ${burst}: the request sent after it (the connection stopped reading)`);
        assert.is(JSON.parse(r.text).id, '7');
        s.destroy();
      }
    });
  });
}

test.run();
