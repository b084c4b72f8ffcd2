// The MPSC message queue (src/drivers/protocol/queue.ts, native/queue.h) in real
// arena memory: single-thread semantics, int32 wrap-around, JS worker and
// native producer threads racing into one consumer, a C++ consumer of JS
// messages, and the park/wake protocol over a real eventfd.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Arena, EventFd, MessageQueue, topology } from '../dist/internals.js';
import { root } from './_support.mjs';

const addon = createRequire(import.meta.url)(join(root, 'build', 'Release', 'gatio.node'));
const dist = new URL('../dist/internals.js', import.meta.url).href;
const node = topology().allowed.nodes[0] ?? 0;
const arena = Arena.create({ node, bytes: '8MiB' });
const tick = () => new Promise((r) => setImmediate(r));
/** Workers still running: a failed test terminates them (test.after.each) so the file ends. */
const live = new Set();
/** A native producer thread; its promise rejection is also marked handled, for when a test fails first. */
function nativeProducer(offset, count, tag) {
  const p = addon.queueNativeProducer(arena.id, offset, count, tag);
  p.catch(() => {});
  return p;
}
function spawn(src, workerData) {
  const w = new Worker(src, { eval: true, workerData });
  live.add(w);
  w.once('exit', () => live.delete(w));
  return w;
}

function newQueue(capacity, slotBytes, wakeFd = -1, start = 0) {
  const block = arena.alloc(MessageQueue.bytesFor(capacity, slotBytes), 64);
  return MessageQueue.init(arena.buffer, block.offset, capacity, slotBytes, wakeFd, start);
}

// ---- the test message format, shared with the workers (as source) and with
// queueNativeProducer (native/queue_hooks.cc): u32 tag, u32 seq, body, u32
// FNV-1a checksum of tag+seq+body; body byte i is (tag + seq + i) & 0xff.
function bodyLen(seq, maxPayload) {
  return (seq * 7) % (maxPayload - 11);
}
function put32(b, o, v) {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}
function get32(b, o) {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}
function fnv(b, o, n) {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[o + i], 16777619) >>> 0;
  return h;
}
function writeMsg(b, o, tag, seq, bl) {
  put32(b, o, tag);
  put32(b, o + 4, seq);
  for (let i = 0; i < bl; i++) b[o + 8 + i] = (tag + seq + i) & 0xff;
  put32(b, o + 8 + bl, fnv(b, o, 8 + bl));
}
/** Checks one message in place; returns its tag and leaves its seq in checked.seq. */
const checked = { seq: 0 };
function checkMsg(b, o, len, maxPayload) {
  if (len < 12) throw new Error(`message of ${len} bytes is too short`);
  const tag = get32(b, o);
  const seq = get32(b, o + 4);
  const bl = len - 12;
  if (bl !== bodyLen(seq, maxPayload)) throw new Error(`tag ${tag} seq ${seq}: length ${len} is wrong`);
  for (let i = 0; i < bl; i++) {
    if (b[o + 8 + i] !== ((tag + seq + i) & 0xff)) throw new Error(`tag ${tag} seq ${seq}: body byte ${i} is torn`);
  }
  if (get32(b, o + 8 + bl) !== fnv(b, o, 8 + bl)) throw new Error(`tag ${tag} seq ${seq}: bad checksum`);
  checked.seq = seq;
  return tag;
}
const codecSource = [bodyLen, put32, get32, fnv, writeMsg].map(String).join('\n');

/** A worker that pushes `count` test messages tagged `tag` once `gate[0]` turns 1. */
function producerWorker({ offset, tag, count, gate, wake = false }) {
  const src = `
    import { workerData, parentPort } from 'node:worker_threads';
    import { Arena, MessageQueue } from '${dist}';
    ${codecSource}
    const { arenaId, offset, tag, count, gate, wake } = workerData;
    const arena = Arena.attach(arenaId);
    const q = MessageQueue.attach(arena.buffer, offset);
    const g = new Int32Array(gate);
    const nap = new Int32Array(new SharedArrayBuffer(4));
    let seq = 0, bl = 0, full = 0, woke = 0;
    const write = (b, o) => writeMsg(b, o, tag, seq, bl);
    parentPort.postMessage('ready');
    while (Atomics.load(g, 0) === 0) Atomics.wait(g, 0, 0, 50);
    for (; seq < count; seq++) {
      bl = bodyLen(seq, q.maxPayload);
      // Full: give the core to the consumer (this VM has 2 cores, 5 threads race).
      while (!q.tryPushWith(12 + bl, write)) if (++full % 8 === 0) Atomics.wait(nap, 0, 0, 0.05);
      if (wake && q.wakeIfParked()) woke++;
    }
    parentPort.postMessage({ full, woke });
  `;
  const w = spawn(src, { arenaId: arena.id, offset, tag, count, gate, wake });
  const ready = new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  const done = ready.then(
    () =>
      new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => code !== 0 && reject(new Error(`producer ${tag} exited ${code}`)));
      }),
  );
  return { ready, done };
}

