// Timers inside a driver, served by its ring (IORING_OP_TIMEOUT): sleep's
// accuracy, timeout() and the cancelling of its timer, interval() without
// drift, and an aborted sleep.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { getEventListeners } from 'node:events';
import { start, timeout, interval, sleep, TimeoutError } from '../dist/index.js';
import { TASKS, delay, quantile, fmt } from './_runtime-support.mjs';

// What these tests prove holds on any machine: a timer never fires early,
// always fires (a parked driver is woken by its ring), an interval is
// anchored to its start, an abort ends a sleep at once instead of at its
// timer. How late timers are is a speed figure, measured by
// bench/timers.mjs (docs/benchmarks.md): here only a bound that no loaded
// machine can miss, 1 s, far below the 60 s timer an abort must beat or a
// hang.
const LATE_BOUND_MS = 1000;

let rt;
test.before(async () => {
  rt = await start({ modules: [TASKS] });
});
test.after(async () => {
  await rt?.shutdown();
});

test('sleep(ms) on a driver is never early and late by a bounded amount', async () => {
  const list = [];
  for (const ms of [0, 0.5, 1, 2, 5, 10, 20]) for (let i = 0; i < 10; i++) list.push(ms);
  const raw = [];
  const own = [];
  const nodeRaw = [];
  for (const d of rt.driverStats()) {
    // ring timers and, concurrently on the same thread, Node timers for comparison
    const [r, n] = await Promise.all([rt.spawn('sleepAccuracy', [list], { driver: d.id }), rt.spawn('nodeSleepAccuracy', [list], { driver: d.id })]);
    for (const { ms, took, waited } of r) {
      assert.ok(took >= ms, `driver ${d.name}: sleep(${ms}) returned after ${took.toFixed(3)} ms: early`);
      raw.push(took - ms);
      own.push(took - ms - (Number.isNaN(waited) ? 0 : waited));
    }
    for (const { ms, took } of n) nodeRaw.push(took - ms);
  }
  const q = (l) => `p50 ${fmt(quantile(l, 0.5))}, p90 ${fmt(quantile(l, 0.9))}, max ${fmt(Math.max(...l))}`;
  console.log(`  sleep lateness over ${raw.length} sleeps (ms): ${q(raw)}; without run-queue waits: ${q(own)}; Node setTimeout beside it: ${q(nodeRaw)}`);
  const max = Math.max(...raw);
  assert.ok(max <= LATE_BOUND_MS, `a sleep ended ${max.toFixed(3)} ms late (bound ${LATE_BOUND_MS} ms)`);
});

test('timeout(promise, ms): the promise wins and the ring timer is cancelled', async () => {
  const d = rt.driverStats()[0];
  await delay(50); // nothing else pending on that driver
  assert.is(await rt.spawn('promiseWins', [5000], { driver: d.id }), 'value');
  // Its 5 s timer must be gone from the driver (timers) and from the ring (inFlight) at once, not in 5 s.
  const t0 = performance.now();
  let s;
  do {
    s = (await rt.stats()).drivers[d.id];
    if (s.timers === 0 && s.ring.inFlight === 0) break;
    await delay(5);
  } while (performance.now() - t0 < 500);
  assert.is(s.timers, 0, 'no gatio timer left on the driver');
  assert.is(s.ring.inFlight, 0, 'no op left in the ring');
});

test('timeout(promise, ms): rejects with TimeoutError when the time runs out', async () => {
  const r = await rt.spawn('timeoutWins', [20]);
  assert.equal(r, { rejected: true, name: 'TimeoutError', code: 'GATIO_TIMEOUT', isTimeoutError: true, message: 'timed out after 20 ms' });
  // the same on the main thread (Node timers)
  const t0 = performance.now();
  const err = await timeout(new Promise(() => {}), 30).then(() => null, (e) => e);
  assert.instance(err, TimeoutError);
  assert.ok(performance.now() - t0 >= 29);
  assert.is(await timeout(Promise.resolve(7), 1000), 7);
});

