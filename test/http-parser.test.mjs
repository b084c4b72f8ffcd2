// The HTTP/1.1 request parser (native/http_parser.h): llhttp 8.1 from
// Debian, and the guard layer for the strictness it lacks (each smuggling
// attempt below is refused with 400 and the reason), limits (414, 431),
// malformed request lines (400), unknown methods and versions (501, 505),
// heads split across any number of buffers, pipelining, chunked bodies.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { httpParse } from '../dist/internals.js';

const b = (s) => Buffer.from(s, 'latin1');
const parse = (chunks, lim) => httpParse(chunks.map(b), lim);
const kinds = (evs) => evs.map((e) => (e.type === 'error' ? `error ${e.status} ${e.code}` : e.type));
const errorOf = (s, lim) => parse([s], lim).find((e) => e.type === 'error');

test('a head: method, URL, version, headers in order, keep-alive as HTTP/1.0 and 1.1 define it', () => {
  const [h] = parse(['PUT /a/b?c=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n']);
  assert.is(h.method, 'PUT');
  assert.is(h.url, '/a/b?c=1');
  assert.is(h.version, '1.1');
  assert.equal(h.headers, [['Host', 'x'], ['X-A', '1'], ['x-a', '2'], ['Content-Length', '0']]);
  assert.ok(h.keepAlive);
  assert.is(h.contentLength, 0);
  assert.not.ok(parse(['GET / HTTP/1.1\r\nConnection: close\r\n\r\n'])[0].keepAlive, '1.1 with Connection: close');
  assert.not.ok(parse(['GET / HTTP/1.0\r\n\r\n'])[0].keepAlive, '1.0: close by default');
  assert.ok(parse(['GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'])[0].keepAlive, '1.0 asking for keep-alive');
  assert.ok(parse(['POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n'])[0].expectContinue);
});

test('pipelined requests in one buffer: each head, body and end in order', () => {
  const evs = parse(['POST /1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\n\r\nPOST /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n']);
  assert.equal(kinds(evs), ['head', 'body', 'end', 'head', 'end', 'head', 'body', 'end']);
  assert.equal(evs.filter((e) => e.type === 'head').map((e) => e.url), ['/1', '/2', '/3']);
  assert.equal(evs.filter((e) => e.type === 'body').map((e) => Buffer.from(e.bytes).toString()), ['abc', 'hi']);
  assert.ok(evs[5].chunked);
});

test('a body may hold any byte (a CR in a body is not a bare CR in a head)', () => {
  const evs = parse(['POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\na\rb\n']);
  assert.equal(kinds(evs), ['head', 'body', 'end']);
  assert.is(Buffer.from(evs[1].bytes).toString('latin1'), 'a\rb\n');
});

test('property: however the bytes of a pipelined stream are split, the same requests come out', () => {
  const stream = 'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /y?q HTTP/1.1\r\nA: b\r\n\r\nPOST /z HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;e=v\r\nabc\r\n2\r\nde\r\n0\r\n\r\n';
  const whole = parse([stream]);
  const summary = (evs) => {
    const out = [];
    let body = '';
    for (const e of evs) {
      if (e.type === 'body') body += Buffer.from(e.bytes).toString('latin1');
      else {
        if (e.type === 'end') out.push(`body=${body}`), (body = '');
        out.push(e.type === 'head' ? `${e.method} ${e.url} ${JSON.stringify(e.headers)}` : e.type);
      }
    }
    return out;
  };
  const expected = summary(whole);
  assert.is(expected.filter((x) => x === 'end').length, 3);
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 30 }), (cuts) => {
      const at = [0, ...cuts.sort((x, y) => x - y), stream.length];
      const chunks = at.slice(1).map((end, i) => stream.slice(at[i], end));
      assert.equal(summary(parse(chunks)), expected);
    }),
    { numRuns: 300, seed: Number(process.env.GATIO_FC_SEED ?? 1) },
  );
  // Every single-byte split too.
  assert.equal(summary(parse([...stream])), expected);
});

