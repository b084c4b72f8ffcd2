// Port servers on io drivers whose exec drivers run the handlers (io+exec),
// beyond what net-tcp runs in both modes: either side dying, shutdown, and
// the config rules of this mode.
import { skip, test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { start, topology, validateConfig } from '../dist/index.js';
import { HOST, NET, bounded, connect, fdCount, readAll, readBytes, udpAsk, netMissing } from './_net-support.mjs';
import { running } from './_runtime-support.mjs';

const missing = await netMissing();
const netTest = missing ? (name) => test(name, () => skip(missing)) : test;
const topo = topology();
const IO_EXEC = { drivers: { io: 1, exec: 1 } };
const port = (handler, extra = {}) => ({ port: 0, protocol: 'tcp', handler, host: HOST, drivers: 'io', ...extra });

async function echoes(p, text) {
  const s = await connect(p);
  const back = readBytes(s, text.length);
  s.write(text);
  const got = (await bounded(back, 5000, `echo of ${text}`)).toString();
  s.destroy();
  return got;
}

/** The ids of the io and the exec driver of the IO_EXEC plan. */
function driverIds(rt) {
  return { exec: rt.plan.drivers.find((d) => d.kind === 'exec').id, io: rt.plan.drivers.find((d) => d.kind === 'io').id };
}

/** Bytes of TPC 0's arena in use (a short stats timeout: a busy exec driver does not answer, the arena's figures come all the same). */
async function arenaInUse(rt) {
  return (await rt.stats(20)).tpcs[0].arena.inUse;
}

async function until(what, fn, ms = 10_000) {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > ms) assert.unreachable(`${what}: not after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('validation: io drivers serve a port only with exec drivers in their TPC, and not mixed with hybrid drivers', () => {
  const noExec = validateConfig({ drivers: 'io', ports: [{ port: 9000, protocol: 'tcp', handler: 'x', drivers: 'io' }] }, topo).errors;
  assert.ok(noExec.some((e) => e.path === 'ports[0].drivers' && /no exec driver/.test(e.message)), JSON.stringify(noExec));
  if (topo.cores.length >= 2) {
    const mixed = validateConfig({ drivers: { io: 1, hybrid: 1 }, ports: [{ port: 9000, protocol: 'tcp', handler: 'x', drivers: [0, 1] }] }, topo).errors;
    assert.ok(mixed.some((e) => /mixes io and hybrid/.test(e.message)), JSON.stringify(mixed));
  }
});

netTest('the exec driver dies: the io driver closes its connections and takes its buffers back; the successor runs new ones', async () => {
  if (topo.cores.length < 2) return skip('needs two cores (an io and an exec driver)');
  const rt = await start({ modules: [NET], ...IO_EXEC, ports: [port('echo')] });
  try {
    const p = rt.ports()[0].port;
    const { exec, io } = driverIds(rt);
    const victims = await Promise.all(Array.from({ length: 5 }, () => connect(p)));
    const closed = victims.map((s) => readAll(s).catch(() => Buffer.alloc(0)));
    // Keep buffers lent: data in flight while the exec driver dies.
    for (const s of victims) s.write('x'.repeat(50_000));
    await rt.spawn('net-exit', [6], { driver: exec }).catch(() => {});
    await bounded(Promise.all(closed), 10_000, "the dead exec driver's connections close");
    await running(rt, exec, 1);
    const ioStats = async () => (await rt.stats()).drivers[io].ports[0];
    await until('every buffer back in the ring', async () => (await ioStats()).buffersLent === 0 && (await ioStats()).open === 0);
    await until('the successor runs new connections', async () => (await echoes(p, 'again').catch(() => '')) === 'again');
  } finally {
    await rt.shutdown();
  }
});

// Between an exec driver's death and its successor's attach, the io driver
// kept routing new connections to it: the successor dropped their events
// without giving their buffers back, and a few restarts emptied the ring.
netTest('connections that arrive while an exec driver restarts are not lost to it, and restart after restart the port keeps serving', async () => {
  if (topo.cores.length < 2) return skip('needs two cores (an io and an exec driver)');
  const rt = await start({ modules: [NET], ...IO_EXEC, ports: [port('echo', { buffers: { count: 16, size: 4096 } })] });
  try {
    const p = rt.ports()[0].port;
    const { exec, io } = driverIds(rt);
    const ioStats = async () => (await rt.stats()).drivers[io].ports[0];
    for (let round = 1; round <= 6; round++) {
      await rt.spawn('net-exit', [6], { driver: exec }).catch(() => {});
      // Connections in the restart window, each sending more than a buffer holds.
      const window = [];
      for (let i = 0; i < 8; i++) {
        const s = await connect(p).catch(() => null);
        if (!s) continue;
        s.on('error', () => {});
        s.write('y'.repeat(10_000));
        window.push(s);
      }
      await running(rt, exec, round);
      for (const s of window) s.destroy();
      await until(`round ${round}: every buffer back in the ring (lent ${(await ioStats()).buffersLent})`, async () => (await ioStats()).buffersLent === 0 && (await ioStats()).open === 0);
      await until(`round ${round}: the successor runs new connections`, async () => (await echoes(p, `round ${round}`).catch(() => '')) === `round ${round}`);
    }
  } finally {
    await rt.shutdown();
  }
});

// With restart: false the io drivers were never told: connections went to a
// dead thread, their buffers never came back, the backlog grew without bound.
netTest('restart: false: an exec driver that dies has its connections closed and its buffers taken back; new connections are refused, not left hanging', async () => {
  if (topo.cores.length < 2) return skip('needs two cores (an io and an exec driver)');
  const rt = await start({ modules: [NET], ...IO_EXEC, runtime: { restart: false }, ports: [port('echo')] });
  try {
    const p = rt.ports()[0].port;
    const { exec, io } = driverIds(rt);
    const victims = await Promise.all(Array.from({ length: 4 }, () => connect(p)));
    const closed = victims.map((s) => readAll(s).catch(() => Buffer.alloc(0)));
    for (const s of victims) s.write('x'.repeat(50_000));
    await rt.spawn('net-exit', [6], { driver: exec }).catch(() => {});
    await bounded(Promise.all(closed), 10_000, "the dead exec driver's connections close");
    const ioStats = async () => (await rt.stats()).drivers[io].ports[0];
    await until('every buffer back in the ring', async () => (await ioStats()).buffersLent === 0 && (await ioStats()).open === 0);
    for (let i = 0; i < 3; i++) {
      const s = await connect(p);
      const end = readAll(s).catch(() => Buffer.alloc(0));
      s.write('anyone?');
      assert.is((await bounded(end, 5000, 'a connection with no exec driver to run it is closed')).length, 0);
    }
    assert.is((await ioStats()).open, 0, 'no connection left open');
  } finally {
    await rt.shutdown();
  }
});

// close() freed the port's buffer block while an exec driver still held
// (and was about to read) buffers of it; a later listen reusing the server
// then took the stale releases into its own ring: one buffer id twice.
netTest('close() while an exec driver holds buffers of the port: the block stays until they come back, and a port opened after it is not corrupted', async () => {
  if (topo.cores.length < 2) return skip('needs two cores (an io and an exec driver)');
  const rt = await start({ modules: [NET], ...IO_EXEC, ports: [] });
  try {
    const { exec } = driverIds(rt);
    const arena = () => arenaInUse(rt);
    const base = await arena();
    const opts = { protocol: 'tcp', handler: 'echo', host: HOST, drivers: 'io', buffers: { count: 4, size: 4096 } };
    const first = await rt.listen({ port: 0, ...opts });
    const withPort = await arena();
    const s = await connect(first.port);
    s.on('error', () => {});
    // The exec driver is busy: the data's event (and its lent buffer) waits in its inbox.
    const busy = rt.spawn('net-busy', [1500], { driver: exec });
    await new Promise((r) => setTimeout(r, 50));
    s.write('held while the port closes');
    await new Promise((r) => setTimeout(r, 100));
    await rt.close(first.key);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok((await arena()) >= withPort - 4096, `the port's buffer block was freed while a buffer of it was lent (${base} before the port, ${withPort} with it, ${await arena()} after close)`);
    // A new port reuses the server: its echoes must be whole while the stale release comes back.
    const second = await rt.listen({ port: 0, ...opts });
    const conns = await Promise.all(Array.from({ length: 6 }, () => connect(second.port)));
    await busy;
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        conns.map(async (c, i) => {
          const msg = `${round}:${i}:`.padEnd(1000, String.fromCharCode(97 + i));
          const back = readBytes(c, msg.length);
          c.write(msg);
          assert.is((await bounded(back, 5000, `echo ${round}/${i}`)).toString(), msg, `connection ${i}, round ${round}: another connection's bytes`);
        }),
      );
    }
    for (const c of conns) c.destroy();
    s.destroy();
    await rt.close(second.key);
    // Both buffer blocks (32 KiB each with these buffers) gone; what the first listen set up for good (staging, queue sizes) stays.
    await until('the buffer blocks of both ports are freed', async () => (await arena()) <= withPort - 32 * 1024);
  } finally {
    await rt.shutdown();
  }
});

