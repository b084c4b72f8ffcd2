// The per-driver scheduler (src/drivers/thread/scheduler.ts): shares, latency
// classes, no banked credit, cooperative yielding. The fairness tests use
// real CPU work, driven by a loop like the driver's (one runTurn() per
// setImmediate macrotask), and count in this thread's CPU time, as the
// drivers' schedulers charge it: time the kernel gives other processes on
// a loaded machine is nobody's share. How fast a latency task starts in
// wall time is measured by bench/scheduler.mjs.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { root } from './_support.mjs';

import { Scheduler } from '../dist/internals.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** this thread's CPU time in ms (CLOCK_THREAD_CPUTIME_ID) */
const cpuNow = createRequire(import.meta.url)(join(root, 'build', 'Release', 'gatio.node')).threadCpuMs;
/** Spins for `ms` of this thread's CPU time. */
function spin(ms) {
  const end = cpuNow() + ms;
  while (cpuNow() < end);
}
/** Resolves once cond() holds, polling; throws after `ms` (a hang is a failure, not a wait for the file's limit). */
async function until(cond, ms = 30_000) {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`not so after ${ms} ms: ${cond}`);
    await sleep(10);
  }
}

/** The driver loop, reduced to its scheduling part: (inbox,) one runTurn per macrotask. */
function drive(s, popInbox) {
  let on = true;
  const turn = () => {
    if (!on) return;
    setImmediate(turn);
    popInbox?.();
    s.runTurn();
  };
  setImmediate(turn);
  return () => {
    on = false;
  };
}

/**
 * A CPU-bound task: 0.2 ms chunks of CPU, yieldIfNeeded between them, CPU
 * time counted by itself, and `kept`: chunks it went on to run because
 * yieldIfNeeded let it keep the thread.
 */
function cpuTask(s, counter, key, stopped) {
  return async () => {
    while (!stopped()) {
      const t = cpuNow();
      spin(0.2);
      counter[key] += cpuNow() - t;
      const y = s.yieldIfNeeded();
      if (y === undefined) counter.kept = (counter.kept ?? 0) + 1;
      await y;
    }
  };
}

test('shares 2:1 split the CPU 2:1, and a change to 1:1 at run time is followed', async () => {
  const s = new Scheduler({ cpuNow });
  const a = s.createQueue('a', { shares: 2 });
  const b = s.createQueue('b', { shares: 1 });
  const cpu = { a: 0, b: 0 };
  let stop = false;
  for (let i = 0; i < 3; i++) {
    s.spawn(a, cpuTask(s, cpu, 'a', () => stop));
    s.spawn(b, cpuTask(s, cpu, 'b', () => stop));
  }
  // Windows of CPU time, not of wall time: the same amount of work to judge
  // on a quiet or a loaded machine.
  const halt = drive(s);
  await until(() => cpu.a + cpu.b >= 900);
  const first = { ...cpu };
  s.setShares('a', 1);
  await until(() => cpu.a + cpu.b - first.a - first.b >= 900);
  stop = true;
  await sleep(20);
  halt();
  const r1 = first.a / first.b;
  const r2 = (cpu.a - first.a) / (cpu.b - first.b);
  console.log(`  shares 2:1 -> cpu ${first.a.toFixed(0)}:${first.b.toFixed(0)} ms (ratio ${r1.toFixed(3)}); ` +
    `then 1:1 -> ratio ${r2.toFixed(3)}`);
  assert.ok(Math.abs(r1 / 2 - 1) <= 0.1, `2:1 shares gave a CPU ratio of ${r1.toFixed(3)}`);
  assert.ok(Math.abs(r2 - 1) <= 0.1, `1:1 shares gave a CPU ratio of ${r2.toFixed(3)}`);
  const st = s.stats();
  assert.equal(st.map((q) => q.shares), [1, 1]);
  assert.equal(st.map((q) => q.started), [3, 3]);
  assert.ok(st.every((q) => q.yields > 100), 'tasks yielded');
});

