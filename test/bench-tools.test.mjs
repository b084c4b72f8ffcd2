// The bench tooling that lives beside the code: bench/cold-stretches.patch
// (timestamps for bench/cold-stretches.mjs) must still apply to the source,
// or the recorded trace could not be reproduced.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { root } from './_support.mjs';

test('bench/cold-stretches.patch applies to this tree', () => {
  // (git apply works outside a repository too)
  const r = spawnSync('git', ['apply', '--check', 'bench/cold-stretches.patch'], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0, `git apply --check failed: ${r.stderr}`);
});

test.run();
