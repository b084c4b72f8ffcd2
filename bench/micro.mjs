#!/usr/bin/env node
// Micro benchmark: what the driver loop's building blocks cost on one
// thread, with nothing else going on in the process.
//
//   npm run bench:micro                # 5 runs
//   node bench/micro.mjs --runs 3
//
// Each run is a fresh child process that measures every case in turn
// (warm-up, then as many operations as fit in --ms milliseconds); reported:
// the median over runs. Cases:
// - queuePushDrain: ns per message through a MessageQueue (the drivers'
//   inbox format) in arena memory: 64 tryPush of a 32-byte payload, then
//   one drain(), repeated; one thread, so no contention and no wakeups
// - ringIdleTurn: ns per Ring.turn() with nothing queued and nothing to
//   reap (one N-API call; no syscall)
// - ringNop: ns per NOP queued and reaped one at a time (nop + turn: one
//   io_uring_enter each)
// - ringNop64: ns per NOP with 64 queued per turn()
// - codecArgs / v8SerializeArgs / structuredCloneArgs: ns per round trip
//   of typical spawn arguments ([42, 'user-42', { id, tags: [...], at }]):
//   the codec (encodeInto a scratch buffer + decode), beside v8.serialize +
//   deserialize and structuredClone, the peers a worker pool uses
// - codecBytes: the same with a 4 KiB Uint8Array
// - abortController: ns per `new AbortController().signal`, what a task
//   context would pay per task if it made one eagerly
// - probeIoUring: ms per probeIoUring(), the io_uring probe behind
//   `gatio doctor` (rings created and closed for real)
import { fmt, load1, median, outOption, runChild, writeResults } from './lib.mjs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUT = join(here, 'results', 'micro.json');
const CASES = ['queuePushDrain', 'ringIdleTurn', 'ringNop', 'ringNop64', 'codecArgs', 'v8SerializeArgs', 'structuredCloneArgs', 'codecBytes', 'abortController', 'probeIoUring'];
const UNIT = { probeIoUring: 'ms' };

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    ms: { type: 'string', default: '500' },
    child: { type: 'boolean', default: false },
    out: { type: 'string', default: DEFAULT_OUT },
  },
});

if (values.child) {
  process.stdout.write(JSON.stringify(await measure(Number(values.ms))));
  process.exit(0);
} else {
  await orchestrate();
}

/**
 * Nanoseconds per operation of `batch()`, which does `ops` operations:
 * a warm-up of a fifth of `ms`, then batches until `ms` have passed.
 */
function nsPerOp(batch, ops, ms) {
  const run = (budget) => {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < budget) {
      batch();
      n += ops;
      t = performance.now();
    }
    return ((t - t0) * 1e6) / n;
  };
  run(ms / 5);
  return run(ms);
}

async function measure(ms) {
  const { Arena, MessageQueue, Ring, probeIoUring, encodeInto, decode } = await import('../dist/internals.js');
  const v8 = await import('node:v8');
  const arena = Arena.create({ node: 0, bytes: '4MiB', prefault: true });
  const out = {};
  let sink = 0;
  try {
    // queue: 64 pushes, one drain
    const capacity = 1024;
    const slotBytes = 256;
    const qb = arena.alloc(MessageQueue.bytesFor(capacity, slotBytes), 64);
    const q = MessageQueue.init(arena.buffer, qb.offset, capacity, slotBytes);
    const payload = new Uint8Array(32).fill(7);
    const onMessage = (bytes, offset, len) => (sink += bytes[offset] + len);
    out.queuePushDrain = nsPerOp(() => {
      for (let i = 0; i < 64; i++) if (!q.tryPush(payload)) throw new Error('queue full');
      if (q.drain(onMessage) !== 64) throw new Error('drain lost messages');
    }, 64, ms);

    const ring = Ring.create({ arena, entries: 256 });
    out.ringMode = ring.mode;
    out.ringIdleTurn = nsPerOp(() => {
      for (let i = 0; i < 100; i++) sink += ring.turn();
    }, 100, ms);
    let ud = 0;
    const reap = (want) => {
      let got = 0;
      while (got < want) got += ring.turn();
      sink += got;
    };
    out.ringNop = nsPerOp(() => {
      ring.nop(++ud);
      reap(1);
    }, 1, ms);
    out.ringNop64 = nsPerOp(() => {
      for (let i = 0; i < 64; i++) ring.nop(++ud);
      reap(64);
    }, 64, ms);
    ring.close();

    const args = [42, 'user-42', { id: 7, tags: ['a', 'bb', 'ccc'], at: 1.5, ok: true }];
    const scratch = new Uint8Array(64 * 1024);
    const codecTrip = (v) => () => {
      for (let i = 0; i < 100; i++) {
        const n = encodeInto(v, scratch, 24);
        sink += decode(scratch, 24, n) === undefined ? 0 : 1;
      }
    };
    out.codecArgs = nsPerOp(codecTrip(args), 100, ms);
    out.v8SerializeArgs = nsPerOp(() => {
      for (let i = 0; i < 100; i++) sink += v8.deserialize(v8.serialize(args)) === undefined ? 0 : 1;
    }, 100, ms);
    out.structuredCloneArgs = nsPerOp(() => {
      for (let i = 0; i < 100; i++) sink += structuredClone(args) === undefined ? 0 : 1;
    }, 100, ms);
    out.codecBytes = nsPerOp(codecTrip([new Uint8Array(4096).fill(1)]), 100, ms);

    out.abortController = nsPerOp(() => {
      for (let i = 0; i < 100; i++) sink += new AbortController().signal.aborted ? 1 : 0;
    }, 100, ms);

    const probes = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      sink += probeIoUring().ok ? 1 : 0;
      probes.push(performance.now() - t0);
    }
    out.probeIoUring = median(probes.slice(5));
  } finally {
    arena.close();
  }
  out.sink = sink; // keeps the measured work observable
  return out;
}

async function orchestrate() {
  const runs = Number(values.runs);
  const loadBefore = load1();
  const raw = [];
  for (let r = 0; r < runs; r++) {
    const res = await runChild(fileURLToPath(import.meta.url), ['--child', '--ms', values.ms], {});
    raw.push({ run: r, ...res });
    console.error(`run ${r + 1}/${runs}: ${res.error ?? CASES.map((c) => `${c} ${fmt(res[c], 2)}`).join(', ')}`);
  }
  const ok = raw.filter((x) => !x.error);
  const summary = Object.fromEntries(CASES.map((c) => [c, median(ok.map((x) => x[c]))]));
  summary.ringMode = ok[0]?.ringMode;
  console.log(`\nmicro benchmark: median of ${ok.length} runs (ring mode ${summary.ringMode})`);
  for (const c of CASES) console.log(`${c.padEnd(18)} ${fmt(summary[c], 2).padStart(10)} ${UNIT[c] ?? 'ns'}`);
  const out = resolve(values.out);
  writeResults(out, `node bench/micro.mjs --runs ${runs} --ms ${values.ms}${outOption(out, DEFAULT_OUT)}`, loadBefore, { units: { ...Object.fromEntries(CASES.map((c) => [c, UNIT[c] ?? 'ns'])) }, summary, raw });
}
