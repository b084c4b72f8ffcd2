// TPC arenas on the real machine: mmap + mbind to node 0, placement read
// back with move_pages, the native buddy allocator, and sharing across
// worker threads (same bytes, concurrent alloc/free, lifetime).
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import v8 from 'node:v8';
import vm from 'node:vm';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { Arena, ArenaExhaustedError, topology } from '../dist/index.js';
import { inWorker } from './_support.mjs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const dist = new URL('../dist/index.js', import.meta.url).href;
const MiB = 1024 * 1024;
const node = topology().allowed.nodes[0] ?? 0;

const onlyNode = (p, n) => {
  for (const [k, v] of Object.entries(p.perNode)) if (Number(k) !== n) assert.is(v, 0, `pages on node ${k}`);
};

test('a prefaulted arena has every page on its node', () => {
  const a = Arena.create({ node, bytes: '4MiB', prefault: true });
  try {
    assert.is(a.bytes, 4 * MiB);
    assert.is(a.node, node);
    assert.is(a.buffer.byteLength, 4 * MiB);
    const p = a.placement();
    assert.is(p.pages, a.bytes / p.pageSize);
    assert.is(p.perNode[node], p.pages);
    assert.is(p.notPresent, 0);
    assert.is(p.errors, 0);
    onlyNode(p, node);
  } finally {
    a.close();
  }
});

test('without prefault pages are not present until written, then land on the node', () => {
  // 1 MiB: below 2 MiB, so no transparent huge page can fault in more than we touch.
  const a = Arena.create({ node, bytes: MiB });
  try {
    const p0 = a.placement();
    assert.is(p0.notPresent, p0.pages);
    assert.equal(p0.perNode, {});
    const bytes = new Uint8Array(a.buffer);
    bytes[0] = 1;
    bytes[5 * p0.pageSize + 17] = 2;
    const p1 = a.placement();
    assert.is(p1.perNode[node], 2);
    assert.is(p1.notPresent, p1.pages - 2);
    onlyNode(p1, node);
    bytes.fill(3);
    const p2 = a.placement();
    assert.is(p2.perNode[node], p2.pages);
    assert.is(p2.notPresent, 0);
  } finally {
    a.close();
  }
});

test('sizes are rounded up to pages, and to 2 MiB from 2 MiB up', () => {
  const small = Arena.create({ node, bytes: 5000 });
  const big = Arena.create({ node, bytes: '3MiB' });
  try {
    assert.is(small.bytes % 4096, 0);
    assert.ok(small.bytes >= 5000 && small.bytes < 5000 + 4096 * 2);
    assert.is(big.bytes, 4 * MiB);
  } finally {
    small.close();
    big.close();
  }
});

test('a node that does not exist is an error naming it', () => {
  const missing = Math.max(...topology().nodes.map((n) => n.os)) + 1;
  assert.throws(() => Arena.create({ node: missing, bytes: MiB }), new RegExp(`NUMA node ${missing} does not exist`));
  assert.throws(() => Arena.create({ node: -1, bytes: MiB }), /node must be a NUMA node number/);
  assert.throws(() => Arena.create({ node, bytes: '12 parsecs' }), /bytes: "12 parsecs" is not a size/);
  assert.throws(() => Arena.create({ node, bytes: MiB, minBlock: 300 }), /minBlock must be a power of two/);
});

