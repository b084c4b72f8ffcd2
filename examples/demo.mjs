// The quick-start demo: the runtime's main job on this machine. It plans
// the machine, starts the runtime (one pinned driver per core), serves HTTP
// on a port, sends requests to it with Node's fetch (some handled by
// spawning a task on another driver), prints what answered where and the
// per-driver stats, and exits.
import { start, topology, doctor } from '../dist/index.js';

const t = topology();
console.log(`gatio sees ${t.nodes.length} NUMA node(s), ${t.cores.length} core(s), ${t.pus.length} PU(s); allowed PUs: ${t.allowed.pus.join(',')}`);

const rt = await start({
  modules: [new URL('./demo-handlers.mjs', import.meta.url).pathname],
  ports: [{ port: 0, protocol: 'http', handler: 'demo', host: '127.0.0.1' }],
});
const drivers = rt.plan.drivers;
console.log(`\nplan: ${rt.plan.tpcs.length} TPC(s); drivers ${drivers.map((d) => `${d.name} on PU ${d.pu}`).join(', ')}`);
const port = rt.ports()[0].port;
console.log(`serving HTTP on 127.0.0.1:${port} (every hybrid driver accepts on its own SO_REUSEPORT socket)\n`);

const base = `http://127.0.0.1:${port}`;
const asks = [];
for (let i = 0; i < 6; i++) asks.push(['/', fetch(`${base}/`, { headers: { connection: 'close' } })]);
for (const n of [20_000, 50_000, 100_000]) asks.push([`/primes/${n}`, fetch(`${base}/primes/${n}`, { headers: { 'x-drivers': String(drivers.length), connection: 'close' } })]);
for (const [path, p] of asks) {
  const r = await p;
  const body = await r.json();
  const task = body.taskRanOn ? `, ${body.primes} primes counted by a task on ${body.taskRanOn}` : '';
  console.log(`GET ${path.padEnd(14)} ${r.status}  served by ${body.servedBy}${task}`);
}

const st = await rt.stats();
console.log('\nper driver:');
for (const d of st.drivers) {
  const http = (d.ports ?? []).find((p) => p.http)?.http;
  const tasks = (d.queues ?? []).reduce((n, q) => n + (q.started ?? 0), 0);
  console.log(`  ${d.name.padEnd(14)} http requests ${http?.requests ?? 0}, connections accepted ${(d.ports ?? []).reduce((n, p) => n + p.accepted, 0)}, tasks run ${tasks}`);
}

await rt.shutdown();
const report = doctor({ placement: false });
const bad = report.checks.filter((c) => c.status !== 'ok');
console.log(`\ndoctor: ${report.checks.length - bad.length}/${report.checks.length} checks ok${bad.length ? '; run `gatio doctor` for the rest' : ''}`);
