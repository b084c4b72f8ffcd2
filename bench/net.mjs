// TCP echo: gatio (a hybrid driver) against a C io_uring echo written for
// this bench (the limit: bench/net/echo-uring.c) and node:net, interleaved.
// The server runs on CPU 0, the load generator (bench/net/load.c, C, epoll,
// checks every echoed byte) on CPU 1. Per case and server: messages/s,
// p50/p99 round-trip latency, and the server's CPU time per message (from
// /proc/<pid>/stat over the measured window). Then the RSS of 10,000 idle
// connections, for two buffer sizes (it must not depend on them).
//
//   npm run bench:net -- [--runs 3] [--seconds 3] [--server-cpu 0|1] [--out bench/results/net.json]
//
// Needs gcc and liburing-dev (scripts/setup.sh installs them).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { interleaved, load1, medianOf, option, processCpuMs, startPinned, summarize, writeResults } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const RUNS = Number(option('runs', 3));
const SECONDS = Number(option('seconds', 3));
const WARMUP = 1;
const OUT = option('out', join(root, 'bench', 'results', 'net.json'));
// --server-cpu 1 swaps the two (placement moved the ratios: issue 16)
const SERVER_CPU = Number(option('server-cpu', 0));
const LOAD_CPU = SERVER_CPU === 0 ? 1 : 0;

const bin = join(root, 'build', 'bench-net');
mkdirSync(bin, { recursive: true });
execFileSync('gcc', ['-O2', '-o', join(bin, 'echo-uring'), join(here, 'net', 'echo-uring.c'), '-luring']);
execFileSync('gcc', ['-O2', '-o', join(bin, 'load'), join(here, 'net', 'load.c')]);

const servers = {
  'c-io_uring': (port) => [join(bin, 'echo-uring'), String(port)],
  'gatio-hybrid': (port) => [process.execPath, join(here, 'net', 'gatio-echo.mjs'), String(port), String(SERVER_CPU)],
  // The same without the driver's idle spin (runtime.spinUs 0): what the spin costs in CPU when the server waits for the load
  'gatio-nospin': (port) => [process.execPath, join(here, 'net', 'gatio-echo.mjs'), String(port), String(SERVER_CPU)],
  // io driver on CPU 0, exec driver on CPU 1 (no SMT sibling here): the load generator shares CPU 1 with the exec driver
  'gatio-io+exec': (port) => [process.execPath, join(here, 'net', 'gatio-echo.mjs'), String(port), String(SERVER_CPU), 'io+exec'],
  'node:net': (port) => [process.execPath, join(here, 'net', 'node-echo.mjs'), String(port)],
};
const cases = [
  { name: '64 B ping-pong, 64 connections', conns: 64, size: 64, depth: 1 },
  { name: '4 KiB, 4 in flight, 16 connections', conns: 16, size: 4096, depth: 4 },
];

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

let nextPort = 19100;
async function startServer(name, extraEnv = {}) {
  const port = nextPort++;
  if (name === 'gatio-nospin') extraEnv = { ...extraEnv, GATIO_BENCH_SPIN: '0' };
  const cpus = name === 'gatio-io+exec' ? `${SERVER_CPU},${LOAD_CPU}` : String(SERVER_CPU);
  return { port, ...(await startPinned(name, cpus, servers[name](port), { ...process.env, ...extraEnv })) };
}

