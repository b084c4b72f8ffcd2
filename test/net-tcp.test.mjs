// TCP port servers with real sockets on loopback, served both ways: by
// hybrid drivers (sockets and handlers on one thread) and by an io driver
// whose exec driver runs the handlers (io+exec): multishot accept and recv
// into provided buffers, one send in flight per connection, backpressure,
// pause, half-close, resets, handler failures. Every test runs in both.
import { skip, test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { start, topology } from '../dist/index.js';
import { HOST, NET, bounded, connect, readAll, readBytes, randomBytes } from './_net-support.mjs';
import { netMissing } from './_net-support.mjs';

const missing = await netMissing();
/** A test that needs the port servers: skipped, with the reason, on a kernel that cannot run them. */
const netTest = missing ? (name) => test(name, () => skip(missing)) : test;

for (const mode of ['hybrid', 'io+exec']) {
const io = mode === 'io+exec';
/** A port entry; in io+exec mode served by the io driver. */
const tcp = (handler, extra = {}) => ({ port: 0, protocol: 'tcp', handler, host: HOST, ...(io ? { drivers: 'io' } : {}), ...extra });
/** One driver serving a port. */
const one = () => (io ? 'io' : [0]);

async function withRuntime(ports, fn, extra = {}) {
  const rt = await start({ modules: [NET], ports, ...(io ? { drivers: { io: 1, exec: 1 } } : {}), ...extra });
  try {
    return await fn(rt);
  } finally {
    await rt.shutdown();
  }
}

const portOf = (rt, handler) => rt.ports().find((p) => p.handler === handler).port;

/** Sum of one counter of a port over the drivers' stats. */
async function portStat(rt, key, field) {
  const st = await rt.stats();
  return st.drivers.reduce((n, d) => n + (d.ports ?? []).filter((p) => p.port === key || key === undefined).reduce((m, p) => m + p[field], 0), 0);
}

netTest(`[${mode}] echo: random sizes written in random fragments come back byte for byte, on many connections at once`, async () => {
  await withRuntime([tcp('echo')], async (rt) => {
    const port = portOf(rt, 'echo');
    const conns = await Promise.all(Array.from({ length: 40 }, () => connect(port)));
    await bounded(
      Promise.all(
        conns.map(async (s, i) => {
          const size = 1 + ((i * 7919) % 300_000);
          const data = randomBytes(size, i + 1);
          const back = readBytes(s, size);
          // fragments of 1 byte to 64 KiB, each its own write
          let off = 0;
          let x = i + 3;
          while (off < size) {
            x = (x * 1103515245 + 12345) >>> 0;
            const n = Math.min(size - off, 1 + (x % 65536));
            s.write(data.subarray(off, off + n));
            off += n;
          }
          const got = await back;
          assert.equal(got.length, size, `connection ${i}: length`);
          assert.ok(got.equals(data), `connection ${i}: ${size} bytes came back identical`);
          s.destroy();
        }),
      ),
      30_000,
      'echo of 40 connections',
    );
    // The client has every byte back once the kernel moved them; the server counts a send at its
    // completion, which it may reap (and publish) a turn later: the counters settle, they are not a snapshot.
    let ports;
    for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 20))) {
      ports = (await rt.stats()).drivers.flatMap((d) => d.ports ?? []);
      const sum = (f) => ports.reduce((n, p) => n + p[f], 0);
      if (sum('bytesIn') === sum('bytesOut') || Date.now() - t0 > 3000) break;
    }
    assert.is(ports.reduce((n, p) => n + p.accepted, 0), 40, 'every connection was accepted once');
    const bytesIn = ports.reduce((n, p) => n + p.bytesIn, 0);
    assert.is(bytesIn, ports.reduce((n, p) => n + p.bytesOut, 0), 'bytes out = bytes in');
    assert.ok(ports.every((p) => p.buffersLent === 0), 'no buffer is still lent to JS between batches');
  });
});

netTest(`[${mode}] a buffer ring of 4 buffers under 32 connections: ENOBUFS is hit and every byte still arrives in order`, async () => {
  await withRuntime([tcp('echo', { buffers: { count: 4, size: 1024 } })], async (rt) => {
    const port = portOf(rt, 'echo');
    const conns = await Promise.all(Array.from({ length: 32 }, () => connect(port)));
    const size = 200_000;
    await bounded(
      Promise.all(
        conns.map(async (s, i) => {
          const data = randomBytes(size, 100 + i);
          const back = readBytes(s, size);
          s.write(data);
          const got = await back;
          assert.ok(got.equals(data), `connection ${i}: in order, none lost`);
          s.destroy();
        }),
      ),
      60_000,
      'echo through 4 buffers',
    );
    const enobufs = await portStat(rt, undefined, 'enobufs');
    const rearms = await portStat(rt, undefined, 'rearms');
    assert.ok(enobufs > 0, `the ring ran dry (ENOBUFS ${enobufs} times)`);
    assert.ok(rearms >= enobufs, `each starved recv was re-armed (${rearms} re-arms for ${enobufs} ENOBUFS)`);
  });
});

