// The planner on real hwloc topologies: this machine, synthetic ones,
// restricted cpusets and the XML fixtures in test/fixtures.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { topology, plan, formatPlan, formatList, loadConfig, ConfigError, defaultArenaBytes } from '../dist/index.js';
import { fixtures, root } from './_support.mjs';
import { runtimeFootprint } from '../dist/internals.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TWO_NODES = 'Package:2 NUMANode:1 Core:4 PU:2';
const LINUX_2S = join(fixtures, '2socket-smt-linux.xml');

/** What every plan must satisfy, whatever the topology and config. */
function checkInvariants(p, t) {
  const allowed = new Set(t.allowed.pus);
  const coreById = new Map(t.cores.map((c) => [c.id, c]));
  const pus = p.drivers.map((d) => d.pu);
  assert.is(new Set(pus).size, pus.length, `two drivers share a PU: ${pus}`);
  assert.is(new Set(p.drivers.map((d) => d.name)).size, p.drivers.length, 'driver names are unique');
  p.drivers.forEach((d, i) => {
    assert.is(d.id, i, 'driver ids are dense and in order');
    assert.ok(allowed.has(d.pu), `driver ${d.name} on PU ${d.pu}, which is not allowed`);
    assert.ok(coreById.get(d.core).pus.includes(d.pu), `PU ${d.pu} is not on core ${d.core}`);
    const tpc = p.tpcs[d.tpc];
    assert.ok(tpc.cores.includes(d.core), `${d.name}: core ${d.core} not in its TPC's cores`);
    assert.is(d.node, tpc.node);
    assert.ok(d.name.startsWith(`${tpc.name}/${d.kind}`), d.name);
  });
  // ids in TPC order, then core/PU order
  const order = p.drivers.map((d) => [d.tpc, d.core, d.pu]);
  const sorted = [...order].sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  assert.equal(order, sorted);
  p.tpcs.forEach((tpc, i) => {
    assert.is(tpc.id, i);
    assert.equal(tpc.drivers, p.drivers.filter((d) => d.tpc === i).map((d) => d.id));
    assert.equal(tpc.cpus, p.drivers.filter((d) => d.tpc === i).map((d) => d.pu).sort((a, b) => a - b));
    assert.is(tpc.cpuset, formatList(tpc.cpus));
    for (const c of tpc.reserved) assert.not.ok(tpc.cores.includes(c), `reserved core ${c} carries drivers`);
    for (const c of p.reserved) assert.not.ok(tpc.cores.includes(c), `machine-wide reserved core ${c} carries drivers`);
    assert.ok(tpc.arenaBytes > 0);
  });
  // plain data
  assert.equal(JSON.parse(JSON.stringify(p)), p);
}

const kinds = (p, tpc) => p.drivers.filter((d) => tpc === undefined || d.tpc === tpc).map((d) => d.kind);

test('this machine, auto: one TPC per node with allowed cores, one driver per allowed core', () => {
  const t = topology();
  const p = plan(t);
  checkInvariants(p, t);
  const nodesWithCores = t.nodes.filter((n) => n.allowed && n.cores.some((c) => t.cores[c].allowed));
  assert.is(p.tpcs.length, nodesWithCores.length);
  assert.is(p.tpcs[0].node, nodesWithCores[0].os);
  const allowedCores = t.cores.filter((c) => c.allowed);
  assert.is(p.drivers.length, allowedCores.length);
  assert.equal(p.drivers.map((d) => d.core), allowedCores.map((c) => c.id));
  assert.ok(p.drivers.every((d) => d.kind === 'hybrid'));
  assert.is(p.tpcs[0].arenaBytes, defaultArenaBytes(t.nodes.find((n) => n.os === p.tpcs[0].node).memory));
  assert.is(p.source.kind, 'system');
});

test('one node, 4 cores, no SMT', () => {
  const t = topology({ synthetic: 'NUMANode:1 Core:4 PU:1' });
  const p = plan(t);
  checkInvariants(p, t);
  assert.is(p.tpcs.length, 1);
  assert.equal(p.tpcs[0].cores, [0, 1, 2, 3]);
  assert.is(p.tpcs[0].cpuset, '0-3');
  assert.equal(p.drivers.map((d) => d.name), ['tpc0/hybrid0', 'tpc0/hybrid1', 'tpc0/hybrid2', 'tpc0/hybrid3']);
  assert.is(p.tpcs[0].arenaBytes, 64 * MiB, '1 GiB node / 16');
  assert.is(p.tpcs[0].smt, 'core');
  assert.is(p.tpcs[0].prefault, false);
  assert.equal(p.warnings, []);
});

