// The value codec: task arguments, results and errors as bytes, so they can
// travel through the MPSC queues and arena blocks between drivers (format:
// docs/drivers.md, section "Codec").
//
// A compact tagged format covers the common cases without allocating:
// primitives, strings (UTF-8 written straight into the destination), bigint,
// Date, Error, and arrays / plain objects of those. Anything else a
// structured clone accepts (Map, Set, RegExp, typed arrays, cycles, very
// deep values, ...) goes through v8.serialize under its own tag.
//
// The encoder keeps its state in module variables (no per-call object) and
// saves/restores them around each top-level call, so a getter that encodes
// something while being encoded does not corrupt the outer call.
import { threadSlot } from '../slot.js';
import * as v8 from 'node:v8';

// --- tags (one byte; 0x80..0xff are the small integers 0..127) ---
const T_UNDEFINED = 0x00;
const T_NULL = 0x01;
const T_FALSE = 0x02;
const T_TRUE = 0x03;
const T_INT32 = 0x04; // i32
const T_FLOAT64 = 0x05; // f64
const T_STR8 = 0x06; // u8 byte length, UTF-8
const T_STR16 = 0x07; // u16 byte length, UTF-8
const T_STR32 = 0x08; // u32 byte length, UTF-8
const T_STR_UTF16 = 0x09; // u32 code units, UTF-16LE (strings with lone surrogates)
const T_BIGINT = 0x0a; // u8 sign (1 = negative), u32 byte length, magnitude big-endian
const T_DATE = 0x0b; // f64 time value
const T_ARRAY8 = 0x0c; // u8 length, elements
const T_ARRAY32 = 0x0d; // u32 length, elements
const T_SPARSE = 0x0e; // u32 length, u32 entries, (string key, value) entries
const T_OBJECT8 = 0x0f; // u8 entries, (string key, value) entries
const T_OBJECT32 = 0x10; // u32 entries, (string key, value) entries
const T_ERROR = 0x11; // name, message (strings), stack (string | undefined), props (object)
const T_V8 = 0x12; // u32 byte length, v8.serialize bytes
const T_U8 = 0x13; // u32 byte length, bytes: a Uint8Array (decoded as a copy)
const T_BUFFER = 0x14; // u32 byte length, bytes: a Buffer (decoded as a copy)
const T_SHARED = 0x15; // u32 tpc, f64 offset, u32 length, f64 serial: a view of arena memory, not its bytes (shared-buffer.ts)
const T_SMALL = 0x80; // | n, for integers 0..127

/**
 * Objects that travel as a reference to arena memory rather than as bytes
 * carry this method, returning where they are; the receiving thread turns
 * the reference back into an object with the resolver installed under
 * the thread's slot (../slot.ts; a Mailbox installs one per thread).
 */
export const SHARED_REF = Symbol.for('gatio.sharedRef');
type SharedRef = { tpc: number; offset: number; length: number; serial: number };

/** Arrays/objects nested deeper than this go through v8.serialize (which also handles cycles). */
export const MAX_DEPTH = 64;

/** Why a value could not be encoded or decoded. `path` locates a non-cloneable part. */
export class CodecError extends Error {
  override name = 'CodecError';
  constructor(
    message: string,
    readonly code: 'ERR_GATIO_NOT_CLONEABLE' | 'ERR_GATIO_CORRUPT',
    readonly path?: string,
  ) {
    super(message);
  }
}

// Internal control flow: plain objects, so throwing them captures no stack.
const NO_SPACE = { reason: 'no space' };
const TOO_DEEP = { reason: 'too deep' };
class NotCloneable {
  readonly path: Array<string | number> = [];
  constructor(
    readonly what: string,
    readonly detail?: string,
  ) {}
}

function withPath(e: unknown, key: string | number): unknown {
  if (e instanceof NotCloneable) e.path.unshift(key);
  return e;
}

