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
    assert.throws(() => buf.release(), /not the start of a live block/);
    assert.throws(() => sharedBuffer(0), /size must be a whole number/);
    assert.throws(() => sharedBuffer(10, { tpc: 3 }), /there is no TPC 3/);
  } finally {
    await rt.shutdown();
  }
});

test('sharedBuffer needs a runtime', () => {
  assert.throws(() => sharedBuffer(16), /needs a running runtime/);
});

test.run();
