// Config validation (errors and warnings, each with its path and reason),
// did-you-mean, and loading config files.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  topology,
  plan,
  validateConfig,
  loadConfig,
  ConfigError,
  formatIssue,
  formatIssues,
  defaultArenaBytes,
} from '../dist/index.js';
import { didYouMean, editDistance, runtimeBlockBytes, MessageQueue, Ring, STATS_BYTES } from '../dist/internals.js';
import { fixtures, root } from './_support.mjs';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const two = topology({ synthetic: 'Package:2 NUMANode:1 Core:4 PU:2' }); // cores 0-3 node 0, 4-7 node 1; PUs 2c, 2c+1
const linux = topology({ xml: join(fixtures, '2socket-smt-linux.xml') }); // cores 0-7 node 0, 8-15 node 1; 16 GiB each
const flat = topology({ synthetic: 'NUMANode:1 Core:4 PU:1' });

/** The formatted errors ("path: message") of a config that must be invalid. */
function errorsOf(config, t = two) {
  const r = validateConfig(config, t);
  assert.is(r.ok, false, `expected errors for ${JSON.stringify(config)}`);
  assert.ok(r.errors.length > 0);
  return r.errors.map(formatIssue);
}

/** Asserts one error at `path` whose message matches `re`. */
function expectError(config, path, re, t = two) {
  const r = validateConfig(config, t);
  const hit = r.errors.find((e) => e.path === path && re.test(e.message));
  assert.ok(hit, `no error at ${path} matching ${re}; got:\n${r.errors.map(formatIssue).join('\n')}`);
  assert.is(r.ok, false);
  return hit;
}

function warningsOf(config, t = two) {
  const r = validateConfig(config, t);
  assert.ok(r.ok, `expected a valid config, got:\n${r.errors.map(formatIssue).join('\n')}`);
  return r.warnings.map(formatIssue);
}

test('the default config is valid and warning-free', () => {
  for (const t of [two, linux, flat, topology()]) {
    const r = validateConfig(undefined, t);
    assert.equal(r, { ok: true, errors: [], warnings: [] });
    assert.equal(validateConfig({}, t), r);
  }
});