function formatPath(root: string, path: Array<string | number>): string {
  let s = root;
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
  return s;
}

function cloneError(e: NotCloneable, root: string): CodecError {
  const path = formatPath(root, e.path);
  const detail = e.detail === undefined ? '' : ` (${e.detail})`;
  return new CodecError(`${path}: ${e.what} cannot be sent to another driver${detail}`, 'ERR_GATIO_NOT_CLONEABLE', path);
}

/** "a function", "a WeakMap", ... for messages */
function article(v: unknown): string {
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  const tag = Object.prototype.toString.call(v).slice(8, -1);
  const name = (v as { constructor?: { name?: unknown } })?.constructor?.name;
  const what = typeof name === 'string' && name !== '' && name !== 'Object' ? name : tag;
  return /^[AEIOU]/.test(what) ? `an ${what}` : `a ${what}`;
}

/** Objects a structured clone refuses; v8.serialize would refuse them too, with a vaguer message. */
const NOT_CLONEABLE_TAGS = new Set(['WeakMap', 'WeakSet', 'WeakRef', 'Promise', 'FinalizationRegistry', 'Generator', 'AsyncGenerator']);

// --- encoder state ---
let buf: Uint8Array = new Uint8Array(0);
let pos = 0;
let end = 0;
/** encode(): grow buf instead of failing */
let growable = false;
/** ancestors[d]: the container being written at depth d (cycle check) */
let ancestors: object[] = [];

const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);
const utf8 = new TextEncoder();
const utf8dec = new TextDecoder();
const objectProto = Object.prototype;
const u8Proto = Uint8Array.prototype;
const bufferProto = Buffer.prototype;
const toTag = Object.prototype.toString;

function ensure(n: number): void {
  if (pos + n > end) {
    if (!growable) throw NO_SPACE;
    grow(pos + n);
  }
}

function grow(min: number): void {
  let cap = Math.max(buf.length * 2, 256);
  while (cap < min) cap *= 2;
  const b = new Uint8Array(cap);
  b.set(buf.subarray(0, pos));
  buf = b;
  end = cap;
}

function putU32(at: number, v: number): void {
  buf[at] = v;
  buf[at + 1] = v >>> 8;
  buf[at + 2] = v >>> 16;
  buf[at + 3] = v >>> 24;
}

function writeF64(v: number): void {
  f64[0] = v;
  for (let i = 0; i < 8; i++) buf[pos + i] = f64b[i]!;
  pos += 8;
}

function writeValue(v: unknown, depth: number): void {
  switch (typeof v) {
    case 'number':
      writeNumber(v);
      return;
    case 'string':
      writeString(v);
      return;
    case 'boolean':
      ensure(1);
      buf[pos++] = v ? T_TRUE : T_FALSE;
      return;
    case 'undefined':
      ensure(1);
      buf[pos++] = T_UNDEFINED;
      return;
    case 'bigint':
      writeBigInt(v);
      return;
    case 'object':
      if (v === null) {
        ensure(1);
        buf[pos++] = T_NULL;
        return;
      }
      writeObject(v, depth);
      return;
    default: // function, symbol
      throw new NotCloneable(article(v));
  }
}

function writeNumber(v: number): void {
  if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
    if (v >= 0 && v < 128) {
      ensure(1);
      buf[pos++] = T_SMALL | v;
    } else {
      ensure(5);
      buf[pos] = T_INT32;
      putU32(pos + 1, v);
      pos += 5;
    }
    return;
  }
  ensure(9); // -0, NaN, ±Infinity, fractions, integers beyond int32
  buf[pos++] = T_FLOAT64;
  writeF64(v);
}

