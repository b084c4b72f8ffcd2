// gatio doctor on the real kernel: the io_uring probe, the sysctl that
// disables io_uring (toggled for a child process, always restored), the
// memlock warning for a process without CAP_IPC_LOCK, and the report itself.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { doctor, formatDoctor, probeIoUring } from '../dist/index.js';
import { root, skip } from './_support.mjs';

const SYSCTL = '/proc/sys/kernel/io_uring_disabled';
const dist = pathToFileURL(join(root, 'dist', 'index.js')).href;

// A child that runs doctor() when told to ("go" on stdin) and prints the report as JSON.
const CHILD = `
import { doctor, formatDoctor } from ${JSON.stringify(dist)};
const opts = JSON.parse(process.argv[1] ?? '{}');
const run = () => { const r = doctor(opts); console.log(JSON.stringify({ report: r, text: formatDoctor(r) })); };
if (opts.waitForGo) {
  console.log('ready');
  process.stdin.once('data', () => { run(); process.exit(0); });
} else run();
`;

function childArgs(opts) {
  return ['--input-type=module', '-e', CHILD, JSON.stringify(opts)];
}

function lastJson(stdout) {
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

test('probeIoUring: this kernel has what the runtime needs', () => {
  const p = probeIoUring();
  if (!p.ok) {
    skip('probeIoUring', `io_uring is unavailable here: ${p.error} (errno ${p.errno})`);
    return;
  }
  assert.is(p.errno, 0);
  assert.is(p.error, null);
  for (const op of ['NOP', 'ACCEPT', 'RECV', 'SEND', 'MSG_RING', 'TIMEOUT']) assert.ok(p.opcodes[op], `opcode ${op}`);
  // DESIGN.md: SINGLE_ISSUER|DEFER_TASKRUN rings work on this kernel.
  assert.ok(p.setupFlags.SINGLE_ISSUER, 'SINGLE_ISSUER');
  assert.ok(p.setupFlags.DEFER_TASKRUN, 'DEFER_TASKRUN');
  assert.ok(p.features.PBUF_RING, `PBUF_RING: ${p.details.PBUF_RING}`);
  assert.ok(p.features.MULTISHOT_ACCEPT, `MULTISHOT_ACCEPT: ${p.details.MULTISHOT_ACCEPT}`);
  assert.ok(p.features.MULTISHOT_RECV, `MULTISHOT_RECV: ${p.details.MULTISHOT_RECV}`);
  assert.ok(p.features.MSG_RING_WORKS, `MSG_RING_WORKS: ${p.details.MSG_RING_WORKS}`);
  assert.ok(p.features.NODROP && p.features.EXT_ARG, 'params.features bits are read');
  assert.equal(p.details, {});
  // The probe answers by number: every listed opcode is a boolean, and an
  // opcode this kernel predates would be false rather than absent.
  for (const [name, v] of Object.entries(p.opcodes)) assert.type(v, 'boolean', name);
});

test('probeIoUring releases its rings, sockets and mappings', () => {
  // Counted exactly: the fds it opens (rings, sockets, eventfds) and the
  // ring mappings the kernel gives it (anon_inode:[io_uring]). Not every
  // line of /proc/self/maps: the V8 heap maps and unmaps meanwhile, which
  // made the old count (all mappings, growth < 10) fail without a leak.
  // The probe's own anonymous pages are RAII mappings (uring_probe.cc, Mapping).
  const fds = () => readdirSync('/proc/self/fd').length;
  const rings = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.endsWith('anon_inode:[io_uring]')).length;
  probeIoUring();
  const f0 = fds();
  const r0 = rings();
  for (let i = 0; i < 50; i++) probeIoUring();
  assert.is(fds(), f0, 'open fds after 50 probes');
  assert.is(rings(), r0, 'io_uring mappings after 50 probes');
});

