// The fetch handler on the wire, as Hono apps expect the servers they are
// written for (@hono/node-server) to behave: when a stream's head goes out,
// framing and the app's own Content-Length and Transfer-Encoding, a stream
// that fails midway, the runtime's own 500, Responses of other fetch
// implementations, Date, statuses, `instanceof Response`, Connection: close,
// and reads of a request after its response ended. Real clients (Node's
// fetch) and raw sockets, on hybrid and on io+exec drivers.
import { skip, test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { fixtures } from './_support.mjs';
import { HOST, bounded, connect, netMissing } from './_net-support.mjs';
import { ask, closesWithin, get, serveHttp } from './_http-support.mjs';

const HANDLERS = join(fixtures, 'net', 'http-handlers.mjs');
const missing = await netMissing();
const netTest = missing ? (name) => test(name, () => skip(missing)) : test;

/** Sends `bytes` and collects what comes back until the server closes (or `ms` pass): the raw text and when each piece came. */
async function rawExchange(port, bytes, ms = 5000) {
  const s = await connect(port);
  const t0 = Date.now();
  const pieces = [];
  let text = '';
  const done = new Promise((resolve) => {
    s.on('data', (d) => {
      text += d.toString('latin1');
      pieces.push({ at: Date.now() - t0, text });
    });
    s.on('end', resolve);
    s.on('close', resolve);
    s.on('error', resolve);
  });
  s.write(bytes);
  await bounded(done, ms, `the server closes after ${JSON.stringify(bytes.slice(0, 40))}`);
  s.destroy();
  return { text, pieces, at: (re) => pieces.find((p) => re.test(p.text))?.at };
}

/** The head of a raw response: its header lines as [name (lowercase), value] in order. */
function headLines(raw) {
  return raw
    .slice(0, raw.indexOf('\r\n\r\n'))
    .split('\r\n')
    .slice(1)
    .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]);
}