test('Host: an HTTP/1.1 request without one is refused when the server requires it (the port servers do); HTTP/1.0 needs none', () => {
  const noHost = 'GET / HTTP/1.1\r\n\r\n';
  assert.is(parse([noHost]).filter((x) => x.type === 'head').length, 1, 'accepted by default (a tool parsing what it is given)');
  const e = httpParse([Buffer.from(noHost)], { requireHost: true }).find((x) => x.type === 'error');
  assert.is(e?.status, 400);
  assert.is(e.code, 'GATIO_HTTP_HOST');
  assert.is(httpParse([Buffer.from('GET / HTTP/1.0\r\n\r\n')], { requireHost: true })[0].type, 'head');
  assert.is(httpParse([Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n')], { requireHost: true })[0].type, 'head', 'any case');
});

test('Host must be host[:port] (RFC 9112 3.2, RFC 3986 authority): an invalid one is 400, HTTP/1.0 too; a valid one passes as sent, its trailing whitespace not part of it', () => {
  const bad = ['a, b', 'a,b', 'a b', 'x/admin?', 'x?a', 'x#a', 'user@x', '', ':80', 'x:8o', 'x:99999', 'x:1:2', '[::1', '[::1]x', '[zz]', '[v1.x]', '[fe80::1%25eth0]', 'a%2Fb', 'a\\b', 'a"b', 'ex\xe4mple'];
  for (const host of bad) {
    for (const v of ['1.1', '1.0']) {
      const evs = parse([`GET / HTTP/${v}\r\nHost: ${host}\r\n\r\n`]);
      const e = evs.find((x) => x.type === 'error');
      assert.is(e?.status, 400, `Host ${JSON.stringify(host)} on HTTP/${v}: 400 (${JSON.stringify(kinds(evs))})`);
      assert.ok(['GATIO_HTTP_HOST', 'HPE_INVALID_HEADER_TOKEN'].includes(e.code), `${JSON.stringify(host)}: ${e.code}`);
      assert.is(evs.filter((x) => x.type === 'head').length, 0);
    }
  }
  const good = ['example.com', 'example.com:8080', 'EXAMPLE.com', '127.0.0.1', '127.0.0.1:80', '[::1]', '[::1]:443', '[2001:db8::7]:8080', '[::ffff:1.2.3.4]', 'a-b_c~d.e', "x!$&'()*+;=y", 'xn--caf-dma.com', 'x:', 'localhost:0'];
  for (const host of good) {
    const [h] = parse([`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`]);
    assert.is(h.type, 'head', `Host ${JSON.stringify(host)}: accepted`);
    assert.equal(h.headers, [['Host', host]]);
  }
  const [h] = parse(['GET / HTTP/1.1\r\nHost: a:1 \t\r\nX: v  \r\n\r\n']);
  assert.equal(h.headers, [['Host', 'a:1'], ['X', 'v']], 'trailing whitespace is not part of a field value (RFC 9112 5)');
});

test('an Upgrade or CONNECT request that ends a buffer: head and end, no error, and the next buffer is the next request', () => {
  const ws = 'GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  const h2c = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n';
  const connect = 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n';
  for (const req of [ws, h2c, connect]) {
    for (const chunks of [[req, 'GET /next HTTP/1.1\r\n\r\n'], [...req, 'GET /next HTTP/1.1\r\n\r\n']]) {
      const evs = parse(chunks);
      assert.equal(kinds(evs), ['head', 'end', 'head', 'end'], `${JSON.stringify(req.slice(0, 20))}${chunks.length > 2 ? ' byte by byte' : ''}`);
      assert.ok(evs[0].upgrade);
      assert.is(evs[2].url, '/next');
    }
  }
});

test('a CONNECT request with content is 400 (RFC 9110 9.3.6: it has none, and llhttp would parse its body as the next request); Content-Length: 0 is none', () => {
  for (const req of ['CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 27\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n', 'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n']) {
    const evs = parse([req]);
    assert.equal(kinds(evs), ['error 400 GATIO_HTTP_CONNECT_BODY'], JSON.stringify(kinds(evs)));
  }
  assert.equal(kinds(parse(['CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 0\r\n\r\n'])), ['head', 'end']);
});

test('the parser keeps no memory from one large head or a pipelined burst once it has moved on (its head slots never shrank)', () => {
  const big = `GET /big HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 200 }, (_, i) => `X-H${i}: ${'v'.repeat(250)}\r\n`).join('')}\r\n`;
  const burst = 'GET /b HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(100);
  const small = 'GET /s HTTP/1.1\r\nHost: x\r\n\r\n';
  const evs = parse([big, burst, small], { maxHeaderBytes: 128 * 1024, maxHeaders: 500 });
  assert.is(evs.filter((e) => e.type === 'head').length, 102);
  assert.ok(evs.retained < 32 * 1024, `after a 51 KiB head and a burst of 100, the parser still holds ${evs.retained} bytes`);
});

test('Transfer-Encoding in an HTTP/1.0 request is 400 (RFC 9112 6.1: its framing is faulty); the request after it is never parsed', () => {
  for (const req of ['POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n']) {
    const evs = parse([req]);
    assert.equal(kinds(evs), ['error 400 GATIO_HTTP_TRANSFER_ENCODING'], JSON.stringify(kinds(evs)));
  }
  assert.equal(kinds(parse(['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'])), ['head', 'end'], 'HTTP/1.1 chunked is served');
});

test('a Content-Length past 2^53 - 1 (over any maxBody; 2^63 and up once read as negative) is 413, never a negative length', () => {
  for (const n of ['9007199254740992', '9223372036854775807', '9223372036854775808', '18446744073709551615']) {
    const evs = parse([`POST / HTTP/1.1\r\nContent-Length: ${n}\r\n\r\n`]);
    assert.equal(kinds(evs), ['error 413 GATIO_HTTP_CONTENT_LENGTH'], `${n}: ${JSON.stringify(evs)}`);
  }
  assert.is(errorOf('POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n')?.status, 400, 'past 2^64: llhttp\'s overflow');
  assert.is(parse(['POST / HTTP/1.1\r\nContent-Length: 9007199254740991\r\n\r\n'])[0].contentLength, 2 ** 53 - 1);
});

test('smuggling attempts and malformed heads: refused with 400 and why, nothing of the request delivered', () => {
  const cases = [
    ['a bare CR inside a header line', 'GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n'],
    ['obs-fold (a header continued on the next line)', 'GET / HTTP/1.1\r\nHost: x\r\n  folded\r\n\r\n'],
    ['an empty header name', 'GET / HTTP/1.1\r\n: value\r\n\r\n'],
    ['Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['two different Content-Lengths', 'POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n'],
    ['a Transfer-Encoding whose last coding is not chunked', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n'],
    ['a Transfer-Encoding that is not chunked at all', 'POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n'],
    ['an oversized chunk extension', `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;${'e'.repeat(2000)}\r\nabc\r\n0\r\n\r\n`],
    ['a chunk size that is not hex', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['a space before the colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n'],
    ['two Host headers', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
  ];
  for (const [what, req] of cases) {
    const evs = parse([req]);
    const e = evs.find((x) => x.type === 'error');
    assert.ok(e, `${what}: refused (${JSON.stringify(kinds(evs))})`);
    assert.is(e.status, 400, `${what}: 400 (${e.code})`);
    assert.ok(e.reason.length > 0, `${what}: says why`);
    // The head of a request refused in its head is never delivered; a chunked body's error comes after its head only.
    if (!/chunk/.test(what)) assert.is(evs.filter((x) => x.type === 'head').length, 0, `${what}: no head delivered`);
  }
  // Refused in the middle of a pipeline: the requests before it are whole, nothing after it is parsed.
  const evs = parse(['GET /ok HTTP/1.1\r\n\r\nGET /bad HTTP/1.1\r\nA: b\r\n c\r\n\r\nGET /never HTTP/1.1\r\n\r\n']);
  assert.equal(kinds(evs), ['head', 'end', 'error 400 GATIO_HTTP_OBS_FOLD']);
});

test('chunked framing is exact: the CRLF after chunk data, the LF ending a chunk-size line and the blank line ending the trailers (llhttp 8.1 takes any byte there): 400, and nothing after it is parsed', () => {
  const next = 'GET /smuggled HTTP/1.1\r\n\r\n';
  const post = 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n';
  const cases = [
    ['two bytes other than CRLF after chunk data', `${post}1\r\nAXX0\r\n\r\n`],
    ['a byte other than LF after the chunk size', `${post}1\rXA\r\n0\r\n\r\n`],
    ['a byte other than LF after a chunk extension', `${post}1;e=v\rXA\r\n0\r\n\r\n`],
    ['\\rX ending the trailers', `${post}1\r\nA\r\n0\r\n\rX`],
    ['\\rX ending the trailers after a trailer field', `${post}1\r\nA\r\n0\r\nX-T: 1\r\n\rX`],
    ['a bare CR in a trailer field', `${post}0\r\nX-T: \rX-U: 2\r\n\r\n`],
  ];
  for (const [what, req] of cases) {
    for (const chunks of [[req + next], [...(req + next)]]) {
      const evs = parse(chunks);
      const e = evs.find((x) => x.type === 'error');
      assert.ok(e, `${what}: refused (${JSON.stringify(kinds(evs))}${chunks.length > 1 ? ', fed byte by byte' : ''})`);
      assert.is(e.status, 400, `${what}: 400 (${e.code})`);
      assert.ok(e.reason.length > 0, `${what}: says why`);
      assert.is(evs.filter((x) => x.type === 'head').length, 1, `${what}: the smuggled request is not parsed`);
      assert.is(evs.filter((x) => x.type === 'end').length, 0, `${what}: the request never ends`);
    }
  }
  // What is exact still parses, split anywhere: extensions, trailers, a last chunk right after the head.
  const good = `${post}3;a=b\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n${post}0\r\n\r\n${next}`;
  for (const chunks of [[good], [...good]]) {
    const evs = parse(chunks);
    assert.equal(kinds(evs).filter((k) => k !== 'body'), ['head', 'end', 'head', 'end', 'head', 'end'], JSON.stringify(kinds(evs)));
    assert.is(evs.filter((x) => x.type === 'body').map((x) => Buffer.from(x.bytes).toString()).join(''), 'abcde');
  }
});

test('llhttp is built strict: a request target with a tab, a form feed or a raw byte over 0x7f is 400 (clients percent-encode them, as curl does; node:http refuses them too)', () => {
  for (const t of ['/a\tb', '/a\fb', '/caf\xc3\xa9']) assert.is(errorOf(`GET ${t} HTTP/1.1\r\n\r\n`)?.status, 400, JSON.stringify(t));
  assert.is(parse(['GET /caf%C3%A9 HTTP/1.1\r\n\r\n'])[0].url, '/caf%C3%A9');
});

test('after a request that closes the connection (Connection: close, HTTP/1.0), the bytes that follow are ignored, not an error', () => {
  assert.equal(kinds(parse(['GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /x HTTP/1.1\r\n\r\n', 'more'])), ['head', 'end']);
  assert.equal(kinds(parse(['GET / HTTP/1.0\r\n\r\nGET /x HTTP/1.0\r\n\r\n'])), ['head', 'end']);
});

test('limits: URL length (414), header bytes and count (431); unknown methods (501) and versions (505)', () => {
  assert.equal([errorOf(`GET /${'a'.repeat(100)} HTTP/1.1\r\n\r\n`, { maxUrl: 50 })?.status, errorOf(`GET /${'a'.repeat(40)} HTTP/1.1\r\n\r\n`, { maxUrl: 50 })], [414, undefined]);
  assert.is(errorOf(`GET / HTTP/1.1\r\n${'A: b\r\n'.repeat(10)}\r\n`, { maxHeaders: 5 })?.status, 431);
  assert.is(errorOf(`GET / HTTP/1.1\r\nX: ${'b'.repeat(200)}\r\n\r\n`, { maxHeaderBytes: 100 })?.status, 431);
  assert.is(errorOf(`GET / HTTP/1.1\r\nX: ${'b'.repeat(200)}\r\n\r\n`), undefined, 'within the default 16 KiB');
  // The header-byte limit holds for a head split across buffers too.
  const split = [`GET / HTTP/1.1\r\nX: ${'b'.repeat(60)}`, 'b'.repeat(60), '\r\n\r\n'];
  assert.is(parse(split, { maxHeaderBytes: 100 }).find((e) => e.type === 'error')?.status, 431);
  assert.is(errorOf('BREW /pot HTTP/1.1\r\n\r\n')?.status, 501);
  assert.is(errorOf('GET / HTTP/2.0\r\n\r\n')?.status, 505);
  assert.is(errorOf('GET / HTTP/3.1\r\n\r\n')?.status, 505);
});

test('request lines: a malformed one is 400; 505 only for a well-formed version other than 1.x; 501 only for a method that is a token', () => {
  const cases = [
    ['HTTP/1.10', 'GET / HTTP/1.10\r\n\r\n', 400],
    ['HTTP/1', 'GET / HTTP/1\r\n\r\n', 400],
    ['HTTP/1.', 'GET / HTTP/1.\r\n\r\n', 400],
    ['HTTP/3.1x', 'GET / HTTP/3.1x\r\n\r\n', 400],
    ['no version (HTTP/0.9 style)', 'GET /\r\n\r\n', 400],
    ['no version, a space', 'GET / \r\n\r\n', 400],
    ['a bare CR ending the request line', 'GET / HTTP/1.1\rHost: x\r\n\r\n', 400],
    ['a bare CR after the version', 'GET / HTTP/1.1\r\r\n\r\n', 400],
    ['a bare CR in the target', 'GET /\r HTTP/1.1\r\n\r\n', 400],
    ['a bare CR after the method', 'GET\r/ HTTP/1.1\r\n\r\n', 400],
    ['a bare CR inside the method', 'G\rET / HTTP/1.1\r\n\r\n', 400],
    ['a line that is not a request line', 'garbage\r\n\r\n', 400],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\n\r\n', 505],
    ['HTTP/3.1', 'GET / HTTP/3.1\r\n\r\n', 505],
    ['HTTP/0.9', 'GET / HTTP/0.9\r\n\r\n', 505],
    ['HTTP/9.9', 'GET / HTTP/9.9\r\n\r\n', 505],
    ['an unknown method', 'BREW /pot HTTP/1.1\r\n\r\n', 501],
    ['an unknown method that starts like a known one', 'GETX / HTTP/1.1\r\n\r\n', 501],
  ];
  for (const [what, req, status] of cases) {
    for (const chunks of [[req], [...req]]) {
      const evs = parse(chunks);
      const e = evs.find((x) => x.type === 'error');
      assert.is(e?.status, status, `${what}: ${status} (${JSON.stringify(kinds(evs))}${chunks.length > 1 ? ', byte by byte' : ''})`);
      assert.ok(e.reason.length > 0, `${what}: says why`);
      assert.is(evs.filter((x) => x.type === 'head').length, 0, `${what}: no head delivered`);
    }
  }
  // HTTP/1.2 and up: served as HTTP/1.1 (RFC 9110 2.5), keep-alive and all.
  const [h] = parse(['GET / HTTP/1.2\r\nHost: x\r\n\r\n']);
  assert.is(h.type, 'head');
  assert.is(h.version, '1.2');
  assert.ok(h.keepAlive);
});

test.run();
