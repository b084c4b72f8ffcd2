// The package as users get it: ESM and CommonJS entry points, type
// declarations, and a clear error when the addon is not built.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esm from '../dist/index.js';
import { root } from './_support.mjs';

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

test('exports map: types first, ESM and CJS files exist', () => {
  const dot = pkg.exports['.'];
  assert.equal(Object.keys(dot)[0], 'types');
  for (const f of [dot.types, dot.import, dot.require]) assert.ok(existsSync(join(root, f)), f);
  assert.equal(pkg.os, ['linux']);
  assert.is(pkg.engines.node, '>=20');
});

test('CommonJS build exports the same API as the ESM build', () => {
  const cjs = createRequire(import.meta.url)(join(root, pkg.exports['.'].require));
  assert.equal(Object.keys(cjs).sort(), Object.keys(esm).sort());
  assert.equal(cjs.topology({ synthetic: 'Core:2 PU:1' }).cores.length, 2);
});

test('addon missing: the error names the file and the command that fixes it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatio-pkg-'));
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import('${dir}/dist/index.js').then((m) => m.topology())`], {
    encoding: 'utf8',
  });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /the native addon is not built/);
  assert.match(r.stderr, new RegExp(`${dir}/build/Release/gatio\\.node`));
  assert.match(r.stderr, /scripts\/setup\.sh/);
});

test.run();