function writeString(s: string): void {
  const n = s.length;
  if (n < 64) {
    // ASCII fast path: a loop beats encodeInto's call overhead on short strings.
    ensure(2 + n);
    let p = pos + 2;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[p++] = c;
    }
    if (i === n) {
      buf[pos] = T_STR8;
      buf[pos + 1] = n;
      pos = p;
      return;
    }
  }
  if (!(s as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    writeUtf16(s); // UTF-8 cannot carry lone surrogates; a structured clone keeps them
    return;
  }
  const max = n * 3; // UTF-8 bytes per UTF-16 unit, at most
  const hdr = max < 0x100 ? 2 : max < 0x10000 ? 3 : 5;
  for (;;) {
    ensure(hdr + Math.min(max, 1)); // room for the header at least
    const room = Math.min(max, end - pos - hdr);
    const r = utf8.encodeInto(s, buf.subarray(pos + hdr, pos + hdr + room));
    if (r.read === n) {
      const len = r.written;
      if (hdr === 2) {
        buf[pos] = T_STR8;
        buf[pos + 1] = len;
      } else if (hdr === 3) {
        buf[pos] = T_STR16;
        buf[pos + 1] = len;
        buf[pos + 2] = len >>> 8;
      } else {
        buf[pos] = T_STR32;
        putU32(pos + 1, len);
      }
      pos += hdr + len;
      return;
    }
    if (!growable) throw NO_SPACE;
    grow(pos + hdr + max);
  }
}

function writeUtf16(s: string): void {
  const n = s.length;
  ensure(5 + 2 * n);
  buf[pos] = T_STR_UTF16;
  putU32(pos + 1, n);
  let p = pos + 5;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    buf[p++] = c;
    buf[p++] = c >>> 8;
  }
  pos = p;
}

function writeBigInt(v: bigint): void {
  const neg = v < 0n;
  let hex = (neg ? -v : v).toString(16);
  if (hex === '0') hex = '';
  if (hex.length & 1) hex = '0' + hex;
  const len = hex.length >>> 1;
  ensure(6 + len);
  buf[pos] = T_BIGINT;
  buf[pos + 1] = neg ? 1 : 0;
  putU32(pos + 2, len);
  pos += 6;
  for (let i = 0; i < len; i++) buf[pos++] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
}

/** `depth`: how many containers enclose `o` (the decoder counts the same way). */
function writeObject(o: object, depth: number): void {
  // Too deep, or a cycle: v8.serialize handles the whole value (and keeps
  // the cycle). The ancestor scan is a few compares for usual (shallow)
  // values, and finds a cycle at its first repeat, before its unrolling
  // fills a small destination.
  if (depth >= MAX_DEPTH) throw TOO_DEEP;
  for (let i = 0; i < depth; i++) if (ancestors[i] === o) throw TOO_DEEP;
  ancestors[depth] = o;
  if (Array.isArray(o)) return writeArray(o, depth + 1);
  const proto = Object.getPrototypeOf(o);
  if (proto === objectProto || proto === null) return writePlain(o, depth + 1);
  if (o instanceof Date) {
    ensure(9);
    buf[pos++] = T_DATE;
    writeF64(o.getTime());
    return;
  }
  const ref = (o as { [SHARED_REF]?: () => SharedRef })[SHARED_REF];
  if (typeof ref === 'function') {
    const r = ref.call(o);
    ensure(25);
    buf[pos] = T_SHARED;
    putU32(pos + 1, r.tpc);
    pos += 5;
    writeF64(r.offset);
    putU32(pos, r.length);
    pos += 4;
    writeF64(r.serial);
    return;
  }
  if (proto === u8Proto || proto === bufferProto) {
    // Binary payloads are common arguments: copy the bytes, no v8.serialize.
    const b = o as Uint8Array;
    ensure(5 + b.length);
    buf[pos] = proto === u8Proto ? T_U8 : T_BUFFER;
    putU32(pos + 1, b.length);
    buf.set(b, pos + 5);
    pos += 5 + b.length;
    return;
  }
  const tag = toTag.call(o);
  if (o instanceof Error || tag === '[object Error]') return writeError(o as Error, depth, false);
  // A class instance travels as its own enumerable properties, as in a structured clone.
  if (tag === '[object Object]') return writePlain(o, depth + 1);
  if (NOT_CLONEABLE_TAGS.has(tag.slice(8, -1))) throw new NotCloneable(article(o));
  writeV8(o);
}

