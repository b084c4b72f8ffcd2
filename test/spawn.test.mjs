// spawn() on a real runtime: values and errors across threads, unknown
// names, AbortSignal, a full inbox, routing (key, driver) and its counters,
// spawning from inside a task.
import { test, suite } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { getEventListeners } from 'node:events';
import { start, topology, QueueFullError } from '../dist/index.js';
import { TASKS, reports, settle, delay } from './_runtime-support.mjs';
import { skip } from './_support.mjs';

let rt;
const rep = reports();

test.before(async () => {
  rt = await start({ modules: [TASKS], queues: { batch: { shares: 1 } } });
});
test.after(async () => {
  await rt?.shutdown();
});

test('structured-cloneable arguments and results survive the trip both ways', async () => {
  const value = {
    map: new Map([
      ['a', 1],
      [2, { deep: [1, 2, { x: 'y' }] }],
    ]),
    set: new Set([1, 'two', 3n]),
    date: new Date('2024-02-29T12:34:56.789Z'),
    nested: { a: { b: { c: [null, undefined, true, -0.5, 'é✓', ''] } } },
    bytes: new Uint8Array([0, 1, 254, 255]),
    big: -(2n ** 100n) + 7n,
    small: 42n,
    re: /ab+c/gi,
    f64: new Float64Array([1.5, -2]),
    holes: [1, , 3], // eslint-disable-line no-sparse-arrays
    nan: NaN,
    inf: -Infinity,
  };
  const back = await rt.spawn('echo', [value]);
  assert.equal(back, value);
  assert.instance(back.map, Map);
  assert.instance(back.date, Date);
  assert.instance(back.bytes, Uint8Array);
  assert.is(typeof back.big, 'bigint');
  assert.not.ok(1 in back.holes, 'the hole stays a hole');
  // async task, several arguments
  assert.equal(await rt.spawn('echoAsync', [[value.map, value.date]]), [value.map, value.date]);
  assert.is(await rt.spawn('add', [2n ** 64n, 1n]), 2n ** 64n + 1n);
  // bigger than an inbox slot: goes through an arena block
  const big = { text: 'x'.repeat(100_000), bytes: new Uint8Array(300_000).fill(9) };
  assert.equal(await rt.spawn('echo', [big]), big);
});

test('a task that throws rejects with the same name, message, code and the remote stack', async () => {
  for (const [name, Ctor] of [
    ['Error', Error],
    ['TypeError', TypeError],
    ['RangeError', RangeError],
    ['MyCustomError', Error],
  ]) {
    const r = await settle(rt.spawn('fail', [name, `bad ${name}`]));
    assert.not.ok(r.ok);
    assert.instance(r.error, Ctor);
    assert.is(r.error.name, name);
    assert.is(r.error.message, `bad ${name}`);
    assert.is(r.error.code, 'E_TEST');
    assert.match(r.error.stack, /test\/fixtures\/tasks\/basic\.mjs:\d+/, 'the remote stack names the task module');
  }
  const a = await settle(rt.spawn('failAsync', ['later']));
  assert.is(a.error.message, 'later');
  assert.match(a.error.stack, /basic\.mjs/);
});

test('unknown task or queue: spawn throws at once, listing what exists', () => {
  assert.throws(
    () => rt.spawn('nope', []),
    (e) => /unknown task "nope"/.test(e.message) && /\badd\b/.test(e.message) && /\becho\b/.test(e.message) && /\bwhere\b/.test(e.message),
  );
  assert.throws(
    () => rt.spawn('add', [1, 2], { queue: 'fast' }),
    (e) => /unknown task queue "fast"/.test(e.message) && /default/.test(e.message) && /batch/.test(e.message),
  );
  assert.throws(() => rt.spawn('add', 1), /args must be an array/);
});

test('AbortSignal: before the call and while the task runs', async () => {
  const early = new Error('never mind');
  const r1 = await settle(rt.spawn('add', [1, 2], { signal: AbortSignal.abort(early) }));
  assert.not.ok(r1.ok);
  assert.is(r1.error, early, 'rejects with the abort reason');

  const ac = new AbortController();
  const reason = new Error('changed my mind');
  const t0 = performance.now();
  const p = settle(rt.spawn('waitAbort', ['during'], { signal: ac.signal }));
  await delay(50);
  ac.abort(reason);
  const r2 = await p;
  assert.ok(performance.now() - t0 < 2000);
  assert.not.ok(r2.ok);
  assert.is(r2.error, reason, 'the caller rejects with the abort reason');
  const m = await rep.waitFor((x) => x.type === 'aborted' && x.tag === 'during', 2000);
  assert.is(m.reason, 'changed my mind', "the task's signal fired with the caller's own reason");
  // the runtime goes on
  assert.is(await rt.spawn('add', [1, 2]), 3);
});