netTest(`[${mode}] half-close: the peer ends after sending; every byte is echoed, then the server ends too`, async () => {
  await withRuntime([tcp('echo'), tcp('whoami')], async (rt) => {
    const s = await connect(portOf(rt, 'echo'));
    const data = randomBytes(100_000, 7);
    const all = readAll(s);
    s.end(data);
    const got = await bounded(all, 10_000, 'echo then end');
    assert.ok(got.equals(data), 'everything sent before the FIN came back before ours');
    // With an end handler, the handler decides: it writes "bye", then ends.
    const w = await connect(portOf(rt, 'whoami'));
    const wall = readAll(w);
    w.end('ping');
    const text = (await bounded(wall, 10_000, 'whoami end')).toString();
    assert.match(text, /^driver \d\nping+bye$/, text);
  });
});

netTest(`[${mode}] a client reset closes its connection (close gets ECONNRESET or a clean close); the others keep being served`, async () => {
  await withRuntime([tcp('echo')], async (rt) => {
    const port = portOf(rt, 'echo');
    const keep = await connect(port);
    const victims = await Promise.all(Array.from({ length: 10 }, () => connect(port)));
    for (const v of victims) {
      v.write('x'.repeat(1000));
      v.resetAndDestroy();
    }
    const back = readBytes(keep, 5);
    keep.write('hello');
    assert.is((await bounded(back, 5000, 'echo after resets')).toString(), 'hello');
    // Every reset connection is closed on the server.
    const t0 = Date.now();
    while ((await portStat(rt, undefined, 'closed')) < 10) {
      if (Date.now() - t0 > 5000) assert.unreachable(`closed: ${await portStat(rt, undefined, 'closed')} of 10`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.is(await portStat(rt, undefined, 'open'), 1, 'only the kept connection is open');
    keep.destroy();
  });
});

netTest(`[${mode}] backpressure: write() says false past highWater, drain follows, and a reader that reads late gets every byte`, async () => {
  await withRuntime([tcp('flood', { highWater: 256 * 1024, sendBuffer: 64 * 1024 })], async (rt) => {
    const s = await connect(portOf(rt, 'flood'));
    const n = 16 * 1024 * 1024;
    s.pause(); // a slow reader: nothing is read for a while
    s.write(String(n));
    await new Promise((r) => setTimeout(r, 300));
    // Bounded: the driver holds what write() accepted, not 16 MiB.
    const st = await rt.stats();
    const queuedMax = st.drivers.flatMap((d) => d.ports ?? []).reduce((m, p) => Math.max(m, p.bytesOut), 0);
    assert.ok(queuedMax < n, `not everything went out while the reader slept (${queuedMax} bytes sent)`);
    const all = readAll(s);
    s.resume();
    const got = await bounded(all, 30_000, 'flood');
    const tail = got.subarray(n).toString();
    assert.is(got.length > n, true, `all ${n} bytes arrived (got ${got.length})`);
    assert.ok(got.subarray(0, n).every((b) => b === 120), 'bytes intact');
    const m = /falses=(\d+) drains=(\d+)/.exec(tail);
    assert.ok(m, tail);
    assert.ok(Number(m[1]) > 0, 'write() returned false');
    assert.is(Number(m[2]), Number(m[1]), 'a drain for every false');
  });
});

netTest(`[${mode}] a handler that writes more than the staging ring holds in one turn, with no further input, still gets every byte out`, async () => {
  // Default highWater (1 MiB) equals an exec driver's staging ring: writes
  // past it wait for room, and nothing else wakes the exec driver (regression:
  // it parked with sends waiting and the transfer stopped at 1 MiB).
  await withRuntime([tcp('flood')], async (rt) => {
    const s = await connect(portOf(rt, 'flood'));
    const n = 8 * 1024 * 1024;
    const all = readAll(s);
    s.write(String(n));
    const got = await bounded(all, 20_000, 'flood of 8 MiB');
    assert.ok(got.length > n, `all ${n} bytes arrived (got ${got.length})`);
    assert.ok(got.subarray(0, n).every((b) => b === 120), 'bytes intact');
  });
});

netTest(`[${mode}] pause and resume: data that arrives while paused is held, then delivered in order`, async () => {
  await withRuntime([tcp('pauser')], async (rt) => {
    const s = await connect(portOf(rt, 'pauser'));
    const data = randomBytes(300_000, 11);
    const back = readBytes(s, data.length);
    for (let i = 0; i < data.length; i += 1000) s.write(data.subarray(i, i + 1000));
    const got = await bounded(back, 30_000, 'pauser echo');
    assert.ok(got.equals(data), 'in order, none lost, none twice');
    s.destroy();
  });
});

netTest(`[${mode}] pause() then resume() in one turn (and resume in a microtask) keeps the connection reading`, async () => {
  await withRuntime([tcp('pause-resume')], async (rt) => {
    const s = await connect(portOf(rt, 'pause-resume'));
    // Each message waits for its echo, so each one's pause and resume reach the ring in a turn of their own.
    for (const [i, m] of ['a1', 'a2', 'm3', 'm4', 'a5', 'm6'].entries()) {
      const back = readBytes(s, 2);
      s.write(m);
      assert.is((await bounded(back, 3000, `echo ${i + 1} (${m}): the connection stopped reading after a pause and resume`)).toString(), m);
    }
    s.destroy();
  });
});

netTest(`[${mode}] a handler that throws is reported with its port, handler and driver; its connection closes, the port keeps serving`, async () => {
  await withRuntime([tcp('throws')], async (rt) => {
    const errors = [];
    rt.on('error', (e) => errors.push(e));
    const port = portOf(rt, 'throws');
    const bad = await connect(port);
    const closed = readAll(bad);
    bad.write('boom');
    await bounded(closed, 5000, 'the failing connection closes');
    const good = await connect(port);
    const back = readBytes(good, 2);
    good.write('ok');
    assert.is((await bounded(back, 5000, 'echo')).toString(), 'ok');
    good.destroy();
    const t0 = Date.now();
    while (errors.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    assert.is(errors.length, 1);
    const e = errors[0];
    assert.is(e.name, 'PortHandlerError');
    assert.is(e.code, 'GATIO_PORT_HANDLER');
    assert.is(e.port, `tcp:${port}`);
    assert.is(e.handler, 'throws');
    assert.is(e.callback, 'data');
    assert.ok(e.driver === 0 || e.driver === 1, String(e.driver));
    assert.is(e.cause.message, 'boom in data');
  });
});

netTest(`[${mode}] maxConnections: connections past the limit are closed at once and counted as refused`, async () => {
  await withRuntime([tcp('echo', { maxConnections: 3, drivers: one() })], async (rt) => {
    const port = portOf(rt, 'echo');
    const ok = await Promise.all([connect(port), connect(port), connect(port)]);
    await new Promise((r) => setTimeout(r, 100));
    const extra = await connect(port);
    const ended = await bounded(readAll(extra).catch(() => Buffer.alloc(0)), 5000, 'refused connection closes');
    assert.is(ended.length, 0);
    assert.is(await portStat(rt, undefined, 'refused'), 1);
    const back = readBytes(ok[0], 2);
    ok[0].write('hi');
    assert.is((await bounded(back, 5000, 'echo')).toString(), 'hi', 'the accepted ones are served');
    for (const s of ok) s.destroy();
  });
});

netTest(`[${mode}] connections closed by resets give their slots back: a full set of new connections is accepted again, many times over`, async () => {
  // A reset ends the recv with an error while it closes the connection: the
  // slot was once freed twice, the driver's connection count wrapped, and
  // every later connection was refused.
  await withRuntime([tcp('echo', { maxConnections: 8, drivers: one() })], async (rt) => {
    const port = portOf(rt, 'echo');
    for (let round = 0; round < 5; round++) {
      const conns = await Promise.all(Array.from({ length: 8 }, () => connect(port)));
      await bounded(
        Promise.all(
          conns.map(async (s, i) => {
            const back = readBytes(s, 3);
            s.write(`r${round}${i}`.padEnd(3, '-').slice(0, 3));
            await back;
          }),
        ),
        5000,
        `round ${round}: every connection echoed`,
      );
      for (const s of conns) {
        s.write('unread data makes the close a reset');
        s.resetAndDestroy();
      }
      const t0 = Date.now();
      while ((await portStat(rt, undefined, 'open')) > 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    }
    assert.is(await portStat(rt, undefined, 'refused'), 0, 'none refused');
    assert.is(await portStat(rt, undefined, 'accepted'), 40);
  });
});

netTest(`[${mode}] remoteAddress, remotePort and localPort are the kernel's, over IPv4 and IPv6`, async () => {
  await withRuntime([tcp('peer'), tcp('peer', { host: '::1' })], async (rt) => {
    const [v4, v6] = rt.ports();
    const s = await connect(v4.port);
    const text = (await bounded(readAll(s), 5000, 'peer v4')).toString();
    assert.is(text, `IPv4 127.0.0.1 ${s.localPort} ${v4.port}`);
    const s6 = await connect(v6.port, '::1');
    const text6 = (await bounded(readAll(s6), 5000, 'peer v6')).toString();
    assert.is(text6, `IPv6 ::1 ${s6.localPort} ${v6.port}`);
  });
});

netTest(`[${mode}] connections are spread over the drivers of the port (SO_REUSEPORT), and each driver serves its own`, async () => {
  // Spreading needs two io drivers, each with an exec driver: four CPUs. (The hybrid case shows the group spreads.)
  if (io && topology().pus.filter((p) => p.allowed).length < 4) return skip('io+exec spreading needs two io drivers and two exec drivers: four CPUs');
  await withRuntime([tcp('whoami')], async (rt) => {
    const port = portOf(rt, 'whoami');
    const seen = new Map();
    for (let i = 0; i < 60; i++) {
      const s = await connect(port);
      const line = (await bounded(readBytes(s, 9), 5000, 'whoami')).toString();
      seen.set(line, (seen.get(line) ?? 0) + 1);
      s.destroy();
    }
    const drivers = rt.ports()[0].drivers.length;
    assert.is(seen.size, drivers, `every driver of the port answered some of 60 connections: ${JSON.stringify([...seen])}`);
  });
});

}

test.run();
