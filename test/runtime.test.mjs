// The runtime's lifecycle with real threads: start with the default plan,
// pinning, what shutdown leaves behind (threads, fds, arena blocks), start
// errors, and shutdown's deadline.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { start, topology, ConfigError, ShutdownError, Arena, RouteError, CodecError, StartError, DriverStartError } from '../dist/index.js';
import { join } from 'node:path';
import { fixtures } from './_support.mjs';
import { TASKS, BAD_TASKS, threadIds, newThreads, openFds, fdDiff, cpusAllowed, reports, settle, delay } from './_runtime-support.mjs';

test('default plan: one hybrid driver per allowed core, each thread pinned to its PU', async () => {
  const allowedCores = topology().cores.filter((c) => c.allowed);
  const rt = await start({ modules: [TASKS] });
  try {
    const ds = rt.driverStats();
    assert.is(ds.length, allowedCores.length, 'one driver per allowed core');
    assert.ok(ds.every((d) => d.kind === 'hybrid' && d.state === 'running'));
    // each on a PU of a different allowed core
    const coreOf = new Map(allowedCores.flatMap((c) => c.pus.map((p) => [p, c])));
    assert.is(new Set(ds.map((d) => coreOf.get(d.pu))).size, ds.length, `PUs ${ds.map((d) => d.pu)} on distinct cores`);
    for (const d of ds) {
      assert.ok(d.tid > 0 && threadIds().includes(d.tid), `driver ${d.name}: tid ${d.tid} is a thread of this process`);
      assert.is(cpusAllowed(d.tid), String(d.pu), `driver ${d.name}: kernel affinity of tid ${d.tid}`);
      // and from inside a task on that driver
      const w = await rt.spawn('where', [], { driver: d.id });
      assert.equal(w.info, { id: d.id, name: d.name, tpc: d.tpc, pu: d.pu });
      assert.equal(w.binding.cpus, [d.pu]);
      assert.is(w.binding.cpu, d.pu);
      assert.is(w.binding.tid, d.tid);
      assert.equal(w.ctx, { driver: w.info, queue: 'default' });
    }
  } finally {
    await rt.shutdown();
  }
});

test('shutdown leaves no threads, no fds, and releases the arenas; only the runtime\'s own blocks are live', async () => {
  const threads0 = threadIds();
  const fds0 = openFds();
  const rt = await start({ modules: [TASKS] });
  let arenaIds;
  try {
    for (const d of rt.driverStats()) assert.ok(threadIds().includes(d.tid) && !threads0.includes(d.tid), `a thread of its own for driver ${d.name} while running`);
    const idle = (await rt.stats()).tpcs.map((t) => t.arena.liveBlocks);
    // Work that allocates: big messages (arena blocks) both ways, sleeps (ring), nested spawns.
    const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
    const calls = [];
    for (let i = 0; i < 20; i++) calls.push(rt.spawn('echo', [big]), rt.spawn('echoAsync', [i]), rt.spawn('spawnInner', [i, 1]));
    const results = await Promise.all(calls);
    assert.equal(results[0], big);
    const s = await rt.stats();
    const jsDrivers = s.drivers.filter((d) => d.kind !== 'io').length;
    // main inbox + per driver: inbox and stats block; per JS driver: its ring's block
    const own = 1 + 2 * s.drivers.length + jsDrivers;
    assert.equal(
      s.tpcs.map((t) => t.arena.liveBlocks),
      idle,
      `live arena blocks after the work ${JSON.stringify(s.tpcs.map((t) => t.arena))} equal those after start`,
    );
    assert.is(
      s.tpcs.reduce((n, t) => n + t.arena.liveBlocks, 0),
      own,
      'only the runtime\'s own blocks: inboxes, stats blocks, rings',
    );
    arenaIds = rt.layout.arenas;
    for (const id of arenaIds) Arena.attach(id).close(); // attachable while running
  } finally {
    await rt.shutdown();
  }
  assert.equal(newThreads(threads0), [], 'threads after shutdown');
  assert.equal(fdDiff(fds0, openFds()), [], 'fds after shutdown');
  for (const id of arenaIds) assert.throws(() => Arena.attach(id), undefined, `arena ${id} still attaches after shutdown`);
});