const bytesOf = (...xs) => Uint8Array.from(xs);

// ---- single thread ----

test('push and pop keep order; pop on empty is null', () => {
  const q = newQueue(8, 32);
  assert.is(q.capacity, 8);
  assert.is(q.maxPayload, 24);
  assert.ok(q.isEmpty());
  assert.is(q.tryPop(), null);
  for (let i = 0; i < 5; i++) assert.ok(q.tryPush(bytesOf(i, i + 1, i + 2)));
  assert.is(q.size(), 5);
  for (let i = 0; i < 5; i++) assert.equal(Array.from(q.tryPop()), [i, i + 1, i + 2]);
  assert.is(q.tryPop(), null);
  assert.ok(q.isEmpty());
  assert.is(q.tryPush(new Uint8Array(0)), true);
  assert.is(q.tryPop().length, 0);
});

test('exactly capacity messages fit; further pushes are refused and counted', () => {
  const q = newQueue(8, 16);
  for (let i = 0; i < 8; i++) assert.ok(q.tryPush(bytesOf(i)), `push ${i}`);
  assert.is(q.tryPush(bytesOf(99)), false);
  assert.is(q.tryPushWith(1, () => assert.unreachable('write called on a full queue')), false);
  assert.equal(q.stats(), { capacity: 8, size: 8, wakeups: 0, full: 2, parked: false });
  assert.equal(Array.from(q.tryPop()), [0]);
  assert.ok(q.tryPush(bytesOf(8)));
  const got = [];
  assert.is(q.drain((b, o, len) => got.push(b[o] + len * 1000)), 8);
  assert.equal(got, [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008]);
  assert.is(q.stats().full, 2);
});

test('tryPop returns a copy; drain and tryPushWith work in place on the shared buffer', () => {
  const q = newQueue(2, 16);
  q.tryPush(bytesOf(1, 2, 3));
  const copy = q.tryPop();
  q.tryPush(bytesOf(7, 7, 7));
  q.tryPush(bytesOf(8, 8, 8)); // lands in the slot the copy came from
  assert.equal(Array.from(copy), [1, 2, 3]);
  let seenBuffer;
  q.drain((b, o, len) => {
    seenBuffer = b.buffer;
    assert.is(len, 3);
  }, 1);
  assert.is(seenBuffer, arena.buffer);
  assert.ok(q.tryPushWith(4, (b, o) => b.set([9, 8, 7, 6], o)));
  assert.equal(Array.from(q.tryPop()), [8, 8, 8]);
  assert.equal(Array.from(q.tryPop()), [9, 8, 7, 6]);
});

test('drain honours max; a throwing handler consumes its message and the error propagates', () => {
  const q = newQueue(16, 16);
  for (let i = 0; i < 10; i++) q.tryPush(bytesOf(i));
  const got = [];
  assert.is(q.drain((b, o) => got.push(b[o]), 3), 3);
  assert.throws(
    () =>
      q.drain((b, o) => {
        if (b[o] === 5) throw new Error('boom at 5');
        got.push(b[o]);
      }),
    /boom at 5/,
  );
  assert.is(q.drain((b, o) => got.push(b[o])), 4);
  assert.equal(got, [0, 1, 2, 3, 4, 6, 7, 8, 9]);
  assert.ok(q.isEmpty());
});

test('a producer whose write throws leaves a tombstone that consumers skip', () => {
  const q = newQueue(8, 16);
  q.tryPush(bytesOf(1));
  assert.throws(
    () =>
      q.tryPushWith(2, () => {
        throw new Error('encoder failed');
      }),
    /encoder failed/,
  );
  q.tryPush(bytesOf(2));
  q.tryPush(bytesOf(3));
  assert.equal(Array.from(q.tryPop()), [1]);
  assert.equal(Array.from(q.tryPop()), [2]); // the tombstone was skipped
  assert.equal(Array.from(addon.queueNativePop(arena.id, q.offset)), [3]);
  q.tryPush(bytesOf(4));
  assert.throws(() => q.tryPushWith(1, () => { throw new Error('again'); }), /again/);
  const got = [];
  assert.is(q.drain((b, o) => got.push(b[o])), 1);
  assert.equal(got, [4]);
  assert.ok(q.isEmpty());
});