test('AbortSignal while the call still waits to start: the task never runs', async () => {
  const victim = rt.driverStats()[0];
  const blocked = rt.spawn('block', [300, 'pre-start'], { driver: victim.id });
  await rep.waitFor((m) => m.type === 'blocking' && m.tag === 'pre-start', 5000);
  const ac = new AbortController();
  const p = settle(rt.spawn('waitAbort', ['queued'], { driver: victim.id, signal: ac.signal }));
  await delay(20);
  ac.abort(new Error('not needed any more'));
  const r = await p;
  assert.is(r.error?.message, 'not needed any more', 'the caller rejects at once');
  await blocked;
  // The driver drops the cancelled call instead of running it (it would wait 30 s for its signal).
  const t0 = performance.now();
  while (rt.driverStats()[victim.id].pending > 0 && performance.now() - t0 < 2000) await delay(10);
  assert.is(rt.driverStats()[victim.id].pending, 0, 'the cancelled call is not pending on the driver');
  await delay(20);
  assert.not.ok(rep.seen.some((m) => m.tag === 'queued'), 'the task did not start');
});

test('one AbortSignal shared by many calls: every settled call lets go of it', async () => {
  const ac = new AbortController();
  const warnings = [];
  const onWarning = (w) => warnings.push(w.name);
  process.on('warning', onWarning);
  for (let i = 0; i < 30; i++) assert.is(await rt.spawn('add', [i, 1], { signal: ac.signal }), i + 1);
  await Promise.all(Array.from({ length: 8 }, (_, i) => rt.spawn('add', [i, 1], { signal: ac.signal }))); // concurrent (fewer than Node's 10-listener warning)
  const failed = await settle(rt.spawn('fail', ['Error', 'x'], { signal: ac.signal }));
  assert.not.ok(failed.ok);
  await delay(10); // warnings are emitted on the next tick
  process.off('warning', onWarning);
  assert.is(getEventListeners(ac.signal, 'abort').length, 0, 'abort listeners left on the signal');
  assert.not.ok(warnings.includes('MaxListenersExceededWarning'), `warnings: ${warnings}`);
});

test('an argument that cannot be sent: spawn throws and leaves no call behind', async () => {
  assert.throws(() => rt.spawn('echo', [{ cb: () => 1 }]), (e) => e.name === 'CodecError' && /^args\[0\]\.cb: a function cannot be sent/.test(e.message));
  assert.is((await rt.stats()).main.outstanding, 0, 'no call waits for a message that was never sent');
  // the same from inside a task
  const r = await rt.spawn('spawnBadArg', []);
  assert.equal(r, { threw: 'CodecError' });
});

test('key affinity: the same key, the same driver; different keys spread', async () => {
  const n = rt.driverStats().length;
  const first = (await rt.spawn('where', [], { key: 'user-17' })).info.id;
  for (let i = 0; i < 20; i++) assert.is((await rt.spawn('where', [], { key: 'user-17' })).info.id, first);
  const byKey = new Map();
  for (let k = 0; k < 32; k++) {
    const ids = await Promise.all([0, 1, 2].map(() => rt.spawn('where', [], { key: `k${k}` }).then((w) => w.info.id)));
    assert.is(new Set(ids).size, 1, `key k${k} went to ${ids}`);
    byKey.set(k, ids[0]);
  }
  const used = new Set(byKey.values());
  if (n > 1) assert.ok(used.size > 1, `32 keys all went to driver ${[...used]}`);
});

test('the driver option pins the call to that driver', async () => {
  for (const d of rt.driverStats()) {
    const ids = await Promise.all(Array.from({ length: 8 }, () => rt.spawn('where', [], { driver: d.id }).then((w) => w.info.id)));
    assert.equal(ids, Array(8).fill(d.id));
  }
  // No such driver: a rejection (not a synchronous throw), like every failure of a call.
  const p = rt.spawn('where', [], { driver: 99 });
  assert.instance(p, Promise);
  const e = await p.then(() => null, (x) => x);
  assert.match(e?.message, /driver 99 does not exist/);
});

test('spawn from inside a task', async () => {
  const r = await rt.spawn('spawnInner', [20, 22]);
  assert.is(r.sum, 42);
  assert.ok(rt.driverStats().some((d) => d.id === r.inner));
  const many = await Promise.all(Array.from({ length: 30 }, (_, i) => rt.spawn('spawnInner', [i, i])));
  assert.equal(
    many.map((x) => x.sum),
    Array.from({ length: 30 }, (_, i) => 2 * i),
  );
});

