#!/usr/bin/env node
// Where a cold call's time goes, stretch by stretch, with timestamps inside
// the runtime that the shipped code does not have: they come from
// bench/cold-stretches.patch, applied for the run and taken out after.
//
//   git apply bench/cold-stretches.patch && npm run build:ts
//   node bench/cold-stretches.mjs --threads 1 [--wake-latency-us 0]
//   git apply -R bench/cold-stretches.patch && npm run build:ts
//
// 200 calls, each after 20 ms of idleness (every thread parked), after
// 20000 warm-up calls. Stretches (p50/p99 µs): the caller's spawn() to the
// early wake (routing), the eventfd write itself, the write to the driver's
// onWake (the kernel waking the parked thread), onWake to the task's start,
// the task's start to the result on the main thread. Clocks:
// performance.timeOrigin + now() on both threads (the same wall clock).
import { start } from 'gatio';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { quantile } from './lib.mjs';

const { values } = parseArgs({ options: { threads: { type: 'string', default: '1' }, 'wake-latency-us': { type: 'string' } } });
const here = dirname(fileURLToPath(import.meta.url));
const wl = values['wake-latency-us'];
const rt = await start({ modules: [join(here, 'tasks.mjs')], tpcs: [{ node: 0, cores: Number(values.threads) }], runtime: { wakeLatencyUs: wl === undefined ? null : Number(wl) } });
const wall = () => performance.timeOrigin + performance.now();
const rows = [];
try {
  for (let i = 0; i < 20_000; i++) await rt.spawn('wakeClock', []);
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const tr = (globalThis.__coldTrace = {});
    const t0 = wall();
    const [woke, started] = await rt.spawn('wakeClock', []);
    const t1 = wall();
    globalThis.__coldTrace = undefined;
    if (tr.spawn === undefined || !woke) throw new Error('no timestamps from inside the runtime: apply bench/cold-stretches.patch and rebuild (npm run build:ts) first');
    // (no early wake without a spare CPU for the main thread: then write/written are unset and those stretches are left out)
    rows.push({
      routing: tr.write === undefined ? NaN : tr.write - tr.spawn,
      write: tr.written === undefined ? NaN : tr.written - tr.write,
      toOnWake: woke - (tr.write ?? tr.spawn),
      onWakeToTask: started - woke,
      taskToResult: t1 - started,
      total: t1 - t0,
    });
  }
} finally {
  await rt.shutdown();
}
const f = (k) => `${k} ${quantile(rows.map((r) => r[k] * 1000), 0.5).toFixed(0)}/${quantile(rows.map((r) => r[k] * 1000), 0.99).toFixed(0)}`;
console.log(`threads ${values.threads}${wl === undefined ? '' : `, wakeLatencyUs ${wl}`} (p50/p99 us): ${Object.keys(rows[0]).map(f).join(' | ')}`);
