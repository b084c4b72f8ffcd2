// Shared by the benchmarks: each measurement runs in a child process of its
// own (a fresh runtime, no JIT or GC state carried over), results are
// summarised by their median, and written under bench/results/ with the
// exact command and what else the machine was doing.
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, relative } from 'node:path';

/** Runs `node script ...args` and resolves its stdout parsed as JSON, or `{ ...tag, error }`. */
export function runChild(script, args, tag, timeoutMs = 300_000) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve(code === 0 ? JSON.parse(out) : { ...tag, error: `exit ${code}` });
      } catch (err) {
        resolve({ ...tag, error: String(err) });
      }
    });
  });
}

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}

/** The q-quantile (0..1) of a list of numbers, by nearest rank. */
export function quantile(xs, q) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
}

/** The 1-minute load average now: > 0.2 or so means something else ran. */
export const load1 = () => loadavg()[0];

/** The code measured: $GATIO_COMMIT (set by scripts/bench.sh), else the git commit here. */
function commit() {
  if (process.env.GATIO_COMMIT) return process.env.GATIO_COMMIT;
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/**
 * Writes `{ command, commit, date, node, kernel, cpus, load1 (before, after), ...data }`
 * to `out`. `command` is the exact command line (the script and the options
 * given or defaulted), so the file says how to get it again; `loadBefore` is
 * load1() taken before the first child ran.
 */
export function writeResults(out, command, loadBefore, data) {
  mkdirSync(dirname(out), { recursive: true });
  const record = { command, commit: commit(), date: new Date().toISOString(), node: process.version, kernel: release(), cpus: cpus().length, load1: { before: loadBefore, after: load1() }, ...data };
  writeFileSync(out, JSON.stringify(record, null, 2) + '\n');
  console.log(`\nwritten to ${relative(process.cwd(), out) || out} (load average ${loadBefore.toFixed(2)} before, ${record.load1.after.toFixed(2)} after)`);
}

/** `--out FILE` for a command line, when not the benchmark's default file. */
export const outOption = (out, defaultOut) => (out === defaultOut ? '' : ` --out ${relative(process.cwd(), out) || out}`);

/** Fixed-width formatting for the summary tables: '-' for a missing value. */
export const fmt = (v, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '-');

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString());

/** utime + stime of every thread of process `pid`, in ms (/proc/<pid>/stat). */
export function processCpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** `names` in the order run `run` visits them: rotated by one each run, so that no server always goes first. */
export const rotated = (names, run) => names.slice(run % names.length).concat(names.slice(0, run % names.length));

/**
 * Every case against every server, `runs` times, each run visiting the
 * servers in a rotated order (a fresh server process per visit); `line(r)`
 * says one result on stdout. Returns the results, `{ run, server, case, ...r }`.
 */
export async function interleaved({ runs, servers, cases, start, measure, line }) {
  const out = [];
  for (let run = 0; run < runs; run++) {
    for (const name of rotated(servers, run)) {
      const srv = await start(name);
      try {
        for (const c of cases) {
          const r = await measure(srv, c);
          out.push({ run, server: name, case: c.name, ...r });
          console.log(`run ${run} ${name.padEnd(17)} ${c.name.padEnd(20)} ${line(r)}`);
        }
      } finally {
        await srv.stop();
      }
    }
  }
  return out;
}

/**
 * Per case and server, `row(results of that pair, case)`: summary[case][server].
 * `medianOf(rs, f)` is the usual row's field.
 */
export function summarize(results, cases, servers, row) {
  const summary = {};
  for (const c of cases) {
    summary[c.name] = {};
    for (const name of servers) summary[c.name][name] = row(results.filter((r) => r.case === c.name && r.server === name), c);
  }
  return summary;
}

/** The median of field `f` (a name, or a function of a result) over results. */
export const medianOf = (rs, f) => median(rs.map(typeof f === 'function' ? f : (r) => r[f]));

/** `--name value` from the command line, or `dflt`. */
export function option(name, dflt) {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
}

/**
 * Starts a server process under `taskset -c cpus` (taskset execs it: the
 * child's pid is the server's) and resolves once it printed "ready";
 * `stop()` sends SIGTERM (SIGKILL after 3 s) and waits for the exit.
 */
export async function startPinned(name, cpus, argv, env = process.env) {
  const [cmd, ...rest] = argv;
  const child = spawn('taskset', ['-c', cpus, cmd, ...rest], { stdio: ['ignore', 'pipe', 'inherit'], env });
  const lines = createInterface({ input: child.stdout });
  await new Promise((resolve, reject) => {
    lines.once('line', (l) => (l.startsWith('ready') ? resolve() : reject(new Error(`${name}: ${l}`))));
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
  });
  return {
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      clearTimeout(t);
    },
  };
}