test('a latency queue (maxDelayMs 5) preempts spinning batch tasks: once its work is seen, no batch work runs before it', async () => {
  // A 10 ms quantum: without preemption a latency task would wait for the
  // rest of a quantum, ~50 batch chunks. Tasks "arrive" every 10 ms as if in
  // the driver's inbox: the loop moves due arrivals to the queue at the top
  // of each macrotask and its preempt check says "inbox not empty". What
  // holds on any machine is counted: from the moment the loop can see an
  // arrival (its preempt check said so, or the loop moved it) to the start
  // of its task, the scheduler dispatches no batch item and lets no running
  // batch task keep the thread past a yieldIfNeeded().
  const s = new Scheduler({ quantumMs: 10, cpuNow });
  const batch1 = s.createQueue('batch1');
  const batch2 = s.createQueue('batch2');
  // created last, so plain min-vruntime order would lose ties to the batch queues
  const lat = s.createQueue('lat', { latency: { maxDelayMs: 5 } });
  const cpu = { batch: 0, kept: 0 };
  let stop = false;
  for (const q of [batch1, batch2, batch1]) s.spawn(q, cpuTask(s, cpu, 'batch', () => stop));
  const batchWork = () => {
    const st = s.stats();
    return { items: st[0].items + st[1].items, kept: cpu.kept };
  };
  const t0 = performance.now() + 20;
  const arrivals = Array.from({ length: 100 }, (_, i) => t0 + i * 10 + Math.random() * 3);
  let next = 0;
  let seen; // batch work done when the next arrival was first seen
  const after = []; // batch work done between an arrival being seen and its task's start
  const delays = [];
  s.setPreemptCheck(() => {
    const due = next < arrivals.length && performance.now() >= arrivals[next];
    if (due && !seen) seen = batchWork();
    return due;
  });
  const cpu0 = cpuNow();
  const halt = drive(s, () => {
    const now = performance.now();
    while (next < arrivals.length && now >= arrivals[next]) {
      const at = arrivals[next++];
      const from = seen ?? batchWork();
      seen = undefined;
      s.spawn(lat, () => {
        const w = batchWork();
        after.push({ items: w.items - from.items, kept: w.kept - from.kept });
        delays.push(performance.now() - at);
        spin(0.05);
      });
    }
  });
  while (delays.length < arrivals.length) await sleep(20);
  const threadCpu = cpuNow() - cpu0;
  stop = true;
  await sleep(30);
  halt();
  const sorted = [...delays].sort((x, y) => x - y);
  const max = sorted.at(-1);
  const st = s.stats().find((q) => q.name === 'lat');
  console.log(`  latency tasks: ${delays.length}, start delay after arrival p50 ${sorted[50].toFixed(3)} ms, ` +
    `max ${max.toFixed(3)} ms (after enqueue: max ${st.maxDelayMs.toFixed(3)} ms); ` +
    `batch ${(cpu.batch / threadCpu * 100).toFixed(0)}% of the thread's CPU`);
  assert.equal(after.filter((w) => w.items > 0 || w.kept > 0), [], 'batch work between a latency arrival being seen and its start');
  assert.ok(st.maxDelayMs <= max, 'enqueue-to-start is part of arrival-to-start');
  // The latency tasks take 0.05 ms per 10 ms: the batch tasks keep most of the thread's CPU.
  assert.ok(cpu.batch > threadCpu * 0.5, `the batch tasks got ${(cpu.batch / threadCpu * 100).toFixed(0)}% of the thread's CPU`);
});

test('a queue idle for a long time does not bank credit when it wakes up', async () => {
  const s = new Scheduler({ cpuNow });
  const busy = s.createQueue('busy');
  const sleeper = s.createQueue('sleeper');
  const cpu = { busy: 0, sleeper: 0 };
  let stop = false;
  for (let i = 0; i < 2; i++) s.spawn(busy, cpuTask(s, cpu, 'busy', () => stop));
  const halt = drive(s);
  await until(() => cpu.busy >= 400); // busy runs alone; sleeper's vruntime stays put
  const before = { ...cpu };
  for (let i = 0; i < 2; i++) s.spawn(sleeper, cpuTask(s, cpu, 'sleeper', () => stop));
  await until(() => cpu.busy + cpu.sleeper - before.busy - before.sleeper >= 300);
  stop = true;
  await sleep(20);
  halt();
  const got = { busy: cpu.busy - before.busy, sleeper: cpu.sleeper - before.sleeper };
  const frac = got.sleeper / (got.busy + got.sleeper);
  console.log(`  after waking: sleeper ${got.sleeper.toFixed(0)} ms, busy ${got.busy.toFixed(0)} ms (sleeper ${(frac * 100).toFixed(0)}%)`);
  // Equal shares: about half each; with banked credit the sleeper would take ~100%.
  assert.ok(frac > 0.35 && frac < 0.65, `the woken queue took ${(frac * 100).toFixed(0)}% of the CPU`);
});

