// HTTP/1.1 port servers with real clients (curl, Node's fetch and
// node:http, wrk) and raw sockets, served both ways: by hybrid drivers and
// by an io driver whose exec driver parses and runs the handler.
import { skip, test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { rmSync, writeFileSync } from 'node:fs';
import { formatStats, start } from '../dist/index.js';
import { fixtures } from './_support.mjs';
import { HOST, bounded, connect, netMissing, randomBytes } from './_net-support.mjs';
import { ask, closesWithin, get, responses, serveHttp } from './_http-support.mjs';

const HANDLERS = join(fixtures, 'net', 'http-handlers.mjs');
const missing = await netMissing();
const netTest = missing ? (name) => test(name, () => skip(missing)) : test;

const run = (cmd, args, timeout = 20_000) =>
  new Promise((resolve, reject) => execFile(cmd, args, { timeout, maxBuffer: 64 << 20, encoding: 'buffer' }, (err, stdout, stderr) => (err ? reject(Object.assign(err, { stderr: stderr.toString() })) : resolve(stdout))));

for (const mode of ['hybrid', 'io+exec']) {
  const io = mode === 'io+exec';
  const httpPort = (handler, extra = {}) => ({ port: 0, protocol: 'http', handler, host: HOST, ...(io ? { drivers: 'io' } : {}), ...extra });

  const withServer = (handler, fn, o) => serveHttp([HANDLERS], io, handler, fn, o);

  /** One counter of the port's HTTP stats, summed over the drivers (hybrid: ports; io+exec: the exec drivers' remotePorts). */
  async function httpStat(rt, field) {
    const st = await rt.stats();
    return st.drivers.flatMap((d) => [...(d.ports ?? []), ...(d.remotePorts ?? [])]).reduce((n, p) => n + (p.http?.[field] ?? 0), 0);
  }

  netTest(`[${mode}] real clients: curl, fetch and node:http get 200 hello with Content-Length and a Date`, async () => {
    await withServer('site', async (port) => {
      const out = (await run('curl', ['-s', '-i', `http://${HOST}:${port}/`])).toString('latin1');
      assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(out, /\r\nContent-Length: 5\r\n/);
      assert.match(out, /\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
      assert.ok(out.endsWith('\r\n\r\nhello'), out);
      const r = await fetch(`http://${HOST}:${port}/`);
      assert.is(r.status, 200);
      assert.is(await r.text(), 'hello');
      assert.ok(Math.abs(Date.parse(r.headers.get('date')) - Date.now()) < 5000, 'the Date is now');
      const body = await new Promise((resolve, reject) =>
        http.get({ host: HOST, port, path: '/' }, (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve(`${res.statusCode} ${b}`));
        }).on('error', reject),
      );
      assert.is(body, '200 hello');
      const nf = await fetch(`http://${HOST}:${port}/nothing/here`);
      assert.is(nf.status, 404);
      assert.is(await nf.text(), 'not found');
    });
  });

  netTest(`[${mode}] keep-alive: one connection serves request after request; node:http's agent reuses it`, async () => {
    await withServer('probe', async (port) => {
      const s = await connect(port);
      const rs = responses(s);
      for (let i = 0; i < 20; i++) {
        s.write(get(`/delay/0/r${i}`));
        const r = await bounded(rs.next(), 5000, `response ${i}`);
        assert.is(r.text, `r${i}`);
        assert.is(r.headers.connection, undefined, 'HTTP/1.1: keep-alive is the default, no header needed');
      }
      s.destroy();
      // a head split across several reads (each piece its own receive buffer) is reassembled
      const split = await bounded(ask(port, ['GET /headers?split=1 HTTP/1.1\r\nHo', 30, 'st: t\r\nX-Par', 30, 't: one\r\nX-Part: two\r\n', 30, '\r\n']), 5000, 'split head');
      const sj = JSON.parse(split.responses[0].text);
      assert.is(sj.url, '/headers?split=1');
      assert.equal(sj.list, [['host', 't'], ['x-part', 'one'], ['x-part', 'two']]);
      assert.is(sj.headers['x-part'], 'one, two');
      split.socket.destroy();
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const ports = new Set();
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve, reject) =>
          http.get({ host: HOST, port, path: '/driver', agent }, (res) => {
            ports.add(res.socket.localPort);
            res.resume();
            res.on('end', resolve);
          }).on('error', reject),
        );
      }
      agent.destroy();
      assert.is(ports.size, 1, 'five requests over one socket');
    });
  });

  netTest(`[${mode}] pipelining: responses come in request order although the async handlers finish out of order`, async () => {
    await withServer('probe', async (port) => {
      const reqs = [get('/delay/60/a'), get('/delay/0/b'), get('/delay/30/c'), 'HEAD /headers HTTP/1.1\r\nHost: t\r\n\r\n', get('/delay/10/e'), get('/status?code=204'), get('/delay/1/g')];
      const { responses: rs, socket } = await bounded(ask(port, reqs.join(''), reqs.length, { head: [3] }), 5000, 'pipelined');
      assert.equal(
        rs.map((r) => r.status),
        [200, 200, 200, 200, 200, 204, 200],
      );
      assert.equal([rs[0].text, rs[1].text, rs[2].text, rs[4].text, rs[6].text], ['a', 'b', 'c', 'e', 'g']);
      assert.ok(Number(rs[3].headers['content-length']) > 0, 'HEAD: the GET\'s Content-Length');
      assert.is(rs[3].body.length, 0, 'HEAD: no body');
      assert.is(rs[5].headers['content-length'], undefined, '204: no Content-Length');
      socket.destroy();
    });
  });

  netTest(`[${mode}] a client pipelining thousands of requests: all answered in order, with a bounded number in flight (reading stops, TCP holds the client)`, async () => {
    await withServer(
      'probe',
      async (port) => {
        const N = 3000;
        const s = await connect(port);
        const rs = responses(s);
        let all = '';
        for (let i = 0; i < N; i++) all += get(`/delay/40/${i}`);
        s.write(all); // ~100 KiB at once: several receive buffers
        for (let i = 0; i < N; i++) {
          const r = await bounded(rs.next(), 20_000, `response ${i}`);
          assert.is(r.text, String(i));
        }
        s.write(get('/inflight'));
        const seen = JSON.parse((await rs.next()).text);
        // the bound (128) plus what one 16 KiB receive buffer holds beyond it (~470 of these requests)
        assert.ok(seen.max <= 128 + 600, `at most ~600 handlers at once, saw ${seen.max}`);
        assert.ok(seen.max >= 100, `pipelined requests did run concurrently (${seen.max})`);
        s.destroy();
      },
      { port: io ? {} : { drivers: [0] } },
    );
  });

  netTest(`[${mode}] HTTP/1.0 closes unless keep-alive is asked for; Connection: close closes after the response`, async () => {
    await withServer('site', async (port, rt) => {
      let x = await ask(port, 'GET / HTTP/1.0\r\n\r\n');
      assert.is(x.responses[0].text, 'hello');
      assert.is(x.responses[0].headers.connection, 'close');
      assert.ok(await closesWithin(x.socket, 2000), 'HTTP/1.0 without keep-alive: closed');
      x = await ask(port, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      assert.is(x.responses[0].headers.connection, 'keep-alive');
      assert.not.ok(await closesWithin(x.socket, 300), 'HTTP/1.0 with keep-alive: stays open');
      x.socket.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      assert.is((await x.reader.next()).text, 'hello', 'and serves another request');
      x.socket.destroy();
      // A request after Connection: close in the same write is not served.
      x = await ask(port, get('/', 'Connection: close\r\n') + get('/'), 2);
      assert.is(x.responses.length, 1);
      assert.is(x.responses[0].headers.connection, 'close');
      assert.ok(await closesWithin(x.socket, 2000));
      assert.is(await httpStat(rt, 'parseErrors'), 0, 'the bytes after it are ignored, not a bad request');
    });
  });

  netTest(`[${mode}] Upgrade and CONNECT are answered like any request and the connection stays HTTP (the next pipelined request is served)`, async () => {
    await withServer('site', async (port) => {
      let x = await bounded(ask(port, get('/', 'Connection: Upgrade\r\nUpgrade: websocket\r\n') + get('/'), 2), 3000, 'after an Upgrade');
      assert.equal(x.responses.map((r) => [r.status, r.text]), [[200, 'hello'], [200, 'hello']]);
      x.socket.destroy();
      x = await bounded(ask(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n' + get('/'), 2), 3000, 'after a CONNECT');
      assert.equal(x.responses.map((r) => r.status), [404, 200]);
      x.socket.destroy();
    });
  });

  netTest(`[${mode}] an Upgrade or CONNECT alone in its packet (a WebSocket handshake, curl --http2's h2c upgrade): answered, no stray 400, the connection stays usable`, async () => {
    await withServer('site', async (port, rt) => {
      const ws = get('/', 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n');
      for (const req of [ws, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n']) {
        const x = await bounded(ask(port, req), 3000, JSON.stringify(req.slice(0, 20)));
        assert.ok([200, 404].includes(x.responses[0]?.status));
        await new Promise((r) => setTimeout(r, 200));
        assert.is(x.reader.rest.length, 0, `nothing after the answer (${JSON.stringify(x.reader.rest.toString('latin1').slice(0, 40))})`);
        assert.not.ok(await closesWithin(x.socket, 100), 'still open');
        x.socket.write(get('/'));
        assert.is((await bounded(x.reader.next(), 3000, 'the next request')).text, 'hello');
        x.socket.destroy();
      }
      // curl --http2 over plain HTTP asks for h2c; answered in HTTP/1.1, its second URL reuses the connection
      const out = (await run('curl', ['-s', '--http2', '-o', '/dev/null', '-o', '/dev/null', '-w', '%{http_code} %{num_connects}\\n', `http://${HOST}:${port}/`, `http://${HOST}:${port}/`])).toString();
      assert.is(out, '200 1\n200 0\n', 'both 200, one connection');
      assert.is(await httpStat(rt, 'parseErrors'), 0);
    });
  });

  netTest(`[${mode}] a CONNECT with content is 400 and close: its body is not served as the next request`, async () => {
    await withServer('site', async (port) => {
      const smuggled = get('/');
      const x = await bounded(ask(port, `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`, 2), 3000, 'CONNECT with a body');
      assert.equal(x.responses.map((r) => r.status), [400]);
      assert.ok(await closesWithin(x.socket, 3000));
    });
  });

  netTest(`[${mode}] Content-Length of 2^63 and more: 413 and close (was read as a negative length: the handler ran, waiting for a body)`, async () => {
    await withServer('probe', async (port) => {
      for (const n of ['9223372036854775808', '18446744073709551615']) {
        const x = await bounded(ask(port, `POST /length HTTP/1.1\r\nHost: t\r\nContent-Length: ${n}\r\n\r\nabc`), 3000, n);
        assert.equal(x.responses.map((r) => r.status), [413], n);
        assert.ok(await closesWithin(x.socket, 3000));
      }
    });
  });

  netTest(`[${mode}] bodies: chunked and Content-Length uploads, streamed responses, Expect: 100-continue`, async () => {
    await withServer('probe', async (port) => {
      // chunked upload, streamed back chunked as it arrives
      let x = await ask(port, 'POST /stream-echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n0\r\n\r\n');
      assert.is(x.responses[0].headers['transfer-encoding'], 'chunked');
      assert.is(x.responses[0].text, 'hello, world');
      x.socket.destroy();
      // a streamed response: three writes, chunked
      x = await ask(port, get('/stream'));
      assert.is(x.responses[0].text, 'part0;part1;part2;');
      x.socket.destroy();
      // Expect: 100-continue: the client waits for the interim response before sending the body
      const s = await connect(port);
      const rs = responses(s);
      s.write('POST /length HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n');
      const cont = await bounded(rs.next(), 3000, '100 Continue');
      assert.is(cont.status, 100);
      s.write('hello world');
      const done = await bounded(rs.next(), 3000, 'the final response');
      assert.is(done.status, 200);
      assert.is(done.text, '11');
      s.destroy();
      // no 100 Continue to an HTTP/1.0 client (it would not know one)
      x = await ask(port, 'POST /length HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc');
      assert.is(x.responses[0].status, 200);
      assert.is(x.responses[0].text, '3');
      // 304 without a body
      x = await ask(port, get('/status?code=304') + get('/delay/0/after'), 2);
      assert.is(x.responses[0].status, 304);
      assert.is(x.responses[0].body.length, 0);
      assert.is(x.responses[1].text, 'after', 'the next response follows right after the bodiless one');
      x.socket.destroy();
    });
  });

  netTest(`[${mode}] a 32 MiB response and an 8 MiB upload, byte for byte`, async () => {
    await withServer('site', async (port) => {
      const big = await bounded(fetch(`http://${HOST}:${port}/size/${32 << 20}`).then((r) => r.arrayBuffer()), 30_000, '32 MiB download');
      assert.is(big.byteLength, 32 << 20);
      assert.ok(new Uint8Array(big).every((b) => b === 120), 'every byte is x');
      const up = randomBytes(8 << 20, 5);
      const back = await bounded(fetch(`http://${HOST}:${port}/echo`, { method: 'POST', body: up }).then((r) => r.arrayBuffer()), 30_000, '8 MiB upload');
      assert.is(createHash('sha256').update(new Uint8Array(back)).digest('hex'), createHash('sha256').update(up).digest('hex'), 'the echo is the upload');
      const file = join(tmpdir(), `gatio-upload-${process.pid}`);
      writeFileSync(file, up.subarray(0, 1 << 20));
      try {
        const viaCurl = await run('curl', ['-s', '-X', 'PUT', '--data-binary', `@${file}`, `http://${HOST}:${port}/echo`]);
        assert.ok(Buffer.compare(viaCurl, up.subarray(0, 1 << 20)) === 0, 'curl PUT: the echo is the upload');
      } finally {
        rmSync(file, { force: true });
      }
    });
  });

  netTest(`[${mode}] limits: header bytes and count -> 431, URL -> 414, body -> 413, each closing the connection`, async () => {
    await withServer(
      'probe',
      async (port) => {
        const cases = [
          [get('/headers', `x-big: ${'a'.repeat(3000)}\r\n`), 431],
          [get('/headers', Array.from({ length: 30 }, (_, i) => `x-h${i}: ${i}\r\n`).join('')), 431],
          [get(`/${'u'.repeat(600)}`), 414],
          ['POST /length HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n', 413],
        ];
        for (const [req, status] of cases) {
          const x = await bounded(ask(port, req), 3000, `status ${status}`);
          assert.is(x.responses[0]?.status, status, req.slice(0, 60));
          assert.is(x.responses[0].headers.connection, 'close');
          assert.ok(await closesWithin(x.socket, 3000), `closed after ${status}`);
        }
        // a chunked body past maxBody
        const s = await connect(port);
        const rs = responses(s);
        s.write('POST /length HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n');
        for (let i = 0; i < 5; i++) s.write(`400\r\n${'z'.repeat(1024)}\r\n`);
        const r = await bounded(rs.next(), 3000, '413 for chunked');
        assert.is(r.status, 413);
        assert.ok(await closesWithin(s, 3000));
        // within the limits all is well
        const ok = await ask(port, get('/headers', Array.from({ length: 10 }, (_, i) => `x-h${i}: ${i}\r\n`).join('')));
        assert.is(ok.responses[0].status, 200);
        ok.socket.destroy();
      },
      { port: { http: { maxHeaderBytes: 2048, maxHeaders: 20, maxUrl: 512, maxBody: 4096 } } },
    );
  });

  netTest(`[${mode}] bad requests and smuggling attempts -> 400/501/505 and close; later requests are never served`, async () => {
    await withServer('site', async (port, rt) => {
      const cases = [
        ['garbage\r\n\r\n', 400],
        ['GET / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n', 400],
        ['GET /a b HTTP/1.1\r\nHost: t\r\n\r\n', 400],
        ['POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
        ['POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', 400],
        ['POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 400],
        ['GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n', 400],
        ['GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n  folded\r\n\r\n', 400],
        ['GET / HTTP/1.1\r\n: empty\r\n\r\n', 400],
        ['GET / HTTP/1.1\r\nHost : t\r\n\r\n', 400],
        ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
        ['GET / HTTP/1.1\r\nX: no host\r\n\r\n', 400],
        ['BREW / HTTP/1.1\r\nHost: t\r\n\r\n', 501],
        ['GET / HTTP/2.0\r\nHost: t\r\n\r\n', 505],
        ['GET / HTTP/3.1\r\nHost: t\r\n\r\n', 505],
        ['GET / HTTP/1.10\r\nHost: t\r\n\r\n', 400],
        ['GET / HTTP/1\r\nHost: t\r\n\r\n', 400],
        ['GET /\r\nHost: t\r\n\r\n', 400],
        ['GET / HTTP/1.1\rHost: t\r\n\r\n', 400],
        ['GET\r/ HTTP/1.1\r\nHost: t\r\n\r\n', 400],
      ];
      for (const [req, status] of cases) {
        const x = await bounded(ask(port, req + get('/'), 2), 3000, JSON.stringify(req));
        assert.is(x.responses[0]?.status, status, JSON.stringify(req));
        assert.is(x.responses.length, 1, `nothing after the refusal is served (${JSON.stringify(req)})`);
        assert.ok(await closesWithin(x.socket, 3000));
      }
      assert.is(await httpStat(rt, 'parseErrors'), cases.length);
      // still serving
      assert.is(await (await fetch(`http://${HOST}:${port}/`)).text(), 'hello');
    });
  });

  netTest(`[${mode}] HTTP/1.2 is served as HTTP/1.1 (RFC 9110 2.5): kept alive`, async () => {
    await withServer('site', async (port) => {
      const x = await bounded(ask(port, 'GET / HTTP/1.2\r\nHost: t\r\n\r\n' + get('/'), 2), 3000, 'HTTP/1.2');
      assert.equal(x.responses.map((r) => [r.status, r.text, r.headers.connection]), [[200, 'hello', undefined], [200, 'hello', undefined]]);
      x.socket.destroy();
    });
  });

  netTest(`[${mode}] a body that turns bad while its handler waits for it: 400 at once (not a hang), or a close once the response began`, async () => {
    await withServer('probe', async (port) => {
      // a chunk size that overflows, after the head reached a handler awaiting the body
      let x = await bounded(ask(port, 'POST /length HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nffffffffffffffffffff\r\n' + get('/')), 3000, 'the refusal');
      assert.is(x.responses[0]?.status, 400);
      assert.is(x.responses.length, 1);
      assert.ok(await closesWithin(x.socket, 3000));
      // the handler streams the body back: the head is out when the bad chunk comes, the connection closes
      const s = await connect(port);
      s.resume();
      s.write('POST /stream-echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
      await new Promise((r) => setTimeout(r, 100));
      s.write('zz\r\n');
      assert.ok(await closesWithin(s, 3000), 'closed');
    });
  });

  netTest(`[${mode}] chunked framing is exact (smuggling behind a lenient front end): any other bytes where CRLF ends chunk data, a chunk-size line or the trailers -> 400 and close, the request after them never served`, async () => {
    await withServer('probe', async (port, rt) => {
      const post = 'POST /length HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n';
      const cases = [`${post}1\r\nAXX0\r\n\r\n`, `${post}1\rXA\r\n0\r\n\r\n`, `${post}1\r\nA\r\n0\r\n\rX`];
      for (const req of cases) {
        const x = await bounded(ask(port, req + get('/smuggled'), 2), 3000, JSON.stringify(req));
        assert.equal(x.responses.map((r) => r.status), [400], `${JSON.stringify(req)}: one 400, /smuggled not served`);
        assert.ok(await closesWithin(x.socket, 3000), 'closed');
      }
      assert.is(await httpStat(rt, 'parseErrors'), cases.length);
      // exact framing, with a trailer: served, and so is the request after it
      const x = await bounded(ask(port, `${post}1\r\nA\r\n0\r\nX-T: 1\r\n\r\n` + get('/length'), 2), 3000, 'exact framing');
      assert.equal(x.responses.map((r) => [r.status, r.text]), [[200, '1'], [200, '0']]);
      x.socket.destroy();
    });
  });

  netTest(`[${mode}] an invalid Host is 400 and close, on the fast and the fetch handler (Host: x/users/5? does not route a Hono app); a valid one builds request.url`, async () => {
    for (const handler of ['site', 'hono']) {
      await withServer(handler, async (port, rt) => {
        const bad = ['x/users/5?', 'a, b', 'a b', 'user@x', '', 'x:99999'];
        for (const host of bad) {
          const x = await bounded(ask(port, `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n` + get('/'), 2), 3000, JSON.stringify(host));
          assert.equal(x.responses.map((r) => r.status), [400], `${handler}: Host ${JSON.stringify(host)}`);
          assert.ok(await closesWithin(x.socket, 3000), 'closed');
        }
        assert.is(await httpStat(rt, 'parseErrors'), bad.length);
      });
    }
    await withServer('hono', async (port) => {
      const x = await bounded(ask(port, 'GET /users/7 HTTP/1.1\r\nHost: [::1]:8080 \r\n\r\n'), 3000, 'IPv6 literal Host');
      assert.equal([x.responses[0].status, JSON.parse(x.responses[0].text)], [200, { id: '7', q: null }]);
      x.socket.destroy();
    });
    await withServer('fetch-probe', async (port) => {
      const x = await bounded(ask(port, 'GET /where?q=1 HTTP/1.1\r\nHost: Example.com:8080\t\r\n\r\n'), 3000, 'request.url');
      assert.is(x.responses[0].headers['x-route'], '/where');
      x.socket.destroy();
    });
  });

  netTest(`[${mode}] an absolute-form target (GET http://host/path) is served by its path, on the fast and the fetch handler`, async () => {
    await withServer('site', async (port) => {
      const x = await ask(port, 'GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n');
      assert.is(x.responses[0].text, 'hello');
      x.socket.destroy();
    });
    await withServer('hono', async (port) => {
      const x = await ask(port, 'GET http://example.com/users/5?q=z HTTP/1.1\r\nHost: example.com\r\n\r\n');
      assert.equal(JSON.parse(x.responses[0].text), { id: '5', q: 'z' });
      x.socket.destroy();
    });
  });

  netTest(`[${mode}] a handler that throws or rejects -> 500, reported with the route; the connection and the driver go on`, async () => {
    await withServer(
      'probe',
      async (port, rt, seen) => {
        const x = await ask(port, get('/throw') + get('/reject') + get('/delay/0/alive'), 3);
        assert.equal(
          x.responses.map((r) => r.status),
          [500, 500, 200],
        );
        assert.is(x.responses[2].text, 'alive', 'the same connection serves the next request');
        x.socket.destroy();
        // the head went out already: the connection closes (a client sees a cut response)
        const y = await connect(port);
        y.resume(); // (a paused socket never sees its end)
        y.write(get('/throw-after-write'));
        assert.ok(await closesWithin(y, 3000), 'closed after a failure mid-response');
        await new Promise((r) => setTimeout(r, 100));
        assert.is(seen.length, 3);
        assert.match(seen[0].message, /request GET \/throw/);
        assert.match(seen[1].message, /request GET \/reject/);
        assert.ok(seen.every((e) => e.code === 'GATIO_PORT_HANDLER'), seen.map((e) => e.code).join());
        assert.is(await httpStat(rt, 'handlerErrors'), 3);
        assert.is(await (await fetch(`http://${HOST}:${port}/driver`)).status, 200);
      },
      { errors: true },
    );
  });

  netTest(`[${mode}] a client that goes away aborts the handler's signal; headers read after an await are the request's own`, async () => {
    await withServer('probe', async (port, rt) => {
      const s = await connect(port);
      s.write(get('/hang'));
      await new Promise((r) => setTimeout(r, 100));
      s.destroy();
      let seen = [];
      for (let i = 0; i < 50 && seen.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        seen = await (await fetch(`http://${HOST}:${port}/aborted`)).json();
      }
      assert.equal(seen, [{ path: '/hang', code: 'GATIO_HTTP_CLIENT_GONE' }]);
      assert.ok((await httpStat(rt, 'aborted')) >= 1);
      // 20 concurrent requests, each reading its own header after a sleep while the others are parsed
      const got = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`http://${HOST}:${port}/late-headers?i=${i}`, { headers: { 'x-token': `t${i}` } }).then((r) => r.json())));
      got.forEach((g, i) => assert.equal(g, { token: `t${i}`, url: `/late-headers?i=${i}` }));
    }, { port: io ? {} : { drivers: [0] } }); // one driver: /aborted reads the list of the driver that ran /hang
  });

  netTest(`[${mode}] timeouts: a slow head -> 408 (slowloris), a body that stalls -> 408, an idle keep-alive connection is closed`, async () => {
    await withServer(
      'probe',
      async (port, rt) => {
        // slowloris: a byte every 100 ms never completes the head within 400 ms
        const s = await connect(port);
        const rs = responses(s);
        let stop = false;
        (async () => {
          for (const ch of 'GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa') {
            if (stop || s.destroyed) return;
            s.write(ch);
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        const r = await bounded(rs.next(), 3000, 'slowloris 408');
        stop = true;
        assert.is(r.status, 408);
        assert.ok(await closesWithin(s, 4000), 'then closed');
        // a body that does not arrive within requestTimeout
        const x = await bounded(ask(port, 'POST /length HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab'), 4000, 'request timeout');
        assert.is(x.responses[0].status, 408);
        assert.ok(await closesWithin(x.socket, 4000));
        // idle keep-alive
        const y = await ask(port, get('/delay/0/once'));
        assert.is(y.responses[0].text, 'once');
        const t0 = Date.now();
        assert.ok(await closesWithin(y.socket, 3000), 'the idle connection closed');
        assert.ok(Date.now() - t0 >= 200, 'not before keepAliveTimeout');
        assert.is(await httpStat(rt, 'headersTimeouts'), 1);
        assert.is(await httpStat(rt, 'requestTimeouts'), 1);
        assert.ok((await httpStat(rt, 'idleTimeouts')) >= 1);
      },
      { port: { http: { headersTimeout: 400, requestTimeout: 600, keepAliveTimeout: 300 } } },
    );
  });

  netTest(`[${mode}] response headers: CR/LF in a value is refused (no header injection); a task spawned from a handler answers`, async () => {
    await withServer('probe', async (port) => {
      const r = await fetch(`http://${HOST}:${port}/bad-header`);
      assert.is(r.status, 500);
      assert.match(await r.text(), /CR, LF or NUL/);
      assert.is(r.headers.get('set-cookie'), null);
      const j = await (await fetch(`http://${HOST}:${port}/spawn?n=12`)).json();
      assert.is(j.square, 144);
      const h = await (await fetch(`http://${HOST}:${port}/headers?a=1&b=2`, { headers: { 'X-Mixed-Case': 'v1', cookie: 'a=1' } })).json();
      assert.is(h.method, 'GET');
      assert.is(h.path, '/headers');
      assert.is(h.query, 'a=1&b=2');
      assert.is(h.version, '1.1');
      assert.is(h.headers['x-mixed-case'], 'v1', 'names lowercased');
      assert.is(h.host, `${HOST}:${port}`);
    });
  });

  netTest(`[${mode}] a Hono app as fetch: routing with params, JSON bodies, middleware, streaming, raw bodies, redirects, errors`, async () => {
    await withServer(
      'hono',
      async (port) => {
        const base = `http://${HOST}:${port}`;
        let r = await fetch(`${base}/`);
        assert.is(await r.text(), 'hello from hono');
        assert.is(r.headers.get('x-middleware'), 'ran');
        assert.match(r.headers.get('content-type'), /^text\/plain/);
        r = await fetch(`${base}/users/42?q=x`);
        assert.equal(await r.json(), { id: '42', q: 'x' });
        r = await fetch(`${base}/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: [1, 2] }) });
        assert.is(r.status, 201);
        assert.equal(await r.json(), { got: { a: [1, 2] }, type: 'application/json' });
        r = await fetch(`${base}/stream`);
        assert.is(await r.text(), 'chunk0\nchunk1\nchunk2\nchunk3\nchunk4\n');
        r = await fetch(`${base}/raw`);
        assert.equal([...new Uint8Array(await r.arrayBuffer())], [1, 2, 3]);
        assert.is(r.headers.get('x-raw'), 'yes');
        r = await fetch(`${base}/redirect`, { redirect: 'manual' });
        assert.is(r.status, 302);
        assert.is(r.headers.get('location'), '/users/9');
        r = await fetch(`${base}/error`);
        assert.is(r.status, 500);
        r = await fetch(`${base}/nope`);
        assert.is(r.status, 404);
        assert.is(await r.text(), 'no such route');
      },
      { errors: true },
    );
  });

  netTest(`[${mode}] a fetch handler: request bodies as streams, clone(), instanceof, static and stream Responses, HEAD, a handler that returns no Response`, async () => {
    await withServer(
      'fetch-probe',
      async (port, rt, seen) => {
        const base = `http://${HOST}:${port}`;
        const up = randomBytes(300_000, 9);
        assert.is(await (await fetch(`${base}/stream-body`, { method: 'POST', body: up })).text(), String(up.length));
        assert.is(await (await fetch(`${base}/clone`, { headers: { 'x-a': 'cloned' } })).text(), 'cloned');
        assert.equal(await (await fetch(`${base}/instance`)).json(), { request: true, response: true });
        let r = await fetch(`${base}/json`, { method: 'DELETE' });
        assert.is(r.status, 203);
        assert.is(r.headers.get('x-kind'), 'static');
        assert.match(r.headers.get('content-type'), /application\/json/);
        assert.equal(await r.json(), { ok: true, method: 'DELETE' });
        r = await fetch(`${base}/stream-response`);
        assert.is(r.headers.get('transfer-encoding'), 'chunked');
        assert.is(await r.text(), 'one,two,three');
        r = await fetch(`${base}/headers-touched`);
        assert.is(r.status, 202);
        assert.is(r.headers.get('x-one'), '1');
        assert.is(r.headers.get('x-two'), '2');
        assert.is(await r.text(), 'body');
        const head = await ask(port, 'HEAD /anything HTTP/1.1\r\nHost: t\r\n\r\n' + get('/x'), 2, { head: [0] });
        assert.is(head.responses[0].headers['content-length'], String('fetch says hi'.length));
        assert.is(head.responses[0].body.length, 0);
        assert.is(head.responses[1].text, 'fetch says hi', 'no body bytes between the HEAD response and the next');
        assert.is(head.responses[1].headers['x-route'], '/x');
        head.socket.destroy();
        r = await fetch(`${base}/not-a-response`);
        assert.is(r.status, 500);
        await new Promise((res) => setTimeout(res, 50));
        assert.is(seen.length, 1);
        assert.match(seen[0].message, /not a Response/);
        assert.match(seen[0].message, /request GET \/not-a-response/);
        r = await fetch(`${base}/wait-until-fails`);
        assert.is(await r.text(), 'answered');
        for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((res) => setTimeout(res, 10));
        assert.is(seen.length, 2, 'the failed waitUntil() is reported as an error event');
        assert.match(seen[1].message, /waitUntil\(\) of GET \/wait-until-fails/);
        assert.match(seen[1].message, /background work failed/);
        assert.is(seen[1].port, `http:${port}`);
      },
      { errors: true },
    );
  });

  netTest(`[${mode}] wrk: a short run, every response 200`, async () => {
    await withServer('site', async (port, rt) => {
      const out = (await run('wrk', ['-t1', '-c16', '-d1s', `http://${HOST}:${port}/`], 30_000)).toString();
      const n = Number(/(\d+) requests in/.exec(out)?.[1]);
      assert.ok(n > 100, out);
      assert.not.match(out, /Non-2xx|Socket errors/, out);
      assert.ok((await httpStat(rt, 'status2xx')) >= n, 'every request counted');
      // and `gatio stats` prints them
      const table = formatStats(await rt.stats());
      assert.match(table, /HTTP PORT\s+DRIVER\s+CONNS\s+REQUESTS/);
      assert.match(table, new RegExp(`http:${port}\\s+\\S+\\s+\\d+\\s+\\d+`));
    });
  });

  if (io)
    netTest(`[${mode}] the io driver dies with a request in flight: the client's connection closes, the handler's signal aborts, the restarted io driver serves the port again`, async () => {
      await withServer('probe', async (port, rt) => {
        const ioId = rt.plan.drivers.find((d) => d.kind === 'io').id;
        const s = await connect(port);
        s.resume();
        s.write(get('/hang'));
        await new Promise((r) => setTimeout(r, 100));
        rt.faultIoDriver(ioId);
        assert.ok(await closesWithin(s, 10_000), "the io driver's connection closed");
        let text = '';
        for (let i = 0; i < 100 && text === ''; i++) {
          await new Promise((r) => setTimeout(r, 50));
          text = await fetch(`http://${HOST}:${port}/aborted`).then((r) => r.text(), () => '');
        }
        // (whichever reaches the exec driver first: the io driver's closing of its connections, or the news of its death)
        const seen = JSON.parse(text);
        assert.is(seen.length, 1, text);
        assert.is(seen[0].path, '/hang');
        assert.ok(['GATIO_HTTP_CLIENT_GONE', 'GATIO_DRIVER_DIED'].includes(seen[0].code), text);
        assert.is(await (await fetch(`http://${HOST}:${port}/`)).status, 404, 'served again (probe has no /)');
      });
    });

  netTest(`[${mode}] shutdown: a request in flight is answered, idle connections are closed`, async () => {
    const rt = await start({ modules: [HANDLERS], ports: [httpPort('site')], ...(io ? { drivers: { io: 1, exec: 1 } } : {}) });
    const port = rt.ports()[0].port;
    const idle = await ask(port, get('/'));
    assert.is(idle.responses[0].text, 'hello');
    const busy = await connect(port);
    const rs = responses(busy);
    busy.write(get('/slow/300'));
    await new Promise((r) => setTimeout(r, 50));
    const down = rt.shutdown({ deadline: 5000 });
    const r = await bounded(rs.next(), 5000, 'the in-flight response');
    assert.is(r.text, 'done');
    assert.is(r.headers.connection, 'close', 'it says the connection closes');
    assert.ok(await closesWithin(idle.socket, 3000), 'the idle connection closed');
    await down;
  });
}

test.run();