test('starting twice is an error; after shutdown a new runtime starts', async () => {
  const rt = await start({ modules: [TASKS] });
  try {
    const threads = threadIds();
    const err = await start({ modules: [TASKS] }).then(() => null, (e) => e);
    assert.instance(err, Error);
    assert.match(err.message, /already running/);
    assert.equal(newThreads(threads), [], 'the second start created no threads');
    assert.is(await rt.spawn('add', [2, 3]), 5, 'the first runtime still works');
  } finally {
    await rt.shutdown();
  }
  const rt2 = await start({ modules: [TASKS] });
  assert.is(await rt2.spawn('add', [40, 2]), 42);
  await rt2.shutdown();
});

test('a config error rejects start with ConfigError naming the path', async () => {
  const threads0 = threadIds();
  const err = await start({ modules: [TASKS], runtime: { spinUS: 10 } }).then(() => null, (e) => e);
  assert.instance(err, ConfigError);
  assert.is(err.errors[0].path, 'runtime.spinUS');
  assert.match(err.message, /runtime\.spinUS/);
  assert.match(err.message, /spinUs/, 'suggests the right key');
  const err2 = await start({ modules: [TASKS], queues: { rpc: { latency: { maxDelayMs: -1 } } } }).then(() => null, (e) => e);
  assert.instance(err2, ConfigError);
  assert.match(err2.message, /queues\.rpc\.latency/);
  assert.equal(newThreads(threads0), []);
  // nothing was left registered: a good config starts
  const rt = await start({ modules: [TASKS] });
  await rt.shutdown();
});

test('a task module that throws on import: start rejects with its message and leaves nothing behind', async () => {
  const threads0 = threadIds();
  const fds0 = openFds();
  const err = await start({ modules: [BAD_TASKS] }).then(() => null, (e) => e);
  assert.instance(err, Error);
  assert.match(err.message, /fixture module refused to load: missing FIXTURE_SETTING/);
  assert.match(err.message, /hybrid0/, 'names the driver');
  assert.equal(newThreads(threads0), [], 'threads after the failed start');
  assert.equal(fdDiff(fds0, openFds()), [], 'fds after the failed start');
  const rt = await start({ modules: [TASKS] });
  assert.is(await rt.spawn('add', [1, 1]), 2, 'a later start works');
  await rt.shutdown();
});

test('start() while the runtime shuts down says to await shutdown(); with restart: false a dead driver is "not restarted"', async () => {
  const rt = await start({ modules: [TASKS] });
  const closing = rt.shutdown();
  const err = await start({ modules: [TASKS] }).then((r) => r.shutdown().then(() => null), (e) => e);
  await closing;
  assert.match(err?.message ?? '', /is shutting down: await its rt\.shutdown\(\) before starting another/);
  const rt2 = await start({ modules: [TASKS], runtime: { restart: false } });
  try {
    await rt2.spawn('exit', [3], { driver: 0 }).catch(() => {});
    const t0 = Date.now();
    while (rt2.driverStats()[0].state === 'running' && Date.now() - t0 < 10_000) await delay(10);
    const e = await rt2.spawn('add', [1, 1], { driver: 0 }).then(() => null, (x) => x);
    assert.match(e?.message ?? '', /it died and is not restarted \(runtime\.restart is false\)/);
  } finally {
    await rt2.shutdown();
  }
});