test('stats follow allocations: inUse counts rounded blocks, highWater stays', () => {
  const a = Arena.create({ node, bytes: MiB });
  try {
    const s0 = a.stats();
    assert.equal(
      { inUse: s0.inUse, free: s0.free, highWater: s0.highWater, liveBlocks: s0.liveBlocks, failed: s0.failed, largestFree: s0.largestFree, minBlock: s0.minBlock },
      { inUse: 0, free: MiB, highWater: 0, liveBlocks: 0, failed: 0, largestFree: MiB, minBlock: 256 },
    );
    const x = a.alloc(1000);
    const y = a.alloc(300);
    const z = a.alloc(1);
    assert.is(x.size, 1024);
    assert.is(y.size, 512);
    assert.is(z.size, 256);
    let s = a.stats();
    assert.is(s.inUse, 1792);
    assert.is(s.free, MiB - 1792);
    assert.is(s.highWater, 1792);
    assert.is(s.liveBlocks, 3);
    assert.is(s.allocations, 3);
    assert.is(s.largestFree, MiB / 2);
    a.free(x);
    a.free(y.offset);
    s = a.stats();
    assert.is(s.inUse, 256);
    assert.is(s.highWater, 1792);
    assert.is(s.liveBlocks, 1);
    a.free(z);
    s = a.stats();
    assert.is(s.inUse, 0);
    assert.is(s.largestFree, MiB, 'all buddies merged back into one block');
    assert.is(s.allocations, 3);
  } finally {
    a.close();
  }
});

test('exhaustion throws ArenaExhaustedError, counts it, and loses nothing already allocated', () => {
  const a = Arena.create({ node, bytes: '64KiB' });
  try {
    const b1 = a.alloc(32 * 1024);
    const b2 = a.alloc(32 * 1024);
    a.view(b1).fill(0x11);
    a.view(b2).fill(0x22);
    let err;
    try {
      a.alloc(256);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ArenaExhaustedError, `got ${err}`);
    assert.is(err.code, 'GATIO_ARENA_EXHAUSTED');
    assert.is(err.requested, 256);
    assert.is(err.stats.failed, 1);
    assert.is(err.stats.inUse, 64 * 1024);
    assert.match(err.message, /no free block for 256 B/);
    assert.throws(() => a.alloc(MiB), (e) => e instanceof ArenaExhaustedError && e.requested === MiB);
    const s = a.stats();
    assert.is(s.failed, 2);
    assert.is(s.liveBlocks, 2);
    assert.ok(a.view(b1).every((v) => v === 0x11));
    assert.ok(a.view(b2).every((v) => v === 0x22));
    a.free(b1);
    const b3 = a.alloc(16 * 1024);
    assert.is(b3.offset, b1.offset);
    assert.ok(a.view(b2).every((v) => v === 0x22));
  } finally {
    a.close();
  }
});

test('double free and offsets that are not a live block are clear errors and change nothing', () => {
  const a = Arena.create({ node, bytes: MiB });
  try {
    const b = a.alloc(4096);
    const keep = a.alloc(4096);
    const bad = (fn, re) =>
      assert.throws(fn, (e) => re.test(e.message) && (e.code === undefined || e.code === 'GATIO_ARENA_BAD_FREE'));
    bad(() => a.free(b.offset + 256), /offset \d+ is not the start of a live block/);
    bad(() => a.free(MiB * 10), /not the start of a live block/);
    a.free(b);
    bad(() => a.free(b), new RegExp(`offset ${b.offset} is not the start of a live block`));
    bad(() => a.free(-1), /offset must be a whole number/);
    const s = a.stats();
    assert.is(s.liveBlocks, 1);
    assert.is(s.inUse, 4096);
    a.free(keep);
    assert.is(a.stats().inUse, 0);
  } finally {
    a.close();
  }
});

test('alignment is honoured', () => {
  const a = Arena.create({ node, bytes: '8MiB' });
  try {
    a.alloc(100); // so that nothing starts at 0 by luck
    for (const align of [256, 512, 4096, 65536, 2 * MiB]) {
      const pad = a.alloc(300);
      const b = a.alloc(100, align);
      assert.is(b.offset % align, 0, `offset ${b.offset} aligned to ${align}`);
      assert.ok(b.size >= align);
      a.free(pad);
    }
    assert.throws(() => a.alloc(100, 3), /align must be a power of two/);
    assert.throws(() => a.alloc(100, 4 * MiB), /align must be a power of two up to 2 MiB/);
    assert.throws(() => a.alloc(0), /size must be a whole number > 0/);
  } finally {
    a.close();
  }
});

