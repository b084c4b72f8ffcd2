// The examples the README shows run as written.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { topology } from '../dist/index.js';
import { bounded, connect, freePort, readBytes, udpAsk } from './_net-support.mjs';
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

for (const drivers of ['hybrid', 'io+exec']) test(`examples/tcp-echo.mjs --drivers ${drivers} serves TCP and UDP echo on one port until SIGTERM, then exits 0`, async () => {
  const port = await freePort();
  const cores = topology().cores.filter((c) => c.allowed).map((c) => c.id).slice(0, 2).join(',');
  const child = spawn(process.execPath, [join(root, 'examples', 'tcp-echo.mjs'), '--port', String(port), '--cores', cores, '--drivers', drivers], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const said = [];
  for (let i = 0; i < 2; i++) said.push((await bounded(lines.next(), 20_000, `tcp-echo output (stderr: ${stderr})`)).value);
  assert.match(said.join('\n'), new RegExp(`tcp echo on port ${port}: drivers .*\\nudp echo on port ${port}: drivers `));
  const s = await connect(port, '127.0.0.1');
  const back = readBytes(s, 5);
  s.write('hello');
  assert.is((await bounded(back, 5000, 'tcp echo')).toString(), 'hello');
  s.destroy();
  const { m } = await udpAsk(port, 'ping');
  assert.is(m.toString(), 'ping');
  child.kill('SIGTERM');
  const code = await bounded(new Promise((r) => child.once('exit', r)), 10_000, 'exit after SIGTERM');
  assert.is(code, 0, stderr);
});

test.run();
