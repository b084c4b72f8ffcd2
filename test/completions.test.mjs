// The ring's completion registry (src/drivers/thread/completions.ts) over a
// real io_uring: each completion goes to the owner of its op, multishot ops
// stay registered while CQE_F_MORE says more will come, forgotten ops'
// completions are dropped, unregistered ones counted as stray.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { Arena, Ring, CompletionRegistry, CQE_F_MORE, eventfdCreate, eventfdWrite, eventfdRead, eventfdClose, probeIoUring } from '../dist/internals.js';
import { skip } from './_support.mjs';

const POLLIN = 0x1;
const ECANCELED = 125;

/** An owner that records what it is given. */
function owner(name) {
  const got = [];
  return { name, got, complete: (token, res, flags, more) => got.push({ token, res, more, fMore: (flags & CQE_F_MORE) !== 0 }) };
}

function withRing(fn) {
  const arena = Arena.create({ node: 0, bytes: '4MiB' });
  const ring = Ring.create({ arena, entries: 32 });
  try {
    return fn(ring, new CompletionRegistry(ring));
  } finally {
    ring.close();
    arena.close();
  }
}

/** Turns (submitting what is queued) until `n` completions were routed in all (bounded). */
function turnUntil(ring, reg, n) {
  const routed = () => reg.stats().delivered + reg.stats().dropped + reg.stats().stray;
  for (let i = 0; i < 100 && routed() < n; i++) {
    ring.turn(10e6);
    reg.deliver();
  }
}

test('mixed owners in one turn: each completion goes to the owner of its op, with its token', () => {
  withRing((ring, reg) => {
    const a = owner('a');
    const b = owner('b');
    for (let i = 0; i < 5; i++) {
      ring.nop(reg.register(a, 100 + i));
      ring.nop(reg.register(b, 200 + i));
    }
    ring.timeout(1e6, reg.register(b, 300)); // 1 ms: a different op kind, same owner set
    turnUntil(ring, reg, 11);
    assert.equal(a.got.map((x) => x.token).sort(), [100, 101, 102, 103, 104]);
    assert.equal(b.got.map((x) => x.token).sort(), [200, 201, 202, 203, 204, 300]);
    assert.ok(a.got.every((x) => x.res === 0 && x.more === false));
    assert.is(b.got.find((x) => x.token === 300).res, -62, 'the timeout fired (-ETIME)');
    assert.equal(reg.stats(), { registered: 0, delivered: 11, dropped: 0, stray: 0 });
  });
});

test('a multishot op stays registered while CQE_F_MORE comes, and ends with the first completion without it', () => {
  const p = probeIoUring();
  if (!p.ok) return skip(`io_uring unavailable: ${p.error}`);
  withRing((ring, reg) => {
    const efd = eventfdCreate();
    try {
      const o = owner('poller');
      const ud = reg.register(o, 7, true);
      ring.pollAdd(efd, POLLIN, ud, true);
      for (let i = 0; i < 3; i++) {
        eventfdWrite(efd);
        turnUntil(ring, reg, i + 1);
        eventfdRead(efd); // not readable again until the next write
      }
      assert.is(o.got.length, 3, 'one completion per event');
      assert.ok(o.got.every((x) => x.token === 7 && x.more && x.fMore && (x.res & POLLIN) !== 0), JSON.stringify(o.got));
      assert.ok(reg.has(ud), 'still registered: more will come');
      assert.is(reg.stats().registered, 1);
      // Cancelling it ends it: its last completion has no F_MORE.
      ring.cancel(ud, reg.ignore());
      turnUntil(ring, reg, 5);
      const last = o.got.at(-1);
      assert.is(o.got.length, 4);
      assert.equal([last.more, last.fMore, last.res], [false, false, -ECANCELED]);
      assert.not.ok(reg.has(ud));
      assert.equal(reg.stats(), { registered: 0, delivered: 4, dropped: 1, stray: 0 }, 'the cancel request itself was ignored');
    } finally {
      eventfdClose(efd);
    }
  });
});

test('a forgotten op: its completions are dropped, its id stays taken until the last one, ids are never reused', () => {
  withRing((ring, reg) => {
    const o = owner('o');
    const ud = reg.register(o, 1);
    reg.forget(ud);
    assert.ok(reg.has(ud), 'still registered until the kernel answers');
    ring.nop(ud);
    turnUntil(ring, reg, 1);
    assert.equal(o.got, []);
    assert.not.ok(reg.has(ud));
    const next = reg.register(o, 2);
    assert.ok(next > ud, 'a new op gets a new id');
    assert.equal(reg.stats(), { registered: 1, delivered: 0, dropped: 1, stray: 0 });
  });
});

test('a completion nothing registered is counted as stray, not delivered', () => {
  withRing((ring, reg) => {
    const o = owner('o');
    ring.nop(reg.register(o, 1));
    ring.nop(2 ** 40); // not from the registry
    turnUntil(ring, reg, 2);
    assert.is(o.got.length, 1);
    assert.equal(reg.stats(), { registered: 0, delivered: 1, dropped: 0, stray: 1 });
  });
});

test('in a driver: sleeps are registry ops, and stats report the registry', async () => {
  const { start } = await import('../dist/index.js');
  const { TASKS } = await import('./_runtime-support.mjs');
  const rt = await start({ modules: [TASKS], tpcs: [{ node: 0, cores: 1 }] });
  try {
    const r = await rt.spawn('abortedSleep', [5]);
    assert.is(r.rejected, true);
    await rt.spawn('sleepAccuracy', [[1, 1, 1]]);
    const c = (await rt.stats()).drivers[0].ring.completions;
    assert.is(c.registered, 0, 'nothing left registered');
    assert.is(c.stray, 0);
    assert.ok(c.delivered >= 4, `sleeps delivered: ${JSON.stringify(c)}`);
    assert.ok(c.dropped >= 1, 'the cancel of the aborted sleep was ignored');
  } finally {
    await rt.shutdown();
  }
});

test.run();