test('close is idempotent and use after close throws', () => {
  const a = Arena.create({ node, bytes: MiB });
  const id = a.id;
  a.close();
  a.close();
  assert.throws(() => a.alloc(1), /arena \d+ is closed/);
  assert.throws(() => a.stats(), /closed/);
  assert.throws(() => Arena.attach(id), new RegExp(`no arena with id ${id}`));
});

test('a worker attached by id sees the same bytes, both ways', async () => {
  const a = Arena.create({ node, bytes: MiB });
  try {
    const ping = a.alloc(4096);
    const pong = a.alloc(4096);
    a.view(ping).forEach((_, i, v) => (v[i] = (i * 7) & 0xff));
    const r = await inWorker(
      `const { parentPort, workerData: w } = require('node:worker_threads');
       import(${JSON.stringify(dist)}).then(({ Arena }) => {
         const a = Arena.attach(w.id);
         const ping = a.view(w.ping);
         let ok = true;
         for (let i = 0; i < ping.length; i++) if (ping[i] !== ((i * 7) & 0xff)) ok = false;
         a.view(w.pong).fill(0x5a);
         parentPort.postMessage({ ok, node: a.node, bytes: a.bytes, live: a.stats().liveBlocks });
         a.close();
       });`,
      { id: a.id, ping, pong },
    );
    assert.equal(r, { ok: true, node, bytes: MiB, live: 2 });
    assert.ok(a.view(pong).every((v) => v === 0x5a));
    assert.is(a.stats().liveBlocks, 2, "the worker's close does not release the arena");
  } finally {
    a.close();
  }
});

test('the buffer is a SharedArrayBuffer: Atomics.wait in a worker is woken by notify on arena memory', async () => {
  const a = Arena.create({ node, bytes: MiB });
  try {
    assert.ok(a.buffer instanceof SharedArrayBuffer);
    const word = a.alloc(64);
    const flag = new Int32Array(a.buffer, word.offset, 1);
    const done = inWorker(
      `const { parentPort, workerData: w } = require('node:worker_threads');
       import(${JSON.stringify(dist)}).then(({ Arena }) => {
         const a = Arena.attach(w.id);
         const flag = new Int32Array(a.buffer, w.word.offset, 1);
         Atomics.store(flag, 0, 1);               // announce: about to wait
         const r = Atomics.wait(flag, 0, 1, 10000); // parks until the main thread stores 2 and notifies
         parentPort.postMessage({ r, v: Atomics.load(flag, 0) });
       });`,
      { id: a.id, word },
    );
    while (Atomics.load(flag, 0) !== 1) await new Promise((r) => setTimeout(r, 1));
    await new Promise((r) => setTimeout(r, 20));
    Atomics.store(flag, 0, 2);
    Atomics.notify(flag, 0);
    const r = await done;
    assert.is(r.v, 2);
    assert.ok(r.r === 'ok' || r.r === 'not-equal', r.r);
  } finally {
    a.close();
  }
});

