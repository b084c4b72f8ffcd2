// test/run.mjs over fixture files whose outcomes are known: its counts, its
// exit code and its reasons must match them, whatever uvu prints.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { test } from './_harness.mjs';
import { fixtures, root } from './_support.mjs';

const dir = join(fixtures, 'runner');

/** Runs the runner over the fixtures matching `names`, with a short per-file limit. */
function run(...names) {
  const r = spawnSync(process.execPath, [join(root, 'test', 'run.mjs'), '--dir', dir, '--timeout', '3000', ...names], {
    encoding: 'utf8',
    env: { ...process.env, GATIO_TEST_REPORT_FD: '' }, // the runner's children get their own pipe
  });
  const out = r.stdout + r.stderr;
  const last = /^(\d+) passed, (\d+) failed, (\d+) skipped$/m.exec(out);
  assert.ok(last, `a closing line in:\n${out}`);
  return { code: r.status, passed: +last[1], failed: +last[2], skipped: +last[3], out };
}

test('passing files: every test counted, exit 0', () => {
  const r = run('pass.test');
  assert.equal([r.code, r.passed, r.failed, r.skipped], [0, 2, 0, 0], r.out);
});

test('a failing test fails the run and is named', () => {
  const r = run('fail.test');
  assert.equal([r.code, r.passed, r.failed, r.skipped], [1, 1, 1, 0], r.out);
  assert.match(r.out, /fail\.test\.mjs: failed: fails/);
});

test('a skip is counted as skipped (not passed), with its reason', () => {
  const r = run('skip.test');
  assert.equal([r.code, r.passed, r.failed, r.skipped], [0, 1, 0, 1], r.out);
  assert.match(r.out, /skip\.test\.mjs: needs a feature: this machine has no FROBNICATE/);
});

test('a skip in one file and a failure in another: both counted, exit 1 (the old runner printed 1 passed, 0 failed)', () => {
  const r = run('skip.test', 'fail.test');
  assert.equal([r.code, r.passed, r.failed, r.skipped], [1, 2, 1, 1], r.out);
});

test('a hung file is killed at its limit, fails, and names the test it hung in', () => {
  const t0 = Date.now();
  const r = run('hang.test');
  assert.ok(Date.now() - t0 < 20_000, 'the limit was applied');
  assert.equal([r.code, r.passed, r.failed], [1, 1, 2], r.out);
  assert.match(r.out, /timed out after 3000 ms in "hangs"/);
});

test('a file that throws at import fails', () => {
  const r = run('throws-at-import');
  assert.equal([r.code, r.passed, r.failed], [1, 0, 1], r.out);
  assert.match(r.out, /declared no test/);
  assert.match(r.out, /broken at import/, "the file's own error is shown");
});

test('a throwing before hook: the tests that never ran fail the file (uvu itself reports no failure)', () => {
  const r = run('hook-throws');
  assert.equal([r.code, r.passed, r.failed], [1, 0, 1], r.out);
  assert.match(r.out, /never ran/);
});

test('test.only fails the run: the tests it kept out are not silently dropped', () => {
  const r = run('only.test');
  assert.equal([r.code, r.passed, r.failed], [1, 1, 1], r.out);
  assert.match(r.out, /test\.only/);
});

test('a process that exits non-zero after its tests passed fails', () => {
  const r = run('exits-after');
  assert.equal([r.code, r.passed, r.failed], [1, 1, 1], r.out);
  assert.match(r.out, /exited 3 after its tests passed/);
});

test('a process killed inside a test fails, naming the test', () => {
  const r = run('crash.test');
  assert.equal([r.code, r.passed, r.failed], [1, 1, 1], r.out);
  assert.match(r.out, /ended inside "crashes" \(exit SIGKILL\)/);
});

test('a file whose tests passed but whose process stays open is killed at the limit and fails, saying why', () => {
  const r = run('stays-open');
  assert.equal([r.code, r.passed, r.failed], [1, 1, 1], r.out);
  assert.match(r.out, /did not exit after its tests: killed at the 3000 ms limit/);
});

test('no matching file is a failure, not an empty success', () => {
  const r = run('no-such-file');
  assert.equal([r.code, r.passed, r.failed], [1, 0, 0], r.out);
  assert.match(r.out, /no \*\.test\.mjs files/);
});

test.run();
