// Thread pinning on the real machine: sched_setaffinity / sched_getaffinity /
// sched_getcpu, per OS thread (main thread and worker threads).
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { pinThread, threadBinding, topology, formatList } from '../dist/index.js';
import { inWorker, skip } from './_support.mjs';

const dist = new URL('../dist/index.js', import.meta.url).href;
const allowed = topology().allowed.pus;

// Worker source: pins itself to workerData.cpus, spins so the scheduler has
// every chance to run it where it belongs, and reports what it sees.
const pinAndReport = `
  const { parentPort, workerData } = require('node:worker_threads');
  import(${JSON.stringify(dist)}).then(({ pinThread, threadBinding }) => {
    const seen = [];
    for (const cpu of workerData.cpus) {
      pinThread(cpu);
      const end = Date.now() + workerData.spinMs;
      let b = threadBinding();
      while (Date.now() < end && b.cpu !== cpu) b = threadBinding();
      seen.push({ cpu, binding: b });
    }
    const spinEnd = Date.now() + (workerData.holdMs ?? 0);
    while (Date.now() < spinEnd) {}
    parentPort.postMessage({ seen, last: threadBinding() });
  });
`;

test('a worker pinned to each allowed CPU in turn runs there and reads the binding back', async () => {
  const { seen } = await inWorker(pinAndReport, { cpus: allowed, spinMs: 200 });
  assert.is(seen.length, allowed.length);
  for (const { cpu, binding } of seen) {
    assert.equal(binding.cpus, [cpu], `affinity after pinning to ${cpu}`);
    assert.is(binding.cpu, cpu, `sched_getcpu after pinning to ${cpu}`);
  }
});

test('the main thread can be pinned and read back, then restored', () => {
  const before = threadBinding();
  try {
    const cpu = allowed[allowed.length - 1];
    pinThread([cpu]);
    let b = threadBinding();
    const end = Date.now() + 200;
    while (Date.now() < end && b.cpu !== cpu) b = threadBinding();
    assert.equal(b.cpus, [cpu]);
    assert.is(b.cpu, cpu);
    assert.is(b.tid, process.pid, 'the main thread tid is the pid');
  } finally {
    pinThread(before.cpus);
  }
  assert.equal(threadBinding().cpus, before.cpus);
});

test('two workers pinned to different CPUs report distinct CPUs and their own tids', async () => {
  if (allowed.length < 2) return skip('two pinned workers', `only ${allowed.length} allowed CPU`);
  const [a, b] = allowed;
  // holdMs keeps both alive at once, so their tids cannot be reused.
  const [ra, rb] = await Promise.all([
    inWorker(pinAndReport, { cpus: [a], spinMs: 200, holdMs: 100 }),
    inWorker(pinAndReport, { cpus: [b], spinMs: 200, holdMs: 100 }),
  ]);
  assert.equal(ra.last.cpus, [a]);
  assert.equal(rb.last.cpus, [b]);
  assert.is(ra.last.cpu, a);
  assert.is(rb.last.cpu, b);
  assert.is.not(ra.last.tid, rb.last.tid);
  assert.is.not(ra.last.tid, process.pid);
  assert.is.not(rb.last.tid, process.pid);
  // Pinning a worker does not move the main thread.
  assert.equal(threadBinding().cpus, allowed);
});

test('pinning to a CPU that does not exist or is not allowed throws, naming it, and changes nothing', () => {
  const before = threadBinding().cpus;
  assert.throws(() => pinThread(4095), /CPU 4095/);
  const outside = Math.max(...topology().pus.map((p) => p.os)) + 1;
  assert.throws(() => pinThread(outside), new RegExp(`CPU\\(s\\) ${outside}\\b`));
  // One good CPU with a bad one: the kernel would quietly drop the bad one; we refuse.
  assert.throws(() => pinThread([allowed[0], outside]), new RegExp(`CPU\\(s\\) ${outside}\\b.*not allowed`));
  assert.equal(threadBinding().cpus, before);
  assert.throws(() => pinThread([]), /no CPUs/);
  assert.throws(() => pinThread([-1]), /-1 is not a CPU number/);
  assert.throws(() => pinThread([1.5]), /1.5 is not a CPU number/);
  assert.throws(() => pinThread('0-x'), /pinThread: "0-x" is not a number or range/);
  assert.equal(threadBinding().cpus, before);
});

test('a cpulist string pins to exactly that list', async () => {
  const list = formatList(allowed);
  const { last } = await inWorker(pinAndReport, { cpus: [list], spinMs: 0 });
  assert.equal(last.cpus, allowed);
  assert.ok(allowed.includes(last.cpu));
  const { last: one } = await inWorker(pinAndReport, { cpus: [`${allowed[0]}`], spinMs: 200 });
  assert.equal(one.cpus, [allowed[0]]);
  assert.is(one.cpu, allowed[0]);
});

test.run();