for (const mode of ['hybrid', 'io+exec']) {
  const io = mode === 'io+exec';

  const withServer = (handler, fn, { errors, drivers } = {}) => serveHttp([HANDLERS], io, handler, fn, { errors, port: !io && drivers ? { drivers } : {} });

  netTest(`[${mode}] a stream's head goes out with its first chunk, or at once while the stream is pending (SSE, ReadableStream); a bare stream is text/plain; charset=UTF-8`, async () => {
    await withServer('fetch-wire', async (port) => {
      const base = `http://${HOST}:${port}`;
      // SSE: the first event is written at once, the second 1.2 s later: the client has the head and the first event long before
      const t0 = Date.now();
      const r = await bounded(fetch(`${base}/sse`), 5000, 'the SSE head');
      const headAt = Date.now() - t0;
      const reader = r.body.getReader();
      const first = new TextDecoder().decode((await bounded(reader.read(), 5000, 'the first event')).value);
      const firstAt = Date.now() - t0;
      assert.is(first, 'data: first\n\n');
      assert.ok(headAt < 700 && firstAt < 700, `head at ${headAt} ms, first event at ${firstAt} ms (the second comes at 1200 ms)`);
      assert.is(r.headers.get('content-type'), 'text/event-stream');
      assert.is(r.headers.get('transfer-encoding'), 'chunked');
      let rest = '';
      for (let c = await reader.read(); !c.done; c = await reader.read()) rest += new TextDecoder().decode(c.value);
      assert.is(rest, 'data: second\n\n');
      // a stream with nothing to give for 1.2 s: the head goes out at once
      const p = await rawExchange(port, get('/pending', 'Connection: close\r\n'));
      const pendingHeadAt = p.at(/\r\n\r\n/);
      assert.ok(pendingHeadAt < 700, `the pending stream's head at ${pendingHeadAt} ms`);
      assert.ok(p.at(/late/) >= 1000, 'its body when the stream gives it');
      const h = Object.fromEntries(headLines(p.text));
      assert.is(h['content-type'], 'text/plain; charset=UTF-8', 'a bare stream gets the Node adapter\'s default type');
      assert.is(h['transfer-encoding'], 'chunked');
      assert.ok(p.text.endsWith('4\r\nlate\r\n0\r\n\r\n'), JSON.stringify(p.text));
    });
  });

  netTest(`[${mode}] framing: a stream stays chunked (one piece too, Hono's stream(), an app's Transfer-Encoding; a whole one of Node's Response has a length); an app's Content-Length is kept as written when it is true, on both Response classes`, async () => {
    await withServer('fetch-wire', async (port) => {
      for (const path of ['/one-piece', '/hono-stream', '/app-chunked']) {
        const x = await ask(port, get(path));
        const r = x.responses[0];
        x.socket.destroy();
        assert.is(r.headers['transfer-encoding'], 'chunked', `${path}: chunked`);
        assert.is(r.headers['content-length'], undefined, `${path}: no Content-Length`);
        assert.is(r.text, { '/hono-stream': 'one piece', '/app-chunked': 'x' }[path] ?? 'only', path);
        assert.is(r.headers['content-type'], path === '/app-chunked' ? 'text/x-app' : 'text/plain; charset=UTF-8', path);
      }
      // Node's Response has a stream for every body: one that is all there without waiting gets a Content-Length (as @hono/node-server gives it)
      const real = await ask(port, get('/one-piece-real'));
      real.socket.destroy();
      assert.is(real.responses[0].headers['content-length'], '4');
      assert.is(real.responses[0].headers['transfer-encoding'], undefined);
      assert.is(real.responses[0].text, 'only');
      // the app's own Content-Length: kept as written (00011), on gatio's Response and on Node's alike; then the next request is served
      for (const path of ['/length-lazy', '/length-real']) {
        const x = await ask(port, get(path) + get(path), 2);
        x.socket.destroy();
        assert.is(x.responses.length, 2, path);
        for (const r of x.responses) {
          assert.is(r.headers['content-length'], '00011', `${path}: the app's Content-Length as written`);
          assert.is(r.text, 'hello world');
        }
      }
      // a Content-Length that contradicts the body is replaced by the body's (else the connection desyncs): both classes
      for (const path of ['/length-wrong-lazy', '/length-wrong-real']) {
        const x = await ask(port, get(path) + get('/length-lazy'), 2);
        x.socket.destroy();
        assert.is(x.responses[0].headers['content-length'], '11', path);
        assert.is(x.responses[0].text, 'hello world', path);
        assert.is(x.responses[1].text, 'hello world', `${path}: the next response is read where it starts`);
      }
    });
  });

  netTest(`[${mode}] a stream that fails midway: its head and the chunks before the error go out, then the connection is cut (an aborted body, not an empty reply)`, async () => {
    await withServer(
      'fetch-wire',
      async (port, rt, seen) => {
        const raw = await rawExchange(port, get('/stream-fails'));
        assert.match(raw.text, /^HTTP\/1\.1 200 OK\r\n/);
        assert.ok(raw.text.includes('\r\n\r\n6\r\nfirst;\r\n7\r\nsecond;\r\n'), JSON.stringify(raw.text));
        assert.not.ok(raw.text.includes('0\r\n\r\n'), 'no last chunk: the body is not complete');
        const r = await fetch(`http://${HOST}:${port}/stream-fails`);
        assert.is(r.status, 200);
        const err = await r.text().then(
          () => null,
          (e) => e,
        );
        assert.ok(err instanceof Error, 'the client sees an aborted body');
        for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((res) => setTimeout(res, 10));
        assert.ok(seen.length >= 2 && seen.every((e) => /the stream failed on purpose/.test(e.message)), seen.map((e) => e.message).join('\n'));
        // a stream that gives more than the app's Content-Length: what fits goes out, then the cut (never bytes past the length)
        const over = await rawExchange(port, get('/length-stream-wrong'));
        assert.match(over.text, /\r\ncontent-length: 4\r\n/);
        assert.ok(over.text.endsWith('\r\n\r\nabc'), JSON.stringify(over.text));
        for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((res) => setTimeout(res, 10));
        assert.match(seen[2].message, /more bytes than its Content-Length \(4\)/);
      },
      { errors: true },
    );
  });

  netTest(`[${mode}] the runtime's own 500 is text/plain; charset=UTF-8; a Response of another fetch implementation is served by its interface`, async () => {
    await withServer(
      'fetch-wire',
      async (port, rt, seen) => {
        const base = `http://${HOST}:${port}`;
        let r = await fetch(`${base}/pony`);
        assert.is(r.status, 201);
        assert.is(r.headers.get('x-pony'), 'yes');
        assert.is(r.headers.get('content-type'), 'text/x-pony');
        assert.is(await r.text(), 'pony');
        r = await fetch(`${base}/pony-empty`);
        assert.is(r.status, 204);
        assert.is(r.headers.get('x-pony'), 'empty');
        assert.equal(seen.map((e) => e.message), [], 'served, not refused');
        // what is no Response at all is still refused, with a 500 of the runtime's
        for (const path of ['/not-a-response']) {
          const x = await ask(port, get(path));
          x.socket.destroy();
          assert.is(x.responses[0].status, 500, path);
          assert.is(x.responses[0].headers['content-type'], 'text/plain; charset=UTF-8', `${path}: the runtime's 500 says its type`);
          assert.is(x.responses[0].text, 'Internal Server Error');
        }
        for (let i = 0; i < 100 && seen.length < 1; i++) await new Promise((res) => setTimeout(res, 10));
        assert.match(seen[0].message, /returned an object, not a Response/);
      },
      { errors: true },
    );
    await withServer(
      'probe',
      async (port) => {
        const x = await ask(port, get('/throw'));
        x.socket.destroy();
        assert.is(x.responses[0].status, 500);
        assert.is(x.responses[0].headers['content-type'], 'text/plain; charset=UTF-8', "the fast handler's 500 too");
      },
      { errors: true },
    );
  });

  netTest(`[${mode}] one Date (the handler's wins); final statuses 1xx and >= 600 are refused; instanceof Response holds for every Response; Connection: close from a fetch handler closes`, async () => {
    await withServer('fetch-wire', async (port, rt, seen) => {
      for (const [handlerPath, srv] of [['/date', 'fetch-wire']]) {
        const raw = await rawExchange(port, get(handlerPath, 'Connection: close\r\n'));
        const dates = headLines(raw.text).filter(([k]) => k === 'date');
        assert.equal(dates, [['date', 'Tue, 01 Jan 2030 00:00:00 GMT']], `${srv}: one Date, the handler's`);
      }
      const st = await (await fetch(`http://${HOST}:${port}/statuses`)).json();
      for (const s of ['103', '101', '600']) {
        assert.match(st[s].lazy, /^RangeError: .*200 to 599/, `gatio's Response refuses ${s}: ${st[s].lazy}`);
        assert.match(st[s].real, /^RangeError/, `Node's refuses ${s} too`);
      }
      assert.equal(st['599'], { lazy: 'ok 599', real: 'ok 599' });
      // a Response of another implementation with a status no Response may have: the runtime's 500, the status named
      const pony = await ask(port, get('/pony-600'));
      pony.socket.destroy();
      assert.is(pony.responses[0].status, 500);
      for (let i = 0; i < 100 && seen.length < 1; i++) await new Promise((res) => setTimeout(res, 10));
      assert.match(seen[0]?.message ?? '', /status 600/);
      const inst = await (await fetch(`http://${HOST}:${port}/instanceof`)).json();
      assert.equal(inst, { lazy: true, real: true, json: true, redirect: true, clone: true, plain: false, pony: false, subclass: [true, true, false] });
      // Connection: close set by the app: said once, the connection closes after it, a request pipelined behind is not served
      const x = await ask(port, get('/close') + get('/date'), 2);
      assert.is(x.responses.length, 1);
      assert.is(x.responses[0].text, 'bye');
      assert.is(x.responses[0].headers.connection, 'close');
      assert.ok(await closesWithin(x.socket, 3000), 'closed after the response');
      assert.is(seen.length, 1, seen.map((e) => e.message).join('\n'));
    }, { errors: true });
    await withServer('edges', async (port) => {
      const raw = await rawExchange(port, get('/date', 'Connection: close\r\n'));
      assert.equal(headLines(raw.text).filter(([k]) => k === 'date'), [['date', 'Tue, 01 Jan 2030 00:00:00 GMT']], 'res.header(Date): one Date, the handler\'s');
      for (const code of [100, 101, 103, 199, 600, 999]) {
        const x = await ask(port, get(`/status?code=${code}`));
        x.socket.destroy();
        assert.is(x.responses[0].status, 400, `res.status(${code}) is refused`);
        assert.match(x.responses[0].text, new RegExp(`RangeError: HttpResponse.status: .*${code}`));
      }
      for (const code of [200, 418, 599]) {
        const x = await ask(port, get(`/status?code=${code}`));
        x.socket.destroy();
        assert.is(x.responses[0].status, code);
      }
    });
  });

  netTest(`[${mode}] a request read after its response ended (waitUntil work, logging after res.end()) sees its own head, never another request's`, async () => {
    for (const handler of ['edges', 'fetch-wire']) {
      await withServer(
        handler,
        async (port, rt, seen) => {
          // 40 requests on 8 connections: each one's late read happens while the others are parsed
          const socks = await Promise.all(Array.from({ length: 8 }, () => connect(port)));
          const wanted = 40;
          for (let i = 0; i < wanted; i++) {
            const tok = `t${String(i).padStart(3, '0')}x${'y'.repeat(i % 7)}`;
            socks[i % 8].write(get(`/late?i=${i}`, `X-Token: ${tok}\r\n`));
            if (i % 8 === 7) await new Promise((r) => setTimeout(r, 2));
          }
          for (let i = 0; i < 300 && seen.length < wanted; i++) await new Promise((r) => setTimeout(r, 10));
          for (const s of socks) s.destroy();
          assert.is(seen.length, wanted, 'every late read reported');
          for (const e of seen) {
            const m = /late read: own (\S+) saw (.*)$/m.exec(e.message);
            assert.ok(m, e.message);
            const own = m[1];
            const i = Number(own.slice(1, 4));
            const expect = handler === 'edges' ? `${own} i=${i} ${JSON.stringify(own)}` : `${own} ?i=${i} ${own}`;
            assert.is(m[2], expect, `${handler}: the late read of ${own}`);
          }
        },
        { errors: true, drivers: [0] },
      );
    }
  });
}

test.run();
