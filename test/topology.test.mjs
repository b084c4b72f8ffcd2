// topology(): real hwloc on this machine, synthetic descriptions, restriction
// by taskset and by a cgroup cpuset, and the readable tree.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { topology, formatTopology, parseList, formatList } from '../dist/index.js';
import { root, skip } from './_support.mjs';

/** Every PU belongs to exactly one core; cores' nodes contain their PUs. */
function assertConsistent(t) {
  const seen = new Set();
  for (const c of t.cores) {
    for (const p of c.pus) {
      assert.not.ok(seen.has(p), `PU ${p} in two cores`);
      seen.add(p);
      const pu = t.pus.find((x) => x.os === p);
      assert.is(pu.core, c.id);
      assert.equal(pu.siblings, c.pus.filter((x) => x !== p));
      assert.is(pu.node, c.node);
    }
    assert.ok(t.nodes.find((n) => n.os === c.node).cores.includes(c.id), `core ${c.id} listed on its node`);
  }
  assert.is(seen.size, t.pus.length);
  assert.equal(JSON.parse(JSON.stringify(t)), t, 'plain JSON-serialisable data');
}

test('this machine: PUs, cores and nodes agree with Linux', () => {
  const t = topology();
  assertConsistent(t);
  assert.is(t.source.kind, 'system');
  const online = parseList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
  assert.equal(t.pus.map((p) => p.os).sort((a, b) => a - b), online);
  const allowed = parseList(/Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  assert.equal(t.allowed.pus, allowed.filter((c) => online.includes(c)));
  const nodes = parseList(readFileSync('/sys/devices/system/node/online', 'utf8'));
  assert.equal(t.nodes.map((n) => n.os), nodes);
  for (const n of t.nodes) assert.ok(n.memory > 0, `node ${n.os} has memory`);
});

test('synthetic, one node, no SMT', () => {
  const t = topology({ synthetic: 'NUMANode:1 Core:4 PU:1' });
  assertConsistent(t);
  assert.is(t.nodes.length, 1);
  assert.is(t.cores.length, 4);
  assert.is(t.threadsPerCore, 1);
  assert.ok(t.pus.every((p) => p.siblings.length === 0));
  assert.equal(t.allowed.pus, [0, 1, 2, 3]);
});

test('synthetic, two packages with a node each, SMT 2', () => {
  const t = topology({ synthetic: 'Package:2 NUMANode:1 Core:4 PU:2' });
  assertConsistent(t);
  assert.equal(t.nodes.map((n) => [n.os, n.cores, n.package]), [
    [0, [0, 1, 2, 3], 0],
    [1, [4, 5, 6, 7], 1],
  ]);
  assert.is(t.threadsPerCore, 2);
  assert.equal(t.cores[5].pus, [10, 11]);
  assert.equal(t.pus.find((p) => p.os === 10).siblings, [11]);
  assert.equal(t.packages.map((p) => p.nodes), [[0], [1]]);
});

test('synthetic, four nodes (two per package)', () => {
  const t = topology({ synthetic: 'Package:2 Group:2 NUMANode:1 Core:2 PU:2' });
  assertConsistent(t);
  assert.is(t.nodes.length, 4);
  assert.equal(t.nodes.map((n) => n.cores), [[0, 1], [2, 3], [4, 5], [6, 7]]);
  assert.equal(t.packages.map((p) => p.nodes), [[0, 1], [2, 3]]);
});

test('restrict: PUs outside the set are listed but not allowed', () => {
  const t = topology({ synthetic: 'Package:2 NUMANode:1 Core:4 PU:2', restrict: '0-5' });
  assertConsistent(t);
  assert.equal(t.allowed.pus, [0, 1, 2, 3, 4, 5]);
  assert.equal(t.cores.filter((c) => c.allowed).map((c) => c.id), [0, 1, 2]);
  assert.is(t.source.restrict, '0-5');
});

test('bad descriptions are clear errors', () => {
  assert.throws(() => topology({ synthetic: 'Bogus:2' }), /invalid hwloc synthetic topology description: "Bogus:2"/);
  assert.throws(() => topology({ xml: '/nonexistent/machine.xml' }), /cannot read XML topology \/nonexistent\/machine\.xml/);
  assert.throws(() => topology({ synthetic: 'Core:2', xml: 'x.xml' }), /either synthetic or xml/);
  assert.throws(() => topology({ restrict: '3-1' }), /backwards/);
});

/** Loads the topology in a child process started under `prefix` (e.g. taskset). */
function childTopology(prefix) {
  const script = `import('${root}/dist/index.js').then((m) => console.log(JSON.stringify(m.topology())))`;
  const r = spawnSync(prefix[0], [...prefix.slice(1), process.execPath, '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test('taskset restricts the allowed PUs of the process', () => {
  const all = topology().allowed.pus;
  if (all.length < 2) return skip('taskset restriction', 'needs at least 2 allowed CPUs');
  const last = all[all.length - 1];
  const t = childTopology(['taskset', '-c', String(last)]);
  assert.equal(t.allowed.pus, [last]);
  assert.is(t.pus.length, topology().pus.length, 'disallowed PUs are still listed');
  assert.ok(t.cores.some((c) => !c.allowed));
});

test('a cgroup (v1) cpuset restricts the allowed PUs', () => {
  const base = '/sys/fs/cgroup/cpuset';
  const all = topology().allowed.pus;
  if (all.length < 2) return skip('cgroup cpuset', 'needs at least 2 allowed CPUs');
  if (!existsSync(`${base}/tasks`) || process.getuid() !== 0) {
    return skip('cgroup cpuset', `no writable cgroup v1 cpuset hierarchy at ${base} (needs root)`);
  }
  const dir = `${base}/gatio-test-${process.pid}`;
  mkdirSync(dir);
  try {
    const last = all[all.length - 1];
    writeFileSync(`${dir}/cpuset.cpus`, String(last));
    writeFileSync(`${dir}/cpuset.mems`, readFileSync(`${base}/cpuset.mems`, 'utf8').trim());
    // The shell joins the cgroup, then becomes node.
    const t = childTopology(['sh', '-c', `echo $$ > ${dir}/tasks && exec "$0" "$@"`]);
    assert.equal(t.allowed.pus, [last]);
  } finally {
    rmdirSync(dir);
  }
});

test('the readable tree names every core and marks disallowed ones', () => {
  const t = topology({ synthetic: 'Package:2 NUMANode:1 Core:2 PU:2', restrict: '0-3' });
  const text = formatTopology(t);
  for (const c of t.cores) assert.match(text, new RegExp(`core ${c.id}: PUs ${formatList(c.pus)}`));
  assert.match(text, /core 2: PUs 4-5 {2}\(not allowed\)/);
  assert.match(text, /2 NUMA nodes, 4 cores, 8 PUs/);
});

test('gatio topology CLI: tree, JSON, and a usage error', () => {
  const cli = `${root}/bin/gatio.mjs`;
  const json = JSON.parse(execFileSync(process.execPath, [cli, 'topology', '--synthetic', 'NUMANode:2 Core:2 PU:1', '--json'], { encoding: 'utf8' }));
  assert.is(json.nodes.length, 2);
  const text = execFileSync(process.execPath, [cli, 'topology'], { encoding: 'utf8' });
  assert.match(text, /Topology of this machine/);
  const bad = spawnSync(process.execPath, [cli, 'topology', '--synthetic', 'Nope:1'], { encoding: 'utf8' });
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /invalid hwloc synthetic topology description/);
});

test.run();
