// Connection steering over many short connections: which driver of a port
// gets a connection, under the kernel's reuseport hash ('hash') and under
// CPU steering ('cpu', a classic BPF program). Two clients, pinned to CPU 0
// and CPU 1, each open, read one line from and close `--conns` connections
// to a port served by one hybrid driver per CPU; the table counts, per
// client CPU, the connections each driver took, and the accepts whose
// packets the kernel processed on the accepting driver's CPU.
//
//   node bench/net-steering.mjs [--conns 2000] [--out bench/results/net-steering.json]
import { execFile } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start } from '../dist/index.js';
import { load1, outOption, writeResults } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const CONNS = Number(opt('conns', 2000));
const defaultOut = join(here, 'results', 'net-steering.json');
const OUT = opt('out', defaultOut);

function client(cpu, port) {
  const src = `const net = require('node:net'); (async () => { const seen = {}; const t0 = performance.now();
    for (let i = 0; i < ${CONNS}; i++) { const id = await new Promise((res, rej) => { const s = net.connect(${port}, '127.0.0.1'); let b = '';
      s.on('data', (d) => (b += d)); s.on('end', () => { s.destroy(); res(b.trim()); }); s.on('error', rej); }); seen[id] = (seen[id] ?? 0) + 1; }
    console.log(JSON.stringify({ seen, ms: performance.now() - t0 })); })();`;
  return new Promise((resolve, reject) => execFile('taskset', ['-c', String(cpu), process.execPath, '-e', src], { timeout: 300_000 }, (e, out) => (e ? reject(e) : resolve(JSON.parse(out)))));
}

const loadBefore = load1();
const results = {};
for (const steering of ['hash', 'cpu']) {
  const rt = await start({ modules: [join(here, 'net', 'handlers.mjs')], tpcs: [{ cores: [0, 1], drivers: 'hybrid' }], ports: [{ port: 0, protocol: 'tcp', handler: 'bench-who', host: '127.0.0.1', steering }] });
  try {
    const port = rt.ports()[0].port;
    const byCpu = {};
    for (const cpu of [0, 1]) byCpu[`client on CPU ${cpu}`] = await client(cpu, port);
    const st = await rt.stats();
    const ports = st.drivers.map((d) => ({ driver: d.id, pu: d.pu, ...(d.ports?.[0] ?? {}) }));
    results[steering] = {
      byCpu,
      drivers: ports.map((p) => ({ driver: p.driver, pu: p.pu, accepted: p.accepted, incomingLocal: p.incomingLocal, incomingOther: p.incomingOther })),
    };
    console.log(`\n${steering}:`);
    for (const [c, r] of Object.entries(byCpu)) console.log(`  ${c}: ${Object.entries(r.seen).map(([d, n]) => `driver ${d} ${n}`).join(', ')} (${Math.round((CONNS * 1000) / r.ms)} connections/s)`);
    for (const p of results[steering].drivers) console.log(`  driver ${p.driver} (CPU ${p.pu}): accepted ${p.accepted}, processed on its own CPU ${p.incomingLocal}, elsewhere ${p.incomingOther}`);
  } finally {
    await rt.shutdown();
  }
}
writeResults(OUT, `node bench/net-steering.mjs --conns ${CONNS}${outOption(OUT, defaultOut)}`, loadBefore, { results });
