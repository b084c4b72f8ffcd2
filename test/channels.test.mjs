// Channels between the main thread and drivers: send, broadcast, replies to
// the main thread, and backpressure when a receiver's queue is full.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { start, channel, onChannel, ChannelHandlerError } from '../dist/index.js';
import { fixtures } from './_support.mjs';

const modules = [join(fixtures, 'tasks', 'channel-tasks.mjs')];

test('broadcast reaches every driver once; send reaches one', async () => {
  const rt = await start({ modules });
  try {
    const ids = rt.driverStats().map((d) => d.id);
    await channel('cfg').broadcast({ v: 1 });
    await channel('cfg').send(ids[0], { v: 2 });
    for (const id of ids) {
      const got = await rt.spawn('received', [], { driver: id });
      const expect = id === ids[0] ? [{ value: { v: 1 }, from: null }, { value: { v: 2 }, from: null }] : [{ value: { v: 1 }, from: null }];
      assert.equal(got, expect, `driver ${id}`);
    }
    assert.throws(() => channel('cfg').send(99, 1), /no driver 99/);
    await channel('cfg').broadcast(1, { tpc: 5 }).then(
      () => assert.unreachable('no TPC 5'),
      (e) => assert.match(e.message, /there is no TPC 5/),
    );
  } finally {
    await rt.shutdown();
  }
});

test('drivers send to the main thread', async () => {
  const rt = await start({ modules });
  const got = [];
  const stop = onChannel('up', (v, from) => got.push([v.i, from.driver]));
  try {
    const id = rt.driverStats()[0].id;
    assert.is(await rt.spawn('tellMain', [50], { driver: id }), 50);
    while (got.length < 50) await new Promise((r) => setTimeout(r, 1));
    assert.equal(got.map((g) => g[0]), [...Array(50).keys()], 'in order');
    assert.ok(got.every((g) => g[1] === id), 'from names the driver');
  } finally {
    stop();
    await rt.shutdown();
  }
});

test('backpressure: sends wait while the receiver is busy and its queue full; nothing is lost', async () => {
  const rt = await start({ modules, tpcs: [{ node: 0, cores: 1 }], runtime: { inboxSlots: 16 } });
  try {
    const busy = rt.spawn('block', [300]); // the driver reads nothing for 300 ms
    await new Promise((r) => setTimeout(r, 20));
    const ch = channel('cfg');
    const sends = [];
    let queuedAtOnce = 0;
    for (let i = 0; i < 100; i++) {
      const p = ch.send(0, i);
      let done = false;
      p.then(() => (done = true));
      sends.push(p);
      await Promise.resolve();
      if (done) queuedAtOnce++;
    }
    assert.ok(queuedAtOnce < 20, `only what fits is queued while the driver is busy (${queuedAtOnce})`);
    await busy;
    await Promise.all(sends);
    const got = await rt.spawn('received', []);
    assert.equal(got.map((g) => g.value), [...Array(100).keys()]);
  } finally {
    await rt.shutdown();
  }
});

test('a channel handler that throws or rejects is reported with its channel and driver; nothing stops', async () => {
  const rt = await start({ modules });
  const errors = [];
  rt.on('error', (e) => errors.push(e));
  const off = onChannel('flaky', (v) => {
    if (v === 'bad') throw new Error('main handler refused "bad"');
  });
  try {
    const [d] = rt.driverStats().map((x) => x.id);
    const seen = (n) => new Promise((resolve, reject) => {
      const t0 = Date.now();
      const tick = () => (errors.length >= n ? resolve() : Date.now() - t0 > 5000 ? reject(new Error(`${errors.length} errors`)) : setTimeout(tick, 5));
      tick();
    });
    await channel('flaky').send(d, 'bad');
    await channel('flaky').send(d, 'reject');
    await seen(2);
    for (const e of errors) {
      assert.instance(e, ChannelHandlerError);
      assert.is(e.code, 'GATIO_CHANNEL_HANDLER');
      assert.is(e.channel, 'flaky');
      assert.is(e.driver, d);
    }
    assert.match(errors[0].message, /channel "flaky" on driver \d+ failed: flaky handler refused "bad"/);
    assert.is(errors[0].cause.name, 'TypeError', 'the original error is kept as the cause');
    assert.is(errors[1].cause.name, 'RangeError');
    // The driver lives on (no restart), its other handler ran for both messages, it still answers.
    assert.is(await rt.spawn('goodCount', [], { driver: d }), 2);
    assert.is(rt.driverStats()[d].restarts, 0);
    // On the main thread: a driver's message to a throwing main handler.
    await rt.spawn('tellMainFlaky', [], { driver: d });
    await seen(3);
    assert.is(errors[2].driver, null);
    assert.match(errors[2].message, /on the main thread failed: main handler refused "bad"/);
    // ...and the main thread's pump still delivers results.
    assert.is(await rt.spawn('whoami', [], { driver: d }), d);
  } finally {
    off();
    await rt.shutdown();
  }
});

test.run();