test('vruntime: elapsed / shares, new and woken queues start at the minimum (fake clock)', () => {
  let clock = 0;
  const s = new Scheduler({ now: () => clock, quantumMs: 1 });
  const a = s.createQueue('a', { shares: 2 });
  const b = s.createQueue('b', { shares: 1 });
  s.enqueue(a, () => (clock += 4));
  assert.ok(s.runTurn());
  clock += 2; // continuations after the turn are charged too
  assert.not.ok(s.runTurn(), 'nothing left');
  let st = s.stats();
  assert.is(st[0].runtimeMs, 6);
  assert.is(st[0].vruntime, 3);
  assert.is(st[1].vruntime, 0, 'b never ran');
  clock += 1000; // idle: not charged to anyone
  assert.not.ok(s.runTurn());
  s.enqueue(b, () => (clock += 1));
  st = s.stats();
  assert.is(st[1].vruntime, 3, 'b woke up level with a, not 3 ms behind');
  assert.ok(s.runTurn());
  s.idle(); // the loop is about to park: close the window
  clock += 500;
  assert.not.ok(s.runTurn());
  st = s.stats();
  assert.is(st[1].runtimeMs, 1);
  assert.is(st[1].vruntime, 4);
  const c = s.createQueue('c');
  assert.is(s.stats()[2].vruntime, 4, 'a new queue starts at the minimum');
  // a (3) idled while b ran: on waking it catches up to the minimum (4).
  const order = [];
  s.enqueue(b, () => order.push('b'));
  s.enqueue(c, () => order.push('c'));
  s.enqueue(a, () => order.push('a'));
  assert.equal(s.stats().map((q) => q.vruntime), [4, 4, 4]);
  s.runTurn(); // a tie: the first queue created goes first
  assert.equal(order, ['a']);
  s.setShares('a', 0.5);
  clock += 1;
  s.runTurn(); // charges a: 1 ms / 0.5 shares; then b (4) runs
  assert.is(s.stats()[0].vruntime, 6);
  assert.equal(order, ['a', 'b']);
});

test('a preempt check that said yes holds for the rest of the turn: the next item waits for the loop (fake clock)', () => {
  // The check is rate-limited: asked again at once it is not consulted, and
  // the turn used to read that as "no" and run the queue's next item.
  const clock = 0;
  const s = new Scheduler({ now: () => clock, quantumMs: 100 });
  const q = s.createQueue('q');
  let checks = 0;
  s.setPreemptCheck(() => (checks++, true));
  const ran = [];
  s.enqueue(q, () => {
    ran.push('first');
    ran.push(s.yieldIfNeeded() ? 'yielded' : 'kept');
  });
  s.enqueue(q, () => ran.push('second'));
  assert.ok(s.runTurn());
  assert.equal(ran, ['first', 'yielded'], 'the turn ended when the check said yes');
  assert.is(checks, 1);
  assert.ok(s.runTurn());
  assert.equal(ran, ['first', 'yielded', 'second'], 'the next turn runs it');
});

test('latency queues go first but cannot starve the others beyond latencyBoostMs (fake clock)', () => {
  let clock = 0;
  const s = new Scheduler({ now: () => clock, quantumMs: 1, latencyBoostMs: 10 });
  const batch = s.createQueue('batch');
  const lat = s.createQueue('lat', { latency: { maxDelayMs: 5 } });
  const ran = [];
  // Both always have work; each item costs 1 ms.
  const refill = (q) => s.enqueue(q, () => {
    ran.push(q.name);
    clock += 1;
    refill(q);
  });
  refill(batch);
  refill(lat);
  for (let i = 0; i < 60; i++) s.runTurn();
  const firstBatch = ran.indexOf('batch');
  // lat goes first for ~latencyBoostMs of virtual time, then they alternate.
  assert.ok(firstBatch >= 9 && firstBatch <= 12, `batch first ran at turn ${firstBatch}`);
  const tail = ran.slice(30);
  const latShare = tail.filter((n) => n === 'lat').length / tail.length;
  assert.ok(Math.abs(latShare - 0.5) < 0.1, `after the boost lat got ${latShare}`);
});

