#!/usr/bin/env node
// io driver benchmark: the rate of NOP round trips through a native io
// driver (request message -> io_uring NOP -> completion message), from a
// task on a hybrid driver and from the main thread.
//
//   npm run bench:io                      # 5 runs, spinUs 50 and 0
//   node bench/io-nop.mjs --runs 3 --spin 50
//
// Plan: one TPC of cores 0 and 1, the io driver on core 0 and a hybrid
// driver on core 1 (the main thread is not pinned). Each (run, spinUs) is
// a fresh child process; runs are interleaved. Reported: medians over runs.
//
// Metrics:
// - taskWindowOps / mainWindowOps: nops/s with up to --window in flight
// - taskSeqUs / mainSeqUs: µs per round trip, one nop at a time
// --main-cpu N pins the main thread to CPU N for its rows (default: not
// pinned, as start() leaves it when no spare core exists).
// spinUs is the runtime knob: how long an idle driver (the io driver
// included) polls before it parks. 0 shows the cost of waking parked threads.
import { fmt, load1, median, outOption, runChild, writeResults } from './lib.mjs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUT = join(here, 'results', 'io-nop.json');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    spin: { type: 'string', default: '50,0' },
    window: { type: 'string', default: '64' },
    nops: { type: 'string', default: '200000' },
    'main-cpu': { type: 'string', default: '' },
    child: { type: 'boolean', default: false },
    out: { type: 'string', default: DEFAULT_OUT },
  },
});

if (values.child) {
  const mainCpu = values['main-cpu'] === '' ? undefined : Number(values['main-cpu']);
  process.stdout.write(JSON.stringify(await measure(Number(values.spin), Number(values.window), Number(values.nops), mainCpu)));
  process.exit(0);
} else {
  await orchestrate();
}

async function measure(spinUs, window, nops, mainCpu) {
  const { start, io, pinThread } = await import('gatio');
  const { nopWindow } = await import('./io-tasks.mjs');
  const rt = await start({
    tpcs: [{ node: 0, cores: [0, 1], drivers: { perCore: { 0: 'io', 1: 'hybrid' } } }],
    modules: [join(here, 'io-tasks.mjs')],
    runtime: { spinUs },
  });
  try {
    const seqN = Math.max(1000, Math.floor(nops / 10));
    await rt.spawn('nopWindow', [20_000, window]); // warm up
    const taskWindowOps = await rt.spawn('nopWindow', [nops, window]);
    const taskSeqUs = await rt.spawn('nopSeq', [seqN]);
    if (mainCpu !== undefined) pinThread([mainCpu]); // the main-thread rows, off the io driver's core
    await nopWindow(20_000, window); // warm up
    let t0 = performance.now();
    await nopWindow(nops, window);
    const mainWindowOps = nops / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    for (let i = 0; i < seqN; i++) await io.nop();
    const mainSeqUs = ((performance.now() - t0) * 1000) / seqN;
    const s = rt.driverStats()[0];
    return { spinUs, window, nops, mainCpu: mainCpu ?? null, taskWindowOps, taskSeqUs, mainWindowOps, mainSeqUs, ioParks: s.parks, ioWakeups: s.wakeups, ioTurns: s.turns, ioRequests: s.messages };
  } finally {
    await rt.shutdown({ deadline: 1000 });
  }
}

async function orchestrate() {
  const runs = Number(values.runs);
  const spins = values.spin.split(',').map(Number);
  const loadBefore = load1();
  const raw = [];
  for (let r = 0; r < runs; r++) {
    for (const spinUs of spins) {
      const res = await runChild(
        fileURLToPath(import.meta.url),
        ['--child', '--spin', String(spinUs), '--window', values.window, '--nops', values.nops, '--main-cpu', values['main-cpu']],
        { spinUs },
      );
      raw.push({ run: r, ...res });
      console.error(
        `run ${r + 1}/${runs} spinUs ${spinUs}: ` +
          (res.error ?? `task ${Math.round(res.taskWindowOps)} nops/s, ${res.taskSeqUs.toFixed(1)} µs; main ${Math.round(res.mainWindowOps)} nops/s, ${res.mainSeqUs.toFixed(1)} µs`),
      );
    }
  }
  const metrics = ['taskWindowOps', 'taskSeqUs', 'mainWindowOps', 'mainSeqUs'];
  const summary = spins.map((spinUs) => {
    const rows = raw.filter((x) => x.spinUs === spinUs && !x.error);
    return { spinUs, window: Number(values.window), runs: rows.length, ...Object.fromEntries(metrics.map((k) => [k, median(rows.map((x) => x[k]))])) };
  });
  console.log(`\nio nop benchmark: median of ${runs} runs, window ${values.window}, main thread ${values['main-cpu'] ? `pinned to CPU ${values['main-cpu']}` : 'not pinned'} (node ${process.version}, ${cpus().length} CPUs)`);
  console.log('spinUs   task nops/s   task seq µs   main nops/s   main seq µs');
  for (const m of summary) {
    console.log(
      `${String(m.spinUs).padStart(6)}  ${fmt(m.taskWindowOps, 0).padStart(12)}  ${fmt(m.taskSeqUs).padStart(12)}  ${fmt(m.mainWindowOps, 0).padStart(12)}  ${fmt(m.mainSeqUs).padStart(12)}`,
    );
  }
  const out = resolve(values.out);
  const command =
    `node bench/io-nop.mjs --runs ${runs} --spin ${values.spin} --window ${values.window} --nops ${values.nops}` +
    (values['main-cpu'] ? ` --main-cpu ${values['main-cpu']}` : '') +
    outOption(out, DEFAULT_OUT);
  writeResults(out, command, loadBefore, { summary, raw });
}
