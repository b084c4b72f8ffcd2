// What one lone client sees: one connection, requests one after another,
// with pauses of 0, 1 and 20 ms between them (the server idles, and a
// driver parks, before each), then wrk -c1 for HTTP. Servers side by side
// in one run, interleaved: TCP echo on gatio (hybrid, io+exec) beside the C
// io_uring echo (bench/net/echo-uring.c) and node:net; HTTP GET / on gatio's
// fast handler (hybrid, io+exec) beside node:http and uWebSockets.js. The
// server on CPU 0 (io+exec: its exec driver on CPU 1), the client
// (bench/net/rtt.c, C) on CPU 1. Per case: p50, p99, p99.9 of the round
// trips, and the server's CPU time per request.
//
//   npm run bench:latency -- [--runs 3] [--scale 1] [--only tcp|http] [--out bench/results/latency.json]
//
// --scale multiplies the trip counts (5000, 1000, 250 at 0, 1, 20 ms). Each
// server first gets 3,000 untimed back-to-back trips (JIT warm-up).
// p99.9 of 250 trips is their maximum but one: read it as "the worst".
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, interleaved, load1, medianOf, option, processCpuMs, startPinned, summarize, writeResults } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const RUNS = Number(option('runs', 3));
const SCALE = Number(option('scale', 1));
const ONLY = option('only', '');
const OUT = option('out', join(root, 'bench', 'results', 'latency.json'));
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const WARMUP_TRIPS = 3000;

const bin = join(root, 'build', 'bench-net');
mkdirSync(bin, { recursive: true });
execFileSync('gcc', ['-O2', '-o', join(bin, 'echo-uring'), join(here, 'net', 'echo-uring.c'), '-luring']);
execFileSync('gcc', ['-O2', '-o', join(bin, 'rtt'), join(here, 'net', 'rtt.c')]);

const node = (...argv) => (port) => [process.execPath, ...argv.map((a) => (a === 'PORT' ? String(port) : a))];
const groups = {
  tcp: {
    'c-io_uring': (port) => [join(bin, 'echo-uring'), String(port)],
    'node:net': node(join(here, 'net', 'node-echo.mjs'), 'PORT'),
    'gatio-hybrid': node(join(here, 'net', 'gatio-echo.mjs'), 'PORT', String(SERVER_CPU)),
    'gatio-io+exec': node(join(here, 'net', 'gatio-echo.mjs'), 'PORT', String(SERVER_CPU), 'io+exec'),
  },
  http: {
    'node:http': node(join(here, 'http', 'node-http.mjs'), 'PORT'),
    uWebSockets: node(join(here, 'http', 'uws.mjs'), 'PORT'),
    'gatio-hybrid': node(join(here, 'http', 'gatio.mjs'), 'PORT', String(SERVER_CPU), 'fast'),
    'gatio-io+exec': node(join(here, 'http', 'gatio.mjs'), 'PORT', String(SERVER_CPU), 'fast', 'io+exec', String(CLIENT_CPU)),
  },
};
const trips = (n) => Math.max(20, Math.round(n * SCALE));
const sequentialCases = [
  { name: 'back to back', pauseUs: 0, trips: trips(5000) },
  { name: '1 ms pauses', pauseUs: 1000, trips: trips(1000) },
  { name: '20 ms pauses', pauseUs: 20000, trips: trips(250) },
];