test('two nodes: smt core, thread and split', () => {
  const t = topology({ synthetic: TWO_NODES });
  const core = plan(t);
  checkInvariants(core, t);
  assert.equal(core.tpcs.map((x) => [x.node, x.cores]), [[0, [0, 1, 2, 3]], [1, [4, 5, 6, 7]]]);
  assert.is(core.drivers.length, 8);
  assert.is(core.tpcs[0].cpuset, '0,2,4,6', 'one driver per core, on its first PU');

  const thread = plan(t, { smt: 'thread' });
  checkInvariants(thread, t);
  assert.is(thread.drivers.length, 16);
  assert.equal(thread.tpcs.map((x) => x.cpuset), ['0-7', '8-15']);

  const split = plan(t, { smt: 'split' });
  checkInvariants(split, t);
  for (const i of [0, 1]) {
    const ks = kinds(split, i);
    assert.is(ks.filter((k) => k === 'io').length, 4);
    assert.is(ks.filter((k) => k === 'exec').length, 4);
  }
  const io = split.drivers.filter((d) => d.kind === 'io');
  for (const d of io) {
    const exec = split.drivers.find((e) => e.kind === 'exec' && e.core === d.core);
    assert.ok(exec, `core ${d.core} has an exec driver`);
    assert.ok(t.pus.find((p) => p.os === d.pu).siblings.includes(exec.pu), `io PU ${d.pu} and exec PU ${exec.pu} are siblings`);
    assert.ok(d.pu < exec.pu, 'io on the first sibling');
  }
  assert.equal(split.drivers.slice(0, 2).map((d) => d.name), ['tpc0/io0', 'tpc0/exec0']);
  assert.equal(split.warnings, []);
});

test('four nodes', () => {
  const t = topology({ synthetic: 'Package:2 Group:2 NUMANode:1 Core:2 PU:2' });
  const p = plan(t);
  checkInvariants(p, t);
  assert.equal(p.tpcs.map((x) => x.node), [0, 1, 2, 3]);
  assert.equal(p.tpcs.map((x) => x.cores), [[0, 1], [2, 3], [4, 5], [6, 7]]);
  assert.equal(p.tpcs.map((x) => x.name), ['tpc0', 'tpc1', 'tpc2', 'tpc3']);
  const th = plan(t, { smt: 'thread', drivers: 'exec' });
  checkInvariants(th, t);
  assert.is(th.drivers.length, 16);
  assert.ok(th.drivers.every((d) => d.kind === 'exec'));
});

test('SMT off: thread equals core, split gives hybrids and warns', () => {
  const t = topology({ synthetic: 'Package:2 NUMANode:1 Core:4 PU:1' });
  assert.is(t.threadsPerCore, 1);
  const a = plan(t, { smt: 'core' });
  const b = plan(t, { smt: 'thread' });
  checkInvariants(a, t);
  checkInvariants(b, t);
  assert.equal(b.drivers.map((d) => d.pu), a.drivers.map((d) => d.pu));
  const s = plan(t, { smt: 'split' });
  checkInvariants(s, t);
  assert.ok(s.drivers.every((d) => d.kind === 'hybrid'));
  assert.ok(s.warnings.some((w) => w.path === 'smt' && /no SMT/.test(w.message)), JSON.stringify(s.warnings));
});

test('restricted cpuset: auto uses only allowed PUs; a node without allowed cores gets no TPC', () => {
  const t = topology({ synthetic: TWO_NODES, restrict: '0-5' });
  const p = plan(t);
  checkInvariants(p, t);
  assert.is(p.tpcs.length, 1);
  assert.equal(p.tpcs[0].cores, [0, 1, 2]);
  const w = p.warnings.find((x) => /node 1 gets no TPC/.test(x.message));
  assert.ok(w, JSON.stringify(p.warnings));
  assert.match(w.message, /allowed cores: 0-2/);
  const th = plan(t, { smt: 'thread' });
  checkInvariants(th, t);
  assert.is(th.tpcs[0].cpuset, '0-5');

  // core 4 keeps one allowed PU (8): it gets a hybrid under split, its node a TPC
  const t2 = topology({ synthetic: TWO_NODES, restrict: '0-8' });
  const s = plan(t2, { smt: 'split' });
  checkInvariants(s, t2);
  assert.is(s.tpcs.length, 2);
  assert.equal(s.drivers.filter((d) => d.tpc === 1).map((d) => [d.kind, d.pu]), [['hybrid', 8]]);
  assert.ok(s.warnings.some((x) => /none of its cores has two allowed hardware threads/.test(x.message)));
});