test('yieldIfNeeded with nothing else to do returns undefined and does not yield', () => {
  const s = new Scheduler({ quantumMs: 50 });
  const q = s.createQueue('only');
  const results = new Set();
  s.enqueue(q, () => {
    for (let i = 0; i < 10000; i++) results.add(s.yieldIfNeeded());
  });
  assert.ok(s.runTurn());
  assert.equal([...results], [undefined]);
  assert.is(s.stats()[0].yields, 0);
  assert.not.ok(s.hasWork(), 'no resumption was queued');
  // Outside the scheduler's work there is nothing to yield to either.
  s.idle();
  assert.is(s.current(), undefined);
  assert.is(s.yieldIfNeeded(), undefined);
});

test('yieldIfNeeded yields when the quantum is spent, for latency work, and for the preempt check', async () => {
  const s = new Scheduler({ quantumMs: 20 }); // long enough that a descheduled VM does not spend it by accident
  const q = s.createQueue('batch');
  const lat = s.createQueue('lat', { latency: { maxDelayMs: 5 } });
  let p;
  // quantum spent
  s.enqueue(q, () => {
    spin(21);
    p = s.yieldIfNeeded();
  });
  s.runTurn();
  assert.instance(p, Promise);
  assert.ok(s.hasWork(), 'the resumption is queued on its queue');
  assert.is(s.stats()[0].pending, 1);
  let resumed = false;
  p.then(() => (resumed = true));
  s.runTurn(); // the resumption: resolves p
  await null;
  await null;
  assert.ok(resumed, 'resumed when the queue was picked again');
  // latency work of another queue, quantum not spent
  const got = [];
  s.enqueue(q, () => {
    got.push(s.yieldIfNeeded());
    s.enqueue(lat, () => {});
    got.push(s.yieldIfNeeded());
  });
  s.runTurn();
  assert.is(got[0], undefined);
  assert.instance(got[1], Promise);
  assert.is(s.stats()[1].pending, 1);
  s.runTurn(); // lat goes first
  assert.is(s.stats()[1].pending, 0);
  assert.is(s.stats()[0].pending, 1);
  s.runTurn();
  // the loop's preempt check, rate-limited
  const s2 = new Scheduler({ quantumMs: 1000 });
  const q2 = s2.createQueue('q2');
  let checks = 0;
  let answer = false;
  s2.setPreemptCheck(() => {
    checks++;
    return answer;
  });
  const calls = 20000;
  let ms = 0;
  let yielded = 0;
  s2.enqueue(q2, () => {
    const t = performance.now();
    for (let i = 0; i < calls; i++) if (s2.yieldIfNeeded() !== undefined) yielded++;
    ms = performance.now() - t;
  });
  s2.runTurn();
  assert.is(yielded, 0);
  assert.ok(checks >= 1 && checks < calls / 10 && checks <= ms / 0.1 + 2, `${checks} checks for ${calls} calls in ${ms.toFixed(2)} ms`);
  answer = true;
  s2.enqueue(q2, () => {
    spin(0.15);
    p = s2.yieldIfNeeded();
  });
  s2.runTurn();
  assert.instance(p, Promise);
});

test('current() is the task queue across yields; run() establishes a queue and charges it', async () => {
  const s = new Scheduler({ quantumMs: 0.5 });
  const a = s.createQueue('a');
  const b = s.createQueue('b');
  const wrong = [];
  let done = 0;
  const task = (q) => async () => {
    for (let i = 0; i < 20; i++) {
      if (s.current() !== q) wrong.push(`${q.name}@${i}: ${s.current()?.name}`);
      spin(0.3);
      await s.yieldIfNeeded();
    }
    done++;
  };
  for (let i = 0; i < 2; i++) {
    s.spawn(a, task(a));
    s.spawn(b, task(b));
  }
  const halt = drive(s);
  while (done < 4) await sleep(5);
  halt();
  assert.equal(wrong, []);
  assert.equal(s.stats().map((q) => q.running), [0, 0]);
  s.idle();
  const before = s.stats()[1].runtimeMs;
  const seen = s.run(b, () => {
    spin(2);
    return s.current();
  });
  assert.is(seen, b);
  assert.is(s.current(), undefined, 'restored after run()');
  assert.is(s.run(a, () => s.yieldIfNeeded()), undefined, 'run() outside a turn has a quantum of its own');
  assert.instance(s.run(a, () => (spin(0.6), s.yieldIfNeeded())), Promise);
  assert.ok(s.stats()[1].runtimeMs - before >= 2, 'run() charged its time to b');
});