let nextPort = 19500;
async function startServer(group, name) {
  const port = nextPort++;
  const cpus = name === 'gatio-io+exec' ? `${SERVER_CPU},${CLIENT_CPU}` : String(SERVER_CPU);
  const srv = { port, ...(await startPinned(name, cpus, groups[group][name](port))) };
  // Warm-up, untimed, for every server alike: a JIT compiles the hot path first (a C server needs none, and loses nothing).
  await run(join(bin, 'rtt'), [String(port), group, String(WARMUP_TRIPS), '0']);
  return srv;
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', String(CLIENT_CPU), cmd, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

async function measure(group, srv, c) {
  const cpu0 = processCpuMs(srv.pid);
  if (c.wrk) {
    const out = await run('wrk', ['-t1', '-c1', `-d${c.seconds}s`, '--latency', `http://127.0.0.1:${srv.port}/`]);
    const reqs = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
    const total = Number(/(\d+) requests in/.exec(out)[1]);
    const lat = (p) => {
      const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
      return m ? Number(m[1]) * { us: 1, ms: 1000, s: 1e6 }[m[2]] : NaN;
    };
    return { reqPerSec: reqs, p50Us: lat(50), p99Us: lat(99), serverCpuUsPerReq: ((processCpuMs(srv.pid) - cpu0) * 1000) / total };
  }
  const r = JSON.parse(await run(join(bin, 'rtt'), [String(srv.port), group, String(c.trips), String(c.pauseUs)]));
  // The server's CPU over the case: the trips and the pauses (a spinning server burns CPU while it waits)
  return { ...r, serverCpuUsPerReq: ((processCpuMs(srv.pid) - cpu0) * 1000) / (r.trips + 10) };
}

const loadBefore = load1();
const results = {};
for (const group of Object.keys(groups).filter((g) => !ONLY || g === ONLY)) {
  const cases = group === 'http' ? [...sequentialCases, { name: 'wrk -c1', wrk: true, seconds: 3 }] : sequentialCases;
  const servers = Object.keys(groups[group]);
  const runs = await interleaved({
    runs: RUNS,
    servers,
    cases,
    start: (name) => startServer(group, name),
    measure: (srv, c) => measure(group, srv, c),
    line: (r) =>
      r.reqPerSec !== undefined
        ? `${Math.round(r.reqPerSec)} req/s  p50 ${fmt(r.p50Us, 0)} us  p99 ${fmt(r.p99Us, 0)} us  ${fmt(r.serverCpuUsPerReq)} us server CPU/req`
        : `p50 ${fmt(r.p50Us, 0)} us  p99 ${fmt(r.p99Us, 0)} us  p99.9 ${fmt(r.p999Us, 0)} us  ${fmt(r.serverCpuUsPerReq)} us server CPU/req`,
  });
  const summary = summarize(runs, cases, servers, (rs) => ({
    ...(rs[0]?.reqPerSec !== undefined ? { reqPerSec: medianOf(rs, 'reqPerSec') } : { p999Us: medianOf(rs, 'p999Us') }),
    p50Us: medianOf(rs, 'p50Us'),
    p99Us: medianOf(rs, 'p99Us'),
    serverCpuUsPerReq: medianOf(rs, 'serverCpuUsPerReq'),
  }));
  // Against the best peer of the group: the C echo for TCP, uWebSockets.js for HTTP.
  const peer = group === 'tcp' ? 'c-io_uring' : 'uWebSockets';
  for (const c of cases) {
    const s = summary[c.name];
    s.ratios = {};
    for (const g of ['gatio-hybrid', 'gatio-io+exec']) {
      s.ratios[`${g}/${peer} p50`] = s[g].p50Us / s[peer].p50Us;
      s.ratios[`${g}/${peer} p99`] = s[g].p99Us / s[peer].p99Us;
    }
  }
  results[group] = { summary, runs };
  console.log(`\n${group} (median of ${RUNS}):`);
  for (const c of cases) {
    console.log(`  ${c.name}${c.trips ? ` (${c.trips} trips)` : ''}:`);
    for (const n of servers) {
      const m = summary[c.name][n];
      console.log(`    ${n.padEnd(14)} ${m.reqPerSec !== undefined ? `${String(Math.round(m.reqPerSec)).padStart(6)} req/s  ` : ''}p50 ${fmt(m.p50Us, 0).padStart(5)} us  p99 ${fmt(m.p99Us, 0).padStart(5)} us${m.p999Us !== undefined ? `  p99.9 ${fmt(m.p999Us, 0).padStart(5)} us` : ''}  ${fmt(m.serverCpuUsPerReq).padStart(6)} us server CPU/req`);
    }
    for (const [k, v] of Object.entries(summary[c.name].ratios)) console.log(`    ${k}: ${v.toFixed(2)}x`);
  }
}

writeResults(OUT, `node bench/latency.mjs --runs ${RUNS} --scale ${SCALE}${ONLY ? ` --only ${ONLY}` : ''}`, loadBefore, { serverCpu: SERVER_CPU, clientCpu: CLIENT_CPU, ...results });