test('XML fixture: 2 sockets, SMT, Linux numbering (siblings N and N+16)', () => {
  const t = topology({ xml: LINUX_2S });
  assert.is(t.source.kind, 'xml');
  assert.equal(t.nodes.map((n) => [n.os, n.memory, n.cores.length]), [[0, 16 * GiB, 8], [1, 16 * GiB, 8]]);
  assert.is(t.pus.length, 32);
  assert.equal(t.cores[3].pus, [3, 19]);
  assert.equal(t.cores[8].pus, [8, 24]);

  const p = plan(t);
  checkInvariants(p, t);
  assert.equal(p.tpcs.map((x) => x.cpuset), ['0-7', '8-15']);
  assert.equal(p.tpcs.map((x) => x.arenaBytes), [GiB, GiB], 'min(1 GiB, 16 GiB / 16)');

  const th = plan(t, { smt: 'thread' });
  checkInvariants(th, t);
  assert.equal(th.tpcs.map((x) => x.cpuset), ['0-7,16-23', '8-15,24-31']);
  assert.equal(th.drivers.slice(0, 2).map((d) => d.pu), [0, 16], 'core order, then PU order');

  const s = plan(t, { smt: 'split' });
  checkInvariants(s, t);
  for (const d of s.drivers.filter((x) => x.kind === 'io')) {
    const e = s.drivers.find((x) => x.kind === 'exec' && x.core === d.core);
    assert.is(e.pu, d.pu + 16);
  }
});

test('XML fixture: memory of node 1 not allowed (cpuset.mems=0)', () => {
  const t = topology({ xml: join(fixtures, '2socket-mems0.xml') });
  assert.equal(t.allowed.nodes, [0]);
  const p = plan(t);
  checkInvariants(p, t);
  assert.equal(p.tpcs.map((x) => x.node), [0]);
  assert.ok(p.warnings.some((w) => /node 1 gets no TPC: its memory is not allowed/.test(w.message)));
  // a TPC spanning both nodes puts its arena on the allowed one
  const span = plan(t, { tpcs: [{ cores: '4-15' }] });
  checkInvariants(span, t);
  assert.is(span.tpcs[0].node, 0);
  assert.equal(span.tpcs[0].nodes, [0, 1]);
});

test('XML fixture: a node without memory', () => {
  const t = topology({ xml: join(fixtures, 'memoryless-node.xml') });
  assert.equal(t.nodes.map((n) => n.memory), [4 * GiB, 0]);
  const p = plan(t);
  checkInvariants(p, t);
  assert.is(p.tpcs.length, 2);
  // The default (2 MiB for a node without memory) grows to twice the runtime's own blocks there.
  const ds = p.drivers.filter((d) => d.tpc === 1);
  const fp = runtimeFootprint({ inboxSlots: 4096, slotBytes: 256, ringEntries: 256 }, ds.length, ds.filter((d) => d.kind !== 'io').length, false);
  assert.is(p.tpcs[1].arenaBytes, Math.ceil((2 * fp.bytes) / (2 * MiB)) * 2 * MiB, 'the default arena holds the runtime\'s blocks twice over');
  assert.ok(p.tpcs[1].arenaBytes > 2 * MiB);
  assert.ok(p.warnings.some((w) => /node 1 has no memory/.test(w.message)), JSON.stringify(p.warnings));
});

