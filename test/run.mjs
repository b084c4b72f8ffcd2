#!/usr/bin/env node
// Runs every *.test.mjs of a folder (default: this one) in its own Node
// process (tests pin threads and map memory; isolation keeps one file's
// effects out of another), with a time limit per file, then prints one
// closing line: "N passed, N failed, N skipped".
//
// Counting is structural: test/_harness.mjs reports each test's
// registration, start and outcome as JSON records on a pipe of its own
// (fd 3), and the process's exit. A file fails when a test failed, when a
// declared test never finished (a hang, a crash, a throwing hook, a
// test.only), when it exits non-zero, or when it reports nothing at all (it
// threw at import, or does not use the harness). uvu's own text is shown,
// never parsed.
//
//   node test/run.mjs [--dir DIR] [--timeout MS] [--json FILE] [NAME-FILTER ...]
// --json writes the counts, failures and skips to FILE (scripts/flaky-sweep.sh).
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
let dir = dirname(fileURLToPath(import.meta.url));
let limitMs = Number(process.env.GATIO_TEST_FILE_TIMEOUT_MS ?? 120_000);
const filter = [];
let jsonOut;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--dir') dir = resolve(args[++i]);
  else if (args[i] === '--timeout') limitMs = Number(args[++i]);
  else if (args[i] === '--json') jsonOut = args[++i];
  else filter.push(args[i]);
}
if (!(limitMs > 0)) {
  console.error(`run.mjs: --timeout must be a positive number of ms, got ${limitMs}`);
  process.exit(2);
}
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.mjs'))
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();

const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];
const skips = [];

for (const file of files) {
  const started = Date.now();
  const run = await runFile(join(dir, file));
  const r = judge(file, run);
  totals.passed += r.passed;
  totals.failed += r.failed;
  totals.skipped += r.skipped;
  failures.push(...r.why.map((w) => `${file}: ${w}`));
  skips.push(...r.skips.map((s) => `${file}: ${s}`));
  process.stdout.write(run.out.endsWith('\n') || run.out === '' ? run.out : run.out + '\n');
  console.log(`-- ${file}: ${r.failed === 0 ? 'ok' : 'FAILED'} (${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped; ${Date.now() - started} ms)\n`);
}

if (files.length === 0) failures.push(`no *.test.mjs files in ${dir}${filter.length ? ` matching ${filter.join(', ')}` : ''}`);
if (skips.length) console.log(`Skipped:\n  ${skips.join('\n  ')}`);
if (failures.length) console.log(`Failures:\n  ${failures.join('\n  ')}`);
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ ...totals, failures, skips }, null, 2) + '\n');
process.exit(failures.length === 0 ? 0 : 1);

/** A file's counts from its records and how its process ended. */
function judge(file, { records, code, signal, timedOut, badLines }) {
  const key = (r) => `${r.suite}\u0000${r.test}`;
  const label = (r) => (r.suite ? `${r.suite} > ${r.test}` : r.test);
  const declared = new Map();
  const ended = new Map();
  let running;
  let exit;
  const only = [];
  for (const r of records) {
    if (r.t === 'registered') declared.set(key(r), r);
    else if (r.t === 'start') running = r;
    else if (r.t === 'end') {
      ended.set(key(r), r);
      if (running && key(running) === key(r)) running = undefined;
    } else if (r.t === 'only') only.push(label(r));
    else if (r.t === 'exit') exit = r.code;
  }
  const out = { passed: 0, failed: 0, skipped: 0, why: [], skips: [] };
  for (const r of ended.values()) {
    if (r.outcome === 'pass') out.passed++;
    else if (r.outcome === 'skip') {
      out.skipped++;
      out.skips.push(`${label(r)}: ${r.reason}`);
    } else {
      out.failed++;
      out.why.push(`failed: ${label(r)}`);
    }
  }
  const unfinished = [...declared.keys()].filter((k) => !ended.has(k));
  if (unfinished.length) {
    out.failed += unfinished.length;
    const what = timedOut
      ? `timed out after ${limitMs} ms${running ? ` in "${label(running)}"` : ''}`
      : running
        ? `ended inside "${label(running)}" (exit ${code ?? signal})`
        : only.length
          ? `test.only (${only.join(', ')}) kept the others from running`
          : `the tests never ran (a before hook threw, or test.run() was not called)`;
    out.why.push(`${unfinished.length} of ${declared.size} tests did not finish: ${what}`);
  } else if (only.length) {
    out.failed++;
    out.why.push(`test.only left in: ${only.join(', ')}`);
  }
  if (declared.size === 0) {
    out.failed++;
    out.why.push(
      timedOut
        ? `timed out after ${limitMs} ms before declaring a test`
        : `declared no test (it threw at import, or does not use test/_harness.mjs); exit ${code ?? signal}`,
    );
  } else if (timedOut) {
    // Every test finished, but the process stayed: an open handle (a channel, a server, a timer).
    if (out.failed === 0) out.failed++;
    out.why.push(`did not exit after its tests: killed at the ${limitMs} ms limit (something left open keeps it alive)`);
  } else if (out.failed === 0 && (code !== 0 || exit === undefined)) {
    // Every test finished, yet the process failed: a crash or an error after the tests.
    out.failed++;
    out.why.push(exit === undefined ? `its process died after the tests (${signal ?? `exit ${code}`})` : `exited ${code} after its tests passed`);
  }
  if (badLines) {
    out.failed++;
    out.why.push(`${badLines} unreadable report lines`);
  }
  return out;
}

function runFile(path) {
  return new Promise((done) => {
    const child = spawn(process.execPath, [path], {
      // fd 3: the harness's records, apart from whatever the tests print.
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0', GATIO_TEST_REPORT_FD: '3' },
    });
    let out = '';
    let report = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.stdio[3].on('data', (d) => (report += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const records = [];
      let badLines = 0;
      for (const line of report.split('\n')) {
        if (!line) continue;
        try {
          records.push(JSON.parse(line));
        } catch {
          badLines++;
        }
      }
      done({ records, code, signal, timedOut, badLines, out });
    });
  });
}
