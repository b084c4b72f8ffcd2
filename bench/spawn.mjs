#!/usr/bin/env node
// Spawn benchmark: gatio against piscina, tinypool and workerpool, side by
// side in one run, at the same thread count.
//
//   npm run bench:spawn                       # 5 runs, threads 1 and 2
//   node bench/spawn.mjs --runs 3 --threads 2 # fewer
//
// Each (run, implementation, thread count) is a fresh child process, and the
// runs are interleaved (run 1 of every implementation, then run 2, ...), so
// machine noise hits them alike. Reported: the median over runs of each
// metric and its ratio to piscina's. Results go to bench/results/spawn.json.
//
// Metrics, per implementation:
// - tinyOps: tasks/s for `add(a, b)` with up to WINDOW tasks in flight
// - work1usOps: the same for a task that spins ~1 µs
// - hotP50/hotP99: µs from call to result, one task at a time, back to back
// - coldP50/coldP99: µs for one task after 20 ms of idleness (threads parked), 200 of them
//
// Two more rows when run as root on a kernel with per-CPU PM QoS: gatio-poll
// (runtime.wakeLatencyUs: 0, the drivers' CPUs poll instead of halting when
// idle) and piscina-poll (the same for every CPU, through the kernel's
// /dev/cpu_dma_latency, held by the child): a cold call's wakeup without the
// idle-state exit (docs/benchmarks.md, "Cold calls").
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { fmt, load1, median, outOption, quantile, runChild, writeResults } from './lib.mjs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const POLL_IMPLS = ['gatio-poll', 'piscina-poll'];
/** Why the -poll rows cannot run here, or null. */
const noPoll = () =>
  process.getuid?.() !== 0 ? 'they need root' : !existsSync('/sys/devices/system/cpu/cpu0/power/pm_qos_resume_latency_us') ? 'this kernel has no per-CPU PM QoS' : null;
const IMPLS = ['gatio', 'piscina', 'tinypool', 'workerpool', ...(noPoll() ? [] : POLL_IMPLS)];
const WINDOW = 1024; // tasks in flight in the throughput runs
const DEFAULT_OUT = join(here, 'results', 'spawn.json');

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1,2' },
    impl: { type: 'string' },
    child: { type: 'boolean', default: false },
    tasks: { type: 'string', default: '200000' },
    out: { type: 'string', default: DEFAULT_OUT },
  },
});

if (values.child) {
  const result = await measure(values.impl, Number(values.threads), Number(values.tasks));
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
} else {
  await orchestrate();
}

// ---------------------------------------------------------------------------