test('explicit TPCs: cores as list, range and count; reserve; counts per kind; arena strings', () => {
  const t = topology({ xml: LINUX_2S });
  const p = plan(t, {
    smt: 'thread',
    tpcs: [
      { name: 'front', node: 0, cores: '0-7', reserve: [0], arena: '512MiB', prefault: true, drivers: { io: 2, exec: 12 } },
      { name: 'back', node: 1, cores: 8, drivers: 'exec', arena: 268435456 },
    ],
  });
  checkInvariants(p, t);
  const [front, back] = p.tpcs;
  assert.equal([front.name, front.node, front.cores, front.reserved, front.arenaBytes, front.prefault], ['front', 0, [1, 2, 3, 4, 5, 6, 7], [0], 512 * MiB, true]);
  assert.equal(kinds(p, 0), [...Array(2).fill('io'), ...Array(12).fill('exec')]);
  assert.equal(p.drivers.filter((d) => d.kind === 'io').map((d) => [d.name, d.core, d.pu]), [['front/io0', 1, 1], ['front/io1', 1, 17]]);
  assert.equal([back.cores, back.arenaBytes, back.prefault], [[8, 9, 10, 11, 12, 13, 14, 15], 256 * MiB, false]);
  assert.equal(kinds(p, 1), Array(16).fill('exec'));
  assert.equal(p.drivers.at(-1).name, 'back/exec15');

  // a list of ids, a count with a TPC reserve count, and a machine-wide reserve
  const q = plan(t, { reserve: 1, tpcs: [{ cores: [3, 1, 2] }, { node: 1, cores: 3, reserve: 1, drivers: { hybrid: 1, io: 1 } }] });
  checkInvariants(q, t);
  assert.equal(q.reserved, [0]);
  assert.equal(q.tpcs[0].cores, [1, 2, 3]);
  assert.is(q.tpcs[0].node, 0, 'node derived from the cores');
  assert.equal(q.tpcs[1].reserved, [8]);
  assert.equal(q.tpcs[1].cores, [9, 10, 11], 'the count is of driver cores, after the reserve');
  assert.equal(q.drivers.filter((d) => d.tpc === 1).map((d) => [d.kind, d.core]), [['io', 9], ['hybrid', 10]]);
  assert.ok(q.warnings.some((w) => w.path === 'tpcs[1].drivers' && /1 slot left idle \(core 11\)/.test(w.message)), JSON.stringify(q.warnings));
});

test('lists first, then counts, then omitted cores take the rest of the node, whatever the order', () => {
  const t = topology({ synthetic: 'NUMANode:1 Core:8 PU:1' });
  const a = plan(t, { tpcs: [{ name: 'rest' }, { name: 'two', cores: 2 }, { name: 'pinned', cores: '6-7' }] });
  checkInvariants(a, t);
  assert.equal(a.tpcs.map((x) => [x.name, x.cores]), [['rest', [2, 3, 4, 5]], ['two', [0, 1]], ['pinned', [6, 7]]]);
  assert.equal(a.drivers.map((d) => d.name.split('/')[0]), ['rest', 'rest', 'rest', 'rest', 'two', 'two', 'pinned', 'pinned'], 'ids follow TPC order');
  const b = plan(t, { tpcs: [{ name: 'pinned', cores: '6-7' }, { name: 'two', cores: 2 }, { name: 'rest' }] });
  assert.equal(b.tpcs.map((x) => [x.name, x.cores]), [['pinned', [6, 7]], ['two', [0, 1]], ['rest', [2, 3, 4, 5]]]);
  // another TPC's reserve is not taken by a count
  const c = plan(t, { tpcs: [{ name: 'x', cores: 3 }, { name: 'y', reserve: [0, 1] }] });
  checkInvariants(c, t);
  assert.equal(c.tpcs.map((x) => [x.cores, x.reserved]), [[[2, 3, 4], []], [[5, 6, 7], [0, 1]]]);
});

test('perCore kinds; unnamed cores get hybrid', () => {
  const t = topology({ synthetic: 'Package:2 NUMANode:1 Core:4 PU:2' });
  const p = plan(t, { smt: 'thread', tpcs: [{ node: 0, drivers: { perCore: { 0: 'io', '1-2': 'exec' } } }, { node: 1, drivers: { perCore: { '4-7': 'exec' } } }] });
  checkInvariants(p, t);
  assert.equal(kinds(p, 0), ['io', 'io', 'exec', 'exec', 'exec', 'exec', 'hybrid', 'hybrid']);
  assert.equal(kinds(p, 1), Array(8).fill('exec'));
  // a machine-wide perCore names cores of both TPCs
  const g = plan(t, { drivers: { perCore: { 0: 'io', 4: 'io' } } });
  checkInvariants(g, t);
  assert.equal(g.drivers.filter((d) => d.kind === 'io').map((d) => d.name), ['tpc0/io0', 'tpc1/io0']);
});

test('plans are deterministic: same input, deep-equal output, JSON round trip', () => {
  for (const [opts, config] of [
    [{ synthetic: TWO_NODES }, {}],
    [{ synthetic: TWO_NODES }, { smt: 'split', reserve: 1 }],
    [{ xml: LINUX_2S }, { smt: 'thread', tpcs: [{ node: 1, drivers: { io: 4, exec: 4 } }, { cores: '0-3', arena: '1GiB' }] }],
    [{ synthetic: TWO_NODES, restrict: '1-12' }, { smt: 'thread' }],
  ]) {
    const t = topology(opts);
    const frozen = JSON.parse(JSON.stringify(config));
    const a = plan(t, config);
    const b = plan(topology(opts), JSON.parse(JSON.stringify(config)));
    checkInvariants(a, t);
    assert.equal(a, b);
    assert.equal(JSON.parse(JSON.stringify(a)), b);
    assert.equal(config, frozen, 'plan does not modify the config');
  }
});

