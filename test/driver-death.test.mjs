// A driver thread that dies (process.exit in a task, an exception thrown
// outside any promise): the process survives, the calls in flight on that
// driver reject with DriverDiedError naming it, routing skips it while it is
// down, and it is restarted on the same PU; other drivers are not affected.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { start, DriverDiedError } from '../dist/index.js';
import { TASKS, cpusAllowed, threadIds, settle, delay, running } from './_runtime-support.mjs';

let rt;
test.before(async () => {
  rt = await start({ modules: [TASKS] });
});
test.after(async () => {
  await rt?.shutdown();
});

/** Kills driver `victim` with task `killer`, checks everything the brief promises, returns the restarted driver's stats. */
async function killAndCheck(victim, killer, args, why) {
  const ds = rt.driverStats();
  if (ds.length < 2) throw new Error('this test needs two drivers');
  const other = ds.find((d) => d.id !== victim);
  const before = ds[victim];
  // In flight: on the victim (sleeping), and on the other driver (sleeping longer than the death takes).
  const onVictim = [1, 2, 3].map(() => settle(rt.spawn('sleep', [2000], { driver: victim })));
  const onOther = [1, 2, 3].map(() => settle(rt.spawn('sleep', [400], { driver: other.id })));
  await delay(30);
  const killed = settle(rt.spawn(killer, args, { driver: victim }));
  const k = await killed;
  // The call that killed it rejects too.
  assert.not.ok(k.ok);
  assert.instance(k.error, DriverDiedError);
  assert.is(k.error.code, 'GATIO_DRIVER_DIED');
  assert.is(k.error.name, 'DriverDiedError');
  assert.match(k.error.message, new RegExp(`driver ${before.name.replace('/', '\\/')} \\(id ${victim}, PU ${before.pu}\\)`));
  assert.match(k.error.message, why);

  // Right now it is down (restarting): routing skips it.
  const down = rt.driverStats()[victim];
  assert.is.not(down.state, 'running', 'the dead driver is not reported running');
  assert.ok(!threadIds().includes(before.tid), 'its old thread is gone');
  // (all routed synchronously, before the restarted thread can come up)
  const routedP = Promise.all(Array.from({ length: 6 }, () => rt.spawn('where', []).then((w) => w.info.id)));
  const keyedP = Promise.all(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((key) => rt.spawn('where', [], { key }).then((w) => w.info.id)));
  const toDead = settle(rt.spawn('where', [], { driver: victim })); // a rejection, not a synchronous throw
  const [routed, keyed] = await Promise.all([routedP, keyedP]);
  const dead = await toDead;
  assert.not.ok(dead.ok);
  assert.match(dead.error.message, /not running/);
  assert.is(dead.error.code, 'GATIO_NO_DRIVER');
  assert.ok([...routed, ...keyed].every((id) => id === other.id), `routed to ${routed} / by key to ${keyed} while driver ${victim} was down`);

  for (const o of await Promise.all(onVictim)) {
    assert.not.ok(o.ok);
    assert.instance(o.error, DriverDiedError);
    assert.match(o.error.message, /task "sleep"/);
    assert.match(o.error.message, new RegExp(`id ${victim}`));
  }
  // The other driver's calls completed normally.
  assert.equal(await Promise.all(onOther), [1, 2, 3].map(() => ({ ok: true, value: other.id })));

  // Restarted, on the same PU, with a new thread.
  const again = await running(rt, victim, before.restarts + 1);
  assert.is(again.restarts, before.restarts + 1);
  assert.is(again.pu, before.pu);
  assert.is.not(again.tid, before.tid);
  assert.is(cpusAllowed(again.tid), String(before.pu), 'the new thread is pinned to the same PU');
  const w = await rt.spawn('where', [], { driver: victim });
  assert.equal(w.binding.cpus, [before.pu]);
  assert.is(w.binding.tid, again.tid);
  assert.is(await rt.spawn('add', [victim, 10], { driver: victim }), victim + 10, 'it runs tasks again');
  // Keys spread again (some of 32 keys go to the restarted driver).
  const ids = await Promise.all(Array.from({ length: 32 }, (_, i) => rt.spawn('where', [], { key: `key${i}` }).then((x) => x.info.id)));
  assert.ok(ids.includes(victim), 'keys map to the restarted driver again');
  return again;
}

test('a task calls process.exit(1): the driver dies, its calls reject, it is restarted on its PU', async () => {
  const victim = 0;
  const d = await killAndCheck(victim, 'exit', [1], /exited with code 1|exit/);
  assert.is(d.restarts, 1);
  assert.is(process.exitCode ?? 0, 0, 'the process did not take the exit code');
});

test('an exception thrown outside any promise kills the driver the same way', async () => {
  const victim = rt.driverStats().length - 1;
  const before = rt.driverStats()[victim].restarts;
  const d = await killAndCheck(victim, 'throwLater', [], /thrown outside the task promise/);
  assert.is(d.restarts, before + 1);
});

test('a call from another driver to the dying one rejects there with DriverDiedError', async () => {
  const [a, b] = rt.driverStats();
  const r = await rt.spawn('spawnAndReport', ['exit', [1], { driver: a.id }], { driver: b.id });
  assert.is(r.ok, false);
  assert.is(r.name, 'DriverDiedError');
  assert.is(r.code, 'GATIO_DRIVER_DIED');
  assert.match(r.message, new RegExp(`driver ${a.id} died before the call to task "exit" settled`));
  await running(rt, a.id, a.restarts + 1);
  assert.is(await rt.spawn('spawnAndReport', ['add', [1, 2], { driver: a.id }], { driver: b.id }).then((x) => x.value), 3);
});

test('after the deaths the runtime works on every driver', async () => {
  const ds = rt.driverStats();
  assert.ok(ds.every((d) => d.state === 'running'));
  const r = await Promise.all(ds.flatMap((d) => Array.from({ length: 10 }, (_, i) => rt.spawn('echoAsync', [i], { driver: d.id }))));
  assert.is(r.length, 10 * ds.length);
  const s = await rt.stats();
  assert.ok(s.drivers.every((d) => Array.isArray(d.queues)), 'every driver answers stats');
});

test.run();