/** One measured run of `c` against a running server. */
async function load(srv, c) {
  const child = spawn('taskset', ['-c', String(LOAD_CPU), join(bin, 'load'), String(srv.port), String(c.conns), String(c.size), String(c.depth), String(WARMUP), String(SECONDS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The server's CPU over the measured window only: sampled when the warm-up ends and when the load stops.
  const t0 = setTimeout(() => (cpu0 = processCpuMs(srv.pid)), WARMUP * 1000);
  let cpu0 = 0;
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise((r) => child.once('exit', r));
  clearTimeout(t0);
  const cpu = processCpuMs(srv.pid) - cpu0;
  if (code !== 0) throw new Error(`load exited with ${code}: ${out}`);
  const r = JSON.parse(out);
  return { ...r, serverCpuMs: cpu, serverCpuUsPerMsg: (cpu * 1000) / r.messages };
}

const loadBefore = load1();
const runs = await interleaved({
  runs: RUNS,
  servers: Object.keys(servers),
  cases,
  start: startServer,
  measure: load,
  line: (r) => `${String(Math.round(r.msgsPerSec)).padStart(8)} msg/s  p50 ${r.p50Us} us  p99 ${r.p99Us} us  server ${r.serverCpuUsPerMsg.toFixed(2)} us CPU/msg  errors ${r.errors}`,
});

const summary = summarize(runs, cases, Object.keys(servers), (rs) => ({
  msgsPerSec: medianOf(rs, 'msgsPerSec'),
  p50Us: medianOf(rs, 'p50Us'),
  p99Us: medianOf(rs, 'p99Us'),
  serverCpuUsPerMsg: medianOf(rs, 'serverCpuUsPerMsg'),
  clientCpuShare: medianOf(rs, (r) => r.clientCpuMs / (r.seconds * 1000)),
}));
for (const c of cases) {
  const s = summary[c.name];
  s.ratios = {
    'gatio/c throughput': s['gatio-hybrid'].msgsPerSec / s['c-io_uring'].msgsPerSec,
    'gatio/node throughput': s['gatio-hybrid'].msgsPerSec / s['node:net'].msgsPerSec,
    'c/gatio CPU per msg': s['c-io_uring'].serverCpuUsPerMsg / s['gatio-hybrid'].serverCpuUsPerMsg,
    'node/gatio CPU per msg': s['node:net'].serverCpuUsPerMsg / s['gatio-hybrid'].serverCpuUsPerMsg,
    'node/gatio-nospin CPU per msg': s['node:net'].serverCpuUsPerMsg / s['gatio-nospin'].serverCpuUsPerMsg,
    'gatio-io+exec/c throughput': s['gatio-io+exec'].msgsPerSec / s['c-io_uring'].msgsPerSec,
  };
}

// RSS of idle connections (the client is this process). The slope between
// 5,000 and 10,000 connections: what one more connection costs, without the
// one-time cost of faulting in the buffer ring (its pages are touched as the
// first connections use buffers; with transparent huge pages, whole 2 MiB
// pages at once).
async function idleRss(name, env) {
  const srv = await startServer(name, env);
  const socks = [];
  const open = async (n) => {
    for (let i = 0; i < n; i += 500) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(500, n - i) }, () => new Promise((resolve, reject) => {
          const s = net.connect(srv.port, '127.0.0.1', () => resolve(s));
          s.once('error', reject);
        })),
      );
      // One byte each, echoed: every connection has been through accept and a recv.
      await Promise.all(batch.map((s) => new Promise((r) => (s.once('data', r), s.write('x')))));
      socks.push(...batch);
    }
    await new Promise((r) => setTimeout(r, 300));
    return rssKiB(srv.pid);
  };
  try {
    const empty = rssKiB(srv.pid);
    const at5k = await open(5000);
    const at10k = await open(5000);
    return { emptyKiB: empty, at5kKiB: at5k, at10kKiB: at10k, perConnBytes: Math.round(((at10k - at5k) * 1024) / 5000) };
  } finally {
    for (const s of socks) s.destroy();
    await srv.stop();
  }
}
const idle = {
  'gatio-hybrid (16 KiB buffers)': await idleRss('gatio-hybrid', { GATIO_BENCH_BUF: '16384' }),
  'gatio-hybrid (64 KiB buffers)': await idleRss('gatio-hybrid', { GATIO_BENCH_BUF: '65536' }),
  'node:net': await idleRss('node:net', {}),
  'c-io_uring': await idleRss('c-io_uring', {}),
};

for (const [k, v] of Object.entries(summary)) {
  console.log(`\n${k} (median of ${RUNS}):`);
  for (const [n, m] of Object.entries(v)) if (n !== 'ratios') console.log(`  ${n.padEnd(13)} ${String(Math.round(m.msgsPerSec)).padStart(8)} msg/s  p50 ${m.p50Us} us  p99 ${m.p99Us} us  ${m.serverCpuUsPerMsg.toFixed(2)} us server CPU/msg  (load generator ${Math.round(m.clientCpuShare * 100)}% of its CPU)`);
  for (const [r, x] of Object.entries(v.ratios)) console.log(`  ${r}: ${x.toFixed(2)}x`);
}
console.log('\nRSS of 10,000 idle connections:');
for (const [k, v] of Object.entries(idle)) console.log(`  ${k.padEnd(30)} ${v.emptyKiB} KiB empty, ${v.at5kKiB} at 5,000, ${v.at10kKiB} at 10,000: ${v.perConnBytes} bytes per connection`);

writeResults(OUT, `node bench/net.mjs --runs ${RUNS} --seconds ${SECONDS}${SERVER_CPU !== 0 ? ` --server-cpu ${SERVER_CPU}` : ''}`, loadBefore, { serverCpu: SERVER_CPU, loadCpu: LOAD_CPU, summary, idle, runs });
