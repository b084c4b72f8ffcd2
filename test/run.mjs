#!/usr/bin/env node
// Runs every test/*.test.mjs in its own Node process (tests pin threads and
// map memory; isolation keeps one file's effects out of another), with a
// time limit per file, then prints one closing line: "N passed, N failed, N skipped".
//
// A test that cannot run because the kernel lacks a feature calls skip()
// from ./_support.mjs, which prints a "SKIP" line counted here (and not as a pass).
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const filter = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.mjs'))
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();
const LIMIT_MS = Number(process.env.GATIO_TEST_FILE_TIMEOUT_MS ?? 120_000);

const strip = (s) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];

for (const file of files) {
  const started = Date.now();
  const { code, out, timedOut } = await runFile(join(dir, file));
  const text = strip(out);
  const num = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(text)?.[1] ?? NaN);
  const total = num('Total');
  const ok = num('Passed');
  const uvuSkips = num('Skipped') || 0;
  const ourSkips = (text.match(/^SKIP /gm) ?? []).length;
  let fileFailed;
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    // No summary: the file crashed or hung before uvu reported. Count it as one failure.
    fileFailed = 1;
    failures.push(`${file}: ${timedOut ? `timed out after ${LIMIT_MS} ms` : `exited ${code} without a uvu summary`}`);
  } else {
    fileFailed = total - ok - uvuSkips;
    if (code !== 0 && fileFailed === 0) {
      fileFailed = 1;
      failures.push(`${file}: exited ${code}`);
    } else if (fileFailed > 0) failures.push(`${file}: ${fileFailed} failed`);
    passed += ok - ourSkips;
    skipped += uvuSkips + ourSkips;
  }
  failed += fileFailed;
  process.stdout.write(out.endsWith('\n') ? out : out + '\n');
  console.log(`-- ${file}: ${fileFailed === 0 ? 'ok' : 'FAILED'} (${Date.now() - started} ms)\n`);
}

if (failures.length) console.log(`Failures:\n  ${failures.join('\n  ')}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 && files.length > 0 ? 0 : 1);

function runFile(path) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, LIMIT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), out, timedOut });
    });
  });
}
