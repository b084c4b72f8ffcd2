// The gatio command as a user runs it: exit statuses, JSON and readable output.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, fixtures } from './_support.mjs';

const gatio = (...args) => spawnSync(process.execPath, [join(root, 'bin', 'gatio.mjs'), ...args], { encoding: 'utf8' });
const TWO = 'Package:2 NUMANode:1 Core:4 PU:2';

test('plan --synthetic --json: two TPCs on nodes 0 and 1, 4 cores each, distinct PUs', () => {
  const r = gatio('plan', '--synthetic', TWO, '--json');
  assert.is(r.status, 0, r.stderr);
  const p = JSON.parse(r.stdout);
  assert.equal(p.tpcs.map((t) => [t.node, t.cores]), [
    [0, [0, 1, 2, 3]],
    [1, [4, 5, 6, 7]],
  ]);
  const pus = p.drivers.map((d) => d.pu);
  assert.is(new Set(pus).size, pus.length);
});

test('plan with a config file: readable table', () => {
  const r = gatio('plan', join(root, 'examples', 'configs', 'split-smt.json'), '--xml', join(fixtures, '2socket-smt-linux.xml'));
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /tpc0\/io0/);
  assert.match(r.stdout, /tpc1\/exec0/);
});

test('plan with an invalid config: exit 1, every error with the file and path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatio-cli-'));
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ tpcs: [{ node: 1, cores: '2-5', coers: 1, arena: '9GiB' }], smt: 'sometimes' }));
  const r = gatio('plan', file, '--synthetic', TWO);
  assert.is(r.status, 1);
  assert.is(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l.startsWith(`config ${file}: `));
  assert.ok(lines.length >= 4, r.stderr);
  assert.match(r.stderr, /tpcs\[0\]\.coers: unknown key; did you mean "cores"\?/);
  assert.match(r.stderr, /tpcs\[0\]\.cores: cores 2-3 are on NUMA node 0, not node 1 \(node 1 has cores 4-7\)/);
  assert.match(r.stderr, /tpcs\[0\]\.arena: .*more than NUMA node 1's memory/);
  assert.match(r.stderr, /smt: /);
});

test('plan with a missing config file: exit 1 naming it', () => {
  const r = gatio('plan', '/nonexistent/gatio.json');
  assert.is(r.status, 1);
  assert.match(r.stderr, /\/nonexistent\/gatio\.json/);
});

test('doctor: readable report and JSON agree', () => {
  const text = gatio('doctor');
  const json = gatio('doctor', '--json');
  const report = JSON.parse(json.stdout);
  assert.is(text.status, report.ok ? 0 : 1);
  assert.is(json.status, text.status);
  for (const c of report.checks) assert.ok(text.stdout.includes(c.title), `check "${c.title}" printed`);
});

test('usage errors exit 2 with the usage text', () => {
  const r = gatio('frobnicate');
  assert.is(r.status, 2);
  assert.match(r.stderr, /unknown command "frobnicate"/);
  assert.match(r.stderr, /usage: gatio/);
  const both = gatio('topology', '--synthetic', 'Core:2', '--xml', 'x.xml');
  assert.is(both.status, 2);
});

test.run();
