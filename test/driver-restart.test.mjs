// A driver killed and restarted hundreds of times while other threads keep
// pushing into its inbox: the main thread's spawns (some with arena-block
// bodies), another driver's spawns and the results of the victim's own
// calls to it, the io driver's replies to the victim's io. The inbox is
// never re-formatted (queue generation, docs/drivers.md "Message queue"):
// no hang, no queue error, every call settled with its own value or a
// DriverDiedError / GATIO_NO_DRIVER, and the arena back to its baseline.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { channel, start, topology } from '../dist/index.js';
import { TASKS, delay, running, settle } from './_runtime-support.mjs';
import { fixtures, skip } from './_support.mjs';

const RESTART = join(fixtures, 'tasks', 'restart.mjs');
const cores = topology().cores.filter((c) => c.allowed).map((c) => c.id);

/** Within `ms`, or a failure naming what hung. */
function bounded(p, ms, what) {
  let timer;
  return Promise.race([p, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not settled after ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** One round: calls in flight from the main thread, the victim busy with `busy`, then killed. Returns outcome counts. */
async function round(rt, victim, r, busy) {
  const bg = settle(rt.spawn(...busy));
  const calls = Array.from({ length: 24 }, (_, i) => {
    const token = `main-${r}-${i}`;
    const big = i % 8 === 0 ? new Uint8Array(100_000).fill(i) : undefined;
    return settle(rt.spawn('echo', [big ? [token, big] : token], { driver: victim })).then((o) => ({ o, token, big }));
  });
  await channel('noise').send(victim, r).catch(() => {}); // a channel producer too (down: rejected, fine)
  const killed = settle(rt.spawn('exit', [1], { driver: victim }));
  // More while it dies (these land in the inbox stamped with the dying generation, or find it down).
  const late = Array.from({ length: 8 }, (_, i) => settle(rt.spawn('echo', [`late-${r}-${i}`], { driver: victim })).then((o) => ({ o, token: `late-${r}-${i}` })));
  const all = await bounded(Promise.all([...calls, ...late]), 20_000, `round ${r}'s calls`);
  await bounded(Promise.all([bg, killed]), 20_000, `round ${r}'s busy task and kill`);
  const count = { ok: 0, died: 0, down: 0 };
  for (const { o, token, big } of all) {
    if (o.ok) {
      assert.is(big ? o.value[0] : o.value, token, 'a call got its own value, not another call\'s');
      if (big) assert.is(o.value[1].length, big.length);
      count.ok++;
    } else if (o.error.code === 'GATIO_DRIVER_DIED') count.died++;
    else if (o.error.code === 'GATIO_NO_DRIVER') count.down++;
    else assert.unreachable(`unexpected outcome: ${o.error.stack}`);
  }
  return count;
}

async function campaign({ config, rounds, busy, pound }) {
  const rt = await start(config);
  let pounding;
  try {
    const ds = rt.driverStats();
    const victim = ds.find((d) => d.kind !== 'io').id;
    const other = ds.find((d) => d.kind !== 'io' && d.id !== victim)?.id;
    const live0 = (await rt.stats()).tpcs.map((t) => t.arena.liveBlocks);
    pounding = pound && other !== undefined ? rt.spawn('pound', [victim, 60_000], { driver: other }) : undefined;
    const totals = { ok: 0, died: 0, down: 0 };
    const t0 = performance.now();
    let r = 0;
    for (; r < rounds; r++) {
      await running(rt, victim, r);
      const c = await round(rt, victim, r, busy(victim, other));
      for (const k of Object.keys(totals)) totals[k] += c[k];
    }
    await running(rt, victim, r);
    // The restarted victim still answers, in order, with the right values.
    for (let i = 0; i < 50; i++) assert.is(await rt.spawn('echo', [`after-${i}`], { driver: victim }), `after-${i}`);
    const stats = await rt.stats();
    const vs = stats.drivers[victim];
    console.log(`  ${rounds} restarts in ${(performance.now() - t0).toFixed(0)} ms; main's calls: ${JSON.stringify(totals)}; stale messages dropped by the last victim: ${vs.stale}`);
    assert.is(vs.restarts, rounds);
    assert.ok(totals.ok > 0 && totals.died + totals.down > 0, 'both outcomes happened');
    if (pounding) await channel('restart-stop').broadcast(true);
    return { rt, victim, other, live0, pounding };
  } catch (err) {
    pounding?.catch(() => {});
    await rt.shutdown({ deadline: 0 });
    throw err;
  }
}

test('two JS drivers: the victim is killed 150 times while main and the other driver push into it and results of its calls come back', async () => {
  if (cores.length < 2) return skip('needs 2 allowed cores for two drivers');
  const { rt, victim, live0, pounding } = await campaign({
    config: { modules: [TASKS, RESTART], tpcs: [{ node: 0, cores: cores.slice(0, 2), drivers: { hybrid: 2 } }] },
    rounds: 150,
    busy: (v, other) => ['callBack', [other, 8], { driver: v }],
    pound: true,
  });
  try {
    // The other driver's pounding ends in its own time; its outcome is checked whole.
    const p = await bounded(pounding, 70_000, 'the pounding task');
    console.log(`  the other driver's calls: ok ${p.ok}, died ${p.died}, down ${p.down}`);
    assert.equal(p.wrong, [], 'no call of the other driver got another call\'s value');
    assert.equal(p.other, [], 'no other failure');
    assert.ok(p.ok > 0);
    await delay(50);
    assert.equal((await rt.stats()).tpcs.map((t) => t.arena.liveBlocks), live0, 'arena blocks back to the baseline: dropped messages\' bodies were freed');
    assert.ok(victim >= 0);
  } finally {
    await rt.shutdown();
  }
});

test('io + hybrid: the victim is killed 100 times with io replies in flight to it from the native io driver', async () => {
  if (cores.length < 2) return skip('needs 2 allowed cores for an io and a hybrid driver');
  const { rt, live0 } = await campaign({
    config: { modules: [TASKS, RESTART], tpcs: [{ node: 0, cores: cores.slice(0, 2), drivers: { io: 1, hybrid: 1 } }] },
    rounds: 100,
    busy: (v) => ['ioFlood', [32], { driver: v }],
    pound: false,
  });
  try {
    await delay(50);
    assert.equal((await rt.stats()).tpcs.map((t) => t.arena.liveBlocks), live0, 'arena blocks back to the baseline');
  } finally {
    await rt.shutdown();
  }
});

test('a driver dies with calls out to another; their late results settle nothing of its successor (call ids are unique across generations)', async () => {
  if (cores.length < 2) return skip('needs 2 allowed cores for two drivers');
  const rt = await start({ modules: [TASKS, RESTART], tpcs: [{ node: 0, cores: cores.slice(0, 2), drivers: { hybrid: 2 } }] });
  try {
    const [victim, other] = rt.driverStats().map((d) => d.id);
    // The victim's calls to the other driver answer in 400 ms; it dies after 20.
    const old = settle(rt.spawn('callLater', [other, 8, 'old', 400], { driver: victim }));
    await delay(20);
    await settle(rt.spawn('exit', [1], { driver: victim }));
    assert.is((await old).error?.code, 'GATIO_DRIVER_DIED');
    await running(rt, victim, 1);
    // The successor makes the same calls at once; the old results arrive meanwhile.
    const got = await rt.spawn('callLater', [other, 8, 'new', 800], { driver: victim });
    assert.equal(got, Array.from({ length: 8 }, (_, i) => `new-${i}`), 'each call got its own result, none a predecessor\'s');
  } finally {
    await rt.shutdown();
  }
});

test.run();
