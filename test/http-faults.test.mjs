// Serving faults found by reading the code (issue 16, section 2), each
// reproduced through a real server on loopback: what a client could do to
// stall a connection, kill a driver or see another client's data.
import { skip, test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { start } from '../dist/index.js';
import { fixtures } from './_support.mjs';
import { HOST, bounded, connect, netMissing, readAll } from './_net-support.mjs';
import { get, responses, serveHttp } from './_http-support.mjs';

const HANDLERS = join(fixtures, 'net', 'http-handlers.mjs');
const FAULTS = join(fixtures, 'net', 'fault-handlers.mjs');
const KINDS = ['symbol', 'response', 'function', 'primitive-less', 'error-with-function', 'named-tostring', 'named-constructor'];
const missing = await netMissing();
const netTest = missing ? (name) => test(name, () => skip(missing)) : test;

for (const mode of ['hybrid', 'io+exec']) {
  const io = mode === 'io+exec';
  // (hybrid: one driver, so that a connection's requests meet one server)
  const withServer = (handler, fn, o = {}) => serveHttp([HANDLERS, FAULTS], io, handler, fn, { ...o, port: { ...(io ? {} : { drivers: [0] }), ...o.port } });

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

  /** Waits until `n` errors were reported (or 5 s). */
  async function errorsReported(seen, n) {
    const t0 = Date.now();
    while (seen.length < n && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
  }

  /** The serving drivers are alive and were never restarted. */
  function noDriverDied(rt) {
    for (const d of rt.driverStats()) {
      assert.is(d.state, 'running', `${d.name} is ${d.state}`);
      assert.is(d.restarts, 0, `${d.name} was restarted`);
    }
  }

  // The failure report itself threw (the value could not be sent to the main thread) and killed the driver.
  netTest(`[${mode}] a TCP handler that throws or rejects with a value that cannot be sent is reported, and the driver lives`, async () => {
    const rt = await start({ modules: [FAULTS], ports: [{ port: 0, protocol: 'tcp', handler: 'throws-odd', host: HOST, ...(io ? { drivers: 'io' } : { drivers: [0] }) }], ...(io ? { drivers: { io: 1, exec: 1 } } : {}) });
    const seen = [];
    rt.on('error', (e) => seen.push(e));
    try {
      const port = rt.ports()[0].port;
      let n = 0;
      for (const how of ['sync', 'async']) {
        for (const kind of KINDS) {
          const s = await connect(port);
          const closed = readAll(s);
          s.write(`${how} ${kind}`);
          await bounded(closed, 5000, `${how} ${kind}: the failing connection closes`);
          await errorsReported(seen, ++n);
          assert.is(seen.length, n, `${how} ${kind}: reported`);
          const e = seen[n - 1];
          assert.is(e.name, 'PortHandlerError');
          assert.match(e.message, /handler "throws-odd" data\(\)/);
          if (kind === 'error-with-function') assert.instance(e.cause, TypeError);
          else assert.match(e.message, kind === 'symbol' ? /symbol/i : kind === 'response' ? /Response/ : /./);
          noDriverDied(rt);
        }
      }
      const s = await connect(port);
      const back = readAll(s);
      s.end('still serving');
      assert.is((await bounded(back, 5000, 'echo after the failures')).toString(), 'still serving');
    } finally {
      await rt.shutdown({ deadline: 3000 });
    }
  });

  // requestTimeout closed a response still streaming past it (a 300 s SSE stream was cut); node's bounds receiving the request only.
  netTest(`[${mode}] a response that streams for longer than requestTimeout is not cut`, async () => {
    await withServer(
      'slow-stream',
      async (port) => {
        const r = await bounded(fetch(`http://${HOST}:${port}/slow/12/60`), 10_000, 'the streaming response');
        assert.is(r.status, 200);
        const text = await bounded(r.text(), 10_000, 'its body');
        assert.ok(text.endsWith('chunk 11;done'), `the whole stream (${text.length} bytes: ${text.slice(-40)})`);
        // (a body that stalls past requestTimeout still gets 408: http-server.test's timeouts test)
      },
      { port: { http: { requestTimeout: 300 } } },
    );
  });

  // An answered request's unread body was kept for the life of the connection; node:http dumps it.
  netTest(`[${mode}] the body of a request answered without reading it is discarded (a late body() says so), and the connection goes on`, async () => {
    await withServer('limits-probe', async (port) => {
      const s = await connect(port);
      const rs = responses(s);
      const body = 'x'.repeat(200_000);
      s.write(`POST /no-read HTTP/1.1\r\nHost: t\r\nX-Id: a\r\nContent-Length: ${body.length}\r\n\r\n`);
      assert.is((await bounded(rs.next(), 5000, 'the answer')).text, 'answered');
      s.write(body);
      await new Promise((r) => setTimeout(r, 200));
      s.write(get('/late', 'X-Id: a\r\n'));
      assert.is((await bounded(rs.next(), 5000, 'the late report')).text, 'GATIO_HTTP_BODY_DISCARDED');
      s.destroy();
    });
  });

  // 1-byte chunks were held as one Uint8Array each (~200 B of heap a byte); now one buffer: the body is still exact.
  netTest(`[${mode}] a body of 20,000 one-byte chunks is read whole`, async () => {
    await withServer('limits-probe', async (port) => {
      const s = await connect(port);
      const rs = responses(s);
      s.write('POST /body-length HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n' + '1\r\nz\r\n'.repeat(20_000) + '0\r\n\r\n');
      assert.is((await bounded(rs.next(), 10_000, 'the length')).text, '20000');
      s.destroy();
    });
  });

  // A response waiting behind a slow one had write() say true to everything: all 8 MiB were held.
  netTest(`[${mode}] a pipelined response waiting its turn gets write()'s false past highWater, and drained() when its bytes went out`, async () => {
    await withServer('limits-probe', async (port) => {
      const s = await connect(port);
      const rs = responses(s);
      s.write(get('/slow-first') + get('/flood-behind'));
      assert.is((await bounded(rs.next(), 10_000, 'the first')).text, 'first');
      const second = await bounded(rs.next(), 20_000, 'the flood');
      const beforeFalse = Number(/before-false=(-?\d+)$/.exec(second.text)?.[1]);
      assert.ok(beforeFalse > 0 && beforeFalse <= 2 * 1024 * 1024, `write() said false after ${beforeFalse} bytes (highWater 1 MiB)`);
      assert.is(second.text.length, 8 * 1024 * 1024 + `\nbefore-false=${beforeFalse}`.length);
      s.destroy();
    });
  });

  // One res.end() larger than maxQueued closed a connection whose client reads as fast as it can.
  netTest(`[${mode}] one res.end() larger than maxQueued reaches a client that reads`, async () => {
    await withServer(
      'limits-probe',
      async (port) => {
        const r = await bounded(fetch(`http://${HOST}:${port}/big-end/8`), 20_000, 'the big response');
        const b = new Uint8Array(await bounded(r.arrayBuffer(), 20_000, 'its body'));
        assert.is(b.length, 8 * 1024 * 1024);
        assert.ok(b.every((x) => x === 0x62));
      },
      { port: { maxQueued: 2 * 1024 * 1024 } },
    );
  });

  // The timeout sweep stopped with the listener at shutdown: a client that
  // never closes its side (or never finishes its head) held shutdown to its deadline.
  netTest(`[${mode}] shutdown: the HTTP timeouts still run, so clients that never finish do not hold it to its deadline`, async () => {
    const rt = await start({ modules: [HANDLERS], ports: [{ port: 0, protocol: 'http', handler: 'probe', host: HOST, ...(io ? { drivers: 'io' } : { drivers: [0] }), http: { headersTimeout: 300, requestTimeout: 400, keepAliveTimeout: 300 } }], ...(io ? { drivers: { io: 1, exec: 1 } } : {}) });
    const port = rt.ports()[0].port;
    const slow = await connect(port);
    slow.on('error', () => {});
    slow.write('GET / HTTP/1.1\r\nHost: t\r\nX-Slow: a'); // a head that never ends
    const idle = await connect(port);
    idle.on('error', () => {});
    const rs = responses(idle);
    idle.write(get('/driver'));
    assert.is((await bounded(rs.next(), 5000, 'a keep-alive answer')).status, 200); // then it idles, and never closes its side
    // A body that stalls: its handler waits for it (a request in flight, which shutdown waits for)
    const stalled = await connect(port);
    stalled.on('error', () => {});
    stalled.write('POST /length HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab');
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await bounded(rt.shutdown({ deadline: 15_000 }), 20_000, 'shutdown');
    const ms = Date.now() - t0;
    slow.destroy();
    idle.destroy();
    stalled.destroy();
    assert.ok(ms < 6000, `shutdown took ${ms} ms of its 15,000 ms deadline`);
  });

  for (const handler of ['throws-odd-http', 'throws-odd-fetch']) {
    netTest(`[${mode}] ${handler}: a handler that throws or rejects with a value that cannot be sent gets a 500, is reported, and the driver lives`, async () => {
      await withServer(
        handler,
        async (port, rt, seen) => {
          let n = 0;
          const cases = [...['sync', 'async'].flatMap((how) => KINDS.map((k) => [how, k])), ...(handler === 'throws-odd-fetch' ? KINDS.map((k) => ['wait', k]) : [])];
          for (const [how, kind] of cases) {
            const r = await bounded(fetch(`http://${HOST}:${port}/${how}/${kind}`), 5000, `${how} ${kind}`);
            assert.is(r.status, how === 'wait' ? 200 : 500, `${how} ${kind}: status`);
            await r.text();
            await errorsReported(seen, ++n);
            assert.is(seen.length, n, `${how} ${kind}: reported`);
            assert.is(seen[n - 1].name, 'PortHandlerError');
            noDriverDied(rt);
          }
          const ok = await fetch(`http://${HOST}:${port}/fine`);
          assert.is(await ok.text(), 'ok');
        },
        { errors: true },
      );
    });
  }
}

test.run();