// An io driver that died freed its buffer blocks after its ring drained,
// while an exec driver still had events of it in its inbox: their data
// views pointed into freed arena memory (the restarted io driver's new
// ring could be there). The blocks now wait until every JS driver has
// taken the io driver's death in, after the events before it.
netTest('an io driver dies while an exec driver holds its events: its buffer blocks are freed only after the exec driver has taken the death in', async () => {
  if (topo.cores.length < 2) return skip('needs two cores (an io and an exec driver)');
  const rt = await start({ modules: [NET], ...IO_EXEC, ports: [port('echo', { buffers: { count: 4, size: 4096 } })] });
  try {
    const p = rt.ports()[0].port;
    const { exec, io } = driverIds(rt);
    const arena = () => arenaInUse(rt);
    const before = await arena();
    const s = await connect(p);
    s.on('error', () => {});
    const busy = rt.spawn('net-busy', [1500], { driver: exec });
    await new Promise((r) => setTimeout(r, 50));
    s.write('an event waits in the busy exec driver');
    await new Promise((r) => setTimeout(r, 100));
    rt.faultIoDriver(io);
    await running(rt, io, 1);
    await new Promise((r) => setTimeout(r, 100));
    // The dead io driver's buffer block (32 KiB with these buffers) is still held; the restarted one's is new.
    const during = await arena();
    assert.ok(during >= before + 32 * 1024, `the dead io driver's buffer block was freed while the exec driver still had its events (${before} before, ${during} after the restart)`);
    await busy;
    await until('the dead io driver\'s blocks are freed once the exec driver took its death in', async () => (await arena()) <= before);
    assert.is(await echoes(p, 'served again'), 'served again');
  } finally {
    await rt.shutdown();
  }
});

