// Timers inside a driver, served by its ring (IORING_OP_TIMEOUT): sleep's
// accuracy, timeout() and the cancelling of its timer, interval() without
// drift, and an aborted sleep.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { getEventListeners } from 'node:events';
import { start, timeout, interval, sleep, TimeoutError } from '../dist/index.js';
import { TASKS, delay, quantile, fmt } from './_runtime-support.mjs';

// Lateness bounds. When other processes keep the driver's CPU busy the
// pinned thread waits for it, and Node's own setTimeout on the same thread
// (measured beside it) is just as late; so the hard bound applies to the
// lateness minus the time the thread waited on the run queue (schedstat's
// run_delay, read by the task around each sleep). What remains still
// includes GC pauses and hypervisor steal, which run_delay does not count:
// hence a 10 ms bound on it, and 1 ms on the median. bench/timers.mjs
// measures the distribution.
const P50_LATE_MS = 1;
const MAX_LATE_MS = 10;

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
  assert.ok(quantile(raw, 0.5) <= P50_LATE_MS, `median lateness ${quantile(raw, 0.5).toFixed(3)} ms > ${P50_LATE_MS} ms`);
  const max = Math.max(...own);
  assert.ok(max <= MAX_LATE_MS, `a sleep ended ${max.toFixed(3)} ms late, not counting waits for the CPU (bound ${MAX_LATE_MS} ms)`);
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

test('interval(ms) ticks without drift', async () => {
  const MS = 10;
  const ticks = await rt.spawn('intervalTicks', [MS, 20]);
  assert.is(ticks.length, 20);
  const lateness = ticks.map(({ n, at }) => at - n * MS);
  console.log(`  interval(${MS}) lateness per tick (ms): ${lateness.map(fmt).join(' ')}`);
  for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i].n > ticks[i - 1].n, 'tick numbers increase');
  for (const [i, l] of lateness.entries()) {
    assert.ok(l >= 0, `tick ${ticks[i].n} came ${-l} ms early`);
    assert.ok(l <= 100, `tick ${ticks[i].n} is ${l.toFixed(2)} ms late`);
  }
  // No drift: the last ticks are not later than the first ones (a relative
  // sleep per tick would add each tick's lateness: ~20 x 0.1-0.3 ms).
  const head = quantile(lateness.slice(0, 5), 0.5);
  const tail = quantile(lateness.slice(-5), 0.5);
  assert.ok(tail - head < 1, `lateness grew from ${head.toFixed(3)} to ${tail.toFixed(3)} ms over 20 ticks`);
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
    assert.ok(r.sinceAbort >= 0 && r.sinceAbort < 20, `rejected ${r.sinceAbort.toFixed(2)} ms after abort()`);
  }
  // and its 60 s timer left the ring
  await delay(20);
  for (const s of (await rt.stats()).drivers) {
    assert.is(s.timers, 0, `driver ${s.name} still has a timer`);
    assert.is(s.ring.inFlight, 0, `driver ${s.name} still has an op in its ring`);
  }
});

test.run();
