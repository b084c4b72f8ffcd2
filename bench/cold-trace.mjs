#!/usr/bin/env node
// Where a cold call's time goes, split at the moment the task starts on the
// driver: main thread -> task start (the spawn, the wakeup of the parked
// driver, its turn) and task start -> result on the main thread (the
// reply, the main thread's spin or its own wakeup). 200 calls, each after
// 20 ms of idleness, after 20000 warm-up calls.
//
//   node bench/cold-trace.mjs [--threads 1] [--wake-latency-us 0]
//
// Clocks: performance.timeOrigin + now() on both threads (same wall clock).
import { start } from 'gatio';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { quantile } from './lib.mjs';

const { values } = parseArgs({ options: { threads: { type: 'string', default: '1' }, 'wake-latency-us': { type: 'string' } } });
const here = dirname(fileURLToPath(import.meta.url));
const rt = await start({ modules: [join(here, 'tasks.mjs')], tpcs: [{ node: 0, cores: Number(values.threads) }], runtime: { wakeLatencyUs: values['wake-latency-us'] === undefined ? null : Number(values['wake-latency-us']) } });
const wall = () => performance.timeOrigin + performance.now();
const toTask = [];
const toResult = [];
try {
  for (let i = 0; i < 20_000; i++) await rt.spawn('wallClock', []);
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const t0 = wall();
    const t1 = await rt.spawn('wallClock', []);
    const t2 = wall();
    toTask.push((t1 - t0) * 1000);
    toResult.push((t2 - t1) * 1000);
  }
} finally {
  await rt.shutdown();
}
const f = (l) => `p50 ${quantile(l, 0.5).toFixed(0)} p90 ${quantile(l, 0.9).toFixed(0)} p99 ${quantile(l, 0.99).toFixed(0)} us`;
console.log(`threads ${values.threads}${values['wake-latency-us'] === undefined ? '' : `, wakeLatencyUs ${values['wake-latency-us']}`}: spawn -> task start ${f(toTask)} | task start -> result ${f(toResult)}`);
