// An idle driver parks and stays parked: it uses under 5% of a CPU, it
// still answers the next call, and its spin-before-park budget
// (runtime.spinUs) is what bounds the spinning.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { start } from '../dist/index.js';
import { TASKS, cpuTimeMs, delay, fmt, parked } from './_runtime-support.mjs';

test('a parked driver uses ~0% CPU, and a cold call after idling still works', async () => {
  const rt = await start({ modules: [TASKS] });
  try {
    // warm up, then go idle
    await Promise.all(rt.driverStats().map((d) => rt.spawn('add', [d.id, 1], { driver: d.id })));
    for (const d of rt.driverStats()) await parked(rt, d.id);
    const ds = rt.driverStats();
    const t0 = performance.now();
    const cpu0 = ds.map((d) => cpuTimeMs(d.tid));
    const parks0 = ds.map((d) => d.parks);
    await delay(2000);
    const elapsed = performance.now() - t0;
    const cpu1 = ds.map((d) => cpuTimeMs(d.tid));
    const now = rt.driverStats();
    ds.forEach((d, i) => {
      const used = cpu1[i] - cpu0[i];
      console.log(`  idle driver ${d.name}: ${fmt(used)} ms CPU over ${fmt(elapsed)} ms`);
      assert.ok(used < 0.05 * elapsed, `driver ${d.name} used ${used} ms of CPU in ${elapsed.toFixed(0)} ms idle`);
      assert.is(now[i].parks, parks0[i], `driver ${d.name} stayed parked (no wakeups while idle)`);
    });
    // A cold round trip: the call wakes the parked driver (how fast is
    // bench/spawn.mjs's "cold" figure; 2 s is only "it was woken, not left").
    for (const d of ds) {
      const c0 = performance.now();
      assert.is(await rt.spawn('add', [d.id, 100], { driver: d.id }), d.id + 100);
      const took = performance.now() - c0;
      console.log(`  cold round trip to ${d.name}: ${fmt(took)} ms`);
      assert.ok(took < 2000, `cold round trip took ${took.toFixed(1)} ms`);
      assert.ok(rt.driverStats()[d.id].wakeups > now[d.id].wakeups, 'the call woke the parked driver');
    }
  } finally {
    await rt.shutdown();
  }
});

/** Parks counted on the only driver across `n` back-to-back calls, each waited for (and, with `untilParked`, its park after it). */
async function parksOver(rt, n, untilParked = false) {
  await parked(rt, 0);
  const p0 = rt.driverStats()[0].parks;
  for (let i = 0; i < n; i++) {
    assert.is(await rt.spawn('add', [i, 1]), i + 1);
    if (untilParked) await parked(rt, 0);
  }
  return rt.driverStats()[0].parks - p0;
}

test('spinUs 0 parks after every call; a large spinUs keeps the driver spinning between calls', async () => {
  const N = 100;
  const one = { modules: [TASKS], tpcs: [{ node: 0, cores: 1 }] };
  const rt0 = await start({ ...one, runtime: { spinUs: 0 } });
  let noSpin;
  try {
    // Counted, not timed: each call wakes the parked driver, and it parks
    // again before the next (a count of parks over back-to-back calls
    // depended on whether the next call won the race with the park, which
    // a loaded machine decides).
    noSpin = await parksOver(rt0, N, true);
  } finally {
    await rt0.shutdown();
  }
  const rt1 = await start({ ...one, runtime: { spinUs: 100_000 } });
  let bigSpin;
  try {
    bigSpin = await parksOver(rt1, N);
  } finally {
    await rt1.shutdown();
  }
  console.log(`  parks over ${N} calls: spinUs 0 (each waited for) -> ${noSpin}, spinUs 100000 (back to back) -> ${bigSpin}`);
  assert.is(noSpin, N, 'with spinUs 0 the driver parks after each call');
  // 100 ms of spinning covers the gap between back-to-back calls many times over.
  assert.ok(bigSpin <= N / 10, `with spinUs 100000 it spins between calls: ${bigSpin} parks for ${N} calls`);
});

test.run();
