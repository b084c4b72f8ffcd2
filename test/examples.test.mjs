// The examples the README shows run as written.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { topology } from '../dist/index.js';
import { bounded, connect, freePort, readBytes, udpAsk } from './_net-support.mjs';
import { responses } from './_http-support.mjs';
import { join } from 'node:path';
import { root } from './_support.mjs';

/** A port-serving example as a child process on two of this machine's cores: its stdout lines, and stop() (SIGTERM, then exit 0). */
async function serveExample(file, drivers) {
  const port = await freePort();
  const cores = topology().cores.filter((c) => c.allowed).map((c) => c.id).slice(0, 2).join(',');
  const child = spawn(process.execPath, [join(root, 'examples', file), '--port', String(port), '--cores', cores, '--drivers', drivers], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    port,
    line: async () => (await bounded(lines.next(), 20_000, `${file} output (stderr: ${stderr})`)).value,
    async stop() {
      child.kill('SIGTERM');
      const code = await bounded(new Promise((r) => child.once('exit', r)), 10_000, 'exit after SIGTERM');
      assert.is(code, 0, stderr);
    },
  };
}

const run = (file) => spawnSync(process.execPath, [join(root, 'examples', file)], { encoding: 'utf8', timeout: 60_000 });

test('examples/spawn.mjs', () => {
  const r = run('spawn.mjs');
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n'), ['3', 'hi 17984', 'true']);
});

test('examples/demo.mjs', () => {
  const r = run('demo.mjs');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /gatio sees \d+ NUMA node/);
  assert.match(r.stdout, /serving HTTP on 127\.0\.0\.1:\d+/);
  assert.is(r.stdout.match(/GET \/\s+200 {2}served by \S+/g)?.length, 6, r.stdout);
  assert.match(r.stdout, /GET \/primes\/100000 200 {2}served by \S+, 9592 primes counted by a task on \S+/);
  // every request counted by the driver that served it
  const counted = [...r.stdout.matchAll(/http requests (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  assert.is(counted, 9, r.stdout);
});

for (const drivers of ['hybrid', 'io+exec']) test(`examples/tcp-echo.mjs --drivers ${drivers} serves TCP and UDP echo on one port until SIGTERM, then exits 0`, async () => {
  const ex = await serveExample('tcp-echo.mjs', drivers);
  const port = ex.port;
  const said = [await ex.line(), await ex.line()];
  assert.match(said.join('\n'), new RegExp(`tcp echo on port ${port}: drivers .*\\nudp echo on port ${port}: drivers `));
  const s = await connect(port, '127.0.0.1');
  const back = readBytes(s, 5);
  s.write('hello');
  assert.is((await bounded(back, 5000, 'tcp echo')).toString(), 'hello');
  s.destroy();
  const { m } = await udpAsk(port, 'ping');
  assert.is(m.toString(), 'ping');
  await ex.stop();
});

for (const drivers of ['hybrid', 'io+exec']) test(`examples/http-server.mjs --drivers ${drivers} serves its routes until SIGTERM, then exits 0`, async () => {
  const ex = await serveExample('http-server.mjs', drivers);
  const port = ex.port;
  const said = await ex.line();
  assert.match(said, new RegExp(`http on port ${port}: drivers `));
  const base = `http://127.0.0.1:${port}`;
  assert.is(await (await fetch(`${base}/`)).text(), 'hello');
  const body = new Uint8Array(100_000).map((_, i) => (i * 31) & 255);
  for (const method of ['POST', 'PUT']) {
    const echo = new Uint8Array(await (await fetch(`${base}/echo`, { method, body })).arrayBuffer());
    assert.ok(Buffer.compare(echo, body) === 0, `${method} /echo: the body back byte for byte`);
  }
  const sized = await fetch(`${base}/size/123457`);
  assert.is(sized.status, 200);
  assert.is((await sized.arrayBuffer()).byteLength, 123457);
  const t0 = Date.now();
  assert.is(await (await fetch(`${base}/slow/150`)).text(), 'done');
  assert.ok(Date.now() - t0 >= 140, 'slow waited');
  const nf = await fetch(`${base}/other`);
  assert.is(nf.status, 404);
  // HEAD wherever GET is answered (RFC 9110 9.3.2): the GET's status and headers, no body (each HEAD pipelined after its GET)
  const paths = ['/', '/size/123457', '/slow/20', '/other'];
  const s = await connect(port, '127.0.0.1');
  const rs = responses(s, { head: [...paths.map((_, i) => 2 * i + 1), 2 * paths.length] });
  for (const p of paths) s.write(`GET ${p} HTTP/1.1\r\nHost: t\r\n\r\nHEAD ${p} HTTP/1.1\r\nHost: t\r\n\r\n`);
  const strip = ({ date, ...rest }) => rest;
  for (const p of paths) {
    const g = await bounded(rs.next(), 5000, `GET ${p}`);
    const h = await bounded(rs.next(), 5000, `HEAD ${p}`);
    assert.is(h.status, g.status, `HEAD ${p}: the GET's status`);
    assert.equal(strip(h.headers), strip(g.headers), `HEAD ${p}: the GET's headers`);
    assert.is(h.body.length, 0);
  }
  s.write('HEAD /size/1000000000 HTTP/1.1\r\nHost: t\r\n\r\n');
  const big = await bounded(rs.next(), 5000, 'HEAD of a 1 GB GET');
  assert.equal([big.status, big.headers['content-length']], [200, '1000000000']);
  await new Promise((r) => setTimeout(r, 100));
  assert.is(rs.rest.length, 0, 'no body bytes after a HEAD response');
  s.destroy();
  await ex.stop();
});

test.run();