test('a payload of exactly maxPayload bytes round-trips; one byte more is a clear error, not a truncation', () => {
  const q = newQueue(4, 64);
  const max = Uint8Array.from({ length: q.maxPayload }, (_, i) => (i * 13 + 1) & 0xff);
  assert.ok(q.tryPush(max));
  assert.equal(Array.from(q.tryPop()), Array.from(max));
  const big = new Uint8Array(q.maxPayload + 1);
  assert.throws(() => q.tryPush(big), /payload of 57 bytes does not fit .*maxPayload 56.*arena block/);
  assert.throws(() => q.tryPushWith(57, () => {}), /payload of 57 bytes does not fit/);
  assert.throws(() => addon.queueNativePush(arena.id, q.offset, big), /57 bytes exceeds maxPayload 56/);
  assert.throws(() => q.tryPush([1, 2]), /payload must be a Uint8Array/);
  assert.throws(() => q.tryPushWith(-1, () => {}), /len must be a whole number/);
  assert.is(q.size(), 0, 'nothing was claimed by the refused pushes');
  assert.ok(q.tryPush(bytesOf(5)));
  assert.equal(Array.from(q.tryPop()), [5]);
});

test('wraps around its slots many times (> 2^16 positions)', () => {
  const q = newQueue(4, 16);
  let next = 0;
  let expect = 0;
  const check = (b, o) => {
    const v = b[o] | (b[o + 1] << 8) | (b[o + 2] << 16);
    if (v !== expect) throw new Error(`got ${v}, expected ${expect}`);
    expect++;
  };
  const msg = new Uint8Array(3);
  for (let round = 0; next < 200_000; round++) {
    const k = 1 + (round % 4);
    for (let i = 0; i < k; i++) {
      msg[0] = next & 0xff;
      msg[1] = (next >> 8) & 0xff;
      msg[2] = (next >> 16) & 0xff;
      assert.ok(q.tryPush(msg));
      next++;
    }
    if (round % 2) q.drain(check);
    else while (expect < next) check(q.tryPop(), 0);
  }
  assert.is(expect, next);
  assert.ok(q.isEmpty());
});

for (const [name, start] of [
  ['2^31 - 5 (int32 overflow)', 2 ** 31 - 5],
  ['-5 (uint32 overflow to 0)', -5],
]) {
  test(`counters starting at ${name} cross the wrap-around`, () => {
    const q = newQueue(8, 16, -1, start);
    const i32 = new Int32Array(arena.buffer, q.offset, 64);
    assert.is(i32[64 / 4], start | 0, 'tail starts there');
    let n = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 5; i++) assert.ok(q.tryPush(bytesOf(n + i)));
      assert.is(q.size(), 5);
      for (let i = 0; i < 5; i++) assert.equal(Array.from(q.tryPop()), [n + i]);
      n += 5;
    }
    for (let i = 0; i < 8; i++) assert.ok(q.tryPush(bytesOf(i)));
    assert.is(q.tryPush(bytesOf(8)), false, 'full is still detected across the wrap');
    assert.is(q.size(), 8);
    assert.is(i32[64 / 4], (start + 108) | 0, 'tail went past the wrap');
    assert.is(i32[128 / 4], (start + 100) | 0, 'head too');
    assert.is(q.drain(() => {}), 8);
  });
}

