// Task modules that import 'gatio' on a driver thread get the driver side of
// the package (the "gatio-driver" export condition, dist/driver-api.js):
// the same names, none of the main thread's code (the doctor, config
// validation, the planner, the runtime, the control socket) loaded.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { start } from '../dist/index.js';
import * as mainApi from '../dist/index.js';
import * as driverApi from '../dist/driver-api.js';
import { root, fixtures } from './_support.mjs';

/** Every file dist/<entry> loads, following its static imports. */
function graph(entry) {
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:from|import)\s*["'](\.\/[^"']+)["']/g)) visit(join(dirname(file), m[1]));
  };
  visit(join(root, 'dist', entry));
  return [...seen];
}

const MAIN_ONLY = {
  doctor: /\bfunction doctor\(/,
  'config validation': /\bfunction resolveConfig\(/,
  planner: /\bfunction formatPlan\(/,
  runtime: /\bRuntime = class extends EventEmitter\b/,
  'control socket': /\bfunction serveControl\(/,
};

test('dist/driver-api.js loads none of the main-thread modules (and dist/index.js does load them: the markers are real)', () => {
  const drv = graph('driver-api.js').map((f) => readFileSync(f, 'utf8')).join('\n');
  const main = graph('index.js').map((f) => readFileSync(f, 'utf8')).join('\n');
  for (const [what, re] of Object.entries(MAIN_ONLY)) {
    assert.ok(re.test(main), `${what} is in the main build`);
    assert.not.ok(re.test(drv), `${what} is not loaded by the driver build`);
  }
});

test('the driver build exports the same names; the main-thread ones say where they belong', () => {
  assert.equal(Object.keys(driverApi).sort(), Object.keys(mainApi).sort());
  assert.throws(() => driverApi.start({}), /start\(\) runs on the main thread, not inside a driver/);
  assert.throws(() => driverApi.plan(), /plan\(\) runs on the main thread/);
  assert.throws(() => new driverApi.Runtime(), /Runtime is the main thread's/);
});

test("a task module's import of 'gatio' resolves to the driver build on a driver", async () => {
  const rt = await start({ modules: [join(fixtures, 'tasks', 'resolve.mjs')] });
  try {
    const r = await rt.spawn('whereIsGatio', []);
    assert.match(r.resolved, /dist\/driver-api\.js$/);
    assert.is(r.startThrows, true, 'start() there is the stand-in');
    assert.is(r.defineTaskWorks, true);
  } finally {
    await rt.shutdown();
  }
});

test.run();
