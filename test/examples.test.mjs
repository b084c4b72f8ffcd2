// The examples the README shows run as written.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from './_support.mjs';

const run = (file) => spawnSync(process.execPath, [join(root, 'examples', file)], { encoding: 'utf8', timeout: 60_000 });

test('examples/spawn.mjs', () => {
  const r = run('spawn.mjs');
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n'), ['3', 'hi 17984', 'true']);
});

test('examples/demo.mjs', () => {
  const r = run('demo.mjs');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /gatio sees \d+ NUMA node/);
  assert.match(r.stdout, /running on CPU \d+/);
});

test.run();