test('timers and promises keep running while CPU-bound tasks yield', async () => {
  const s = new Scheduler();
  const q = s.createQueue('cpu');
  const cpu = { q: 0 };
  let stop = false;
  for (let i = 0; i < 3; i++) s.spawn(q, cpuTask(s, cpu, 'q', () => stop));
  const halt = drive(s);
  await until(() => cpu.q > 5); // tasks are spinning now
  const t0 = performance.now();
  const late = await new Promise((r) => setTimeout(() => r(performance.now() - t0 - 5), 5));
  const t1 = performance.now();
  await fsp.stat(root);
  const statMs = performance.now() - t1;
  const cpuBefore = cpu.q;
  await until(() => cpu.q - cpuBefore > 10, 10_000);
  stop = true;
  await sleep(20);
  halt();
  console.log(`  setTimeout(5) late by ${late.toFixed(2)} ms, fs.stat took ${statMs.toFixed(2)} ms while tasks spun`);
  // The tasks never end on their own: a loop that starved libuv would never
  // fire the timer nor finish the stat. 1 s is a bound no loaded machine misses.
  assert.ok(late < 1000, `setTimeout(5) fired ${late.toFixed(1)} ms late`);
  assert.ok(statMs < 1000, `fs.promises.stat took ${statMs.toFixed(1)} ms`);
  assert.ok(cpu.q - cpuBefore > 10, 'the tasks kept running meanwhile');
});

test('a work item that throws ends the turn; the scheduler stays consistent', () => {
  const s = new Scheduler();
  const q = s.createQueue('q');
  let ran = false;
  s.enqueue(q, () => {
    throw new Error('boom');
  });
  s.enqueue(q, () => (ran = true));
  assert.throws(() => s.runTurn(), /boom/);
  assert.ok(s.hasWork());
  assert.ok(s.runTurn());
  assert.ok(ran);
  assert.not.ok(s.hasWork());
  assert.not.ok(s.runTurn());
  s.enqueue(q, () => s.runTurn());
  assert.throws(() => s.runTurn(), /runTurn: called from a work item/);
  assert.not.ok(s.hasWork());
});

test('bad shares, bad options, duplicate and unknown queue names give clear errors', () => {
  const s = new Scheduler();
  for (const bad of [0, -1, NaN, Infinity, -Infinity, '2', null]) {
    assert.throws(() => s.createQueue(`q${String(bad)}`, { shares: bad }), (e) => /shares must be a finite number/.test(e.message) && e.message.includes(`"q${String(bad)}"`));
  }
  const q = s.createQueue('web', { shares: 3 });
  assert.is(s.queue('web'), q);
  assert.is(s.queue('nope'), undefined);
  assert.throws(() => s.createQueue('web'), /task queue "web" already exists/);
  assert.throws(() => s.createQueue(''), /name must be a non-empty string/);
  for (const bad of [0, -5, NaN, Infinity]) assert.throws(() => s.setShares('web', bad), /task queue "web": shares must be/);
  assert.is(s.stats()[0].shares, 3, 'a refused change leaves the shares alone');
  assert.throws(() => s.setShares('nope', 1), /no task queue named "nope" \(queues: "web"\)/);
  assert.throws(() => s.createQueue('l', { latency: { maxDelayMs: 0 } }), /latency.maxDelayMs must be a finite number > 0, got 0/);
  assert.throws(() => s.createQueue('l', { latency: {} }), /latency.maxDelayMs must be .* got undefined/);
  assert.throws(() => new Scheduler({ quantumMs: 0 }), /quantumMs must be a finite number > 0/);
  assert.throws(() => s.enqueue(q, 'x'), /work must be a function/);
  assert.throws(() => s.enqueue({ name: 'fake' }, () => {}), /expected a TaskQueue/);
  const other = new Scheduler().createQueue('web');
  assert.throws(() => s.enqueue(other, () => {}), /"web" belongs to another scheduler/);
});

test.run();
