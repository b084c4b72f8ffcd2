// runtime.wakeLatencyUs on the real kernel: the drivers' CPUs get a PM QoS
// resume-latency bound while the runtime runs (the kernel then keeps them out
// of idle states that wake slower), and it is undone at shutdown, at process
// exit, and after a failed start. The failure paths use a directory of our
// own as sysfs (GATIO_SYSFS_CPU): what is tested there is our restore logic.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, StartError, doctor, plan, start, topology } from '../dist/index.js';
import { TASKS } from './_runtime-support.mjs';
import { fixtures, root, skip } from './_support.mjs';

const file = (cpu) => `/sys/devices/system/cpu/cpu${cpu}/power/pm_qos_resume_latency_us`;
const read = (cpu) => readFileSync(file(cpu), 'utf8').trim();

/** Why the real sysfs cannot be used here, or null. */
function noSysfs(cpu) {
  if (!existsSync(file(cpu))) return `this kernel has no per-CPU PM QoS (${file(cpu)})`;
  if (process.getuid?.() !== 0) return 'writing the PM QoS bound needs root';
  return null;
}

/** Entries of the CPU's idle states other than polling (state0 is POLL where cpuidle has it). */
function haltEntries(cpu) {
  const dir = `/sys/devices/system/cpu/cpu${cpu}/cpuidle`;
  if (!existsSync(dir)) return null;
  let n = 0;
  for (const s of readdirSync(dir).filter((x) => x.startsWith('state'))) {
    if (readFileSync(join(dir, s, 'name'), 'utf8').trim() === 'POLL') continue;
    n += Number(readFileSync(join(dir, s, 'usage'), 'utf8'));
  }
  return n;
}

test('runtime.wakeLatencyUs is checked: whole µs from 0 to 1000000, or null', () => {
  for (const bad of [-1, 1.5, '5', 2e6, true]) {
    try {
      plan(topology(), { runtime: { wakeLatencyUs: bad } });
      assert.unreachable(`accepted ${JSON.stringify(bad)}`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.match(err.message, /runtime\.wakeLatencyUs: expected whole microseconds from 0/);
    }
  }
  plan(topology(), { runtime: { wakeLatencyUs: null } });
  plan(topology(), { runtime: { wakeLatencyUs: 0 } });
  plan(topology(), { runtime: { wakeLatencyUs: 20 } });
});

test('0: the driver CPU polls when idle while the runtime runs (no halt entered while its driver is parked); shutdown puts the bound back', async () => {
  const cpu = topology().allowed.pus[0];
  const why = noSysfs(cpu);
  if (why) return skip('wake latency bound', why);
  const before = read(cpu);
  const rt = await start({ modules: [TASKS], tpcs: [{ node: 0, cores: [topology().cores.find((c) => c.pus.includes(cpu)).id] }], runtime: { wakeLatencyUs: 0 } });
  try {
    const pu = rt.driverStats()[0].pu;
    assert.is(pu, cpu);
    assert.is(read(cpu), 'n/a', 'the sysfs form of a 0 µs bound');
    assert.is(await rt.spawn('add', [1, 2]), 3);
    const halts = haltEntries(cpu);
    if (halts !== null) {
      const parks = rt.driverStats()[0].parks;
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(rt.driverStats()[0].parks >= parks, 'the driver is parked');
      assert.is(haltEntries(cpu), halts, `CPU ${cpu} entered an idle state other than polling while bounded`);
    }
    const report = doctor({ placement: false }).checks.find((c) => c.id === 'cpu.wakeLatency');
    assert.is(report.status, 'warn');
    assert.match(report.detail, new RegExp(`CPU [^:]*\\b${cpu}\\b[^:]* at 0 µs`));
  } finally {
    await rt.shutdown();
  }
  assert.is(read(cpu), before, 'restored at shutdown');
  // Without the bound the CPU halts again when idle (so the check above could fail).
  const halts = haltEntries(cpu);
  if (halts !== null && before === '0') {
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(haltEntries(cpu) > halts, `CPU ${cpu} never halted in 300 ms without a bound`);
  }
});

test('a bound in µs is written as such; a process that exits without shutdown() puts it back', () => {
  const cpu = topology().allowed.pus[0];
  const why = noSysfs(cpu);
  if (why) return skip('wake latency bound', why);
  const before = read(cpu);
  const src = `
    import { start, topology } from ${JSON.stringify(join(root, 'dist/index.js'))};
    import { readFileSync } from 'node:fs';
    const core = topology().cores.find((c) => c.pus.includes(${cpu})).id;
    const rt = await start({ tpcs: [{ node: 0, cores: [core] }], runtime: { wakeLatencyUs: 7 } });
    console.log(readFileSync(${JSON.stringify(file(cpu))}, 'utf8').trim());
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], { encoding: 'utf8', timeout: 30_000 });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), '7', 'bounded while it ran');
  assert.is(read(cpu), before, 'restored at exit');
});

test('a start that fails after bounding (a task module throws at import) puts the bound back', async () => {
  const cpu = topology().allowed.pus[0];
  const why = noSysfs(cpu);
  if (why) return skip('wake latency bound', why);
  const before = read(cpu);
  const core = topology().cores.find((c) => c.pus.includes(cpu)).id;
  const err = await start({ modules: [join(fixtures, 'tasks', 'throws-on-import.mjs')], tpcs: [{ node: 0, cores: [core] }], runtime: { wakeLatencyUs: 3 } }).catch((e) => e);
  assert.instance(err, StartError);
  assert.is(read(cpu), before);
});

test('a bound that cannot be set fails start() naming the CPU and file, and undoes the CPUs already bounded', async () => {
  const pus = topology().allowed.pus;
  if (pus.length < 2) return skip('wake latency failure path', 'needs 2 allowed CPUs (one bounded, one failing)');
  const dir = mkdtempSync(join(tmpdir(), 'gatio-sysfs-'));
  // The first driver's CPU has the file; the second's does not.
  mkdirSync(join(dir, `cpu${pus[0]}`, 'power'), { recursive: true });
  const fake = join(dir, `cpu${pus[0]}`, 'power', 'pm_qos_resume_latency_us');
  writeFileSync(fake, '12\n');
  process.env.GATIO_SYSFS_CPU = dir;
  try {
    await start({ modules: [TASKS], tpcs: [{ node: 0, cores: 2 }], runtime: { wakeLatencyUs: 0 } });
    assert.unreachable('started');
  } catch (err) {
    assert.match(err.message, `cannot bound CPU ${pus[1]}'s wake latency (${join(dir, `cpu${pus[1]}`, 'power', 'pm_qos_resume_latency_us')}): ENOENT`);
    assert.match(err.message, 'unset runtime.wakeLatencyUs');
  } finally {
    delete process.env.GATIO_SYSFS_CPU;
  }
  assert.is(readFileSync(fake, 'utf8').trim(), '12', 'the CPU bounded before the failure got its bound back');
  rmSync(dir, { recursive: true });
  // Nothing is left running: a runtime starts again.
  const rt = await start({ modules: [TASKS], tpcs: [{ node: 0, cores: 1 }] });
  assert.is(await rt.spawn('add', [2, 2]), 4);
  await rt.shutdown();
});

test.run();