test('kernel.io_uring_disabled=2: the probe says EPERM and doctor gives the sysctl fix', async () => {
  let original;
  try {
    original = readFileSync(SYSCTL, 'utf8').trim();
    writeFileSync(SYSCTL, original); // can we write it at all?
  } catch (err) {
    skip('io_uring_disabled', `cannot toggle ${SYSCTL} here: ${err.message}`);
    return;
  }
  // The child loads everything first and probes on "go": the sysctl is 2 only
  // for the few ms of its doctor() run.
  const child = spawn(process.execPath, childArgs({ waitForGo: true, placement: false }), { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const restore = () => writeFileSync(SYSCTL, original);
  process.once('exit', restore); // even if this test crashes mid-way
  try {
    await new Promise((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (out.startsWith('ready\n')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`child exited ${code} before it was ready: ${out}`)));
      setTimeout(() => reject(new Error('child not ready within 10 s')), 10_000).unref();
    });
    writeFileSync(SYSCTL, '2');
    child.stdin.write('go\n');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  } finally {
    restore();
    process.removeListener('exit', restore);
  }
  assert.is(readFileSync(SYSCTL, 'utf8').trim(), original, 'sysctl restored');
  assert.ok(probeIoUring().ok, 'io_uring works again after the restore');

  const { report, text } = lastJson(out);
  assert.is(report.uring.ok, false);
  assert.is(report.uring.errno, 1, 'EPERM');
  assert.is(report.uring.sysctlDisabled, 2);
  assert.match(report.uring.error, 'kernel.io_uring_disabled=2');
  const c = report.checks.find((x) => x.id === 'uring.available');
  assert.is(c.status, 'fail');
  assert.match(c.fix, 'sysctl -w kernel.io_uring_disabled=0');
  assert.is(report.ok, false);
  assert.match(text, /FAIL\s+io_uring available/);
  assert.match(text, 'fix: enable io_uring (as root): sysctl -w kernel.io_uring_disabled=0');
});

test('memlock below 64 MiB without CAP_IPC_LOCK: a warning with the fix', () => {
  const which = spawnSync('sh', ['-c', 'command -v prlimit && command -v setpriv']);
  if (which.status !== 0) {
    skip('memlock warning', 'prlimit or setpriv (util-linux) is not installed');
    return;
  }
  const r = spawnSync(
    'prlimit',
    ['--memlock=1048576:1048576', 'setpriv', '--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock', process.execPath, ...childArgs({ placement: false })],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.is(r.status, 0, r.stderr);
  const { report, text } = lastJson(r.stdout);
  assert.equal({ soft: report.memlock.soft, hard: report.memlock.hard, cap: report.memlock.capIpcLock }, { soft: 1048576, hard: 1048576, cap: false });
  const c = report.checks.find((x) => x.id === 'memlock');
  assert.is(c.status, 'warn');
  assert.match(c.detail, '1 MiB');
  assert.match(c.fix, 'ulimit -l');
  assert.match(c.fix, 'limits.conf');
  assert.match(c.fix, 'LimitMEMLOCK');
  assert.match(text, /WARN\s+locked-memory limit/);
});

test('doctor(): every check is well formed, node 0 arena placement is ok, formatDoctor shows them all', () => {
  const r = doctor();
  assert.ok(r.checks.length > 0);
  const ids = new Set();
  for (const c of r.checks) {
    assert.type(c.id, 'string');
    assert.ok(c.id.length > 0 && c.title.length > 0 && c.detail.length > 0, JSON.stringify(c));
    assert.ok(['ok', 'warn', 'fail'].includes(c.status), c.id);
    assert.not.ok(ids.has(c.id), `duplicate id ${c.id}`);
    ids.add(c.id);
    if (c.status === 'fail') assert.ok(c.fix && c.fix.length > 0, `failing check ${c.id} has a fix`);
  }
  assert.is(r.ok, r.checks.every((c) => c.status !== 'fail'));
  assert.is(r.kernel, release());

  const arena = r.checks.find((c) => c.id === 'arena.node0');
  assert.ok(arena, 'arena check on node 0');
  assert.is(arena.status, 'ok', arena.detail);
  const a = r.arenas.find((x) => x.node === 0);
  assert.ok(a.placement.pages > 0);
  assert.is(a.placement.pages * a.placement.pageSize, a.bytes);
  assert.is(a.placement.perNode['0'], a.placement.pages);

  const nodes = r.checks.find((c) => c.id === 'numa.nodes');
  assert.ok(r.numa.nodes.length >= 1);
  assert.match(nodes.detail, `node 0: `);
  assert.ok(r.numa.nodes[0].memory > 0 && r.numa.nodes[0].cores > 0);

  const text = formatDoctor(r);
  const lines = text.split('\n');
  for (const c of r.checks) {
    const line = lines.find((l) => l.includes(c.title) && l.includes(c.detail));
    assert.ok(line, `formatDoctor shows ${c.id}`);
    assert.ok(line.startsWith({ ok: 'ok', warn: 'WARN', fail: 'FAIL' }[c.status]), line);
  }
  assert.match(lines.at(-1), `${r.checks.filter((c) => c.status === 'ok').length} ok`);
});

test('doctor({ placement: false }) allocates no arena', () => {
  const r = doctor({ placement: false });
  assert.equal(r.arenas, []);
  assert.not.ok(r.checks.some((c) => c.id.startsWith('arena.')));
});

test.run();
