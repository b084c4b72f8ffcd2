// The value codec (src/drivers/protocol/codec.ts): task arguments, results and
// errors as bytes. Round trips of every type, the v8.serialize fallback,
// errors with their remote stack, clear messages for what cannot be sent,
// and decoding of damaged input.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './_support.mjs';

import fc from 'fast-check';
import { isDeepStrictEqual, inspect } from 'node:util';
import { encode, encodeInto, decode, encodeError, decodeError, CodecError, MAX_DEPTH } from '../dist/internals.js';

/** encode + decode, through both entry points, at an odd offset of shared memory (like an arena block) */
function roundTrip(v) {
  const bytes = encode(v);
  const a = decode(bytes, 0, bytes.length);
  const dst = new Uint8Array(new SharedArrayBuffer(bytes.length + 16));
  const n = encodeInto(v, dst, 3);
  assert.is(n, bytes.length, 'encodeInto writes what encode does');
  assert.equal(dst.subarray(3, 3 + n), bytes);
  const b = decode(dst, 3, n);
  return [a, b, bytes];
}

function same(v, label = String(v)) {
  const [a, b] = roundTrip(v);
  for (const got of [a, b]) {
    if (typeof v === 'number') assert.ok(Object.is(got, v), `${label}: got ${got}`);
    else assert.equal(got, v, label);
  }
  return a;
}

test('primitives round-trip, numbers exactly (-0, NaN, ±Infinity, int32 edges, 2^53)', () => {
  for (const v of [undefined, null, true, false]) same(v);
  const numbers = [0, -0, 1, 127, 128, 255, -1, -128, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 32,
    2 ** 53, -(2 ** 53), 2 ** 53 + 2, 0.1, -1.5, Math.PI, Number.MIN_VALUE, Number.MAX_VALUE, Number.EPSILON,
    NaN, Infinity, -Infinity];
  for (const v of numbers) same(v);
  // compact: small ints take one byte, int32 five, doubles nine
  assert.is(encode(7).length, 1);
  assert.is(encode(-7).length, 5);
  assert.is(encode(2 ** 31).length, 9);
  assert.is(encode(-0).length, 9);
  assert.is(encode(true).length, 1);
});

test('strings: empty, ASCII, unicode, emoji, lone surrogates, every length class', () => {
  const strings = ['', 'a', 'x'.repeat(63), 'x'.repeat(64), 'héllo wörld', '日本語のテキスト', '😀👍🏽', 'a\u0000b',
    '\ud800', 'x\udc00y', 'é'.repeat(100), 'é'.repeat(40000), 'z'.repeat(100000), 'ü'.repeat(30000) + '😀'];
  for (const s of strings) same(s, `string of length ${s.length}`);
  assert.is(encode('abc').length, 5, 'tag, length byte, 3 bytes');
  assert.is(encode('é').length, 4, 'UTF-8, not UTF-16');
});

test('bigint and Date', () => {
  for (const v of [0n, 1n, -1n, 255n, 256n, 2n ** 63n, -(2n ** 64n), 2n ** 1000n + 12345n, -(3n ** 300n)]) same(v);
  for (const d of [new Date(0), new Date(), new Date(-8.64e15), new Date(NaN)]) {
    const [a] = roundTrip(d);
    assert.instance(a, Date);
    assert.ok(Object.is(a.getTime(), d.getTime()));
  }
});

