// The gatio command as a user runs it: exit statuses, JSON and readable output.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
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

/** `gatio run` on a config written to a temporary file: the child, everything it printed so far, and its exit code. */
function gatioRun(config) {
  const dir = mkdtempSync(join(tmpdir(), 'gatio-run-'));
  const file = join(dir, 'gatio.json');
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, [join(root, 'bin', 'gatio.mjs'), 'run', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.on('exit', (code) => r(code)));
  return { child, exited, output: () => out };
}

test('usage errors exit 2 with the usage text', () => {
  const r = gatio('frobnicate');
  assert.is(r.status, 2);
  assert.match(r.stderr, /unknown command "frobnicate"/);
  assert.match(r.stderr, /usage: gatio/);
  const both = gatio('topology', '--synthetic', 'Core:2', '--xml', 'x.xml');
  assert.is(both.status, 2);
});

test('run CONFIG with ports: it says what it serves, and gatio stats shows each port server per driver', async () => {
  const { child, output, exited } = gatioRun({ modules: [join(fixtures, 'net', 'handlers.mjs')], ports: [{ port: 0, protocol: 'tcp', handler: 'echo', host: '127.0.0.1' }] });
  try {
    const until = Date.now() + 20000;
    while (!/serving tcp:\d+/.test(output()) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const out = output();
    const m = /gatio: serving tcp:(\d+) on 127\.0\.0\.1 \(echo; drivers tpc0\/hybrid0/.exec(out);
    assert.ok(m, out);
    // Traffic, then the counters.
    const { createConnection } = await import('node:net');
    const s = createConnection(Number(m[1]), '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    const back = new Promise((r) => s.once('data', r));
    s.write('ping');
    assert.is(String(await back), 'ping');
    s.destroy();
    const json = JSON.parse(gatio('stats', '--pid', String(child.pid), '--json').stdout);
    const ports = json.drivers.flatMap((d) => d.ports ?? []);
    assert.ok(ports.length >= 1 && ports.every((p) => p.port === `tcp:${m[1]}`));
    assert.is(ports.reduce((n, p) => n + p.accepted, 0), 1);
    const text = gatio('stats', '--pid', String(child.pid)).stdout;
    assert.match(text, /PORT\s+DRIVER\s+OPEN\s+ACCEPTED/);
    assert.match(text, new RegExp(`tcp:${m[1]}\\s+tpc0/hybrid0`));
  } finally {
    child.kill('SIGTERM');
  }
  assert.is(await exited, 0);
});

test('run CONFIG serves stats, and SIGTERM shuts it down cleanly', async () => {
  const run = gatioRun({ modules: [join(fixtures, 'tasks', 'channel-tasks.mjs')], queues: { rpc: { shares: 2 } } });
  const { child, exited } = run;
  let out = '';
  try {
    const until = Date.now() + 20000;
    while (!/tasks .*\breceived\b/.test((out = run.output())) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.match(out, /running \d+ driver\(s\) in 1 TPC\(s\) \(pid \d+/);
    assert.match(out, /tasks .*\breceived\b/, 'it said it was ready (waited for, not timed out)');
    const s = gatio('stats', '--pid', String(child.pid), '--json');
    assert.is(s.status, 0, s.stderr);
    const stats = JSON.parse(s.stdout);
    assert.ok(stats.drivers.length >= 1);
    assert.ok(stats.drivers.every((d) => d.state === 'running'));
    assert.equal(stats.drivers[0].queues.map((q) => [q.name, q.shares]), [['default', 1], ['rpc', 2]]);
    const text = gatio('stats', '--pid', String(child.pid));
    assert.match(text.stdout, /tpc0\/hybrid0/);
    assert.match(text.stdout, /routing: /);
  } finally {
    child.kill('SIGTERM');
  }
  assert.is(await exited, 0);
  out = run.output();
  assert.match(out, /SIGTERM: shutting down/);
  assert.match(out, /gatio: stopped/);
  const gone = gatio('stats', '--pid', String(child.pid));
  assert.is(gone.status, 1);
  assert.match(gone.stderr, /no gatio runtime answers for process/);
});

test('run with an invalid config: exit 1 with the errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatio-run-'));
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ queues: { rpc: { shares: -1 } } }));
  const r = gatio('run', file);
  assert.is(r.status, 1);
  assert.match(r.stderr, /queues\.rpc\.shares: expected a positive number/);
});

test('run with a task module that throws at import: exit 1, the error said once with one "gatio: " prefix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatio-run-'));
  const file = join(dir, 'bad-module.json');
  writeFileSync(file, JSON.stringify({ modules: [join(fixtures, 'tasks', 'throws-on-import.mjs')] }));
  const r = gatio('run', file);
  assert.is(r.status, 1);
  assert.match(r.stderr, /^gatio: drivers failed to start:/m);
  assert.not.match(r.stderr, /gatio: gatio:/, 'the prefix is not doubled');
  assert.match(r.stderr, /fixture module refused to load/);
});

test.run();
