// Port servers at their limits, each in its own process: 10,000 concurrent
// connections (more fds than one process may hold for both ends), and
// accept failing with EMFILE under a low `ulimit -n`, which must back off
// and resume without spinning while existing connections are served.
import { skip, test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fixtures } from './_support.mjs';
import { HOST, bounded, connect, readBytes } from './_net-support.mjs';
import { netMissing } from './_net-support.mjs';
import { responses } from './_http-support.mjs';

const missing = await netMissing();
/** A test that needs the port servers: skipped, with the reason, on a kernel that cannot run them. */
const netTest = missing ? (name) => test(name, () => skip(missing)) : test;

const SERVER = join(fixtures, 'net', 'server.mjs');

/** Starts the server fixture under `ulimit -n nofile`; resolves { port, ask(cmd), quit(), cpuMs() }. */
async function server(ports, nofile) {
  const child = spawn('sh', ['-c', `ulimit -n ${nofile} && exec node ${SERVER} '${JSON.stringify(ports)}'`], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await bounded(lines.next(), 20_000, 'server output')).value);
  const first = await next();
  return {
    child,
    port: first.ports[0].port,
    async ask(cmd) {
      child.stdin.write(`${cmd}\n`);
      return next();
    },
    async quit() {
      child.stdin.write('quit\n');
      const code = await bounded(new Promise((r) => child.once('exit', r)), 20_000, 'server exit');
      assert.is(code, 0, 'the server shut down cleanly');
    },
  };
}

/** `n` client connections to `port`, 500 at a time, pushed into `into` as they come (so a failure still closes those made). */
async function connectMany(port, n, into) {
  for (let i = 0; i < n; i += 500) into.push(...(await Promise.all(Array.from({ length: Math.min(500, n - i) }, () => connect(port)))));
}

netTest('10,000 concurrent connections, each echoed', async () => {
  const N = 10_000;
  const srv = await server([{ port: 0, protocol: 'tcp', handler: 'echo', host: HOST }], 20000);
  const conns = [];
  try {
    await connectMany(srv.port, N, conns);
    assert.is(conns.length, N);
    // (a client's connect completes with the handshake, before the server's accept: wait for the accepts)
    let st = await srv.ask('stats');
    for (const t0 = Date.now(); st.open < N && Date.now() - t0 < 10_000; st = await srv.ask('stats')) await new Promise((r) => setTimeout(r, 50));
    assert.is(st.open, N, `${N} open on the server`);
    // Every connection is live: each gets its own bytes back.
    await bounded(
      Promise.all(
        conns.map(async (s, i) => {
          const msg = `c${i}`;
          const back = readBytes(s, msg.length);
          s.write(msg);
          assert.is((await back).toString(), msg);
        }),
      ),
      60_000,
      `echo on ${N} connections`,
    );
  } finally {
    for (const s of conns) s.destroy();
    await srv.quit();
  }
});

netTest('HTTP: 10,000 keep-alive connections, each serving two requests', async () => {
  const N = 10_000;
  const srv = await server([{ port: 0, protocol: 'http', handler: 'site', host: HOST }], 20000);
  const conns = [];
  try {
    await connectMany(srv.port, N, conns);
    const readers = conns.map((s) => responses(s));
    for (let round = 0; round < 2; round++) {
      await bounded(
        Promise.all(
          conns.map(async (s, i) => {
            s.write(`GET /${round === 0 ? '' : 'size/3'} HTTP/1.1\r\nHost: t\r\n\r\n`);
            const r = await readers[i].next();
            assert.is(r?.text, round === 0 ? 'hello' : 'xxx', `connection ${i}, request ${round + 1}`);
          }),
        ),
        60_000,
        `round ${round + 1} on ${N} connections`,
      );
    }
    const st = await srv.ask('stats');
    assert.is(st['http.connections'], N, `${N} connections open on the server`);
    assert.is(st['http.requests'], 2 * N);
    assert.is(st['http.status2xx'], 2 * N);
    assert.is(st.accepted, N, 'no connection was opened twice (keep-alive)');
  } finally {
    for (const s of conns) s.destroy();
    await srv.quit();
  }
});

netTest('EMFILE: accept backs off and resumes, existing connections keep being served, nothing spins', async () => {
  // 64 fds: the runtime's own (eventfds, rings, listeners, Node's) leave room for a handful of connections.
  const srv = await server([{ port: 0, protocol: 'tcp', handler: 'echo', host: HOST, drivers: [0] }], 64);
  const conns = [];
  try {
    // Connect more than fit: the kernel completes the handshakes (backlog), accept fails with EMFILE.
    for (let i = 0; i < 60; i++) conns.push(await connect(srv.port));
    await new Promise((r) => setTimeout(r, 300));
    const st = await srv.ask('stats');
    assert.ok(st.acceptErrors > 0 && st.acceptBackoffs > 0, `EMFILE seen and backed off: ${JSON.stringify(st)}`);
    assert.ok(st.acceptBackoffs < 30, `backed off (50 ms) rather than spun: ${st.acceptBackoffs} backoffs in ~300 ms`);
    const served = st.open;
    assert.ok(served > 0 && served < 60, `some accepted (${served}), not all`);
    // An accepted connection is still served.
    const back = readBytes(conns[0], 4);
    conns[0].write('ping');
    assert.is((await bounded(back, 5000, 'echo under EMFILE')).toString(), 'ping');
    // Free fds: closing accepted connections lets the waiting ones in.
    for (const s of conns.slice(0, served)) s.destroy();
    const t0 = Date.now();
    let later;
    do {
      await new Promise((r) => setTimeout(r, 100));
      later = await srv.ask('stats');
    } while (later.accepted <= served && Date.now() - t0 < 10_000);
    assert.ok(later.accepted > served, `accepting resumed: ${later.accepted} accepted after ${served}`);
  } finally {
    for (const s of conns) s.destroy();
    await srv.quit();
  }
});

test.run();