test('attach finds a formatted queue and refuses anything else, naming the offset', () => {
  const q = newQueue(16, 32);
  q.tryPush(bytesOf(42));
  const again = MessageQueue.attach(arena.buffer, q.offset);
  assert.is(again.capacity, 16);
  assert.is(again.maxPayload, 24);
  assert.equal(Array.from(again.tryPop()), [42]);
  const blank = arena.alloc(4096, 64);
  new Uint8Array(arena.buffer, blank.offset, 4096).fill(0);
  assert.throws(() => MessageQueue.attach(arena.buffer, blank.offset), new RegExp(`no message queue at offset ${blank.offset} .*GQUE`));
  assert.throws(() => MessageQueue.attach(arena.buffer, q.offset + 4), /offset must be a multiple of 64 bytes, got \d+/);
  assert.throws(() => MessageQueue.attach(arena.buffer, arena.bytes), /does not fit in a buffer of/);
  assert.throws(() => MessageQueue.attach(new ArrayBuffer(1024), 0), /expected a SharedArrayBuffer/);
  assert.throws(() => addon.queueNativePop(arena.id, blank.offset), new RegExp(`arena ${arena.id} offset ${blank.offset}: no message queue there`));
  assert.throws(() => addon.queueNativePop(arena.id, arena.bytes + 64), /outside arena/);
  assert.throws(() => addon.queueNativePop(999_999, 0), /no arena with id 999999/);
  // A header whose geometry is corrupt is refused too.
  const bad = newQueue(4, 16);
  new Int32Array(arena.buffer, bad.offset, 4)[1] = 3; // capacity 3: not a power of two
  assert.throws(() => MessageQueue.attach(arena.buffer, bad.offset), /header at offset \d+ is corrupt: .*capacity/);
  assert.throws(() => addon.queueNativePop(arena.id, bad.offset), /corrupt queue header \(capacity\)/);
  assert.throws(() => MessageQueue.init(arena.buffer, 0, 6, 16), /capacity must be a power of two/);
  assert.throws(() => MessageQueue.init(arena.buffer, 0, 8, 20), /slotBytes must be a multiple of 8/);
  assert.throws(() => MessageQueue.bytesFor(1, 16), /capacity must be a power of two from 2/);
});

test('JS and C++ read each other\'s messages on one thread', () => {
  const q = newQueue(8, 64);
  const max = Uint8Array.from({ length: 56 }, (_, i) => 255 - i);
  assert.is(addon.queueNativePush(arena.id, q.offset, bytesOf(1, 2, 3)), true);
  assert.is(addon.queueNativePush(arena.id, q.offset, max), true);
  assert.equal(Array.from(q.tryPop()), [1, 2, 3]);
  assert.equal(Array.from(q.tryPop()), Array.from(max));
  q.tryPush(max);
  assert.equal(Array.from(addon.queueNativePop(arena.id, q.offset)), Array.from(max));
  assert.is(addon.queueNativePop(arena.id, q.offset), null);
  for (let i = 0; i < 8; i++) assert.ok(addon.queueNativePush(arena.id, q.offset, bytesOf(i)));
  assert.is(addon.queueNativePush(arena.id, q.offset, bytesOf(8)), false);
  assert.is(q.stats().full, 1, 'the native refusal is counted in the same header');
  assert.is(q.drain(() => {}), 8);
});

// ---- real threads ----

test('MPSC: 3 worker producers and 1 native producer thread, 100k messages each, one JS consumer', async () => {
  const COUNT = 100_000;
  const q = newQueue(1024, 64);
  const gate = new SharedArrayBuffer(4);
  const workers = [1, 2, 3].map((tag) => producerWorker({ offset: q.offset, tag, count: COUNT, gate }));
  await Promise.all(workers.map((w) => w.ready));
  const next = new Map([1, 2, 3, 4].map((t) => [t, 0]));
  let received = 0;
  const handler = (b, o, len) => {
    const tag = checkMsg(b, o, len, q.maxPayload);
    const want = next.get(tag);
    if (want === undefined) throw new Error(`unknown tag ${tag}`);
    if (checked.seq !== want) throw new Error(`tag ${tag}: got seq ${checked.seq}, expected ${want}`);
    next.set(tag, want + 1);
    received++;
  };
  Atomics.store(new Int32Array(gate), 0, 1);
  Atomics.notify(new Int32Array(gate), 0);
  const nativeDone = nativeProducer(q.offset, COUNT, 4);
  const deadline = Date.now() + 15_000;
  while (received < 4 * COUNT) {
    if (q.drain(handler, 4096) === 0) await tick();
    if (Date.now() > deadline) throw new Error(`only ${received} of ${4 * COUNT} messages after 15 s: ${JSON.stringify([...next])}`);
  }
  const results = await Promise.all([...workers.map((w) => w.done), nativeDone]);
  assert.equal([...next.values()], [COUNT, COUNT, COUNT, COUNT]);
  assert.is(results[3].pushed, COUNT);
  assert.ok(q.isEmpty());
  assert.is(q.tryPop(), null);
  const fullTotal = results.reduce((s, r) => s + (r.full ?? r.fullRetries), 0);
  assert.is(q.stats().full, fullTotal, 'every refused push was counted in the header');
});

