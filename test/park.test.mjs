// Parking under libuv (native/wake.cc, src/drivers/shared/park.ts): a worker
// thread sleeps in its own event loop with a ParkWatch on an eventfd; other
// threads wake it by writing the eventfd; its timers, promises and fs keep
// working while it is parked; the ring's registered eventfd wakes it for a
// timer; and parked it costs ~0% CPU.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { EventFd, ParkWatch, eventfdCreate, eventfdWrite, eventfdRead, eventfdClose, topology } from '../dist/internals.js';

const dist = new URL('../dist/internals.js', import.meta.url).href;
const node = topology().allowed.nodes[0] ?? 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a worker from `body` (ESM-ish source run inside `import(dist).then(async (g) => { ... })`
 * with `post` = parentPort.postMessage and `data` = workerData). Returns
 * { next(): Promise<message>, send(msg), exit: Promise<code>, errors: [] }.
 */
function spawn(body, data = {}) {
  const w = new Worker(
    `const { parentPort, workerData: data } = require('node:worker_threads');
     const post = (m) => parentPort.postMessage(m);
     const inbox = [];
     let waiter = null;
     parentPort.on('message', (m) => (waiter ? (waiter(m), (waiter = null)) : inbox.push(m)));
     parentPort.unref();
     const recv = () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => (waiter = r)));
     import(${JSON.stringify(dist)}).then(async (g) => { ${body} });`,
    { eval: true, workerData: data },
  );
  const queue = [];
  const waiters = [];
  const errors = [];
  w.on('message', (m) => (waiters.length ? waiters.shift()(m) : queue.push(m)));
  w.on('error', (e) => errors.push(e));
  const exit = new Promise((r) => w.once('exit', r));
  return {
    worker: w,
    errors,
    exit,
    send: (m) => w.postMessage(m),
    next: (ms = 5000) => {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no message from the worker in ${ms} ms${errors.length ? `; worker error: ${errors[0].stack}` : ''}`));
        }, ms);
        waiters.push((m) => (clearTimeout(timer), resolve(m)));
      });
    },
  };
}

test('eventfd: write adds, read drains (0 when empty), bad fds are errors', () => {
  const fd = eventfdCreate();
  try {
    assert.is(eventfdRead(fd), 0);
    eventfdWrite(fd);
    eventfdWrite(fd);
    assert.is(eventfdRead(fd), 2);
    assert.is(eventfdRead(fd), 0);
  } finally {
    eventfdClose(fd);
  }
  assert.throws(() => eventfdWrite(fd), /eventfdWrite\(fd \d+\): Bad file descriptor/);
  assert.throws(() => eventfdRead(-1), /fd must be a whole number >= 0/);
  const e = new EventFd();
  e.signal();
  assert.is(e.drain(), 1);
  e.close();
  e.close();
  assert.throws(() => e.signal(), /EventFd\.signal: eventfd \d+ is closed/);
});

test('parkWatch: argument errors, and one watch per fd per thread', () => {
  const e = new EventFd();
  try {
    assert.throws(() => new ParkWatch(e.fd, 5), /onWake must be a function/);
    assert.throws(() => new ParkWatch(-3, () => {}), /fd must be a whole number >= 0/);
    const w = e.watch(() => {});
    try {
      assert.throws(() => e.watch(() => {}), /parkWatch\(fd \d+\): .*already watches that fd/);
    } finally {
      w.close();
    }
  } finally {
    e.close();
  }
});

test('a parked worker wakes when another thread writes its eventfd; promise jobs from the callback run right after it', async () => {
  const w = spawn(`
    const e = new g.EventFd();
    const order = [];
    const watch = e.watch(() => {
      order.push('callback');
      Promise.resolve().then(() => order.push('promise job'));
      queueMicrotask(() => order.push('microtask'));
      process.nextTick(() => order.push('nextTick'));
      setImmediate(() => {
        order.push('immediate');
        watch.close();
        post({ order });
        e.close();
      });
    });
    post({ fd: e.fd });
  `);
  const { fd } = await w.next();
  await sleep(20); // let it park
  eventfdWrite(fd);
  const { order } = await w.next();
  assert.equal(order, ['callback', 'nextTick', 'promise job', 'microtask', 'immediate']);
  assert.is(await w.exit, 0, 'the worker exits once its watch is closed');
});

test("a parked worker's timers and fs/promises keep working", async () => {
  const w = spawn(`
    const fs = require('node:fs/promises');
    const e = new g.EventFd();
    const seen = [];
    const t0 = performance.now();
    const watch = e.watch(() => {
      seen.push('woke');
      watch.close();
      e.close();
      post({ seen });
    });
    setTimeout(() => seen.push('timer ' + Math.round(performance.now() - t0)), 30);
    fs.readFile('/proc/self/status', 'utf8').then((s) => {
      seen.push('fs ' + /^Name:/m.test(s));
      post({ ready: e.fd });
    });
  `);
  const { ready: fd } = await w.next();
  await sleep(60);
  eventfdWrite(fd);
  const { seen } = await w.next();
  assert.is(seen.length, 3);
  assert.is(seen[0], 'fs true');
  assert.match(seen[1], /^timer (\d+)$/);
  assert.ok(Number(/\d+/.exec(seen[1])[0]) >= 29, seen[1]);
  assert.is(seen[2], 'woke');
  assert.is(await w.exit, 0);
});

test('close() stops callbacks: after close, even with the fd readable, and from inside the callback', async () => {
  const e = new EventFd();
  try {
    let calls = 0;
    const w1 = e.watch(() => calls++);
    e.signal();
    await sleep(20);
    assert.is(calls, 1);
    e.signal();
    w1.close(); // readable at close time: still no callback
    w1.close(); // twice is fine
    assert.is(w1.closed, true);
    await sleep(30);
    assert.is(calls, 1);
    assert.is(e.drain(), 1, 'the closed watch did not drain the fd either');

    let inner = 0;
    const w2 = e.watch(() => {
      inner++;
      w2.close();
      e.signal(); // readable again, but closed
    });
    e.signal();
    await sleep(30);
    assert.is(inner, 1);
    assert.is(w2.closed, true);
    e.drain();

    // ref/unref
    const w3 = e.watch(() => {});
    assert.is(w3.hasRef(), true);
    w3.unref();
    assert.is(w3.hasRef(), false);
    w3.ref();
    assert.is(w3.hasRef(), true);
    w3.close();
    assert.is(w3.hasRef(), false);
  } finally {
    e.close();
  }
});

test("an exception in the callback is the worker's uncaught error", async () => {
  const w = spawn(`
    const e = new g.EventFd();
    e.watch(() => { throw new Error('boom from onWake'); });
    e.signal();
  `);
  const code = await w.exit;
  assert.is(code, 1);
  assert.is(w.errors.length, 1);
  assert.match(w.errors[0].message, /boom from onWake/);
});

test('a worker torn down while parked (terminate) closes its watch and ring; no fd leaks, the process stays healthy', async () => {
  const fds = () => readdirSync('/proc/self/fd').length;
  const settled = async () => {
    // workers of earlier tests may still be closing their fds
    let n = fds();
    for (let i = 0; i < 200; i++) {
      await sleep(20);
      if (fds() === n) return n;
      n = fds();
    }
    return n;
  };
  const before = await settled();
  const fd = eventfdCreate(); // owned here, so only the worker's own fds must go
  const w = spawn(
    `
    const arena = g.Arena.create({ node: data.node, bytes: 1 << 20 });
    const ring = g.Ring.create({ arena, entries: 8, eventfd: data.fd });
    ring.timeout(60e9, 1);
    ring.turn();
    new g.ParkWatch(data.fd, () => {}); // never closed, and ref'd: keeps the worker alive
    post({ parked: true, inFlight: ring.inFlight });
  `,
    { node, fd },
  );
  const m = await w.next();
  assert.equal(m, { parked: true, inFlight: 1 });
  await sleep(20);
  await w.worker.terminate();
  assert.is(w.errors.length, 0);
  eventfdClose(fd);
  assert.is(await settled(), before);
  const rings = readdirSync('/proc/self/fd').filter((f) => {
    try {
      return readlinkSync(`/proc/self/fd/${f}`) === 'anon_inode:[io_uring]';
    } catch {
      return false;
    }
  });
  assert.equal(rings, [], "the worker's ring was closed by its env cleanup hook");
  // this thread still parks and wakes fine
  const e = new EventFd();
  let woke = 0;
  const watch = e.watch(() => woke++);
  e.signal();
  await sleep(20);
  watch.close();
  e.close();
  assert.is(woke, 1);
});

test("the ring's registered eventfd wakes a parked worker when a TIMEOUT completes", async () => {
  const w = spawn(
    `
    const arena = g.Arena.create({ node: data.node, bytes: 1 << 20 });
    const e = new g.EventFd();
    const ring = g.Ring.create({ arena, entries: 8, eventfd: e.fd });
    const results = [];
    let t0;
    const watch = e.watch(() => {
      const at = performance.now() - t0;
      ring.setEventfdEnabled(false);
      const n = ring.turn();
      results.push({ at, n, u: ring.userDataAt(0), res: ring.resultAt(0) });
      if (results.length < 3) return arm(results.length);
      watch.close();
      ring.close();
      e.close();
      arena.close();
      post({ results, mode: ring.mode });
    });
    function arm(i) {
      ring.timeout(30e6, 100 + i);
      ring.setEventfdEnabled(true);
      t0 = performance.now();
      ring.turn(); // submit, then return to libuv: parked
    }
    arm(0);
  `,
    { node },
  );
  const { results, mode } = await w.next();
  if (process.env.GATIO_TEST_VERBOSE) console.log(mode, results);
  assert.is(results.length, 3);
  results.forEach((r, i) => {
    assert.is(r.n, 1);
    assert.is(r.u, 100 + i);
    assert.is(r.res, -62, '-ETIME: the timeout expired');
    assert.ok(r.at >= 29.5, `woke after ${r.at.toFixed(2)} ms`);
    assert.ok(r.at < 30 + 200, `woke late: ${r.at.toFixed(2)} ms`);
  });
  assert.is(await w.exit, 0);
});

test('a parked worker uses ~0% CPU', async () => {
  const ticks = 100; // USER_HZ: clock ticks per second in /proc (100 on Linux)
  const cpu = (tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return (Number(f[11]) + Number(f[12])) / ticks; // utime (14) + stime (15), seconds
  };
  const w = spawn(`
    const e = new g.EventFd();
    const watch = e.watch(() => {
      watch.close();
      e.close();
      post({ woke: true });
    });
    post({ fd: e.fd, tid: g.threadBinding().tid });
  `);
  const { fd, tid } = await w.next();
  await sleep(100); // settle: the worker's startup is not what we measure
  const c0 = cpu(tid);
  const t0 = performance.now();
  await sleep(1000);
  const used = cpu(tid) - c0;
  const secs = (performance.now() - t0) / 1000;
  if (process.env.GATIO_TEST_VERBOSE) console.log(`parked worker: ${used}s CPU in ${secs.toFixed(3)}s`);
  assert.ok(used < 0.05 * secs, `a parked worker used ${(used * 1000).toFixed(0)} ms of CPU in ${secs.toFixed(2)} s`);
  eventfdWrite(fd);
  assert.equal(await w.next(), { woke: true }, 'and it still wakes');
  assert.is(await w.exit, 0);
});

test.run();
