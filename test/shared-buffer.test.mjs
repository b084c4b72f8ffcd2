// SharedBuffer: large binary data through arena memory, not copied.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { start, sharedBuffer, SharedBuffer } from '../dist/index.js';
import { fixtures } from './_support.mjs';

test('a SharedBuffer crosses threads by reference, both ways', async () => {
  const rt = await start({ modules: [join(fixtures, 'tasks', 'shared-tasks.mjs')] });
  try {
    const before = (await rt.stats()).tpcs[0].arena.inUse;
    const buf = sharedBuffer(1 << 20);
    for (let i = 0; i < buf.length; i++) buf.bytes[i] = i & 0xff;
    const expected = buf.bytes.reduce((a, b) => a + b, 0);
    const r = await rt.spawn('touch', [buf]);
    assert.is(r.sum, expected);
    assert.is(r.offset, buf.offset, 'the task saw the same block');
    assert.is(buf.bytes[0], 0xee, "the task's write is visible here: same memory, no copy");
    assert.ok(r.out instanceof SharedBuffer);
    assert.ok(r.out.bytes.every((b) => b === 7));
    assert.ok(r.out.bytes.buffer instanceof SharedArrayBuffer, 'a view over the arena');
    r.out.release();
    buf.release();
    assert.is((await rt.stats()).tpcs[0].arena.inUse, before, 'released blocks go back to the arena');
    assert.throws(() => buf.release(), /already released/);
    assert.throws(() => sharedBuffer(0), /size must be a whole number/);
    assert.throws(() => sharedBuffer(10, { tpc: 3 }), /there is no TPC 3/);
  } finally {
    await rt.shutdown();
  }
});

test('a SharedBuffer is released once: a second release, by any holder, is an error and frees nobody else\'s block', async () => {
  const rt = await start({ modules: [join(fixtures, 'tasks', 'shared-tasks.mjs')] });
  try {
    const live = async () => (await rt.stats()).tpcs[0].arena.liveBlocks;
    const buf = sharedBuffer(4096);
    const live0 = await live();
    // Another thread releases it (and a second time there: an error).
    assert.match(await rt.spawn('releaseTwice', [buf]), /already released/);
    assert.is(await live(), live0 - 1);
    // The block is handed out again, to someone else...
    const other = sharedBuffer(4096);
    assert.is(other.offset, buf.offset, 'the same block, reused (the buddy allocator hands back the lowest free block)');
    other.bytes.fill(3);
    // ...and the stale holder's release neither succeeds nor frees it.
    assert.throws(() => buf.release(), (e) => /already released/.test(e.message) && /someone else/.test(e.message));
    assert.is(await live(), live0, 'the new owner\'s block is still allocated');
    assert.ok(other.bytes.every((b) => b === 3));
    other.release();
  } finally {
    await rt.shutdown();
  }
});

test("shared buffers in messages nobody receives are released: a cancelled call's arguments, an abandoned call's result", async () => {
  const rt = await start({ modules: [join(fixtures, 'tasks', 'shared-tasks.mjs')] });
  try {
    const inUse = async () => (await rt.stats()).tpcs[0].arena.inUse;
    const before = await inUse();
    // Queued behind a 300 ms task on the same driver, then aborted before it starts: the task never owns its buffer.
    const hold = rt.spawn('hold', [300], { driver: 0 });
    const ac = new AbortController();
    const queued = rt.spawn('touch', [sharedBuffer(1 << 20)], { driver: 0, signal: ac.signal }).catch((e) => e);
    ac.abort(new Error('not needed'));
    await queued;
    await hold;
    // The result of a call the caller gave up on: a buffer allocated on the driver.
    const ac2 = new AbortController();
    const abandoned = rt.spawn('slowBuffer', [100], { driver: 1 % rt.driverStats().length, signal: ac2.signal }).catch((e) => e);
    ac2.abort(new Error('gave up'));
    await abandoned;
    const t0 = Date.now();
    while ((await inUse()) !== before && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    assert.is(await inUse(), before, 'both buffers went back to the arena');
  } finally {
    await rt.shutdown();
  }
});

test('sharedBuffer needs a runtime', () => {
  assert.throws(() => sharedBuffer(16), /needs a running runtime/);
});

test.run();