test('arrays and plain objects: nested, large, sparse, odd keys', () => {
  same([]);
  same({});
  same([1, 'two', [3, [4, { five: 5 }]], null, undefined, true, -0.5, 9n]);
  same({ a: 1, b: { c: [1, 2, { d: 'e' }] }, 'key with spaces': 1, '': 2, 日本: 3, 10: 'ten' });
  same(Array.from({ length: 1000 }, (_, i) => i * 1.5));
  same(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i])));
  // holes stay holes, length stays
  const sparse = [1, , 3, , ,];
  const [s] = roundTrip(sparse);
  assert.is(s.length, 5);
  assert.ok(!(1 in s) && !(3 in s) && !(4 in s) && s[2] === 3);
  const huge = [];
  huge[1e9] = 'far';
  huge[2] = 'near';
  const [h, , hb] = roundTrip(huge);
  assert.is(h.length, 1e9 + 1);
  assert.is(h[1e9], 'far');
  assert.is(h[2], 'near');
  assert.ok(hb.length < 64, 'a huge sparse array encodes only its elements');
  // "__proto__" as data, not as the prototype
  const [p] = roundTrip(JSON.parse('{"__proto__": {"polluted": true}, "x": 1}'));
  assert.is(Object.getPrototypeOf(p), Object.prototype);
  assert.equal(Object.keys(p), ['__proto__', 'x']);
  assert.is(p.polluted, undefined);
  assert.is({}.polluted, undefined);
  // null-prototype objects and class instances travel as plain objects (as in a structured clone)
  const bare = Object.assign(Object.create(null), { a: 1 });
  same({ ...bare }, 'null prototype');
  class Point {
    constructor() {
      this.x = 1;
      this.y = 2;
    }
    get len() {
      return 3;
    }
  }
  const [pt] = roundTrip(new Point());
  assert.equal(pt, { x: 1, y: 2 });
  assert.is(Object.getPrototypeOf(pt), Object.prototype);
  assert.is(encode({ a: 1, b: 'x' }).length, 12, 'tag+count, then key/value pairs');
});

test('bytes: Uint8Array and Buffer round-trip as copies', () => {
  const u = new Uint8Array([1, 2, 3, 255]);
  const [a] = roundTrip(u);
  assert.instance(a, Uint8Array);
  assert.is(Object.getPrototypeOf(a), Uint8Array.prototype);
  assert.equal([...a], [1, 2, 3, 255]);
  const [b] = roundTrip(Buffer.from('hello'));
  assert.ok(Buffer.isBuffer(b));
  assert.is(b.toString(), 'hello');
  // the decoded bytes do not alias the source (an arena block is freed after decoding)
  const src = encode(new Uint8Array([9, 9]));
  const d = decode(src, 0, src.length);
  src.fill(0);
  assert.equal([...d], [9, 9]);
  assert.is(encode(new Uint8Array(10)).length, 15);
});

test('other structured-cloneable types fall back to v8.serialize and round-trip', () => {
  const map = new Map([[1, 'a'], ['b', { c: 2 }]]);
  const [m] = roundTrip(map);
  assert.instance(m, Map);
  assert.equal([...m], [...map]);
  const [set] = roundTrip(new Set([1, 'x']));
  assert.equal([...set], [1, 'x']);
  const [re] = roundTrip(/a+b/gi);
  assert.instance(re, RegExp);
  assert.is(re.source, 'a+b');
  assert.is(re.flags, 'gi');
  const [f] = roundTrip(new Float64Array([1.5, -2]));
  assert.instance(f, Float64Array);
  assert.equal([...f], [1.5, -2]);
  const [ab] = roundTrip(new Uint16Array([7, 8]).buffer);
  assert.instance(ab, ArrayBuffer);
  assert.equal([...new Uint16Array(ab)], [7, 8]);
  const [boxed] = roundTrip(new Number(3));
  assert.is(boxed.valueOf(), 3);
  // nested inside fast-path values
  const [nested] = roundTrip({ list: [new Map([[1, 2]])], when: new Date(5) });
  assert.instance(nested.list[0], Map);
  assert.is(nested.list[0].get(1), 2);
  assert.is(nested.when.getTime(), 5);
  // cycles keep their shape
  const o = { name: 'root', kids: [] };
  o.kids.push({ parent: o });
  o.self = o;
  const [c] = roundTrip(o);
  assert.is(c.self, c);
  assert.is(c.kids[0].parent, c);
  // deeper than MAX_DEPTH without a cycle: also v8
  let deep = 'bottom';
  for (let i = 0; i < MAX_DEPTH * 3; i++) deep = { d: deep };
  const [dd] = roundTrip(deep);
  let k = dd;
  for (let i = 0; i < MAX_DEPTH * 3; i++) k = k.d;
  assert.is(k, 'bottom');
  // just under the limit stays on the fast path and decodes
  let ok = 1;
  for (let i = 0; i < MAX_DEPTH; i++) ok = [ok];
  same(ok, 'MAX_DEPTH nested arrays');
});