test('two workers allocating and freeing concurrently never share a block', async () => {
  const a = Arena.create({ node, bytes: '4MiB', minBlock: 64 });
  const rounds = 10000; // about half allocations, half frees
  const src = `const { parentPort, workerData: w } = require('node:worker_threads');
    import(${JSON.stringify(dist)}).then(({ Arena, ArenaExhaustedError }) => {
      const a = Arena.attach(w.id);
      // Start together: both threads must be inside the allocator at the same time.
      const gate = new Int32Array(w.gate);
      Atomics.add(gate, 0, 1);
      while (Atomics.load(gate, 0) < 2) {}
      const live = [];
      let corrupt = 0, exhausted = 0, allocs = 0, seed = w.tag * 7919;
      const rnd = (n) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
      const check = ({ block, tag }) => { if (!a.view(block).every((v) => v === tag)) corrupt++; };
      for (let i = 0; i < w.rounds; i++) {
        if (live.length > 0 && (live.length >= 48 || rnd(3) === 0)) {
          const x = live.splice(rnd(live.length), 1)[0];
          check(x);
          a.free(x.block);
          continue;
        }
        try {
          const block = a.alloc(1 + rnd(8192));
          allocs++;
          const tag = (w.tag * 64 + (i % 60) + 1) & 0xff; // distinct between the two threads
          a.view(block).fill(tag);
          live.push({ block, tag });
        } catch (e) {
          if (!(e instanceof ArenaExhaustedError)) throw e;
          exhausted++;
        }
        if (i % 97 === 0) for (const x of live) check(x);
      }
      for (const x of live) { check(x); a.free(x.block); }
      parentPort.postMessage({ corrupt, exhausted, allocs });
    });`;
  try {
    const gate = new SharedArrayBuffer(4);
    const [r1, r2] = await Promise.all([1, 2].map((tag) => inWorker(src, { id: a.id, tag, rounds, gate })));
    if (process.env.GATIO_TEST_VERBOSE) console.log(r1, r2, a.stats());
    assert.is(r1.corrupt, 0, 'worker 1 found another block over its bytes');
    assert.is(r2.corrupt, 0, 'worker 2 found another block over its bytes');
    assert.ok(r1.allocs > rounds / 4 && r2.allocs > rounds / 4, "thousands of allocations each");
    const s = a.stats();
    assert.is(s.inUse, 0);
    assert.is(s.liveBlocks, 0);
    assert.is(s.allocations, r1.allocs + r2.allocs);
    assert.is(s.failed, r1.exhausted + r2.exhausted);
    assert.is(s.largestFree, s.bytes, 'everything merged back');
  } finally {
    a.close();
  }
});

const rssAnon = () => Number(/RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const settle = async () => {
  // External-buffer finalizers run on a later turn of the loop after GC.
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('after the owner closes, a worker keeps using its buffer; memory is unmapped when the last buffer goes', async () => {
  const size = 64 * MiB;
  let a = Arena.create({ node, bytes: size, prefault: true });
  const id = a.id;
  const base = rssAnon();
  const w = new Worker(
    `const { parentPort, workerData: w } = require('node:worker_threads');
     import(${JSON.stringify(dist)}).then(({ Arena }) => {
       const a = Arena.attach(w.id);
       const bytes = new Uint8Array(a.buffer);
       a.close(); // an attached handle's close only drops the handle: the buffer stays
       parentPort.postMessage('attached');
       parentPort.on('message', (m) => {
         if (m === 'exit') return parentPort.close(); // drops the last reference to the buffer
         // The owner has released the arena: its id is gone, its memory is not.
         let gone = false;
         try { Arena.attach(w.id); } catch { gone = true; }
         bytes.fill(0xab);
         let sum = 0;
         for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i];
         parentPort.postMessage({ gone, sum });
       });
     });`,
    { eval: true, workerData: { id } },
  );
  const msg = () => new Promise((res, rej) => (w.once('message', res), w.once('error', rej)));
  assert.is(await msg(), 'attached');
  a.close();
  a = null;
  await settle();
  w.postMessage('go');
  const r = await msg();
  assert.equal(r, { gone: true, sum: 0xab * (size / 4096) });
  assert.ok(rssAnon() - base > -size / 2, 'still mapped while the worker holds its buffer');
  w.postMessage('exit');
  await new Promise((res) => w.once('exit', res));
  await settle();
  if (process.env.GATIO_TEST_VERBOSE) console.log({ base, after: rssAnon() });
  assert.ok(base - rssAnon() > size / 2, `RssAnon fell by ${(base - rssAnon()) / MiB} MiB after the last buffer went`);
});

test('a worker may exit first; the owner keeps its memory until close', async () => {
  const a = Arena.create({ node, bytes: MiB });
  const b = a.alloc(4096);
  await inWorker(
    `const { parentPort, workerData: w } = require('node:worker_threads');
     import(${JSON.stringify(dist)}).then(({ Arena }) => {
       const a = Arena.attach(w.id);
       a.view(w.b).fill(9);
       parentPort.postMessage('done');
     });`,
    { id: a.id, b },
  );
  await settle();
  assert.ok(a.view(b).every((v) => v === 9));
  assert.is(a.stats().liveBlocks, 1);
  a.close();
});

test.run();