test('C++ consumer, JS producer thread: queueNativePop reads the bytes a worker pushed', async () => {
  const COUNT = 5000;
  const q = newQueue(64, 48);
  const gate = new SharedArrayBuffer(4);
  const w = producerWorker({ offset: q.offset, tag: 9, count: COUNT, gate });
  await w.ready;
  Atomics.store(new Int32Array(gate), 0, 1);
  Atomics.notify(new Int32Array(gate), 0);
  let seq = 0;
  const deadline = Date.now() + 10_000;
  while (seq < COUNT) {
    const m = addon.queueNativePop(arena.id, q.offset);
    if (m === null) {
      if (Date.now() > deadline) throw new Error(`only ${seq} messages after 10 s`);
      await tick();
      continue;
    }
    assert.ok(Buffer.isBuffer(m));
    assert.is(checkMsg(m, 0, m.length, q.maxPayload), 9);
    assert.is(checked.seq, seq);
    seq++;
  }
  await w.done;
  assert.is(addon.queueNativePop(arena.id, q.offset), null);
});

// ---- waking only sleepers, over a real eventfd ----

/** Workers that, for each round r, wait for round[0] > r, push one message, call wakeIfParked and count in done[0]. */
function racerWorker({ offset, tag, rounds, ctl }) {
  const src = `
    import { workerData, parentPort } from 'node:worker_threads';
    import { Arena, MessageQueue } from '${dist}';
    const { arenaId, offset, tag, rounds, ctl } = workerData;
    const q = MessageQueue.attach(Arena.attach(arenaId).buffer, offset);
    const c = new Int32Array(ctl); // [0]: round released, [1]: pushes done
    const msg = new Uint8Array(8);
    let woke = 0;
    parentPort.postMessage('ready');
    for (let r = 0; r < rounds; r++) {
      while (Atomics.load(c, 0) <= r) Atomics.wait(c, 0, r, 50);
      msg[0] = tag; msg[1] = r;
      if (!q.tryPush(msg)) throw new Error('queue full');
      if (q.wakeIfParked()) woke++;
      Atomics.add(c, 1, 1);
      Atomics.notify(c, 1);
    }
    parentPort.postMessage({ woke });
  `;
  const w = spawn(src, { arenaId: arena.id, offset, tag, rounds, ctl });
  const ready = new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  const done = ready.then(() => new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  }));
  return { ready, done };
}

test('a parked consumer is woken by exactly one eventfd write, however many producers race', async () => {
  const efd = new EventFd();
  try {
    const q = newQueue(64, 32, efd.fd);
    assert.is(q.wakeFd, efd.fd);
    const ROUNDS = 30;
    const ctl = new SharedArrayBuffer(8);
    const c = new Int32Array(ctl);
    const racers = [1, 2, 3].map((tag) => racerWorker({ offset: q.offset, tag, rounds: ROUNDS, ctl }));
    await Promise.all(racers.map((r) => r.ready));
    let nativeWoke = 0;
    for (let r = 0; r < ROUNDS; r++) {
      assert.ok(q.isEmpty());
      assert.is(q.prepareToPark(), true, 'empty queue: safe to sleep');
      assert.is(q.stats().parked, true);
      const before = q.stats().wakeups;
      // Release the three workers and a native producer thread at once.
      Atomics.store(c, 0, r + 1);
      Atomics.notify(c, 0);
      const native = nativeProducer(q.offset, 1, 4);
      nativeWoke += (await native).woke;
      const deadline = Date.now() + 5000;
      while (Atomics.load(c, 1) < 3 * (r + 1)) {
        if (Date.now() > deadline) throw new Error(`round ${r}: the workers did not push within 5 s`);
        Atomics.wait(c, 1, Atomics.load(c, 1), 10);
      }
      assert.is(efd.drain(), 1, `round ${r}: exactly one eventfd write`);
      assert.is(q.stats().wakeups - before, 1, `round ${r}: one wakeup counted`);
      assert.is(q.stats().parked, false, 'the waking producer reset state');
      q.unparked();
      assert.is(q.drain(() => {}), 4);
    }
    const woke = (await Promise.all(racers.map((r) => r.done))).reduce((s, x) => s + x.woke, nativeWoke);
    assert.is(woke, ROUNDS, 'one winner per round, across JS and native producers');
    assert.is(q.stats().wakeups, ROUNDS);
  } finally {
    efd.close();
  }
});

