// Every error class the docs tell users about is exported, with its own
// name (and, for gatio's own, a code): the docs are walked for names.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as gatio from '../dist/index.js';
import { root } from './_support.mjs';

const JS_BUILTINS = new Set(['Error', 'TypeError', 'RangeError', 'AggregateError', 'SyntaxError']);
const docs = [join(root, 'README.md'), ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(root, 'docs', f))];
const named = new Map();
for (const file of docs) {
  for (const m of readFileSync(file, 'utf8').matchAll(/\b([A-Z][A-Za-z]*Error)\b/g)) if (!JS_BUILTINS.has(m[1])) named.set(m[1], file);
}

test('the docs name gatio errors (the walk finds them)', () => {
  assert.ok(named.size >= 10, `found ${[...named.keys()].join(', ')}`);
});

test('each error class the docs name is exported from gatio, with its own name', () => {
  for (const [name, file] of named) {
    const cls = gatio[name];
    assert.type(cls, 'function', `${name} (named in ${file}) is exported`);
    assert.ok(cls.prototype instanceof Error, `${name} is an Error class`);
    // Its instances say what they are (not "Error"): the name travels in logs and stacks.
    const proto = Object.create(cls.prototype);
    const instanceName = Object.getOwnPropertyDescriptor(cls.prototype, 'name')?.value ?? tryName(cls);
    assert.is(instanceName, name, `${name}'s instances are named "${name}"`);
    const code = instanceOf(cls)?.code;
    assert.type(code, 'string', `${name} has a code`);
    void proto;
  }
});

function instanceOf(cls) {
  const stats = { node: 0, inUse: 0, bytes: 0, largestFree: 0 };
  for (const args of [['x', 'GATIO_TEST', 'p'], [[]], [{ id: 0, name: 'd' }, undefined, new Error('x')], [1, stats], ['x'], []]) {
    try {
      return new cls(...args);
    } catch {
      // the next shape
    }
  }
  return undefined;
}

/** The name an instance gets (class fields set it in the constructor): build one with harmless arguments. */
function tryName(cls) {
  const stats = { node: 0, inUse: 0, bytes: 0, largestFree: 0 };
  for (const args of [['x', 'GATIO_TEST', 'p'], [[]], [{ id: 0, name: 'd' }, undefined, new Error('x')], [1, stats], ['x'], []]) {
    try {
      return new cls(...args).name;
    } catch {
      // the next shape
    }
  }
  return undefined;
}

test.run();
