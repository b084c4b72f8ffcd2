// uvu, as every test file uses it (`import { test, suite } from './_harness.mjs'`),
// with each test's outcome reported to test/run.mjs as a record, so that the
// runner counts what happened instead of scraping uvu's text.
//
// Records are JSON lines on the file descriptor named by GATIO_TEST_REPORT_FD
// (a pipe the runner opens); without it (a file run by hand) nothing is
// written and uvu behaves as usual:
//   { t: 'registered', suite, test }    a test was declared
//   { t: 'start', suite, test }         it began (a hung file names it)
//   { t: 'end', suite, test, outcome: 'pass' | 'fail' | 'skip', reason? }
//   { t: 'only', suite, test }          test.only: other tests will not run
//   { t: 'exit', code }                 the process is exiting
//
// A test that cannot run because the machine lacks a feature calls
// skip(reason): it is then counted as skipped with that reason, not passed.
import { writeSync } from 'node:fs';
import { suite as uvuSuite } from 'uvu';

const fd = process.env.GATIO_TEST_REPORT_FD ? Number(process.env.GATIO_TEST_REPORT_FD) : -1;

function record(r) {
  if (fd >= 0) writeSync(fd, JSON.stringify(r) + '\n');
}

/** the test running now (uvu runs the tests of a file one at a time) */
let current;

if (fd >= 0) process.on('exit', (code) => record({ t: 'exit', code }));

function wrap(run, suiteName) {
  const declare = (register) => (name, fn) => {
    record({ t: 'registered', suite: suiteName, test: name });
    register(name, async (ctx) => {
      const me = { name, skipped: undefined };
      current = me;
      record({ t: 'start', suite: suiteName, test: name });
      try {
        await fn(ctx);
      } catch (err) {
        record({ t: 'end', suite: suiteName, test: name, outcome: 'fail' });
        throw err;
      } finally {
        current = undefined;
      }
      record({ t: 'end', suite: suiteName, test: name, ...(me.skipped === undefined ? { outcome: 'pass' } : { outcome: 'skip', reason: me.skipped }) });
    });
  };
  const test = declare(run);
  test.only = (name, fn) => {
    record({ t: 'only', suite: suiteName, test: name });
    declare(run.only)(name, fn);
  };
  test.skip = (name) => {
    record({ t: 'registered', suite: suiteName, test: name });
    record({ t: 'end', suite: suiteName, test: name, outcome: 'skip', reason: 'test.skip (no reason given)' });
    run.skip();
  };
  test.before = run.before;
  test.after = run.after;
  test.run = run.run;
  return test;
}

export const suite = (name = '', state) => wrap(uvuSuite(name, state), name);
export const test = suite();

/**
 * Marks the running test as skipped, with the reason (a kernel or machine
 * feature that is missing: say which). The test should return right after.
 */
export function skip(name, reason) {
  if (reason === undefined) [name, reason] = [current?.name ?? '', name];
  if (!current) throw new Error(`skip(${JSON.stringify(reason)}) called outside a running test`);
  current.skipped = reason;
  console.log(`SKIP ${name}: ${reason}`);
}