test('prepareToPark refuses (and resets state) when a message is already there', () => {
  const efd = new EventFd();
  try {
    const q = newQueue(8, 16, efd.fd);
    q.tryPush(bytesOf(1));
    assert.is(q.prepareToPark(), false);
    assert.is(q.stats().parked, false);
    assert.is(q.wakeIfParked(), false, 'nobody to wake');
    assert.is(efd.drain(), 0);
    assert.is(q.drain(() => {}), 1);
    // A consumer parked with no eventfd set is reset but nothing is written.
    const bare = newQueue(8, 16);
    assert.is(bare.wakeFd, -1);
    assert.is(bare.prepareToPark(), true);
    assert.is(bare.wakeIfParked(), true);
    assert.is(bare.stats().parked, false);
    bare.setWakeFd(efd.fd);
    assert.is(bare.wakeFd, efd.fd);
    assert.throws(() => bare.setWakeFd(-2), /expected a file descriptor or -1/);
  } finally {
    efd.close();
  }
});

test('a running consumer is never signalled: 10k JS and 10k native pushes, no wakeups', async () => {
  const efd = new EventFd();
  try {
    const q = newQueue(256, 32, efd.fd);
    const gate = new SharedArrayBuffer(4);
    const w = producerWorker({ offset: q.offset, tag: 1, count: 10_000, gate, wake: true });
    await w.ready;
    Atomics.store(new Int32Array(gate), 0, 1);
    Atomics.notify(new Int32Array(gate), 0);
    const native = nativeProducer(q.offset, 10_000, 2);
    let received = 0;
    const deadline = Date.now() + 10_000;
    while (received < 20_000) {
      const n = q.drain(() => {}); // never parks
      received += n;
      if (n === 0) await tick();
      if (Date.now() > deadline) throw new Error(`only ${received} messages after 10 s`);
    }
    const [js, nat] = await Promise.all([w.done, native]);
    assert.is(js.woke, 0);
    assert.is(nat.woke, 0);
    assert.is(q.stats().wakeups, 0);
    assert.is(efd.drain(), 0, 'no eventfd write at all');
  } finally {
    efd.close();
  }
});

