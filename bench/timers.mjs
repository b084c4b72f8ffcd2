#!/usr/bin/env node
// Timer benchmark: how late gatio's ring timers (sleep, interval) end on a
// driver that parks between them, beside Node's setTimeout on the same
// thread, and how soon an aborted sleep rejects.
//
//   npm run bench:timers                 # 5 runs
//   node bench/timers.mjs --runs 3 --reps 10
//
// Plan: one hybrid driver on core 1 (the main thread, idle meanwhile, is
// confined to core 0); spinUs 50, the default, so the driver parks during
// any sleep of 0.5 ms or more. Each run is a fresh child process.
// Reported: the median over runs of each run's quantiles.
//
// Metrics (ms):
// - ring / node: lateness of sleep(ms) / setTimeout(ms) for ms in DURATIONS,
//   --reps of each (the ring list, then the same list with setTimeout)
// - ringOwn: the ring lateness less the time the thread waited for its CPU
//   (schedstat run_delay): what is left when other processes are not to blame
// - abort: from abort() to the rejection of an aborted 60 s sleep
// - interval: lateness of interval(10)'s ticks from their anchors; drift:
//   median lateness of the last 10 ticks minus that of the first 10
import { fmt, load1, median, outOption, quantile, runChild, writeResults } from './lib.mjs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUT = join(here, 'results', 'timers.json');
const DURATIONS = [0.5, 1, 2, 5, 10, 20];
const INTERVAL_MS = 10;
const INTERVAL_TICKS = 100;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    reps: { type: 'string', default: '20' },
    child: { type: 'boolean', default: false },
    out: { type: 'string', default: DEFAULT_OUT },
  },
});

const stats = (xs) => ({ p50: quantile(xs, 0.5), p90: quantile(xs, 0.9), p99: quantile(xs, 0.99), max: Math.max(...xs), min: Math.min(...xs), n: xs.length });

if (values.child) {
  process.stdout.write(JSON.stringify(await measure(Number(values.reps))));
  process.exit(0);
} else {
  await orchestrate();
}

async function measure(reps) {
  const { start } = await import('gatio');
  const rt = await start({ tpcs: [{ node: 0, cores: [1] }], modules: [join(here, 'timer-tasks.mjs')] });
  try {
    const list = DURATIONS.flatMap((ms) => Array(reps).fill(ms));
    const ring = [];
    const ringOwn = [];
    const node = [];
    await rt.spawn('sleepLateness', [[1, 1, 1], 'ring']); // warm up
    for (const r of await rt.spawn('sleepLateness', [list, 'ring'])) {
      ring.push(r.late);
      ringOwn.push(r.late - (Number.isNaN(r.waited) ? 0 : r.waited));
    }
    for (const r of await rt.spawn('sleepLateness', [list, 'node'])) node.push(r.late);
    const abort = await rt.spawn('abortLatency', [reps, 20]);
    const ticks = await rt.spawn('intervalLateness', [INTERVAL_MS, INTERVAL_TICKS]);
    const drift = median(ticks.slice(-10)) - median(ticks.slice(0, 10));
    return { ring: stats(ring), ringOwn: stats(ringOwn), node: stats(node), abort: stats(abort), interval: { ...stats(ticks), drift } };
  } finally {
    await rt.shutdown({ deadline: 1000 });
  }
}

async function orchestrate() {
  const runs = Number(values.runs);
  const loadBefore = load1();
  const raw = [];
  for (let r = 0; r < runs; r++) {
    const res = await runChild(fileURLToPath(import.meta.url), ['--child', '--reps', values.reps], {});
    raw.push({ run: r, ...res });
    console.error(`run ${r + 1}/${runs}: ${res.error ?? `ring p50 ${fmt(res.ring.p50, 3)} ms, node p50 ${fmt(res.node.p50, 3)} ms`}`);
  }
  const ok = raw.filter((x) => !x.error);
  const summary = {};
  for (const k of ['ring', 'ringOwn', 'node', 'abort', 'interval']) {
    summary[k] = {};
    for (const q of ['p50', 'p90', 'p99', 'max', 'min']) summary[k][q] = median(ok.map((x) => x[k][q]));
  }
  summary.interval.drift = median(ok.map((x) => x.interval.drift));
  summary.ringEarliest = Math.min(...ok.map((x) => x.ring.min)); // < 0: a ring sleep ended early
  console.log(`\ntimer benchmark: median over ${ok.length} runs of each run's quantiles, ms (sleeps of ${DURATIONS.join(', ')} ms, ${values.reps} of each)`);
  console.log('what                      p50      p90      p99      max');
  const row = (label, s) => console.log(`${label.padEnd(22)} ${[s.p50, s.p90, s.p99, s.max].map((v) => fmt(v, 3).padStart(8)).join(' ')}`);
  row('sleep (ring)', summary.ring);
  row('  less CPU waits', summary.ringOwn);
  row('setTimeout (Node)', summary.node);
  row('abort -> rejection', summary.abort);
  row(`interval(${INTERVAL_MS}) ticks`, summary.interval);
  console.log(`interval drift over ${INTERVAL_TICKS} ticks: ${fmt(summary.interval.drift, 3)} ms; earliest ring sleep: ${fmt(summary.ringEarliest, 3)} ms late`);
  const out = resolve(values.out);
  writeResults(out, `node bench/timers.mjs --runs ${runs} --reps ${values.reps}${outOption(out, DEFAULT_OUT)}`, loadBefore, { durations: DURATIONS, summary, raw });
}