function writeV8(o: unknown): void {
  let bytes: Uint8Array;
  try {
    bytes = v8.serialize(o);
  } catch (e) {
    throw new NotCloneable(article(o), (e as Error)?.message);
  }
  ensure(5 + bytes.length);
  buf[pos] = T_V8;
  putU32(pos + 1, bytes.length);
  buf.set(bytes, pos + 5);
  pos += 5 + bytes.length;
}

function writeArray(a: unknown[], depth: number): void {
  const n = a.length;
  const start = pos;
  if (n < 0x100) {
    ensure(2);
    buf[pos] = T_ARRAY8;
    buf[pos + 1] = n;
    pos += 2;
  } else {
    ensure(5);
    buf[pos] = T_ARRAY32;
    putU32(pos + 1, n);
    pos += 5;
  }
  for (let i = 0; i < n; i++) {
    const v = a[i];
    if (v === undefined && !(i in a)) {
      pos = start; // a hole: start again, keyed
      writeSparse(a, depth);
      return;
    }
    try {
      writeValue(v, depth);
    } catch (e) {
      throw withPath(e, i);
    }
  }
}

/** Arrays with holes: length plus own keys (indices and any named properties). */
function writeSparse(a: unknown[], depth: number): void {
  const keys = Object.keys(a);
  ensure(9);
  buf[pos] = T_SPARSE;
  putU32(pos + 1, a.length);
  putU32(pos + 5, keys.length);
  pos += 9;
  for (const k of keys) {
    writeString(k);
    try {
      writeValue((a as unknown as Record<string, unknown>)[k], depth);
    } catch (e) {
      const i = Number(k);
      throw withPath(e, String(i) === k ? i : k);
    }
  }
}

function writePlain(o: object, depth: number): void {
  const keys = Object.keys(o);
  const n = keys.length;
  if (n < 0x100) {
    ensure(2);
    buf[pos] = T_OBJECT8;
    buf[pos + 1] = n;
    pos += 2;
  } else {
    ensure(5);
    buf[pos] = T_OBJECT32;
    putU32(pos + 1, n);
    pos += 5;
  }
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    writeString(k);
    try {
      writeValue((o as Record<string, unknown>)[k], depth);
    } catch (e) {
      throw withPath(e, k);
    }
  }
}

/** Error fields kept apart from the other properties */
const ERROR_OWN = new Set(['name', 'message', 'stack']);

function safeGet(o: object, k: string): unknown {
  try {
    return (o as Record<string, unknown>)[k];
  } catch {
    return undefined;
  }
}

function hasOwn(o: object, k: string): boolean {
  try {
    return Object.prototype.hasOwnProperty.call(o, k);
  } catch {
    return false;
  }
}

/**
 * name, message, stack, then the other properties worth keeping: own
 * enumerable ones (errno, syscall, path, ...), `code` even when inherited,
 * and `cause` / `errors` (own but not enumerable). Like a structured clone,
 * an error never fails to encode because of its properties: those that
 * cannot be sent are left out. `dropDeep` (encodeError): a property too
 * deep or cyclic is left out too, instead of sending the whole value
 * through v8.serialize, which would lose `code` and the other properties.
 * The properties are an object one level below the error, their values two.
 */
