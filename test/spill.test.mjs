// Routing across TPCs end to end: a TPC spills new tasks to another only when
// every one of its drivers has more than `spillThreshold` pending. Two TPCs
// on this machine's one node (one core each) stand for two sockets.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { start, topology } from '../dist/index.js';
import { TASKS } from './_runtime-support.mjs';
import { skip } from './_support.mjs';

test('below the threshold tasks stay in the main thread TPC; above it they spill', async () => {
  const pus = topology().allowed.pus;
  if (pus.length < 2) return skip('spill across TPCs', 'needs 2 allowed CPUs for two one-core TPCs');
  const cores = topology().cores.filter((c) => c.allowed).map((c) => c.id);
  const rt = await start({ modules: [TASKS], tpcs: [{ node: 0, cores: [cores[0]] }, { node: 0, cores: [cores[1]] }], runtime: { spillThreshold: 4 } });
  try {
    const [d0, d1] = rt.driverStats();
    assert.equal([d0.tpc, d1.tpc], [0, 1]);
    // Idle: everything runs in TPC 0 (the main thread's).
    for (let i = 0; i < 20; i++) assert.is((await rt.spawn('where', [])).info.id, d0.id);
    assert.is((await rt.stats()).routing.spill, 0);
    // Keep TPC 0's only driver busy with more than 4 pending: new tasks spill.
    const busy = Array.from({ length: 8 }, () => rt.spawn('block', [150], { driver: d0.id }));
    await new Promise((r) => setTimeout(r, 20));
    const ids = await Promise.all(Array.from({ length: 3 }, () => rt.spawn('where', []).then((w) => w.info.id)));
    assert.equal(ids, [d1.id, d1.id, d1.id], 'spilled to TPC 1');
    const routing = (await rt.stats()).routing;
    assert.ok(routing.spill >= 3, JSON.stringify(routing));
    assert.ok(routing.local >= 20, JSON.stringify(routing));
    await Promise.all(busy);
    // Back under the threshold: home again.
    await new Promise((r) => setTimeout(r, 20));
    assert.is((await rt.spawn('where', [])).info.id, d0.id);
  } finally {
    await rt.shutdown();
  }
});

test("runtime.md's example: spillThreshold 50, TPC 0's driver stuck for 400 ms, a burst of 60 calls: 50 wait for it, 10 spill", async () => {
  const pus = topology().allowed.pus;
  if (pus.length < 2) return skip('spill across TPCs', 'needs 2 allowed CPUs for two one-core TPCs');
  const cores = topology().cores.filter((c) => c.allowed).map((c) => c.id);
  const rt = await start({ modules: [TASKS], tpcs: [{ node: 0, cores: [cores[0]] }, { node: 0, cores: [cores[1]] }], runtime: { spillThreshold: 50 } });
  try {
    const [d0, d1] = rt.driverStats();
    const stuck = rt.spawn('block', [400], { driver: d0.id });
    await new Promise((r) => setTimeout(r, 30));
    // One synchronous burst: each call counts in its driver's pending at once (the pending of the stuck task included).
    const ids = await Promise.all(Array.from({ length: 60 }, () => rt.spawn('where', []).then((w) => w.info.id)));
    const local = ids.filter((id) => id === d0.id).length;
    // 50: TPC 0 takes calls while its pending (1 stuck + the calls) is at most 50. 49 when the main
    // thread last ran on d0's CPU: it then counts d0 half a task heavier (the router's avoid rule).
    assert.ok(local === 50 || local === 49, `TPC 0 took ${local} of 60`);
    assert.is(ids.filter((id) => id === d1.id).length, 60 - local, 'the rest spill');
    await stuck;
  } finally {
    await rt.shutdown();
  }
});

test.run();
