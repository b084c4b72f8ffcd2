// spawn() options and sleep() arguments are checked where they are given,
// with one set of rules on every thread; errors keep what was thrown; one
// AbortSignal shared by many calls costs one listener.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { getEventListeners } from 'node:events';
import { sleep, start } from '../dist/index.js';
import { TASKS, settle } from './_runtime-support.mjs';

const rt = await start({ modules: [TASKS], queues: { batch: { shares: 1 } } });

test('each bad spawn option is refused at once, naming the option and what it got', () => {
  const cases = [
    [{ onFull: 'drop' }, /options\.onFull must be "wait" or "reject", got "drop"/],
    [{ quue: 'batch' }, /unknown option "quue"; did you mean "queue"\?/],
    [{ signal: 'x' }, /options\.signal must be an AbortSignal, got the string "x"/],
    [{ driver: '1' }, /options\.driver must be a driver id \(a whole number, 0 to \d+\), got the string "1"/],
    [{ tpc: 0.5 }, /options\.tpc must be a TPC id/],
    [{ key: {} }, /options\.key must be a string or a finite number, got object/],
    [{ queue: 7 }, /options\.queue must be the name of a task queue, got 7/],
  ];
  for (const [opts, re] of cases) assert.throws(() => rt.spawn('add', [1, 2], opts), re, JSON.stringify(opts));
  assert.throws(() => rt.spawn('add', [1, 2], 'fast'), /options must be an object, got string/);
});

test('spawn(handle): the function defineTask returned runs under its name; any other function is refused', async () => {
  const { addTyped } = await import(TASKS);
  assert.is(await rt.spawn(addTyped, [2, 3]), 5);
  assert.throws(() => rt.spawn((a) => a, [1]), /not a task name nor a function defineTask\(\) returned/);
});

test('good options still work', async () => {
  assert.is(await rt.spawn('add', [1, 2], { driver: 0, queue: 'batch', onFull: 'reject', key: 'k', tpc: 0 }), 3);
});

test('a task that throws a non-Error: the rejection keeps it as .value', async () => {
  for (const v of ['just a string', 42, { code: 7 }]) {
    const r = await settle(rt.spawn('throwValue', [v]));
    assert.not.ok(r.ok);
    assert.instance(r.error, Error);
    assert.equal(r.error.value, v, `value ${JSON.stringify(v)} kept`);
  }
});

test('one AbortSignal shared by 50 calls: one listener while they wait, none after, no MaxListenersExceededWarning', async () => {
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    const ac = new AbortController();
    const calls = Array.from({ length: 50 }, (_, i) => settle(rt.spawn('waitAbort', [`shared-${i}`, 30_000], { signal: ac.signal })));
    assert.is(getEventListeners(ac.signal, 'abort').length, 1, 'one listener for 50 calls');
    const reason = new Error('all of them');
    ac.abort(reason);
    const rs = await Promise.all(calls);
    assert.ok(rs.every((r) => !r.ok && r.error === reason), 'every call rejected with the reason');
    const done = new AbortController();
    await Promise.all(Array.from({ length: 20 }, () => rt.spawn('add', [1, 1], { signal: done.signal })));
    assert.is(getEventListeners(done.signal, 'abort').length, 0, 'settled calls let go of the signal');
    await new Promise((r) => setImmediate(r));
    assert.equal(warnings.filter((w) => w.name === 'MaxListenersExceededWarning'), []);
  } finally {
    process.off('warning', onWarning);
  }
});

test("the main thread's sleep() follows the drivers' rules", async () => {
  for (const [ms, re] of [
    [-5, /from 0 to 2\^64 ns/],
    [NaN, /from 0 to 2\^64 ns/],
    ['10', /expected a number of milliseconds, got the string "10"/],
    [2e13, /from 0 to 2\^64 ns/],
  ]) {
    const e = await sleep(ms).then(() => null, (x) => x);
    assert.ok(e, `sleep(${JSON.stringify(ms)}) rejected`);
    assert.match(e.message, re);
    const onDriver = await rt.spawn('sleepError', [ms]);
    assert.ok(onDriver, `a driver's sleep(${JSON.stringify(ms)}) rejected too`);
    assert.is(onDriver.message, e.message, 'with the same message');
  }
  // 1e12 ms (31 years) is allowed and waits: no TimeoutOverflowWarning, no resolving at once.
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on('warning', onWarning);
  const ac = new AbortController();
  const long = sleep(1e12, { signal: ac.signal }).then(() => 'resolved', (e) => e);
  const early = await Promise.race([long, new Promise((r) => setTimeout(() => r('pending'), 50))]);
  ac.abort(new Error('enough'));
  process.off('warning', onWarning);
  assert.is(early, 'pending');
  assert.is((await long).message, 'enough');
  assert.equal(warnings.map((w) => w.name), []);
});

test('stats(): settled tasks counted by outcome; a driver that does not answer in time is marked unanswered, with why', async () => {
  const before = (await rt.stats()).drivers[0];
  await rt.spawn('add', [1, 2], { driver: 0 });
  await rt.spawn('fail', ['TypeError', 'no'], { driver: 0 }).catch(() => {});
  const after = (await rt.stats()).drivers[0];
  assert.is(after.tasksSucceeded, before.tasksSucceeded + 1);
  assert.is(after.tasksFailed, before.tasksFailed + 1);
  assert.is(after.tasksRun, after.tasksSucceeded + after.tasksFailed, 'run = succeeded + failed');
  assert.ok(Array.isArray(after.queues) && after.queues.length > 0 && typeof after.ring.completions.delivered === 'number');
  // Driver 0 stuck in a synchronous task: it cannot answer the stats request within 150 ms.
  const stuck = rt.spawn('block', [800, 'stats'], { driver: 0 });
  await new Promise((r) => setTimeout(r, 50));
  const st = await rt.stats(150);
  const d0 = st.drivers[0];
  assert.is(d0.unanswered, true);
  assert.match(d0.reason, /did not answer within 150 ms/);
  assert.is(d0.queues, null);
  assert.is(st.drivers[1]?.unanswered, undefined, 'the others answered');
  await stuck;
});

test('a driver stuck in a long task shows busy (and for how long, and which task) while it runs; the stall is reported with the task', async () => {
  const stalls = [];
  const onStall = (s) => stalls.push(s);
  rt.on('stall', onStall);
  try {
    const stuck = rt.spawn('block', [600, 'stall'], { driver: 1 % rt.driverStats().length });
    const d = 1 % rt.driverStats().length;
    await new Promise((r) => setTimeout(r, 300));
    const live = rt.driverStats()[d];
    assert.is(live.busy, 1, 'busy now, not 0 until the turn ends');
    assert.ok(live.turnMs >= 200 && live.turnMs < 5000, `the turn has run ${live.turnMs} ms`);
    assert.is(live.runningTask, 'block');
    await stuck;
    const t0 = Date.now();
    // (the earlier test's 800 ms block on driver 0 may report its own stall meanwhile)
    const mine = () => stalls.filter((s) => s.driver === d);
    while (mine().length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    assert.is(mine().length, 1);
    assert.is(mine()[0].task, 'block');
    assert.ok(mine()[0].ms >= 550, `${mine()[0].ms} ms`);
    assert.ok(rt.driverStats()[d].stalls >= 1);
    assert.is(rt.driverStats()[d].turnMs, 0, 'between turns');
  } finally {
    rt.off('stall', onStall);
  }
});

test.after(() => rt.shutdown());
test.run();