function writeError(e: Error, depth: number, dropDeep: boolean): void {
  const name = safeGet(e, 'name');
  const message = safeGet(e, 'message');
  const stack = safeGet(e, 'stack');
  ensure(1);
  buf[pos++] = T_ERROR;
  writeString(typeof name === 'string' ? name : 'Error');
  writeString(typeof message === 'string' ? message : message === undefined ? '' : String(message));
  if (typeof stack === 'string') writeString(stack);
  else {
    ensure(1);
    buf[pos++] = T_UNDEFINED;
  }
  let keys: string[];
  try {
    keys = Object.keys(e).filter((k) => !ERROR_OWN.has(k));
  } catch {
    keys = [];
  }
  for (const k of ['code', 'cause', 'errors']) {
    if (!keys.includes(k) && (k === 'code' ? safeGet(e, k) !== undefined : hasOwn(e, k))) keys.push(k);
  }
  ancestors[depth + 1] = e; // the properties object
  ensure(5);
  const countAt = pos;
  buf[pos] = T_OBJECT32;
  pos += 5;
  let count = 0;
  for (const k of keys) {
    const at = pos;
    try {
      writeString(k);
      writeValue(safeGet(e, k), depth + 2);
      count++;
    } catch (err) {
      if (err === NO_SPACE || (err === TOO_DEEP && !dropDeep)) throw err;
      if (!(err instanceof NotCloneable) && err !== TOO_DEEP) throw err;
      pos = at; // leave this property out
    }
  }
  putU32(countAt + 1, count);
}

/** a top-level encode is under way (a getter may start another) */
let encoding = false;

function restore(b: Uint8Array, p: number, e: number, g: boolean, a: object[]): void {
  if (a === ancestors) {
    ancestors.length = 0; // do not keep the value alive
    encoding = false;
  }
  ancestors = a;
  buf = b;
  pos = p;
  end = e;
  growable = g;
}

function checkTarget(dst: unknown, offset: unknown): void {
  if (!(dst instanceof Uint8Array)) throw new TypeError(`encodeInto: dst must be a Uint8Array, got ${typeof dst}`);
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0 || offset > dst.length) {
    throw new RangeError(`encodeInto: offset must be an integer in [0, ${dst.length}], got ${String(offset)}`);
  }
}

/**
 * Writes the top-level value at pos (`asError`: as encodeError's error
 * record); a too-deep (or cyclic) value goes whole through v8.
 */
function writeTop(value: unknown, start: number, asError: boolean): void {
  try {
    if (asError) writeError(value as Error, 0, true);
    else writeValue(value, 0);
  } catch (e) {
    if (e !== TOO_DEEP) throw e;
    pos = start;
    writeV8(value);
  }
}

/**
 * Encodes `value` into dst at offset. Returns the bytes written, or -1 if
 * it does not fit (nothing meaningful is left in dst then; use a bigger
 * buffer). `what` names the value in errors: `args[1].cb: a function
 * cannot be sent to another driver`.
 */
export function encodeInto(value: unknown, dst: Uint8Array, offset: number, what = 'value'): number {
  checkTarget(dst, offset);
  const b0 = buf, p0 = pos, e0 = end, g0 = growable, a0 = ancestors;
  if (encoding) ancestors = []; // a getter encoding while we encode
  encoding = true;
  buf = dst;
  pos = offset;
  end = dst.length;
  growable = false;
  try {
    writeTop(value, offset, false);
    return pos - offset;
  } catch (e) {
    if (e === NO_SPACE) return -1;
    if (e instanceof NotCloneable) throw cloneError(e, what);
    throw e;
  } finally {
    restore(b0, p0, e0, g0, a0);
  }
}

function encodeGrowing(value: unknown, asError: boolean): Uint8Array {
  const b0 = buf, p0 = pos, e0 = end, g0 = growable, a0 = ancestors;
  if (encoding) ancestors = [];
  encoding = true;
  buf = new Uint8Array(256);
  pos = 0;
  end = buf.length;
  growable = true;
  try {
    writeTop(value, 0, asError);
    return buf.subarray(0, pos);
  } finally {
    restore(b0, p0, e0, g0, a0);
  }
}

