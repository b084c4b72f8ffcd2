// Inside tasks, Node's own APIs keep working on a driver that parks: the
// driver loop is libuv macrotasks, and a parked driver sleeps in libuv's
// epoll_wait, so Node timers, fs and sockets still run there.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import { start } from '../dist/index.js';
import { TASKS, delay, parked } from './_runtime-support.mjs';

let rt;
test.before(async () => {
  rt = await start({ modules: [TASKS] });
});
test.after(async () => {
  await rt?.shutdown();
});

test('setTimeout, setImmediate, promises, nextTick and timers/promises', async () => {
  for (const d of rt.driverStats()) {
    const r = await rt.spawn('nodeTimers', [], { driver: d.id });
    assert.equal(r.order, ['timeout', 'immediate', 'microtask', 'timers/promises', 'nextTick']);
    assert.ok(r.elapsed >= 24 && r.elapsed < 2000, `took ${r.elapsed.toFixed(1)} ms for 20 + 5 ms of timers`);
  }
});

test('fs/promises: write and read back a temp file', async () => {
  const text = `héllo from a driver ${'∑'.repeat(1000)}`;
  const results = await Promise.all(rt.driverStats().flatMap((d) => [1, 2, 3].map(() => rt.spawn('fsRoundTrip', [text], { driver: d.id }))));
  for (const r of results) assert.is(r, text);
});

test('fetch against an http server on the main thread', async () => {
  const server = createServer((req, res) => res.end(`main says ${req.method} ${req.url}`));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address();
    for (const d of rt.driverStats()) {
      const r = await rt.spawn('fetchText', [`http://127.0.0.1:${port}/from/${d.id}`], { driver: d.id });
      assert.equal(r, { status: 200, body: `main says GET /from/${d.id}` });
    }
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('an http server inside the task, fetched from the same driver', async () => {
  for (const d of rt.driverStats()) {
    assert.is(await rt.spawn('httpInside', [], { driver: d.id }), `inside ${d.id} /ping`);
  }
});

test('a Node timer on an otherwise idle driver: the driver parks and libuv still fires the timer', async () => {
  const d = rt.driverStats()[0];
  await parked(rt, d.id);
  const before = rt.driverStats()[0];
  let done = false;
  const p = rt.spawn('nodeTimerWhileParked', [300], { driver: d.id }).finally(() => (done = true));
  // Watch for a park while the timer is pending (not at a fixed moment: on a
  // loaded machine the driver may spin out its budget late).
  let mid = before;
  while (!done && mid.parks <= before.parks) {
    await delay(2);
    if (!done) mid = rt.driverStats()[0];
  }
  const took = await p;
  const after = rt.driverStats()[0];
  assert.ok(took >= 299 && took < 1500, `the 300 ms Node timer fired after ${took.toFixed(1)} ms`);
  assert.ok(mid.parks > before.parks, `the driver parked while the timer was pending (parks ${before.parks} -> ${mid.parks})`);
  assert.ok(after.wakeups > before.wakeups, 'and woke up');
  assert.is(after.tasksRun, before.tasksRun + 1);
});

test.run();