test('formatPlan prints every TPC and every driver', () => {
  const t = topology({ synthetic: TWO_NODES });
  const p = plan(t, { smt: 'split', reserve: [0] });
  const text = formatPlan(p);
  assert.match(text, /TPC\s+NODE\s+CORES\s+RESERVED\s+CPUSET\s+ARENA/);
  assert.match(text, /ID\s+NAME\s+KIND\s+TPC\s+NODE\s+CORE\s+PU/);
  for (const tpc of p.tpcs) assert.ok(text.includes(tpc.cpuset), tpc.cpuset);
  const lines = text.split('\n');
  for (const d of p.drivers) {
    const row = lines.find((l) => l.split(/\s+/)[1] === d.name);
    assert.ok(row, `no row for ${d.name}`);
    assert.equal(row.trim().split(/\s+/), [`${d.id}`, d.name, d.kind, p.tpcs[d.tpc].name, `${d.node}`, `${d.core}`, `${d.pu}`]);
  }
  assert.match(text, /reserved \(no drivers\): core 0/);
  assert.match(text, /64 MiB/);
});

test('plan throws ConfigError with every error', () => {
  const t = topology({ synthetic: TWO_NODES });
  try {
    plan(t, { smt: 'threads', tpcs: [{ node: 7 }] }, { file: '/etc/gatio.json' });
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.is(err.file, '/etc/gatio.json');
    assert.equal(err.errors.map((e) => e.path), ['smt', 'tpcs[0].node']);
    const lines = err.message.split('\n');
    assert.match(lines[0], /\/etc\/gatio\.json \(2 errors\)/);
    assert.ok(lines.some((l) => l.includes('smt: expected')));
    assert.ok(lines.some((l) => l.includes('tpcs[0].node: there is no NUMA node 7 (this machine has nodes 0-1)')));
  }
});

// Every config in docs/config.md is a file in examples/configs, and plans on its topology.
const TOPOLOGY_FOR = {
  'auto.json': { synthetic: TWO_NODES },
  'reserve-main-thread.json': { synthetic: 'NUMANode:1 Core:4 PU:1' },
  'split-smt.json': { xml: LINUX_2S },
  'two-tpcs.json': { xml: LINUX_2S },
  'per-core.json': { synthetic: 'NUMANode:1 Core:4 PU:1' },
  'computed.mjs': { synthetic: TWO_NODES },
};

test('examples/configs: each loads and plans without warnings on its topology', async () => {
  const dir = join(root, 'examples', 'configs');
  const files = readdirSync(dir).sort();
  assert.equal(files, Object.keys(TOPOLOGY_FOR).sort(), 'every example has a topology in this test');
  for (const f of files) {
    const t = topology(TOPOLOGY_FOR[f]);
    const p = plan(t, await loadConfig(join(dir, f)));
    checkInvariants(p, t);
    assert.ok(p.drivers.length > 0, f);
    assert.equal(p.warnings, [], `${f}: ${JSON.stringify(p.warnings)}`);
  }
});

test('docs/config.md shows exactly the example files', () => {
  const doc = readFileSync(join(root, 'docs', 'config.md'), 'utf8');
  // a config in the doc is a fenced block right after a line naming its file: `examples/configs/<file>`
  const re = /`examples\/configs\/([\w.-]+)`:?\s*\n+```(?:json|js)\n([\s\S]*?)```/g;
  const shown = new Map();
  for (const m of doc.matchAll(re)) shown.set(m[1], m[2]);
  assert.equal([...shown.keys()].sort(), Object.keys(TOPOLOGY_FOR).sort(), 'every example file is shown in the doc');
  for (const [f, body] of shown) {
    const text = readFileSync(join(root, 'examples', 'configs', f), 'utf8');
    if (f.endsWith('.json')) assert.equal(JSON.parse(body), JSON.parse(text), f);
    else assert.is(body.trim(), text.trim(), f);
  }
});

test('the plan printed in docs/config.md is what formatPlan prints', async () => {
  const doc = readFileSync(join(root, 'docs', 'config.md'), 'utf8');
  const block = /```\n(plan for [\s\S]*?)```/.exec(doc);
  assert.ok(block, 'the doc shows a printed plan');
  const p = plan(topology({ synthetic: 'NUMANode:1 Core:4 PU:1' }), await loadConfig(join(root, 'examples', 'configs', 'per-core.json')));
  assert.is(formatPlan(p), block[1].trimEnd());
});

test.run();