/** Encodes into a new buffer sized to fit (the slow path). */
export function encode(value: unknown, what = 'value'): Uint8Array {
  try {
    return encodeGrowing(value, false);
  } catch (e) {
    if (e instanceof NotCloneable) throw cloneError(e, what);
    throw e;
  }
}

function isError(v: unknown): v is Error {
  return v instanceof Error || (typeof v === 'object' && v !== null && toTag.call(v) === '[object Error]');
}

/**
 * Encodes a thrown value so that the other side can rethrow it; never
 * throws. An Error keeps name, message, stack, code, cause and its other
 * properties (those that cannot be sent are left out). Any other thrown
 * value is encoded as itself; if it cannot be sent, an Error saying so
 * travels instead.
 */
export function encodeError(err: unknown): Uint8Array {
  if (isError(err)) return encodeGrowing(err, true);
  try {
    return encode(err, 'thrown value');
  } catch (e) {
    const msg = e instanceof CodecError ? e.message : `a value that cannot be encoded was thrown: ${String(e)}`;
    return encodeGrowing(new Error(msg), true);
  }
}

/**
 * A thrown value as something that can be sent to another thread: itself
 * when it can be, else (a Symbol, a Response, an object holding a function)
 * the Error encodeError would send in its place, of the same class when it
 * is an Error. Never throws: it is on the path that reports failures.
 */
export function sendableThrown(err: unknown): unknown {
  try {
    if (typeof err === 'symbol') return new Error(`a symbol was thrown: ${err.toString()}`);
    if (err !== null && typeof err === 'object' && !isError(err) && !Array.isArray(err)) {
      const proto = Object.getPrototypeOf(err);
      // A class instance (a Response, say) would arrive as its own properties, often none: say what it was.
      if (proto !== null && proto !== Object.prototype) {
        const status = (err as { status?: unknown }).status;
        return new Error(`${article(err)} was thrown${typeof status === 'number' ? ` (status ${status})` : ''}`);
      }
    }
    encode(err, 'thrown value');
    return err;
  } catch {
    try {
      return decodeError(encodeError(err));
    } catch {
      return new Error('a value that cannot be sent between threads was thrown');
    }
  }
}