test("a failed start keeps what the module threw: a StartError of one DriverStartError per driver, each naming the module, with the original as cause", async () => {
  const bad = join(fixtures, 'tasks', 'throws-typed-on-import.mjs');
  const err = await start({ modules: [bad] }).then((rt) => rt.shutdown().then(() => null), (e) => e);
  assert.instance(err, StartError);
  assert.instance(err, AggregateError);
  assert.is(err.code, 'GATIO_START');
  const drivers = topology().cores.filter((c) => c.allowed).length;
  assert.is(err.errors.length, drivers, 'one error per driver');
  assert.is(err.message.split('setting out of range').length - 1, 1, 'the failure said once, not once per driver');
  assert.match(err.message, /throws-typed-on-import\.mjs/);
  for (const e of err.errors) {
    assert.instance(e, DriverStartError);
    assert.match(e.module, /throws-typed-on-import\.mjs$/);
    assert.match(e.message, new RegExp(e.driverName));
    assert.is(e.cause.name, 'RangeError', 'the original class name');
    assert.instance(e.cause, RangeError, 'the original class, as spawn() keeps it');
    assert.is(e.cause.code, 'E_FIXTURE');
    assert.is(e.cause.cause.message, 'the root cause', 'its own cause');
    assert.match(e.cause.stack, /throws-typed-on-import\.mjs:6/, "the module's stack");
  }
  assert.is(err.cause, err.errors[0].cause);
});

test('shutdown({ deadline }): running tasks finish within it; new spawns reject with ShutdownError; idempotent', async () => {
  const rep = reports();
  try {
    const rt = await start({ modules: [TASKS] });
    const n = rt.driverStats().length;
    const calls = [];
    for (let i = 0; i < 2 * n; i++) calls.push(rt.spawn('work', [`w${i}`, 300]));
    await delay(50); // they are running
    const t0 = performance.now();
    const done = rt.shutdown({ deadline: 5000 });
    const again = rt.shutdown({ deadline: 5000 }); // concurrent call: same outcome, nothing closed twice
    const late = await settle(rt.spawn('add', [1, 2]));
    assert.not.ok(late.ok, 'a spawn after shutdown began is refused');
    assert.instance(late.error, ShutdownError);
    assert.is(late.error.code, 'GATIO_SHUTDOWN');
    assert.is(late.error.name, 'ShutdownError');
    const results = await Promise.all(calls);
    assert.equal(results, calls.map((_, i) => `w${i}`));
    const r = await done;
    const took = performance.now() - t0;
    assert.equal(r, { aborted: 0 });
    assert.equal(await again, r);
    // It waited for the tasks (>= their 300 ms), not for the 5000 ms deadline.
    assert.ok(took >= 200 && took < 4500, `shutdown waited for the tasks (${took.toFixed(0)} ms, not the 5000 ms deadline)`);
    // Each task reported it finished (BroadcastChannel: delivered a little later than the results, on a loaded machine later still).
    for (let i = 0; i < 2 * n; i++) await rep.waitFor((m) => m.type === 'finished' && m.tag === `w${i}`, 10_000);
    assert.equal(await rt.shutdown(), { aborted: 0 }, 'after it completed');
  } finally {
    rep.close(); // an open channel would keep the process from exiting after a failure
  }
});

test('shutdown past the deadline aborts tasks: the task sees its signal, the caller gets ShutdownError', async () => {
  const rep = reports();
  try {
    const threads0 = threadIds();
    const rt = await start({ modules: [TASKS] });
    const n = rt.driverStats().length;
    const calls = [];
    for (let i = 0; i < 2 * n; i++) calls.push(settle(rt.spawn('waitAbort', [`a${i}`])));
    await delay(100);
    const t0 = performance.now();
    const r = await rt.shutdown({ deadline: 300 });
    const took = performance.now() - t0;
    assert.ok(took >= 290 && took < 3000, `shutdown took ${took.toFixed(0)} ms for a 300 ms deadline`);
    assert.is(r.aborted, 2 * n);
    const outcomes = await Promise.all(calls);
    for (const o of outcomes) {
      assert.not.ok(o.ok);
      assert.instance(o.error, ShutdownError, `${o.error?.name}: ${o.error?.message}`);
      assert.match(o.error.message, /waitAbort/);
    }
    for (let i = 0; i < 2 * n; i++) {
      const m = await rep.waitFor((x) => x.type === 'aborted' && x.tag === `a${i}`, 2000);
      assert.match(m.reason, /shutdown deadline/);
    }
    assert.equal(newThreads(threads0), []);
  } finally {
    rep.close();
  }
});