test('errors keep name, message, remote stack, code, cause and other properties', () => {
  const plain = Object.assign(new Error('boom'), { code: 'E_BOOM' });
  const d = decodeError(encodeError(plain));
  assert.instance(d, Error);
  assert.is(d.name, 'Error');
  assert.is(d.message, 'boom');
  assert.is(d.code, 'E_BOOM');
  assert.is(d.stack, plain.stack, 'the remote stack, not a local one');
  assert.ok(d.stack.includes('codec.test.mjs'));

  const te = decodeError(encodeError(new TypeError('wrong type')));
  assert.instance(te, TypeError);
  assert.is(te.name, 'TypeError');

  // A name that is a key of Object.prototype found its value as the class ("toString is not a constructor"; the decode threw).
  for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf']) {
    const odd = decodeError(encodeError(Object.assign(new Error('odd name'), { name })));
    assert.instance(odd, Error, name);
    assert.is(odd.constructor, Error, `${name}: a plain Error`);
    assert.is(odd.name, name);
    assert.is(odd.message, 'odd name');
  }

  class ValidationError extends Error {
    constructor(msg) {
      super(msg);
      this.name = 'ValidationError';
      this.field = 'email';
      this.details = { min: 3, seen: [1, 2] };
    }
  }
  const ve = decodeError(encodeError(new ValidationError('too short')));
  assert.is(ve.name, 'ValidationError');
  assert.is(ve.field, 'email');
  assert.equal(ve.details, { min: 3, seen: [1, 2] });
  assert.ok(ve.stack.startsWith('ValidationError: too short'));

  let sys;
  try {
    readFileSync('/nonexistent/gatio');
  } catch (e) {
    sys = e;
  }
  const se = decodeError(encodeError(sys));
  for (const k of ['code', 'errno', 'syscall', 'path', 'message', 'stack']) assert.is(se[k], sys[k], k);

  const withCause = new RangeError('outer', { cause: Object.assign(new Error('inner'), { code: 'E_IN' }) });
  const wc = decodeError(encodeError(withCause));
  assert.instance(wc.cause, Error);
  assert.is(wc.cause.code, 'E_IN');
  assert.is(wc.cause.stack, withCause.cause.stack);
  assert.not.ok(Object.keys(wc).includes('cause'), 'cause stays non-enumerable');

  const agg = decodeError(encodeError(new AggregateError([new Error('a'), new TypeError('b')], 'many')));
  assert.instance(agg, AggregateError);
  assert.equal(agg.errors.map((e) => e.message), ['a', 'b']);
  assert.instance(agg.errors[1], TypeError);

  // errors are ordinary values too, anywhere in a value
  const [inside] = roundTrip({ ok: false, err: Object.assign(new SyntaxError('x'), { code: 'C' }) });
  assert.instance(inside.err, SyntaxError);
  assert.is(inside.err.code, 'C');

  // Node's internal errors (code on the instance)
  let ne;
  try {
    Buffer.alloc(-1);
  } catch (e) {
    ne = e;
  }
  const nd = decodeError(encodeError(ne));
  assert.is(nd.code, ne.code);
  assert.instance(nd, RangeError);
});