test('rt.stats().routing counts the decisions by reason', async () => {
  const before = (await rt.stats()).routing;
  await Promise.all([
    rt.spawn('add', [1, 1], { key: 'a' }),
    rt.spawn('add', [1, 1], { key: 'b' }),
    rt.spawn('add', [1, 1], { key: 'c' }),
    rt.spawn('add', [1, 1], { driver: 0 }),
    rt.spawn('add', [1, 1], { driver: 0 }),
    rt.spawn('add', [1, 1], { tpc: 0 }),
    ...Array.from({ length: 4 }, () => rt.spawn('add', [1, 1])),
  ]);
  const after = (await rt.stats()).routing;
  const d = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
  assert.is(d.key, 3);
  assert.is(d.driver, 2);
  assert.is(d.tpc, 1);
  assert.is(d.local + d.spill, 4);
});

test.run();

// A tiny inbox and a blocked driver: 'reject' refuses at once, 'wait' loses
// nothing. Their own runtimes (16 inbox slots): a suite that runs after the
// one above has shut its runtime down.
const full = suite('onFull');

full('a full inbox: onFull "reject" throws QueueFullError, the default "wait" completes every call', async () => {
  const small = await start({ modules: [TASKS], tpcs: [{ node: 0, cores: 1 }], runtime: { inboxSlots: 16 } });
  try {
    assert.is(small.driverStats().length, 1);
    // Block the only driver, and wait until it really runs the blocking task.
    const blocked = small.spawn('block', [600, 'full-1']);
    await rep.waitFor((m) => m.type === 'blocking' && m.tag === 'full-1', 5000);
    const rejecting = [];
    for (let i = 0; i < 40; i++) rejecting.push(settle(small.spawn('add', [i, 1], { onFull: 'reject' })));
    const outcomes = await Promise.all(rejecting);
    const accepted = outcomes.filter((o) => o.ok);
    const refused = outcomes.filter((o) => !o.ok);
    assert.ok(refused.length >= 40 - 16, `${refused.length} of 40 refused with a 16-slot inbox`);
    assert.ok(accepted.length >= 1, 'the calls that fitted ran');
    for (const o of refused) {
      assert.instance(o.error, QueueFullError);
      assert.is(o.error.code, 'GATIO_QUEUE_FULL');
      assert.is(o.error.name, 'QueueFullError');
      assert.match(o.error.message, /inbox is full/);
    }
    outcomes.forEach((o, i) => o.ok && assert.is(o.value, i + 1));
    assert.is(await blocked, 0);

    // The same again with 'wait' (the default): every call completes, in full.
    const blocked2 = small.spawn('block', [300, 'full-2']);
    await rep.waitFor((m) => m.type === 'blocking' && m.tag === 'full-2', 5000);
    const waiting = Array.from({ length: 500 }, (_, i) => small.spawn('add', [i, 1]));
    const depth = small.driverStats()[0].inboxDepth;
    assert.ok(depth >= 15, `the inbox is full (${depth} of 16): the other calls wait in the caller's backlog`);
    const values = await Promise.all(waiting);
    assert.equal(
      values,
      Array.from({ length: 500 }, (_, i) => i + 1),
    );
    await blocked2;
  } finally {
    await small.shutdown();
  }
});

full('onFull "reject" from inside a task: the same QueueFullError', async () => {
  const cores = topology().cores.filter((c) => c.allowed).map((c) => c.id);
  if (cores.length < 2) return skip('onFull from a driver', 'needs 2 allowed cores for two drivers');
  const two = await start({ modules: [TASKS], tpcs: [{ node: 0, cores: cores.slice(0, 2) }], runtime: { inboxSlots: 16 } });
  try {
    const [a, b] = two.driverStats();
    const blocked = two.spawn('block', [600, 'full-3'], { driver: a.id });
    await rep.waitFor((m) => m.type === 'blocking' && m.tag === 'full-3', 5000);
    // From driver b, 40 calls at once to the blocked driver a.
    const outcomes = await two.spawn('spawnManyAndReport', [40, 'add', [1, 1], { driver: a.id, onFull: 'reject' }], { driver: b.id });
    const refused = outcomes.filter((o) => !o.ok);
    assert.ok(refused.length >= 40 - 16, `${refused.length} of 40 refused with a 16-slot inbox`);
    for (const o of refused) assert.equal([o.name, o.code], ['QueueFullError', 'GATIO_QUEUE_FULL']);
    assert.ok(outcomes.some((o) => o.ok && o.value === 2), 'the calls that fitted ran');
    await blocked;
  } finally {
    await two.shutdown();
  }
});

full.after(() => rep.close());
full.run();
