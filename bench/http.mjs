// HTTP/1.1 GET / -> "hello": gatio (fast handler, fetch handler, Hono)
// against uWebSockets.js, Bun.serve, node:http, Hono on @hono/node-server
// and Hono on Bun, interleaved. The server on CPU 0, wrk -t1 on CPU 1
// (docs/benchmarks.md). Per server and case: req/s, p50/p99 latency (wrk
// --latency), and the server's CPU time per request (/proc/<pid>/stat of
// every thread over wrk's run, warm-up excluded). Cases: -c50 (the headline),
// a sweep over 1, 8, 256 connections, and 16-deep pipelining at -c50
// (req/s only: wrk's latency is per batch then).
//
//   npm run bench:http -- [--runs 3] [--seconds 3] [--only name,name] [--server-cpu 0|1] [--out bench/results/http.json]
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interleaved, load1, medianOf, option, processCpuMs, startPinned, summarize, writeResults } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const RUNS = Number(option('runs', 3));
const SECONDS = Number(option('seconds', 3));
const WARMUP_S = 1;
const OUT = option('out', join(root, 'bench', 'results', 'http.json'));
const ONLY = option('only', '');
// --server-cpu 1 swaps the two (placement moved the ratios: issue 16)
const SERVER_CPU = Number(option('server-cpu', 0));
const LOAD_CPU = SERVER_CPU === 0 ? 1 : 0;
const bun = join(root, 'node_modules', '.bin', 'bun');

const node = (script, ...rest) => (port) => [process.execPath, join(here, 'http', script), String(port), ...rest];
const allServers = {
  'gatio fast': node('gatio.mjs', String(SERVER_CPU), 'fast'),
  'gatio fetch': node('gatio.mjs', String(SERVER_CPU), 'fetch'),
  uWebSockets: node('uws.mjs'),
  'Bun.serve': (port) => [bun, join(here, 'http', 'bun-serve.mjs'), String(port)],
  'node:http': node('node-http.mjs'),
  'gatio hono': node('gatio.mjs', String(SERVER_CPU), 'hono'),
  'hono node-server': node('node-hono.mjs'),
  'hono bun': (port) => [bun, join(here, 'http', 'bun-serve.mjs'), String(port), 'hono'],
};
const servers = Object.fromEntries(Object.entries(allServers).filter(([k]) => !ONLY || ONLY.split(',').includes(k)));
const cases = [
  { name: 'c50', conns: 50 },
  { name: 'c1', conns: 1 },
  { name: 'c8', conns: 8 },
  { name: 'c256', conns: 256 },
  { name: 'c50 pipelined x16', conns: 50, pipeline: true },
];


let nextPort = 19300;
async function startServer(name) {
  const port = nextPort++;
  return { port, ...(await startPinned(name, String(SERVER_CPU), servers[name](port))) };
}

function wrk(port, conns, seconds, pipeline) {
  const a = ['-c', String(LOAD_CPU), 'wrk', '-t1', `-c${conns}`, `-d${seconds}s`, '--latency'];
  if (pipeline) a.push('-s', join(here, 'http', 'pipeline.lua'));
  a.push(`http://127.0.0.1:${port}/`);
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', a, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited with ${code}: ${out}`))));
  });
}

const us = (s) => {
  const m = /([\d.]+)(us|ms|s)/.exec(s);
  return m ? Math.round(Number(m[1]) * (m[2] === "us" ? 1 : m[2] === "ms" ? 1000 : 1e6)) : NaN;
};

async function measure(srv, c) {
  await wrk(srv.port, c.conns, WARMUP_S, c.pipeline); // warm-up (JIT, connections' buffers)
  const cpu0 = processCpuMs(srv.pid);
  const out = await wrk(srv.port, c.conns, SECONDS, c.pipeline);
  const cpu = processCpuMs(srv.pid) - cpu0;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(out)?.[1] ?? '';
  return {
    reqPerSec: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    p50Us: c.pipeline ? null : us(/50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99Us: c.pipeline ? null : us(/99%\s+(\S+)/.exec(out)?.[1] ?? ''),
    serverCpuUsPerReq: (cpu * 1000) / requests,
    requests,
    non2xx,
    errors,
  };
}

const loadBefore = load1();
const runs = await interleaved({
  runs: RUNS,
  servers: Object.keys(servers),
  cases,
  start: startServer,
  measure,
  line: (r) => `${String(Math.round(r.reqPerSec)).padStart(8)} req/s  p50 ${r.p50Us ?? '-'} us  p99 ${r.p99Us ?? '-'} us  ${r.serverCpuUsPerReq.toFixed(2)} us CPU/req${r.non2xx ? `  non-2xx ${r.non2xx}` : ''}${r.errors ? `  errors ${r.errors}` : ''}`,
});

const summary = summarize(runs, cases, Object.keys(servers), (rs, c) => ({
  reqPerSec: medianOf(rs, 'reqPerSec'),
  p50Us: c.pipeline ? null : medianOf(rs, 'p50Us'),
  p99Us: c.pipeline ? null : medianOf(rs, 'p99Us'),
  serverCpuUsPerReq: medianOf(rs, 'serverCpuUsPerReq'),
}));
for (const c of cases) {
  const s = summary[c.name];
  const ratio = (a, b, f) => (s[a] && s[b] ? s[a][f] / s[b][f] : undefined);
  s.ratios = {
    'gatio fast / uWebSockets req/s': ratio('gatio fast', 'uWebSockets', 'reqPerSec'),
    'uWebSockets / gatio fast CPU per req': ratio('uWebSockets', 'gatio fast', 'serverCpuUsPerReq'),
    'gatio fast / Bun.serve req/s': ratio('gatio fast', 'Bun.serve', 'reqPerSec'),
    'gatio fast / node:http req/s': ratio('gatio fast', 'node:http', 'reqPerSec'),
    'gatio fetch / node:http req/s': ratio('gatio fetch', 'node:http', 'reqPerSec'),
    'gatio hono / hono node-server req/s': ratio('gatio hono', 'hono node-server', 'reqPerSec'),
    'gatio hono / hono bun req/s': ratio('gatio hono', 'hono bun', 'reqPerSec'),
  };
}
for (const [k, v] of Object.entries(summary)) {
  console.log(`\n${k} (median of ${RUNS}):`);
  for (const [n, m] of Object.entries(v)) if (n !== 'ratios') console.log(`  ${n.padEnd(17)} ${String(Math.round(m.reqPerSec)).padStart(8)} req/s  p50 ${m.p50Us ?? '-'} us  p99 ${m.p99Us ?? '-'} us  ${m.serverCpuUsPerReq.toFixed(2)} us server CPU/req`);
  for (const [r, x] of Object.entries(v.ratios)) if (x !== undefined) console.log(`  ${r}: ${x.toFixed(2)}x`);
}
writeResults(OUT, `node bench/http.mjs --runs ${RUNS} --seconds ${SECONDS}${ONLY ? ` --only ${ONLY}` : ''}${SERVER_CPU !== 0 ? ` --server-cpu ${SERVER_CPU}` : ''}`, loadBefore, { serverCpu: SERVER_CPU, loadCpu: LOAD_CPU, summary, runs });