test('wrong types, with path, value and what was expected', () => {
  const hit = expectError({ tpcs: [{ node: 'zero' }] }, 'tpcs[0].node', /^expected a NUMA node number, got "zero"$/);
  assert.is(hit.value, 'zero');
  assert.equal(errorsOf([1, 2]), ['expected a config object, got a list']);
  assert.equal(errorsOf('auto'), ['expected a config object, got "auto"']);
  expectError({ tpcs: [{ node: -1 }] }, 'tpcs[0].node', /got -1/);
  expectError({ tpcs: [{ node: 1.5 }] }, 'tpcs[0].node', /got 1.5/);
  expectError({ smt: 'threads' }, 'smt', /expected "core", "thread" or "split", got "threads"; did you mean "thread"\?/);
  expectError({ smt: 2 }, 'smt', /got 2$/);
  expectError({ prefault: 'yes' }, 'prefault', /expected true or false, got "yes"/);
  expectError({ tpcs: [{ prefault: 1 }] }, 'tpcs[0].prefault', /expected true or false, got 1/);
  expectError({ tpcs: 'Auto' }, 'tpcs', /expected "auto" or a list of TPCs, got "Auto"; did you mean "auto"\?/);
  expectError({ tpcs: {} }, 'tpcs', /expected "auto" or a list of TPCs, got \{\}/);
  expectError({ tpcs: [3] }, 'tpcs[0]', /expected a TPC object .* got 3/);
  expectError({ tpcs: [{ name: 7 }] }, 'tpcs[0].name', /expected a non-empty string, got 7/);
  expectError({ tpcs: [{ name: 'a/b' }] }, 'tpcs[0].name', /contains "\/"/);
  expectError({ tpcs: [{ name: 'x' }, { name: 'x', node: 1 }] }, 'tpcs[1].name', /name "x" is already used by tpcs\[0\]/);
  expectError({ tpcs: [{ node: 0, cores: { a: 1 } }] }, 'tpcs[0].cores', /expected a core count, a list of core ids, or a cpulist string like "0-7,16-23", got \{"a":1\}/);
  expectError({ tpcs: [{ cores: [1, '2-3'] }] }, 'tpcs[0].cores[1]', /expected a core number, got "2-3" \(a cpulist goes in one string/);
  expectError({ drivers: 5 }, 'drivers', /expected "io", "exec" or "hybrid", counts like .* got 5/);
  expectError({ drivers: { perCore: ['io'] } }, 'drivers.perCore', /expected an object mapping core ids or cpulists to driver kinds/);
});

test('bad cpulists, sizes, counts and kinds', () => {
  expectError({ tpcs: [{ cores: '0-x' }] }, 'tpcs[0].cores', /"0-x" is not a number or range/);
  expectError({ tpcs: [{ cores: '5-2' }] }, 'tpcs[0].cores', /range "5-2" is backwards/);
  expectError({ reserve: 'all' }, 'reserve', /"all" is not a number or range/);
  expectError({ arena: '12 parsecs' }, 'arena', /"12 parsecs" is not a size/);
  expectError({ tpcs: [{ node: 0, arena: -5 }] }, 'tpcs[0].arena', /-5 is not a whole, non-negative number of bytes/);
  expectError({ arena: true }, 'arena', /expected bytes .* got boolean/);
  expectError({ tpcs: [{ node: 0, cores: -2 }] }, 'tpcs[0].cores', /got -2 \(a count must be a whole number >= 0\)/);
  expectError({ reserve: 1.5 }, 'reserve', /got 1.5/);
  expectError({ drivers: { io: -1 } }, 'drivers.io', /expected a driver count \(a whole number >= 0\), got -1/);
  expectError({ drivers: { exec: '2' } }, 'drivers.exec', /got "2"/);
  expectError({ drivers: {} }, 'drivers', /asks for no drivers at all/);
  expectError({ drivers: 'hybird' }, 'drivers', /got "hybird"; did you mean "hybrid"\?/);
  expectError({ tpcs: [{ drivers: 'gpu' }] }, 'tpcs[0].drivers', /got "gpu"$/);
  expectError({ drivers: { perCore: { 0: 'ios' } } }, 'drivers.perCore["0"]', /expected a driver kind \("io", "exec" or "hybrid"\), got "ios"; did you mean "io"\?/);
  expectError({ drivers: { perCore: { 'a-b': 'io' } } }, 'drivers.perCore["a-b"]', /"a-b" is not a number or range/);
  expectError({ drivers: { perCore: { '0-2': 'io', '2-3': 'exec' } } }, 'drivers.perCore["2-3"]', /^core 2 is already given a kind by "0-2"$/);
  expectError({ drivers: { perCore: {} } }, 'drivers.perCore', /names no core/);
});

test('runtime settings: modules, queues and runtime knobs are checked with their paths', () => {
  expectError({ modules: { http: {} } }, 'modules', /expected a list of task module paths/);
  expectError({ modules: ['./a.mjs', 7] }, 'modules[1]', /expected a module path/);
  expectError({ queues: { batch: { shares: 0 } } }, 'queues.batch.shares', /expected a positive number/);
  expectError({ queues: { rpc: { latency: { maxDelayMs: -1 } } } }, 'queues.rpc.latency', /maxDelayMs/);
  expectError({ queues: { rpc: { share: 2 } } }, 'queues.rpc.share', /did you mean "shares"\?/);
  // the scheduler's range: outside it, every driver would fail to start
  expectError({ queues: { big: { shares: 1e7 } } }, 'queues.big.shares', /from 0\.001 to 1000000/);
  expectError({ queues: { tiny: { shares: 0.0001 } } }, 'queues.tiny.shares', /from 0\.001 to 1000000/);
  expectError({ queues: { rpc: { latency: { maxDelayMs: 5, foo: 1 } } } }, 'queues.rpc.latency.foo', /unknown key \(expected maxDelayMs\)/);
  expectError({ runtime: { spinUs: -5 } }, 'runtime.spinUs', /microseconds/);
  expectError({ runtime: { inboxSlots: 1000 } }, 'runtime.inboxSlots', /power of two/);
  expectError({ runtime: { spinus: 5 } }, 'runtime.spinus', /did you mean "spinUs"\?/);
  const ok = validateConfig({ modules: ['./t.mjs'], queues: { rpc: { latency: { maxDelayMs: 5 } } }, runtime: { spinUs: 0 } }, two);
  assert.ok(ok.ok, formatIssues(ok.errors));
});

test('unknown keys at every level, with did-you-mean', () => {
  expectError({ tpcs: [{ node: 0, coers: 2 }] }, 'tpcs[0].coers', /^unknown key; did you mean "cores"\?$/);
  expectError({ tpc: 'auto' }, 'tpc', /did you mean "tpcs"\?/);
  expectError({ Smt: 'core' }, 'Smt', /did you mean "smt"\?/);
  expectError({ http: { port: 80 } }, 'http', /^unknown key/);
  expectError({ cores: '0-3' }, 'cores', /"cores" is a TPC setting: put it in a TPC, like "tpcs": \[\{ "cores": \.\.\. \}\]/);
  expectError({ tpcs: [{ node: 0, reserved: [0] }] }, 'tpcs[0].reserved', /did you mean "reserve"\?/);
  expectError({ tpcs: [{ node: 0, arnea: '1GiB' }] }, 'tpcs[0].arnea', /did you mean "arena"\?/);
  expectError({ drivers: { ios: 2 } }, 'drivers.ios', /did you mean "io"\?/);
  expectError({ drivers: { percore: { 0: 'io' } } }, 'drivers.percore', /did you mean "perCore"\?/);
  expectError({ drivers: { perCore: { 0: 'io' }, exec: 3 } }, 'drivers.exec', /unknown key; perCore cannot be combined with counts/);
  expectError({ tpcs: [{ node: 0, xyzzy: 1 }] }, 'tpcs[0].xyzzy', /^unknown key$/);
});

test('nodes and cores: missing, on another node, not allowed', () => {
  expectError({ tpcs: [{ node: 5 }] }, 'tpcs[0].node', /^there is no NUMA node 5 \(this machine has nodes 0-1\)$/);
  expectError({ tpcs: [{ cores: [40, 41] }] }, 'tpcs[0].cores', /^there are no cores 40-41 \(this machine has cores 0-7\)$/);
  expectError({ reserve: [9] }, 'reserve', /there is no core 9/);
  expectError({ tpcs: [{ node: 0, cores: '0-3,9' }] }, 'tpcs[0].cores', /there is no core 9/, two);
  // the message the docs promise, on the 2-socket fixture
  expectError({ tpcs: [{ node: 0, cores: '0-7' }, { node: 1, cores: [9, 3] }] }, 'tpcs[1].cores', /^core 3 is on NUMA node 0, not node 1 \(node 1 has cores 8-15\)$/, linux);
  expectError({ tpcs: [{ node: 0, cores: '6-9' }] }, 'tpcs[0].cores', /^cores 8-9 are on NUMA node 1, not node 0 \(node 0 has cores 0-7\)$/, linux);

  const restricted = topology({ synthetic: 'NUMANode:1 Core:4 PU:1', restrict: '0-1' });
  expectError({ tpcs: [{ cores: [0, 3] }] }, 'tpcs[0].cores', /^core 3 is not allowed for this process \(allowed cores: 0-1\)$/, restricted);
  // ... unless it is only reserved
  assert.ok(validateConfig({ tpcs: [{ cores: [0, 1, 3], reserve: [3] }] }, restricted).ok);
  assert.ok(validateConfig({ reserve: [3], tpcs: [{ cores: '0-1,3' }] }, restricted).ok);
  assert.ok(validateConfig({ reserve: '2-3' }, restricted).ok);

  const mems0 = topology({ xml: join(fixtures, '2socket-mems0.xml') });
  expectError({ tpcs: [{ node: 1 }] }, 'tpcs[0].node', /^NUMA node 1's memory is not allowed for this process \(allowed nodes: 0\)$/, mems0);
  expectError({ tpcs: [{ cores: '8-9' }] }, 'tpcs[0].cores', /cores 8-9 are on NUMA node 1, whose memory is not allowed/, mems0);
});

test('a TPC without cores', () => {
  expectError({ tpcs: [{ cores: [] }] }, 'tpcs[0].cores', /empty list: a TPC needs at least one core/);
  expectError({ tpcs: [{ cores: '' }] }, 'tpcs[0].cores', /empty list/);
  expectError({ tpcs: [{ node: 0, cores: 0 }] }, 'tpcs[0].cores', /0 cores: a TPC needs at least one core/);
  expectError({ tpcs: [{ cores: '0-1', reserve: '0-1' }] }, 'tpcs[0].cores', /every core of this TPC \(0-1\) is reserved/);
  expectError({ reserve: '0-3', tpcs: [{ node: 0 }, { node: 1 }] }, 'tpcs[0]', /^NUMA node 0 has no allowed cores once reserves and other TPCs are served \(cores 0-3 taken\): the TPC has no core for drivers$/);
  const restricted = topology({ synthetic: 'Package:2 NUMANode:1 Core:4 PU:2', restrict: '0-5' });
  expectError({ tpcs: [{ node: 1 }] }, 'tpcs[0].node', /^NUMA node 1 has no allowed cores \(its cores 4-7 are outside the allowed cores 0-2\)$/, restricted);
  expectError({ tpcs: [{ cores: 2 }] }, 'tpcs[0]', /give "node" or a list of "cores": this machine has 2 NUMA nodes with allowed cores \(0-1\)/);
  const memOnly = topology({ synthetic: 'Package:1 NUMANode:1 Core:2 PU:1' });
  assert.ok(validateConfig({ tpcs: [{ cores: 1 }] }, memOnly).ok, 'one node: node may be omitted with a count');
});

test('two TPCs claiming one core', () => {
  const hit = expectError({ tpcs: [{ cores: '0-2' }, { cores: '2-3' }] }, 'tpcs[1].cores', /^core 2 is also claimed by tpcs\[0\]/);
  assert.is(hit.value, '2');
  expectError({ tpcs: [{ cores: '0-3', reserve: [0] }, { node: 0, cores: '4-5' }, { cores: [0] }] }, 'tpcs[0].reserve', /^core 0 is reserved here but tpcs\[2\] runs drivers on it$/, linux);
  expectError({ tpcs: [{ cores: '0-3' }, { node: 0, reserve: [1] }, { node: 1 }] }, 'tpcs[1].reserve', /^core 1 is reserved here but tpcs\[0\] runs drivers on it/, linux);
  expectError({ tpcs: [{ node: 0 }, { node: 0 }] }, 'tpcs[1]', /NUMA node 0 has no allowed cores .*taken/);
});

test('arena: larger than the node, zero', () => {
  expectError({ tpcs: [{ node: 1, arena: '64GiB' }] }, 'tpcs[0].arena', /^64 GiB is more than NUMA node 1's memory \(1 GiB\)$/);
  expectError({ arena: '2GiB' }, 'arena', /^for tpc0 \(node 0\): 2 GiB is more than NUMA node 0's memory \(1 GiB\)$/);
  expectError({ arena: 0 }, 'arena', /must be larger than 0 bytes/);
  expectError({ tpcs: [{ node: 0, arena: '0MiB' }] }, 'tpcs[0].arena', /must be larger than 0 bytes/);
  const w = warningsOf({ tpcs: [{ cores: '0-1', arena: '768MiB' }, { cores: '2-3', arena: '768MiB' }, { node: 1 }] });
  assert.ok(w.some((x) => /the arenas of tpc0, tpc1 add up to 1.5 GiB, more than NUMA node 0's memory \(1 GiB\)/.test(x)), w.join('\n'));
});

test('drivers: counts above the slots, perCore outside the TPC, drivers with split', () => {
  expectError({ tpcs: [{ node: 0, drivers: { io: 2, exec: 3 } }] }, 'tpcs[0].drivers', /^asks for 5 drivers \(io 2, exec 3\) but the TPC has 4 slots \(4 cores under smt "core"\)$/);
  expectError({ smt: 'thread', tpcs: [{ node: 0, drivers: { hybrid: 9 } }] }, 'tpcs[0].drivers', /has 8 slots \(8 allowed hardware threads on 4 cores under smt "thread"\)/);
  expectError({ drivers: { exec: 5 } }, 'drivers', /^for tpc0 \(node 0\): asks for 5 drivers/);
  expectError({ tpcs: [{ node: 0, drivers: { perCore: { '3-4': 'io' } } }] }, 'tpcs[0].drivers.perCore["3-4"]', /^core 4 is not one of this TPC's driver cores \(0-3\)$/);
  expectError({ tpcs: [{ node: 0, reserve: [0], drivers: { perCore: { 0: 'io' } } }] }, 'tpcs[0].drivers.perCore["0"]', /reserved cores have no driver/);
  expectError({ reserve: [0], drivers: { perCore: { 0: 'io' } } }, 'drivers.perCore["0"]', /core 0 is not a driver core of any TPC \(driver cores: 1-7\)/);
  expectError({ smt: 'split', drivers: 'io' }, 'drivers', /cannot be combined with smt "split": split decides the kinds/);
  expectError({ tpcs: [{ node: 0, smt: 'split', drivers: { io: 1 } }] }, 'tpcs[0].drivers', /cannot be combined with smt "split"/);
});

test('a count larger than the node has', () => {
  expectError({ tpcs: [{ node: 1, cores: 6 }] }, 'tpcs[0].cores', /^asks for 6 cores but NUMA node 1 has only 4 allowed cores \(4-7\)$/);
  expectError({ reserve: [4], tpcs: [{ node: 1, cores: 4 }] }, 'tpcs[0].cores', /only 3 allowed cores \(5-7\) once reserves and other TPCs are served \(core 4 taken\)/);
  expectError({ reserve: 9 }, 'reserve', /asks for 9 cores but only 8 are allowed \(cores 0-7\)/);
  expectError({ tpcs: [{ node: 0, reserve: 5 }] }, 'tpcs[0].reserve', /asks for 5 cores but only 4 of NUMA node 0's cores are allowed and free/);
  expectError({ tpcs: [{ node: 0, reserve: [5] }] }, 'tpcs[0].reserve', /core 5 is not one of NUMA node 0's cores \(0-3\)/);
  expectError({ tpcs: [{ cores: '0-2', reserve: [3] }] }, 'tpcs[0].reserve', /core 3 is not one of this TPC's cores \(0-2\)/);
});

test('every error is reported at once, sorted by path', () => {
  const config = {
    smt: 'split',
    drivers: 'exec',
    tpcz: [],
    arena: 'lots',
    tpcs: [
      { node: 'zero', coers: 1 },
      { node: 1, cores: [0, 4], drivers: { io: 9 } },
      { node: 7, arena: 0 },
    ],
  };
  const errs = errorsOf(config);
  const paths = validateConfig(config, two).errors.map((e) => e.path);
  for (const p of ['arena', 'drivers', 'tpcz', 'tpcs[0].coers', 'tpcs[0].node', 'tpcs[1].cores', 'tpcs[2].arena', 'tpcs[2].node']) {
    assert.ok(paths.includes(p), `missing ${p} in:\n${errs.join('\n')}`);
  }
  assert.equal(paths, [...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  // with plan(), the ConfigError lists them, one per line
  try {
    plan(two, config);
    assert.unreachable();
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.is(err.errors.length, errs.length);
    assert.is(err.message.split('\n').length, errs.length + 1);
    for (const e of errs) assert.ok(err.message.includes(e), e);
  }
});

test('the error listing shown in docs/config.md is what validation prints', () => {
  const config = { smt: 'thread', tpcs: [{ node: 'zero', coers: 1 }, { node: 1, cores: '3,9-15', drivers: { io: 4, exec: 16 } }] };
  const lines = errorsOf(config, linux);
  const doc = readFileSync(join(root, 'docs', 'config.md'), 'utf8');
  const block = /```\n(tpcs\[0\]\.coers[\s\S]*?)```/.exec(doc);
  assert.ok(block, 'the doc has the listing');
  assert.equal(lines, block[1].trim().split('\n'));
});

test('warnings', () => {
  // spanning nodes
  let w = warningsOf({ tpcs: [{ cores: '2-7' }] });
  assert.ok(w.includes('tpcs[0].cores: cores 2-7 span NUMA nodes 0-1; the arena goes on node 1, which holds 4 of them (set "node" to choose, or split the TPC per node)'), w.join('\n'));
  const spanning = plan(two, { tpcs: [{ cores: '2-7' }] });
  assert.equal([spanning.tpcs[0].node, spanning.tpcs[0].nodes], [1, [0, 1]]);
  // allowed cores nobody uses
  w = warningsOf({ tpcs: [{ node: 0 }] });
  assert.ok(w.includes('tpcs: allowed cores 4-7 are used by no TPC and not reserved (add them to a TPC, or to reserve)'), w.join('\n'));
  assert.equal(warningsOf({ reserve: '4-7', tpcs: [{ node: 0 }] }), []);
  // fewer drivers than slots
  w = warningsOf({ tpcs: [{ node: 0, drivers: { io: 1, exec: 1 } }, { node: 1 }] });
  assert.ok(w.includes('tpcs[0].drivers: 2 drivers for 4 slots (4 cores under smt "core"): 2 slots left idle (cores 2-3)'), w.join('\n'));
  // split without SMT
  w = warningsOf({ smt: 'split' }, flat);
  assert.ok(w.some((x) => /^smt: for tpc0 \(node 0\): smt "split" has no effect: this machine has no SMT, so every core gets a hybrid driver$/.test(x)), w.join('\n'));
  // a node without memory
  w = warningsOf({}, topology({ xml: join(fixtures, 'memoryless-node.xml') }));
  assert.ok(w.some((x) => /NUMA node 1 has no memory of its own/.test(x)), w.join('\n'));
  w = warningsOf({ tpcs: [{ node: 1 }, { node: 0 }] }, topology({ xml: join(fixtures, 'memoryless-node.xml') }));
  assert.ok(w.some((x) => x.startsWith('tpcs[0].node: NUMA node 1 has no memory')), w.join('\n'));
});

test("auto with a reserve: a node left without cores gets no TPC; none left is an error", () => {
  const w = warningsOf({ reserve: '4-7' });
  assert.equal(w, ['tpcs: NUMA node 1 gets no TPC: all its allowed cores (4-7) are reserved']);
  assert.equal(plan(two, { reserve: '4-7' }).tpcs.map((t) => t.node), [0]);
  expectError({ reserve: 8 }, 'reserve', /^no TPC remains: the reserve leaves no allowed core for drivers \(allowed cores: 0-7; reserved: 0-7\)$/);
  // the machine-wide count takes the first N allowed cores
  assert.equal(plan(two, { reserve: 2 }).reserved, [0, 1]);
  const restricted = topology({ synthetic: 'Package:2 NUMANode:1 Core:4 PU:2', restrict: '4-15' });
  assert.equal(plan(restricted, { reserve: 2 }).reserved, [2, 3]);
});

test('issue formatting, ConfigError with a file', () => {
  assert.is(formatIssue({ path: 'tpcs[0].coers', message: 'unknown key' }), 'tpcs[0].coers: unknown key');
  assert.is(formatIssue({ path: '', message: 'no such file' }), 'no such file');
  assert.is(formatIssues([{ path: 'a', message: 'x' }, { path: 'b', message: 'y' }], 'g.json'), 'config g.json: a: x\nconfig g.json: b: y');
  const e = new ConfigError([{ path: 'smt', message: 'bad' }], [], '/x/g.json');
  assert.is(e.message, 'invalid gatio config /x/g.json (1 error):\n  smt: bad');
  assert.is(e.name, 'ConfigError');
  assert.is(e.file, '/x/g.json');
});

test('defaultArenaBytes: min(1 GiB, memory / 16), 2 MiB multiple, at least 2 MiB', () => {
  assert.is(defaultArenaBytes(16 * GiB), GiB);
  assert.is(defaultArenaBytes(64 * GiB), GiB);
  assert.is(defaultArenaBytes(GiB), 64 * MiB);
  assert.is(defaultArenaBytes(4523765760), 268 * MiB);
  assert.is(defaultArenaBytes(0), 2 * MiB);
  assert.is(defaultArenaBytes(10 * MiB), 2 * MiB);
});

test('did-you-mean helpers', () => {
  assert.is(editDistance('coers', 'cores'), 1, 'a swap is one edit');
  assert.is(editDistance('Cores', 'cores'), 0);
  assert.is(editDistance('', 'abc'), 3);
  assert.is(editDistance('kitten', 'sitting'), 3);
  assert.is(didYouMean('coers', ['name', 'node', 'cores']), 'cores');
  assert.is(didYouMean('tpc', ['tpcs', 'smt']), 'tpcs');
  assert.is(didYouMean('banana', ['tpcs', 'smt']), undefined);
  assert.is(didYouMean('', ['io']), undefined);
});

// --- loading files

const dir = mkdtempSync(join(tmpdir(), 'gatio-config-'));
const write = (name, text) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('loadConfig: .json', async () => {
  const p = write('a.json', JSON.stringify({ smt: 'thread', tpcs: [{ node: 1, cores: 2 }] }));
  assert.equal(await loadConfig(p), { smt: 'thread', tpcs: [{ node: 1, cores: 2 }] });
  assert.is(plan(two, await loadConfig(p)).drivers.length, 4);
});

test('loadConfig: .mjs default, named config, function; .cjs; .js', async () => {
  assert.equal(await loadConfig(write('d.mjs', 'export default { reserve: 1 };')), { reserve: 1 });
  assert.equal(await loadConfig(write('n.mjs', 'export const config = { smt: "split" };')), { smt: 'split' });
  assert.equal(await loadConfig(write('f.mjs', 'export default () => ({ arena: "64MiB" });')), { arena: '64MiB' });
  assert.equal(await loadConfig(write('af.mjs', 'export default async function () { return { prefault: true }; }')), { prefault: true });
  assert.equal(await loadConfig(write('c.cjs', 'module.exports = { drivers: "exec" };')), { drivers: 'exec' });
  assert.equal(await loadConfig(write('ce.cjs', 'exports.config = { drivers: "io" };')), { drivers: 'io' });
  assert.equal(await loadConfig(write('e.js', 'export default { tpcs: "auto" };')), { tpcs: 'auto' });
});

async function loadError(path) {
  try {
    await loadConfig(path);
  } catch (err) {
    assert.instance(err, ConfigError);
    return err;
  }
  assert.unreachable(`loadConfig(${path}) should have failed`);
}

test('loadConfig: broken JSON says the file, line and column', async () => {
  const p = write('broken.json', '{\n  "smt": "core",\n  "tpcs": [ { "node": 0, } ]\n}\n');
  const err = await loadError(p);
  assert.is(err.file, p);
  assert.match(err.message, p);
  assert.match(err.errors[0].message, /^invalid JSON: line 3, column 26: /);
  assert.match(formatIssues(err.errors, err.file), new RegExp(`^config ${p}: invalid JSON: line 3`));
});

test('loadConfig: missing file, wrong extension, module without a config, throwing module', async () => {
  const missing = join(dir, 'nope.json');
  let err = await loadError(missing);
  assert.is(err.file, missing);
  assert.match(err.message, `${missing} (1 error):\n  no such file`);
  err = await loadError(write('conf.yaml', 'smt: core\n'));
  assert.match(err.errors[0].message, /unsupported file type ".yaml": a config is a .json, .js, .mjs, .cjs file/);
  assert.match(err.message, 'conf.yaml');
  err = await loadError(write('none.mjs', 'export const other = 1;'));
  assert.match(err.errors[0].message, /exports no config/);
  err = await loadError(write('throws.mjs', 'throw new Error("boom");'));
  assert.match(err.errors[0].message, /cannot load module: boom/);
  err = await loadError(write('fthrows.mjs', 'export default () => { throw new Error("nope"); };'));
  assert.match(err.errors[0].message, /the exported config function threw: nope/);
  err = await loadError(write('list.json', '[1]'));
  assert.match(err.errors[0].message, /expected a config object, got a list/);
  err = await loadError(dir.replace(/$/, '/sub.json'));
  assert.match(err.errors[0].message, /no such file/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('an arena too small for the runtime\'s own blocks (inboxes, rings, stats) is a config error at its path, saying what it must hold', () => {
  // 2 hybrid drivers + the main thread's inbox in TPC 0: 3 inboxes of 4096 x 256 B (1 MiB + header: a 2 MiB block each).
  const hit = expectError({ tpcs: [{ node: 0, cores: '0-1', arena: '4MiB' }] }, 'tpcs[0].arena', /cannot hold the runtime's own blocks, 6\.1 MiB: 3 inboxes of 2 MiB/);
  assert.match(hit.message, /2 ring blocks of 32 KiB \(runtime\.ringEntries\)/);
  assert.match(hit.message, /lower runtime\.inboxSlots/);
  // A machine-wide arena names the TPC; TPC 1 holds no main inbox (2 inboxes).
  expectError({ arena: '2MiB', tpcs: [{ node: 0, cores: '0-1' }, { node: 1, cores: '4-5' }] }, 'arena', /for tpcs\[1\]: an arena of 2 MiB cannot hold the runtime's own blocks, 4\.1 MiB: 2 inboxes/);
  // Fewer slots fit; io drivers have no ring.
  assert.ok(validateConfig({ tpcs: [{ node: 0, cores: '0-1', arena: '4MiB' }], runtime: { inboxSlots: 1024 } }, two).ok);
  assert.ok(validateConfig({ tpcs: [{ node: 0, cores: '0-1', arena: '8MiB', drivers: { io: 1, hybrid: 1 } }] }, two).ok);
});

test('the footprint the config check uses is the protocol\'s: queue, ring and stats block sizes', () => {
  for (const knobs of [{ inboxSlots: 4096, slotBytes: 256, ringEntries: 256 }, { inboxSlots: 16, slotBytes: 64, ringEntries: 8 }]) {
    const b = runtimeBlockBytes(knobs);
    assert.is(b.inbox, MessageQueue.bytesFor(knobs.inboxSlots, knobs.slotBytes));
    assert.is(b.ring, Ring.bytesFor(knobs.ringEntries, 2 * knobs.ringEntries), 'a driver\'s ring: commands = entries, completions = 2 x entries (Ring.create defaults)');
    assert.is(b.stats, STATS_BYTES);
  }
});

test.run();