netTest('the io driver dies: its connections close, the exec driver says so to close(), the restarted io driver serves the port again', async () => {
  if (topo.cores.length < 2) return skip('needs two cores (an io and an exec driver)');
  const rt = await start({ modules: [NET], ...IO_EXEC, ports: [port('echo'), { port: 0, protocol: 'udp', handler: 'uecho', host: HOST, drivers: 'io' }] });
  try {
    const [tcpPort, udpPort] = rt.ports();
    const { io } = driverIds(rt);
    assert.is(await echoes(tcpPort.port, 'before'), 'before');
    const s = await connect(tcpPort.port);
    const closed = readAll(s).catch(() => Buffer.alloc(0));
    rt.faultIoDriver(io);
    await bounded(closed, 10_000, "the io driver's connection closes");
    await running(rt, io, 1);
    await until('the port is served again', () => rt.ports().every((q) => q.drivers.includes(io)));
    assert.is(await echoes(tcpPort.port, 'after'), 'after');
    assert.is((await udpAsk(udpPort.port, 'udp after')).m.toString(), 'udp after');
  } finally {
    await rt.shutdown();
  }
});

netTest('a connection whose exec driver holds too many of its buffers is not read until they come back (TCP flow control), and loses nothing', async () => {
  if (topo.cores.length < 2) return skip('needs two cores (an io and an exec driver)');
  const rt = await start({ modules: [NET], ...IO_EXEC, ports: [port('echo', { buffers: { count: 64, size: 4096 } })] });
  try {
    const p = rt.ports()[0].port;
    const { exec, io } = driverIds(rt);
    const s = await connect(p);
    const data = Buffer.alloc(4 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
    const back = readBytes(s, data.length);
    // The exec driver is stuck for 400 ms while 4 MiB arrive: the io driver must stop reading, not lend it all 64 buffers and starve the rest.
    const busy = rt.spawn('net-busy', [400], { driver: exec });
    await new Promise((r) => setTimeout(r, 20));
    s.write(data);
    await busy;
    const got = await bounded(back, 20_000, 'the echo after the stall');
    assert.ok(got.equals(data), 'every byte, in order');
    const st = (await rt.stats()).drivers[io].ports[0];
    assert.ok(st.throttles > 0, `the connection was throttled (${st.throttles} times)`);
    // (the last release reaches the io driver after the client has its bytes: read it once it settles)
    await until('every buffer came back', async () => (await rt.stats()).drivers[io].ports[0].buffersLent === 0, 3000);
    s.destroy();
  } finally {
    await rt.shutdown();
  }
});

netTest('shutdown with open io+exec connections: queued writes go out, every connection closes, no fd is left', async () => {
  if (topo.cores.length < 2) return skip('needs two cores (an io and an exec driver)');
  const fds = fdCount();
  const rt = await start({ modules: [NET], ...IO_EXEC, ports: [port('echo')] });
  const p = rt.ports()[0].port;
  const conns = await Promise.all(Array.from({ length: 10 }, () => connect(p)));
  const ends = conns.map((s) => readAll(s).catch(() => Buffer.alloc(0)));
  conns[0].write(Buffer.alloc(1 << 20, 3));
  await new Promise((r) => setTimeout(r, 100));
  await bounded(rt.shutdown(), 15_000, 'shutdown');
  const got = await bounded(Promise.all(ends), 10_000, 'every connection closed');
  assert.ok(got[0].length > 0, 'echoed bytes arrived before the close');
  await Promise.all(conns.map((s) => (s.destroyed && s.closed ? null : new Promise((r) => s.once('close', r).destroy()))));
  assert.is(fdCount(), fds, `fds back to ${fds}`);
});

test.run();