test('a task stuck in a synchronous loop past the deadline: its thread is terminated, nothing leaks', async () => {
  const threads0 = threadIds();
  const fds0 = openFds();
  const rt = await start({ modules: [TASKS] });
  const stuck = settle(rt.spawn('block', [20_000], { driver: 0 }));
  const sleeping = settle(rt.spawn('sleep', [20_000], { driver: rt.driverStats().length - 1 }));
  await delay(100);
  const t0 = performance.now();
  const r = await rt.shutdown({ deadline: 200 });
  const took = performance.now() - t0;
  assert.ok(took < 5000, `shutdown took ${took.toFixed(0)} ms with a stuck task (deadline 200 ms)`);
  assert.is(r.aborted, 2);
  for (const o of [await stuck, await sleeping]) assert.instance(o.error, ShutdownError);
  assert.equal(newThreads(threads0), [], 'threads after shutdown');
  assert.equal(fdDiff(fds0, openFds()), [], 'fds after shutdown');
});

test('an idle runtime does not keep the process alive; an outstanding call does', async () => {
  const { spawnSync } = await import('node:child_process');
  // The child never calls shutdown(): it must exit by itself once its last
  // call (a 300 ms sleep on a driver) has returned, not before, not never.
  const script = `
    import { start } from 'gatio';
    const rt = await start({ modules: [${JSON.stringify(TASKS)}] });
    const t0 = Date.now();
    rt.spawn('sleep', [300]).then(() => console.log('done after', Date.now() - t0));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, cwd: new URL('..', import.meta.url).pathname });
  assert.is(r.status, 0, r.stderr);
  const m = /done after (\d+)/.exec(r.stdout);
  assert.ok(m, `the outstanding call kept the process alive until it returned: ${r.stdout}${r.stderr}`);
  assert.ok(Number(m[1]) >= 290, m[1]);
});

test('start/shutdown cycles give the arenas\' memory back: RSS stays bounded without waiting for GC', async () => {
  const rssAnon = () => Number(/RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
  const cycle = async () => {
    const rt = await start({ modules: [TASKS], tpcs: [{ node: 0, cores: 1, arena: '64MiB', prefault: true }] });
    const big = new Uint8Array(300_000).fill(7);
    for (let i = 0; i < 4; i++) assert.is((await rt.spawn('echo', [big])).length, big.length);
    await rt.shutdown();
  };
  await cycle(); // warm up: code, heap
  const base = rssAnon();
  const CYCLES = 20;
  for (let i = 0; i < CYCLES; i++) await cycle();
  const grew = rssAnon() - base;
  console.log(`  RssAnon after ${CYCLES} start/shutdown cycles of a prefaulted 64 MiB arena: +${grew.toFixed(1)} MiB`);
  // Each cycle makes 64 MiB resident; kept until the main thread's GC
  // collected the arena's SharedArrayBuffer: 20 cycles held +750 MiB.
  assert.ok(grew < 64, `RSS grew by ${grew.toFixed(0)} MiB over ${CYCLES} cycles`);
});

test('after shutdown: spawn and stats say the runtime has shut down; RouteError and CodecError are exported, each with its name', async () => {
  const rt = await start({ modules: [TASKS] });
  const route = await rt.spawn('add', [1, 2], { driver: 99 }).catch((e) => e);
  assert.instance(route, RouteError);
  assert.is(route.name, 'RouteError');
  assert.is(route.code, 'GATIO_NO_DRIVER');
  const codec = await Promise.resolve().then(() => rt.spawn('add', [() => 1])).catch((e) => e);
  assert.instance(codec, CodecError);
  assert.is(codec.name, 'CodecError');
  await rt.shutdown();
  const late = await rt.spawn('add', [1, 2]).catch((e) => e);
  assert.instance(late, ShutdownError);
  assert.match(late.message, /the runtime has shut down/);
  const stats = await rt.stats().catch((e) => e);
  assert.instance(stats, ShutdownError);
  assert.match(stats.message, /has shut down: no stats/);
});

test.run();
