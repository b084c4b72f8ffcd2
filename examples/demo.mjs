// The quick-start demo: what gatio sees on this machine, the plan it would
// run, and the two things the runtime stands on checked for real: a thread
// pinned to each planned PU, and a TPC arena whose pages are on its node.
import { Worker } from 'node:worker_threads';
import { topology, plan, formatPlan, Arena, formatSize, doctor } from '../dist/index.js';

const t = topology();
console.log(`gatio sees ${t.nodes.length} NUMA node(s), ${t.cores.length} core(s), ${t.pus.length} PU(s); allowed PUs: ${t.allowed.pus.join(',')}\n`);

const p = plan(t, { tpcs: 'auto' });
console.log(formatPlan(p), '\n');

// One worker per planned driver, each pinning itself to its PU and reporting
// where the kernel runs it.
const pinned = await Promise.all(
  p.drivers.map(
    (d) =>
      new Promise((resolve, reject) => {
        const w = new Worker(
          `const { workerData, parentPort } = require('node:worker_threads');
           import(workerData.entry).then(({ pinThread, threadBinding }) => {
             pinThread(workerData.pu);
             const until = Date.now() + 5; while (Date.now() < until); // let the scheduler migrate us
             parentPort.postMessage(threadBinding());
           });`,
          { eval: true, workerData: { pu: d.pu, entry: new URL('../dist/index.js', import.meta.url).href } },
        );
        w.once('message', (b) => resolve({ d, b }));
        w.once('error', reject);
      }),
  ),
);
for (const { d, b } of pinned) console.log(`driver ${d.name}: planned PU ${d.pu}, bound to [${b.cpus}], running on CPU ${b.cpu} (tid ${b.tid})`);

for (const tpc of p.tpcs) {
  const bytes = Math.min(tpc.arenaBytes, 16 * 1024 * 1024);
  const arena = Arena.create({ node: tpc.node, bytes, prefault: true });
  const block = arena.alloc(4096);
  arena.view(block).fill(7);
  const where = arena.placement();
  console.log(`\n${tpc.name} arena: ${formatSize(arena.bytes)} on node ${tpc.node}, pages per node ${JSON.stringify(where.perNode)}; a 4 KiB block at offset ${block.offset}`);
  arena.free(block);
  arena.close();
}

const report = doctor({ placement: false });
const bad = report.checks.filter((c) => c.status !== 'ok');
console.log(`\ndoctor: ${report.checks.length - bad.length}/${report.checks.length} checks ok${bad.length ? '; run `gatio doctor` for the rest' : ''}`);
