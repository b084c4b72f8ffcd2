import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { topology } from '../dist/index.js';

test('synthetic topology loads', () => {
  const t = topology({ synthetic: 'Package:2 NUMANode:1 Core:4 PU:2' });
  assert.is(t.nodes.length, 2);
});

test.run();
