// The router: direct, key affinity (rendezvous), least-loaded, spill.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { Router, rendezvous } from '../dist/internals.js';
import { start, topology, pinThread, threadBinding } from '../dist/index.js';
import { TASKS } from './_runtime-support.mjs';
import { skip } from './_support.mjs';

// Two TPCs of three JS drivers and one io driver each.
const targets = [0, 1, 2, 3, 4, 5, 6, 7].map((id) => ({ id, tpc: id < 4 ? 0 : 1, runsTasks: id % 4 !== 3 }));
function setup(threshold = 8) {
  const loads = new Map(targets.map((t) => [t.id, { alive: true, pending: 0, busy: 0 }]));
  return { loads, router: new Router(targets, (id) => loads.get(id), threshold) };
}

test('least-loaded driver of the caller TPC', () => {
  const { loads, router } = setup();
  loads.get(0).pending = 3;
  loads.get(1).pending = 1;
  loads.get(2).pending = 2;
  assert.equal(router.route({ fromTpc: 0 }), { driver: 1, reason: 'local' });
  assert.equal(router.route({ fromTpc: 1 }).reason, 'local');
  assert.ok([4, 5, 6].includes(router.route({ fromTpc: 1 }).driver));
});

test('equal loads rotate over the drivers', () => {
  const { loads, router } = setup();
  for (const id of [0, 1, 2]) loads.get(id).pending = 2;
  const seen = new Set();
  for (let i = 0; i < 6; i++) seen.add(router.route({ fromTpc: 0 }).driver);
  assert.equal([...seen].sort(), [0, 1, 2]);
});

test('among idle drivers the last one used is kept (it is the hot one)', () => {
  const { loads, router } = setup();
  const first = router.route({ fromTpc: 0 }).driver;
  for (let i = 0; i < 5; i++) assert.is(router.route({ fromTpc: 0 }).driver, first);
  loads.get(first).pending = 1; // busy now: the next call goes elsewhere
  assert.is.not(router.route({ fromTpc: 0 }).driver, first);
});

test('spill to another TPC only when every local driver is above the threshold', () => {
  const { loads, router } = setup(4);
  for (const id of [0, 1, 2]) loads.get(id).pending = 4;
  assert.is(router.route({ fromTpc: 0 }).reason, 'local', 'at the threshold: stay');
  for (const id of [0, 1, 2]) loads.get(id).pending = 5;
  const r = router.route({ fromTpc: 0 });
  assert.is(r.reason, 'spill');
  assert.ok([4, 5, 6].includes(r.driver));
  for (const id of [4, 5, 6]) loads.get(id).pending = 9;
  assert.is(router.route({ fromTpc: 0 }).reason, 'local', 'the other TPC is busier: stay');
  assert.ok(router.decisions.spill === 1 && router.decisions.local === 2);
});

test('key affinity: same key, same driver while alive; only its keys move when it dies', () => {
  const { loads, router } = setup();
  const before = new Map();
  for (let k = 0; k < 600; k++) before.set(k, router.route({ fromTpc: 0, key: `user-${k}` }).driver);
  const counts = new Map();
  for (const d of before.values()) counts.set(d, (counts.get(d) ?? 0) + 1);
  assert.is(counts.size, 6, 'keys spread over every JS driver');
  for (const c of counts.values()) assert.ok(c > 50, `balanced enough: ${[...counts.values()]}`);
  for (let k = 0; k < 600; k++) assert.is(router.route({ fromTpc: 1, key: `user-${k}` }).driver, before.get(k));
  loads.get(2).alive = false;
  for (let k = 0; k < 600; k++) {
    const d = router.route({ fromTpc: 0, key: `user-${k}` }).driver;
    if (before.get(k) !== 2) assert.is(d, before.get(k), 'keys of live drivers stay put');
    else assert.is.not(d, 2);
  }
});

test('direct routing and its errors', () => {
  const { loads, router } = setup();
  assert.equal(router.route({ fromTpc: 0, driver: 5 }), { driver: 5, reason: 'driver' });
  assert.throws(() => router.route({ fromTpc: 0, driver: 3 }), /driver 3 does not exist or runs no JavaScript/);
  assert.throws(() => router.route({ fromTpc: 0, driver: 42 }), /driver 42 does not exist/);
  loads.get(5).alive = false;
  assert.throws(() => router.route({ fromTpc: 0, driver: 5 }), /driver 5 is not running/);
  assert.throws(() => router.route({ fromTpc: 0, tpc: 7 }), /TPC 7 does not exist/);
  assert.is(router.route({ fromTpc: 0, tpc: 1 }).reason, 'tpc');
  for (const t of targets) loads.get(t.id).alive = false;
  assert.throws(() => router.route({ fromTpc: 0 }), /no live driver/);
});

test('rendezvous is deterministic', () => {
  assert.is(rendezvous('abc', [1, 2, 3]), rendezvous('abc', [3, 2, 1]));
});

test('a spawn passes over the driver on the CPU the main thread is on now, not where it was at the last result', async () => {
  // Two drivers and no spare CPU: the main thread shares CPUs with them. A
  // spawn to the driver on its own CPU waits for the main thread's spin; the
  // router avoids that one when the other is as good. The main thread moves
  // between calls (here by pinning; the kernel moves it when it wakes).
  const pus = topology().allowed.pus;
  if (pus.length !== 2) return skip('avoiding the main thread\'s CPU', `needs exactly 2 allowed CPUs, so that two drivers leave no spare one (has ${pus.length})`);
  const before = threadBinding().cpus;
  const rt = await start({ modules: [TASKS], tpcs: [{ node: 0, cores: 2 }] });
  try {
    const onPu = new Map(rt.driverStats().map((d) => [d.pu, d.id]));
    for (let i = 0; i < 6; i++) {
      const cpu = pus[i % 2];
      pinThread(cpu);
      await new Promise((r) => setTimeout(r, 5)); // idle: both drivers have nothing pending
      const ran = (await rt.spawn('where', [])).info.id;
      assert.is.not(ran, onPu.get(cpu), `call ${i}: the main thread was on CPU ${cpu}, the task ran on the driver pinned there`);
    }
  } finally {
    await rt.shutdown();
    pinThread(before);
  }
});

test.run();