test('interval(ms) ticks on a schedule anchored to its start: never early, a stall skips ticks instead of shifting the rest', async () => {
  const MS = 10;
  const STALL_AT = 5; // the tick whose handler blocks the thread
  const STALL_MS = 55;
  const ticks = await rt.spawn('intervalTicks', [MS, 20, STALL_AT, STALL_MS]);
  assert.is(ticks.length, 20);
  const lateness = ticks.map(({ n, at }) => at - n * MS);
  console.log(`  interval(${MS}) lateness per tick (ms): ${lateness.map(fmt).join(' ')}`);
  for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i].n > ticks[i - 1].n, 'tick numbers increase');
  for (const [i, l] of lateness.entries()) {
    assert.ok(l >= 0, `tick ${ticks[i].n} came ${-l} ms early`);
    assert.ok(l <= LATE_BOUND_MS, `tick ${ticks[i].n} is ${l.toFixed(2)} ms late`);
  }
  // Anchored, the tick after a stall is the one now due: ticks that fell
  // inside the stall are skipped, not bunched, and the schedule after it is
  // the old one. A schedule relative to the previous tick would yield the
  // next number instead (and every later tick STALL_MS late). The stall is
  // measured in wall time, so a loaded machine only makes it longer.
  const i = ticks.findIndex((t) => t.n === STALL_AT);
  assert.ok(i >= 0, `tick ${STALL_AT} was yielded`);
  assert.ok(ticks[i + 1].n >= STALL_AT + Math.floor(STALL_MS / MS), `after a ${STALL_MS} ms stall in tick ${STALL_AT}, the next tick is ${ticks[i + 1].n}`);
});

test('interval(): after a stall, a tick less than a period late fires at once; only ticks late by more than a period are skipped', async () => {
  // 10 ms ticks, a 25 ms stall in tick 3: ticks 4 (more than a period late) is skipped, tick 5 (about 5 ms late) is not.
  const ticks = await rt.spawn('intervalTicks', [10, 8, 3, 25]);
  const i = ticks.findIndex((t) => t.n === 3);
  const resumedAt = ticks[i].resumedAt;
  const next = ticks[i + 1];
  assert.ok(next.n * 10 <= resumedAt + 1, `the tick after the stall (${next.n}) is one already due when the loop resumed at ${resumedAt.toFixed(1)} ms, not the next one after it`);
  assert.ok(next.n * 10 > resumedAt - 10, `and it is the latest due (tick ${next.n}, resumed at ${resumedAt.toFixed(1)} ms): older ones were skipped`);
  assert.ok(next.at - next.n * 10 < 10 + LATE_BOUND_MS, 'it fired at once');
});

test('interval() and sleep() on the main thread (Node timers) let go of their signal', async () => {
  const ac = new AbortController();
  const warnings = [];
  const onWarning = (w) => warnings.push(w.name);
  process.on('warning', onWarning);
  let last = 0;
  for await (const n of interval(1, { signal: ac.signal })) if ((last = n) >= 20) break;
  for (let i = 0; i < 15; i++) await sleep(0, { signal: ac.signal });
  await delay(10);
  process.off('warning', onWarning);
  assert.ok(last >= 20);
  assert.is(getEventListeners(ac.signal, 'abort').length, 0, 'abort listeners left on the signal');
  assert.not.ok(warnings.includes('MaxListenersExceededWarning'), `warnings: ${warnings}`);
  // and an abort still stops a sleep
  const ac2 = new AbortController();
  const p = sleep(10_000, { signal: ac2.signal });
  ac2.abort(new Error('enough'));
  const e = await p.then(() => null, (x) => x);
  assert.is(e?.message, 'enough');
});

test('an aborted sleep rejects promptly with the abort reason', async () => {
  for (const d of rt.driverStats()) {
    const r = await rt.spawn('abortedSleep', [50], { driver: d.id });
    assert.is(r.rejected, true);
    assert.is(r.message, 'stop sleeping');
    console.log(`  ${d.name}: the aborted sleep rejected ${fmt(r.sinceAbort)} ms after abort()`);
    assert.ok(r.sinceAbort >= 0 && r.sinceAbort < LATE_BOUND_MS, `rejected ${r.sinceAbort.toFixed(2)} ms after abort()`);
  }
  // and its 60 s timer left the ring
  await delay(20);
  for (const s of (await rt.stats()).drivers) {
    assert.is(s.timers, 0, `driver ${s.name} still has a timer`);
    assert.is(s.ring.inFlight, 0, `driver ${s.name} still has an op in its ring`);
  }
});

test('sleep on a driver refuses what a kernel timespec cannot hold (2^64 ns) instead of casting it', async () => {
  const e = await rt.spawn('sleepError', [1e14]); // 1e20 ns
  assert.is(e?.name, 'RangeError');
  assert.match(e.message, /2\^64 ns/);
  assert.match((await rt.spawn('sleepError', [-1]))?.message, /got -1/);
  assert.is(await rt.spawn('sleepError', [0]), null);
});

test.run();