test('encodeError never throws: unsendable properties are left out, odd thrown values are described', () => {
  const e = Object.assign(new Error('has a callback'), { code: 'E_CB', cb() {}, sym: Symbol('s'), ok: 1 });
  e.self = e;
  const d = decodeError(encodeError(e));
  assert.is(d.message, 'has a callback');
  assert.is(d.code, 'E_CB');
  assert.is(d.ok, 1);
  assert.is(d.cb, undefined);
  assert.is(d.sym, undefined);
  const s = decodeError(encodeError('just a string'));
  assert.instance(s, Error);
  assert.match(s.message, /threw a non-Error value: "just a string"/);
  assert.is(s.value, 'just a string');
  const o = decodeError(encodeError({ status: 404 }));
  assert.equal(o.value, { status: 404 });
  const f = decodeError(encodeError(function handler() {}));
  assert.match(f.message, /thrown value: a function cannot be sent to another driver/);
  const hostile = new Proxy(new Error('p'), {
    get() {
      throw new Error('trap');
    },
    ownKeys() {
      throw new Error('trap');
    },
  });
  assert.instance(decodeError(encodeError(hostile)), Error);
});

test('values that cannot be sent give a clear error naming the type and where it is', () => {
  const cases = [
    [[1, { cb() {} }], /^args\[1\]\.cb: a function cannot be sent to another driver$/],
    [[Symbol('x')], /^args\[0\]: a symbol cannot be sent/],
    [[{ w: new WeakMap() }], /^args\[0\]\.w: a WeakMap cannot be sent/],
    [[{ p: Promise.resolve() }], /^args\[0\]\.p: a Promise cannot be sent/],
    [[{ 'a b': { list: [0, , () => 1] } }], /^args\[0\]\["a b"\]\.list\[2\]: a function cannot be sent/],
    [[new Map([[1, () => 1]])], /^args\[0\]: a Map cannot be sent to another driver \(.*could not be cloned/],
    [[new SharedArrayBuffer(8)], /^args\[0\]: a SharedArrayBuffer cannot be sent/],
  ];
  for (const [value, re] of cases) {
    for (const run of [() => encode(value, 'args'), () => encodeInto(value, new Uint8Array(256), 0, 'args')]) {
      try {
        run();
        assert.unreachable(`${re} should have thrown`);
      } catch (e) {
        assert.instance(e, CodecError);
        assert.is(e.code, 'ERR_GATIO_NOT_CLONEABLE');
        assert.match(e.message, re);
      }
    }
  }
  assert.throws(() => encode(() => 1), /^value: a function cannot be sent/);
});

test('encodeInto returns -1 when the value does not fit and writes nothing outside dst', () => {
  const backing = new Uint8Array(64).fill(0xee);
  const dst = backing.subarray(8, 40); // 32 bytes
  assert.is(encodeInto('x'.repeat(100), dst, 0), -1);
  assert.is(encodeInto('é'.repeat(20), dst, 0), -1, '40 UTF-8 bytes');
  assert.is(encodeInto('é'.repeat(10), dst, 0), 22, 'fits although 3 bytes per unit would not');
  assert.is(encodeInto(new Map([[1, 'x'.repeat(50)]]), dst, 0), -1);
  assert.is(encodeInto([1, 2, 3], dst, 31), -1);
  assert.is(encodeInto(1, dst, 32), -1, 'offset at the end');
  assert.is(encodeInto(1, dst, 31), 1);
  assert.ok(backing.subarray(0, 8).every((b) => b === 0xee) && backing.subarray(40).every((b) => b === 0xee));
  const exact = encode({ list: [1, 2, 3], s: 'héllo' });
  assert.is(encodeInto({ list: [1, 2, 3], s: 'héllo' }, new Uint8Array(exact.length), 0), exact.length, 'an exact fit');
  assert.is(encodeInto({ list: [1, 2, 3], s: 'héllo' }, new Uint8Array(exact.length - 1), 0), -1, 'one byte short');
  assert.throws(() => encodeInto(1, dst, 33), /offset must be an integer in \[0, 32\]/);
  assert.throws(() => encodeInto(1, [], 0), /dst must be a Uint8Array/);
});

test('decoding truncated or corrupt input is a clear error, never a hang or a crash', () => {
  const samples = [
    1, -5, 1.5, 'héllo', 'x'.repeat(300), 12n, new Date(1), [1, [2, 'three']], { a: { b: [1, , 3] } },
    new Map([[1, 2]]), new Uint8Array([1, 2]), Object.assign(new Error('e'), { code: 'C' }), '\ud800',
  ];
  for (const v of samples) {
    const bytes = v instanceof Error ? encodeError(v) : encode(v);
    for (let len = 0; len < bytes.length; len++) {
      try {
        decode(bytes, 0, len);
        assert.unreachable(`a ${len}-byte prefix of ${bytes.length} decoded`);
      } catch (e) {
        assert.instance(e, CodecError, `prefix ${len} of ${String(v).slice(0, 20)}: ${e.message}`);
        assert.is(e.code, 'ERR_GATIO_CORRUPT');
        assert.match(e.message, /^decode: .*\(truncated or corrupt input\)$/);
      }
    }
  }
  assert.throws(() => decode(new Uint8Array([0x7f]), 0, 1), /unknown tag 0x7f at byte 0/);
  assert.throws(() => decode(new Uint8Array([0x81, 0x81]), 0, 2), /1 bytes left over/);
  // counts larger than the input can hold are refused before allocating
  assert.throws(() => decode(new Uint8Array([0x0d, 0xff, 0xff, 0xff, 0x7f, 0x00]), 0, 6), /claims 2147483647 entries/);
  assert.throws(() => decode(new Uint8Array([0x10, 0xff, 0xff, 0xff, 0xff]), 0, 5), /claims 4294967295 entries/);
  // nesting deeper than any encoder output
  const deep = new Uint8Array(200).fill(0x0c);
  for (let i = 1; i < 200; i += 2) deep[i] = 1;
  assert.throws(() => decode(deep, 0, deep.length), /nesting deeper than/);
  // a damaged v8 payload
  const junk = [0xff, 0x0f, 0x6f, 0x22, 0xff, 0xff, 0xff, 0xff];
  const m = new Uint8Array([0x12, junk.length, 0, 0, 0, ...junk]);
  assert.throws(() => decode(m, 0, m.length), /v8-serialized value at byte 5 does not deserialize/);
  assert.throws(() => decode(new Uint8Array(4), 2, 3), /is not inside the 4-byte source/);
});

// Differential against V8's structured clone, which is what a value sent
// to a worker would become: for every value fast-check makes, the codec's
// round trip (encode and encodeInto at an odd offset of shared memory) is
// deeply and strictly equal to structuredClone's, prototypes included.
// Fixed seed: the same cases on every run (set GATIO_FC_SEED to explore).
const FC = { numRuns: 3000, seed: Number(process.env.GATIO_FC_SEED ?? 20261201) };

function sameAsClone(v) {
  const want = structuredClone(v);
  const bytes = encode(v);
  const dst = new Uint8Array(new SharedArrayBuffer(bytes.length + 8));
  const n = encodeInto(v, dst, 5);
  const got = [decode(bytes, 0, bytes.length), n >= 0 ? decode(dst, 5, n) : decode(bytes, 0, bytes.length)];
  for (const g of got) if (!isDeepStrictEqual(g, want)) throw new Error(`codec round trip differs from structuredClone:\n${inspect({ v, got: g, want }, { depth: 6 })}`);
}

test('property: any cloneable value round-trips as structuredClone copies it (fast-check, differential)', () => {
  // Dates apart: isDeepStrictEqual calls two invalid Dates unequal, even to themselves.
  const anything = fc.anything({ withBigInt: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true, withBoxedValues: true, maxDepth: 4 });
  fc.assert(fc.property(anything, sameAsClone), FC);
});

test('property: dates, valid or not, and numbers keep their exact value (fast-check)', () => {
  const exact = (a, b) => (a instanceof Date ? b instanceof Date && Object.is(a.getTime(), b.getTime()) : Object.is(a, b));
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.date(), fc.double(), fc.integer(), fc.constant(-0), fc.constant(new Date(NaN)))), (list) => {
      const bytes = encode(list);
      const got = decode(bytes, 0, bytes.length);
      const want = structuredClone(list);
      return got.length === want.length && got.every((x, i) => exact(x, want[i]));
    }),
    FC,
  );
});

test.run();