/** A thrown value in words, for an error message; never throws (String() of some objects does). */
export function describeThrown(v: unknown): string {
  if (v instanceof Error) return v.message;
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/**
 * Decodes what encodeError wrote (by default all of `src`) into an Error to
 * rethrow: a local Error of the same class (standard classes; others: an
 * Error with the remote name) whose stack is the remote stack, with code,
 * cause and the other properties. If the remote code threw something that is
 * not an Error (`throw 'nope'`), an Error saying so, with the thrown value
 * as its `value` property.
 */
export function decodeError(src: Uint8Array, offset = 0, length = src.length - offset): Error {
  const v = decode(src, offset, length);
  if (isError(v)) return v;
  let shown: string;
  try {
    shown = typeof v === 'string' ? JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}...` : v) : String(v);
  } catch {
    shown = Object.prototype.toString.call(v);
  }
  return Object.assign(new Error(`the remote code threw a non-Error value: ${shown}`), { value: v });
}

// --- decoder ---
let src: Uint8Array = new Uint8Array(0);
let rpos = 0;
let rend = 0;

function corrupt(msg: string): CodecError {
  return new CodecError(`decode: ${msg} (truncated or corrupt input)`, 'ERR_GATIO_CORRUPT');
}

function need(n: number, what: string): void {
  if (rpos + n > rend) throw corrupt(`${what} at byte ${rpos} needs ${n} bytes, ${rend - rpos} left`);
}

function readU32(): number {
  const p = rpos;
  rpos += 4;
  return (src[p]! | (src[p + 1]! << 8) | (src[p + 2]! << 16) | (src[p + 3]! << 24)) >>> 0;
}

function readF64(): number {
  for (let i = 0; i < 8; i++) f64b[i] = src[rpos + i]!;
  rpos += 8;
  return f64[0]!;
}

function readUtf8(n: number): string {
  need(n, 'a string');
  const p = rpos;
  rpos += n;
  if (n <= 32) {
    let s = '';
    let i = 0;
    for (; i < n; i++) {
      const c = src[p + i]!;
      if (c >= 0x80) break;
      s += String.fromCharCode(c);
    }
    if (i === n) return s;
  }
  return utf8dec.decode(src.subarray(p, p + n));
}

function readKey(): string {
  need(1, 'a key');
  const t = src[rpos++]!;
  switch (t) {
    case T_STR8:
      need(1, 'a string length');
      return readUtf8(src[rpos++]!);
    case T_STR16:
      need(2, 'a string length');
      rpos += 2;
      return readUtf8(src[rpos - 2]! | (src[rpos - 1]! << 8));
    case T_STR32:
      need(4, 'a string length');
      return readUtf8(readU32());
    case T_STR_UTF16:
      rpos--;
      return readValue(0) as string;
    default:
      throw corrupt(`expected a string key at byte ${rpos - 1}, found tag 0x${t.toString(16)}`);
  }
}

function readCount(wide: boolean, what: string, minBytesEach: number): number {
  let n: number;
  if (wide) {
    need(4, `${what} length`);
    n = readU32();
  } else {
    need(1, `${what} length`);
    n = src[rpos++]!;
  }
  // every entry takes at least minBytesEach bytes: refuse counts the input cannot hold
  if (n * minBytesEach > rend - rpos) throw corrupt(`${what} at byte ${rpos} claims ${n} entries, only ${rend - rpos} bytes left`);
  return n;
}

function setKey(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else o[k] = v;
}

const ERROR_CLASSES: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** An empty Error of the standard class called `name` (another name: an Error with that name), without a local stack. */
export function errorOfClass(name: string, message: string): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    // (own keys only: an Error named "toString" or "constructor" must not find Object.prototype's)
    const Class = Object.hasOwn(ERROR_CLASSES, name) ? ERROR_CLASSES[name]! : Error;
    const e = name === 'AggregateError' ? new AggregateError([], message) : new Class(message);
    if (e.name !== name) e.name = name;
    return e;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function readError(depth: number): Error {
  const name = readKey();
  const message = readKey();
  const stack = readValue(depth + 1);
  const props = readValue(depth + 1);
  if ((stack !== undefined && typeof stack !== 'string') || props === null || typeof props !== 'object') {
    throw corrupt(`malformed error record before byte ${rpos}`);
  }
  // No local stack trace: it would be replaced by the remote one anyway.
  const e = errorOfClass(name, message);
  if (stack !== undefined) Object.defineProperty(e, 'stack', { value: stack, writable: true, enumerable: false, configurable: true });
  for (const [k, v] of Object.entries(props as Record<string, unknown>)) {
    if (k === 'cause' || k === 'errors') Object.defineProperty(e, k, { value: v, writable: true, enumerable: false, configurable: true });
    else setKey(e as unknown as Record<string, unknown>, k, v);
  }
  return e;
}

function readValue(depth: number): unknown {
  if (depth > MAX_DEPTH + 1) throw corrupt(`nesting deeper than ${MAX_DEPTH} at byte ${rpos}`);
  need(1, 'a value');
  const t = src[rpos++]!;
  if (t >= T_SMALL) return t & 0x7f;
  switch (t) {
    case T_UNDEFINED:
      return undefined;
    case T_NULL:
      return null;
    case T_FALSE:
      return false;
    case T_TRUE:
      return true;
    case T_INT32:
      need(4, 'an int32');
      return readU32() | 0;
    case T_FLOAT64:
      need(8, 'a float64');
      return readF64();
    case T_STR8:
    case T_STR16:
    case T_STR32:
      rpos--;
      return readKey();
    case T_STR_UTF16: {
      need(4, 'a string length');
      const n = readU32();
      need(2 * n, 'a UTF-16 string');
      let s = '';
      for (let i = 0; i < n; i++, rpos += 2) s += String.fromCharCode(src[rpos]! | (src[rpos + 1]! << 8));
      return s;
    }
    case T_BIGINT: {
      need(5, 'a bigint header');
      const neg = src[rpos++] === 1;
      const n = readU32();
      need(n, 'a bigint');
      let hex = '';
      for (let i = 0; i < n; i++) hex += (src[rpos++]! + 0x100).toString(16).slice(1);
      const v = n === 0 ? 0n : BigInt('0x' + hex);
      return neg ? -v : v;
    }
    case T_DATE:
      need(8, 'a date');
      return new Date(readF64());
    case T_ARRAY8:
    case T_ARRAY32: {
      const n = readCount(t === T_ARRAY32, 'an array', 1);
      const a = new Array<unknown>(n);
      for (let i = 0; i < n; i++) a[i] = readValue(depth + 1);
      return a;
    }
    case T_SPARSE: {
      need(4, 'an array length');
      const len = readU32();
      const n = readCount(true, 'a sparse array', 3);
      const a = new Array<unknown>(len);
      for (let i = 0; i < n; i++) {
        const k = readKey();
        setKey(a as unknown as Record<string, unknown>, k, readValue(depth + 1));
      }
      return a;
    }
    case T_OBJECT8:
    case T_OBJECT32: {
      const n = readCount(t === T_OBJECT32, 'an object', 3);
      const o: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = readKey();
        setKey(o, k, readValue(depth + 1));
      }
      return o;
    }
    case T_ERROR:
      return readError(depth);
    case T_U8:
    case T_BUFFER: {
      need(4, 'a byte array length');
      const n = readU32();
      need(n, 'a byte array');
      const at = rpos;
      rpos += n;
      const bytes = src.subarray(at, at + n);
      return t === T_U8 ? bytes.slice() : Buffer.from(bytes); // copies: src may be an arena block about to be freed
    }
    case T_SHARED: {
      need(24, 'a shared buffer reference');
      const tpc = readU32();
      const offset = readF64();
      const length = readU32();
      const serial = readF64();
      const resolve = threadSlot().sharedResolver as ((r: SharedRef) => unknown) | undefined;
      if (!resolve) throw new CodecError('a shared buffer arrived on a thread that has no gatio runtime to map it', 'ERR_GATIO_CORRUPT');
      return resolve({ tpc, offset, length, serial });
    }
    case T_V8: {
      need(4, 'a v8 value length');
      const n = readU32();
      need(n, 'a v8-serialized value');
      const at = rpos;
      rpos += n;
      try {
        return v8.deserialize(src.subarray(at, at + n));
      } catch (e) {
        throw corrupt(`the v8-serialized value at byte ${at} does not deserialize: ${(e as Error)?.message}`);
      }
    }
    default:
      throw corrupt(`unknown tag 0x${t.toString(16)} at byte ${rpos - 1}`);
  }
}

/** Decodes exactly `length` bytes at `offset` of src (one value, as encodeInto wrote it). */
export function decode(bytes: Uint8Array, offset: number, length: number): unknown {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`decode: src must be a Uint8Array, got ${typeof bytes}`);
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > bytes.length) {
    throw new RangeError(`decode: [${offset}, ${offset} + ${length}) is not inside the ${bytes.length}-byte source`);
  }
  const s0 = src, p0 = rpos, e0 = rend;
  src = bytes;
  rpos = offset;
  rend = offset + length;
  try {
    const v = readValue(0);
    if (rpos !== rend) throw corrupt(`${rend - rpos} bytes left over after the value, at byte ${rpos}`);
    return v;
  } finally {
    src = s0;
    rpos = p0;
    rend = e0;
  }
}
