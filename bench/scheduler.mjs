#!/usr/bin/env node
// Scheduler benchmark, on one driver: what yieldIfNeeded() costs a long
// task, and how soon a latency-class task starts while CPU-bound tasks keep
// the driver busy.
//
//   npm run bench:scheduler            # 5 runs
//   node bench/scheduler.mjs --runs 3
//
// Plan: one hybrid driver on core 1, the main thread confined to core 0;
// queues rpc (latency, maxDelayMs 5), batch (shares 1) and plain
// (shares 1, no latency class, created after batch, so batch wins ties);
// quantumMs 1 (the default). Each run is a fresh child process.
// Reported: the median over runs.
//
// Metrics:
// - yieldOverhead[chunkMs]: CPU time of 200 ms of computing in chunks of
//   chunkMs with `await yieldIfNeeded()` between them, over the same chunks
//   in one synchronous loop, minus 1. Alone on the driver the task still
//   returns to the loop every quantum. CPU time is the thread's schedstat
//   (exact); the median of 5 alternating pairs per run.
// - start delay (ms) of a task spawned every 10 ms from the main thread,
//   while 3 batch tasks compute in 0.2 ms chunks (yieldIfNeeded between
//   them): in the rpc queue (latency class) and in the plain queue;
//   p50/p99/max, and `own`: less the time the driver thread waited for its
//   CPU meanwhile (other processes).
import { fmt, load1, median, outOption, quantile, runChild, writeResults } from './lib.mjs';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUT = join(here, 'results', 'scheduler.json');
const WORK_MS = 200;
const CHUNKS_MS = [0.01, 0.1];
const PAIRS = 5;
const LOAD_MS = 1500;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    child: { type: 'boolean', default: false },
    out: { type: 'string', default: DEFAULT_OUT },
  },
});

const wallNow = () => performance.timeOrigin + performance.now();
const delay = (ms) => new Promise((r) => setTimeout(r, ms));
/** ms thread `tid` of this process has waited for a CPU (schedstat's run_delay). */
const waitedMs = (tid) => Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;

if (values.child) {
  process.stdout.write(JSON.stringify(await measure()));
  process.exit(0);
} else {
  await orchestrate();
}

async function measure() {
  const { start } = await import('gatio');
  const rt = await start({
    tpcs: [{ node: 0, cores: [1] }],
    modules: [join(here, 'scheduler-tasks.mjs')],
    queues: { rpc: { latency: { maxDelayMs: 5 } }, batch: { shares: 1 }, plain: { shares: 1 } },
  });
  try {
    const { tid } = rt.driverStats()[0];
    const out = { yieldOverhead: {}, start: {} };
    for (const chunkMs of CHUNKS_MS) {
      const chunks = Math.round(WORK_MS / chunkMs);
      await rt.spawn('work', [chunks, chunkMs, true]); // warm up both paths
      await rt.spawn('work', [chunks, chunkMs, false]);
      const plain = [];
      const yielding = [];
      for (let i = 0; i < PAIRS; i++) {
        plain.push((await rt.spawn('work', [chunks, chunkMs, false])).cpu);
        yielding.push((await rt.spawn('work', [chunks, chunkMs, true])).cpu);
      }
      out.yieldOverhead[chunkMs] = median(yielding) / median(plain) - 1;
    }
    for (const queue of ['rpc', 'plain']) {
      const until = wallNow() + LOAD_MS;
      const load = Array.from({ length: 3 }, () => rt.spawn('busy', [until, 0.2], { queue: 'batch' }));
      await delay(50);
      const raw = [];
      const own = [];
      while (wallNow() < until - 100) {
        const waited0 = waitedMs(tid);
        const sent = wallNow();
        const r = await rt.spawn('stamp', [], { queue });
        raw.push(r.at - sent);
        own.push(r.at - sent - (r.waited - waited0));
        await delay(10);
      }
      await Promise.all(load);
      const q = (xs) => ({ p50: quantile(xs, 0.5), p99: quantile(xs, 0.99), max: Math.max(...xs), n: xs.length });
      out.start[queue] = { raw: q(raw), own: q(own) };
    }
    return out;
  } finally {
    await rt.shutdown({ deadline: 1000 });
  }
}

async function orchestrate() {
  const runs = Number(values.runs);
  const loadBefore = load1();
  const raw = [];
  for (let r = 0; r < runs; r++) {
    const res = await runChild(fileURLToPath(import.meta.url), ['--child'], {});
    raw.push({ run: r, ...res });
    console.error(
      `run ${r + 1}/${runs}: ` +
        (res.error ??
          `yield overhead ${CHUNKS_MS.map((c) => `${c} ms chunks ${fmt(res.yieldOverhead[c] * 100, 2)}%`).join(', ')}; ` +
            `rpc start p50 ${fmt(res.start.rpc.raw.p50, 3)} ms, plain ${fmt(res.start.plain.raw.p50, 3)} ms`),
    );
  }
  const ok = raw.filter((x) => !x.error);
  const summary = { yieldOverhead: {}, start: {} };
  for (const c of CHUNKS_MS) summary.yieldOverhead[c] = median(ok.map((x) => x.yieldOverhead[c]));
  for (const queue of ['rpc', 'plain']) {
    summary.start[queue] = {};
    for (const kind of ['raw', 'own']) {
      summary.start[queue][kind] = Object.fromEntries(['p50', 'p99', 'max'].map((k) => [k, median(ok.map((x) => x.start[queue][kind][k]))]));
    }
  }
  console.log(`\nscheduler benchmark: median of ${ok.length} runs`);
  for (const c of CHUNKS_MS) console.log(`yieldIfNeeded() between ${c} ms chunks: ${fmt(summary.yieldOverhead[c] * 100, 2)}% more CPU than no yielding`);
  console.log('start delay under load (ms)      p50      p99      max');
  for (const queue of ['rpc', 'plain']) {
    for (const kind of ['raw', 'own']) {
      const s = summary.start[queue][kind];
      console.log(`${`${queue} ${kind === 'own' ? '(less CPU waits)' : ''}`.padEnd(30)} ${[s.p50, s.p99, s.max].map((v) => fmt(v, 3).padStart(8)).join(' ')}`);
    }
  }
  const out = resolve(values.out);
  writeResults(out, `node bench/scheduler.mjs --runs ${runs}${outOption(out, DEFAULT_OUT)}`, loadBefore, { summary, raw });
}