async function makePool(impl, threads) {
  const poolWorker = join(here, 'peers', 'pool-worker.mjs');
  switch (impl) {
    case 'piscina-poll':
    case 'piscina': {
      const { Piscina } = await import('piscina');
      const pool = new Piscina({ filename: pathToFileURL(poolWorker).href, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
      return { run: (name, args) => pool.run(args, { name }), close: () => pool.destroy() };
    }
    case 'tinypool': {
      const { default: Tinypool } = await import('tinypool');
      const pool = new Tinypool({ filename: pathToFileURL(poolWorker).href, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
      return { run: (name, args) => pool.run(args, { name }), close: () => pool.destroy() };
    }
    case 'workerpool': {
      const { default: workerpool } = await import('workerpool');
      const pool = workerpool.pool(join(here, 'peers', 'workerpool-worker.mjs'), { minWorkers: threads, maxWorkers: threads, workerType: 'thread' });
      return { run: (name, args) => pool.exec(name, args), close: () => pool.terminate() };
    }
    case 'gatio-poll':
    case 'gatio': {
      const { start } = await import('gatio');
      const rt = await start({
        tpcs: [{ node: 0, cores: threads }],
        modules: [join(here, 'tasks.mjs')],
        runtime: impl === 'gatio-poll' ? { wakeLatencyUs: 0 } : {},
      });
      return { run: (name, args) => rt.spawn(name, args), close: () => rt.shutdown({ deadline: 1000 }) };
    }
    default:
      throw new Error(`unknown implementation "${impl}" (one of ${IMPLS.join(', ')})`);
  }
}

async function throughput(pool, name, total) {
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const launch = () => {
      while (next < total && next - done < WINDOW) {
        const i = next++;
        pool.run(name, [i, 1]).then(() => {
          if (++done === total) resolve();
          else launch();
        }, reject);
      }
    };
    launch();
  });
  return total / ((performance.now() - t0) / 1000);
}

async function latencies(pool, count, idleMs) {
  const out = [];
  for (let i = 0; i < count; i++) {
    if (idleMs) await new Promise((r) => setTimeout(r, idleMs));
    const t0 = performance.now();
    await pool.run('add', [i, 1]);
    out.push((performance.now() - t0) * 1000);
  }
  return { p50: quantile(out, 0.5), p99: quantile(out, 0.99) };
}

async function measure(impl, threads, tasks) {
  // Every CPU's idle states bounded to 0 µs while this file is open (the kernel drops the request when it closes).
  const qos = impl === 'piscina-poll' ? openSync('/dev/cpu_dma_latency', 'w') : undefined;
  if (qos !== undefined) writeSync(qos, Buffer.from(new Int32Array([0]).buffer));
  const pool = await makePool(impl, threads);
  try {
    await throughput(pool, 'add', Math.min(20_000, tasks)); // warm up
    const tinyOps = await throughput(pool, 'add', tasks);
    const work1usOps = await throughput(pool, 'work1us', Math.floor(tasks / 2));
    await latencies(pool, 2000, 0); // warm up
    const hot = await latencies(pool, 20_000, 0);
    const cold = await latencies(pool, 200, 20);
    return { impl, threads, tinyOps, work1usOps, hotP50: hot.p50, hotP99: hot.p99, coldP50: cold.p50, coldP99: cold.p99 };
  } finally {
    await pool.close();
    if (qos !== undefined) closeSync(qos);
  }
}

async function orchestrate() {
  const runs = Number(values.runs);
  const threadCounts = values.threads.split(',').map(Number);
  const impls = values.impl ? values.impl.split(',') : IMPLS;
  if (!values.impl && noPoll()) console.error(`no ${POLL_IMPLS.join('/')} rows: ${noPoll()}`);
  const loadBefore = load1();
  const raw = [];
  for (let r = 0; r < runs; r++) {
    for (const threads of threadCounts) {
      for (const impl of impls) {
        const res = await runChild(
          fileURLToPath(import.meta.url),
          ['--child', '--impl', impl, '--threads', String(threads), '--tasks', values.tasks],
          { impl, threads },
        );
        raw.push({ run: r, ...res });
        console.error(`run ${r + 1}/${runs} ${impl} x${threads}: ${res.error ?? `${Math.round(res.tinyOps)} tiny/s, hot p50 ${res.hotP50.toFixed(1)} µs`}`);
      }
    }
  }
  const metrics = ['tinyOps', 'work1usOps', 'hotP50', 'hotP99', 'coldP50', 'coldP99'];
  const summary = [];
  for (const threads of threadCounts) {
    const base = {};
    for (const impl of impls) {
      const rows = raw.filter((x) => x.impl === impl && x.threads === threads && !x.error);
      const m = { impl, threads, runs: rows.length };
      for (const k of metrics) m[k] = median(rows.map((x) => x[k]));
      summary.push(m);
      if (impl === 'piscina') Object.assign(base, m);
    }
    for (const m of summary.filter((s) => s.threads === threads)) {
      // ratios vs piscina: > 1 is better for gatio on throughput, < 1 is better on latency
      m.vsPiscina = Object.fromEntries(metrics.map((k) => [k, base[k] ? m[k] / base[k] : NaN]));
    }
  }
  console.log(`\nspawn benchmark: median of ${runs} runs (node ${process.version}, ${cpus().length} CPUs)`);
  console.log('impl        thr  tiny ops/s  (x piscina)  1µs ops/s  (x piscina)  hot p50 µs  hot p99 µs  cold p50 µs  cold p99 µs');
  for (const m of summary) {
    console.log(
      `${m.impl.padEnd(12)}${String(m.threads).padStart(3)}  ${fmt(m.tinyOps, 0).padStart(10)}  ${fmt(m.vsPiscina.tinyOps, 2).padStart(11)}  ` +
        `${fmt(m.work1usOps, 0).padStart(9)}  ${fmt(m.vsPiscina.work1usOps, 2).padStart(11)}  ${fmt(m.hotP50).padStart(10)}  ${fmt(m.hotP99).padStart(10)}  ` +
        `${fmt(m.coldP50).padStart(11)}  ${fmt(m.coldP99).padStart(11)}`,
    );
  }
  const out = resolve(values.out);
  const command =
    `node bench/spawn.mjs --runs ${runs} --threads ${values.threads} --tasks ${values.tasks}` +
    (values.impl ? ` --impl ${values.impl}` : '') +
    outOption(out, DEFAULT_OUT);
  writeResults(out, command, loadBefore, { summary, raw });
}