test('no lost wakeup: the consumer parks and unparks while JS and native producers push', async () => {
  const COUNT = 20_000;
  const efd = new EventFd();
  let wake = null;
  let watch;
  try {
    const q = newQueue(64, 32, efd.fd);
    watch = efd.watch((err) => {
      if (err) throw err;
      const w = wake;
      wake = null;
      w?.();
    });
    // Bursty producers, so that the consumer keeps running dry and parking.
    const src = `
      import { workerData, parentPort } from 'node:worker_threads';
      import { Arena, MessageQueue } from '${dist}';
      const { arenaId, offset, tag, count } = workerData;
      const q = MessageQueue.attach(Arena.attach(arenaId).buffer, offset);
      const nap = new Int32Array(new SharedArrayBuffer(4));
      const msg = new Uint8Array(8);
      for (let i = 0; i < count; i++) {
        msg[0] = tag; msg[4] = i & 0xff; msg[5] = (i >> 8) & 0xff; msg[6] = (i >> 16) & 0xff;
        while (!q.tryPush(msg)) Atomics.wait(nap, 0, 0, 0.05);
        q.wakeIfParked();
        if (i % 97 === 0) Atomics.wait(nap, 0, 0, (i % 5) * 0.2);
      }
      parentPort.postMessage('done');
    `;
    const workers = [1, 2].map(
      (tag) =>
        new Promise((resolve, reject) => {
          const w = spawn(src, { arenaId: arena.id, offset: q.offset, tag, count: COUNT });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    );
    const native = nativeProducer(q.offset, COUNT, 3);
    const next = [0, 0, 0, 0];
    let received = 0;
    let parks = 0;
    const handler = (b, o, len) => {
      const tag = b[o];
      if (tag === 3) {
        assert.is(checkMsg(b, o, len, q.maxPayload), 3);
        if (checked.seq !== next[3]) throw new Error(`native: seq ${checked.seq}, expected ${next[3]}`);
      } else {
        const i = b[o + 4] | (b[o + 5] << 8) | (b[o + 6] << 16);
        if (i !== next[tag]) throw new Error(`worker ${tag}: seq ${i}, expected ${next[tag]}`);
      }
      next[tag]++;
      received++;
    };
    const deadline = Date.now() + 15_000;
    while (received < 3 * COUNT) {
      if (Date.now() > deadline) throw new Error(`only ${received} of ${3 * COUNT} messages after 15 s`);
      if (q.drain(handler) > 0) continue;
      if (!q.prepareToPark()) continue;
      parks++;
      // Sleep in libuv until the eventfd is written; 2 s without a wakeup while messages wait is a lost wakeup.
      const woken = await new Promise((resolve) => {
        const t = setTimeout(() => resolve(false), 2000);
        wake = () => {
          clearTimeout(t);
          resolve(true);
        };
      });
      wake = null;
      q.unparked();
      if (!woken && !q.isEmpty()) throw new Error(`lost wakeup: parked 2 s with ${q.size()} messages queued (park ${parks})`);
    }
    await Promise.all([...workers, native]);
    assert.equal(next.slice(1), [COUNT, COUNT, COUNT]);
    assert.ok(parks >= 10, `the consumer parked ${parks} times (the test needs it to park often)`);
    assert.ok(q.stats().wakeups >= parks - 3, `wakeups ${q.stats().wakeups} for ${parks} parks`);
  } finally {
    watch?.close();
    efd.close();
  }
});

test('no lost wakeup, ping-pong: each message waits for its ack, so one lost wakeup stalls for good', async () => {
  // The producer spins on the ack and pushes after a random few hundred
  // nanoseconds, sweeping the moment the consumer is between "queue empty"
  // and "state = 1". A lost wakeup leaves a message queued with nobody
  // awake to read it: the consumer's park timeout then sees it.
  const ROUNDS = 8000;
  const efd = new EventFd();
  let wake = null;
  let watch;
  try {
    const q = newQueue(8, 16, efd.fd);
    watch = efd.watch(() => {
      const w = wake;
      wake = null;
      w?.();
    });
    const ack = new Int32Array(new SharedArrayBuffer(4));
    const src = `
      import { workerData, parentPort } from 'node:worker_threads';
      import { Arena, MessageQueue } from '${dist}';
      const { arenaId, offset, rounds, ack } = workerData;
      const q = MessageQueue.attach(Arena.attach(arenaId).buffer, offset);
      const a = new Int32Array(ack);
      const msg = new Uint8Array(4);
      let sink = 0;
      for (let r = 0; r < rounds; r++) {
        const until = Date.now() + 5000;
        while (Atomics.load(a, 0) < r) if (Date.now() > until) throw new Error('no ack for round ' + (r - 1));
        for (let i = (r * 7919) % 600; i > 0; i--) sink += i; // a varying delay
        msg[0] = r & 0xff; msg[1] = (r >> 8) & 0xff;
        q.tryPush(msg);
        q.wakeIfParked();
      }
      parentPort.postMessage(sink);
    `;
    const worker = spawn(src, { arenaId: arena.id, offset: q.offset, rounds: ROUNDS, ack: ack.buffer });
    const done = new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    let received = 0;
    let parks = 0;
    const handler = (b, o) => {
      if ((b[o] | (b[o + 1] << 8)) !== received) throw new Error(`got ${b[o] | (b[o + 1] << 8)}, expected ${received}`);
      received++;
      Atomics.store(ack, 0, received);
    };
    const deadline = Date.now() + 15_000;
    while (received < ROUNDS) {
      if (Date.now() > deadline) throw new Error(`only ${received} of ${ROUNDS} rounds after 15 s`);
      if (q.drain(handler) > 0) continue;
      if (!q.prepareToPark()) continue;
      parks++;
      const woken = await new Promise((resolve) => {
        const t = setTimeout(() => resolve(false), 1000);
        wake = () => {
          clearTimeout(t);
          resolve(true);
        };
      });
      wake = null;
      q.unparked();
      if (!woken && !q.isEmpty()) throw new Error(`lost wakeup at round ${received}: parked 1 s with a message queued`);
    }
    await done;
    assert.ok(parks >= ROUNDS / 10, `the consumer parked ${parks} times in ${ROUNDS} rounds`);
  } finally {
    watch?.close();
    efd.close();
  }
});

test.after.each(async () => {
  await Promise.all([...live].map((w) => w.terminate()));
});
test.after(() => arena.close());
test.run();
