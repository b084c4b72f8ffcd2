// UDP port servers under bursts and with large datagrams, on hybrid and
// io+exec drivers: the buffer ring running dry must not stop a socket for
// good, and the defaults must take what node:dgram takes.
import { skip, test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import dgram from 'node:dgram';
import { start } from '../dist/index.js';
import { HOST, NET, bounded, netMissing } from './_net-support.mjs';

const missing = await netMissing();
const netTest = missing ? (name) => test(name, () => skip(missing)) : test;

/** A client socket that counts the datagrams coming back, and their sizes. */
async function client() {
  const u = dgram.createSocket('udp4');
  await new Promise((r) => u.bind(0, HOST, r));
  const got = [];
  u.on('message', (m) => got.push(m.length));
  return { u, got, close: () => new Promise((r) => u.close(r)) };
}

/** Waits until `got` holds `n` (or `ms` passed); returns how many it holds. */
async function until(got, n, ms) {
  const t0 = Date.now();
  while (got.length < n && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 10));
  return got.length;
}

for (const mode of ['hybrid', 'io+exec']) {
  const io = mode === 'io+exec';
  const plan = io ? { drivers: { io: 1, exec: 1 } } : { tpcs: [{ cores: [0], drivers: 'hybrid' }] };
  const udp = (extra = {}) => ({ port: 0, host: HOST, protocol: 'udp', handler: 'uecho', drivers: io ? 'io' : [0], ...extra });

  // A burst larger than the buffer ring: the multishot recvmsg ends with
  // ENOBUFS; if the batch's buffers had already gone back in the same turn,
  // no later release came to re-arm it, and the socket was deaf for good.
  netTest(`[${mode}] after a burst that empties the buffer ring, the socket still receives`, async () => {
    const rt = await start({ modules: [NET], ...plan, ports: [udp()] });
    const c = await client();
    try {
      const port = rt.ports()[0].port;
      const msg = Buffer.alloc(64, 3);
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 20000; i++) c.u.send(msg, port, HOST); // faster than the server: the ring runs dry
        // until the burst's echoes stop coming (the client's sends go out over a few hundred ms)
        await until(c.got, 1, 5000);
        for (let last = -1; last !== c.got.length; ) (last = c.got.length), await new Promise((r) => setTimeout(r, 300));
        c.got.length = 0;
        for (let i = 0; i < 5; i++) {
          c.u.send(msg, port, HOST);
          await until(c.got, i + 1, 2000);
        }
        assert.is(c.got.length, 5, `round ${round}: after the burst, ${c.got.length} of 5 datagrams sent one by one were echoed (the socket stopped receiving)`);
      }
    } finally {
      await c.close();
      await rt.shutdown();
    }
  });

  // The socket's default receive queue (~208 KiB) holds a few hundred small
  // datagrams: a burst from one peer overflowed it while the driver drained
  // its buffer ring. Counted at the server (the client's own receive queue
  // overflows too while it is busy sending, whoever the server is).
  netTest(`[${mode}] a burst of 20,000 64-byte datagrams: the server receives and answers every one, with the defaults`, async () => {
    const rt = await start({ modules: [NET], ...plan, ports: [udp()] });
    const c = await client();
    try {
      const port = rt.ports()[0].port;
      const msg = Buffer.alloc(64, 5);
      for (let i = 0; i < 20_000; i++) c.u.send(msg, port, HOST);
      await until(c.got, 1, 5000);
      for (let last = -1; last !== c.got.length; ) (last = c.got.length), await new Promise((r) => setTimeout(r, 300));
      const st = (await rt.stats()).drivers.flatMap((d) => d.ports ?? []).find((p) => p.port.startsWith('udp'));
      const lossPct = 100 * (1 - st.datagrams / 20_000);
      assert.ok(lossPct < 1, `the server received ${st.datagrams} of 20,000 datagrams (${lossPct.toFixed(1)} % lost in its receive queue)`);
      assert.is(st.sends, st.datagrams, 'each one answered');
      assert.is(st.sendErrors, 0);
      assert.is(st.truncated, 0);
    } finally {
      await c.close();
      await rt.shutdown();
    }
  });

  // A provided buffer smaller than a datagram truncates it, and a truncated
  // datagram is dropped: with 16 KiB buffers, anything larger never arrived.
  netTest(`[${mode}] datagrams up to 65,507 bytes (the IPv4 maximum) are received whole with the default buffers`, async () => {
    const rt = await start({ modules: [NET], ...plan, ports: [udp()] });
    const c = await client();
    try {
      const port = rt.ports()[0].port;
      const sizes = [1, 1472, 16 * 1024, 16 * 1024 + 1, 40_000, 65_507];
      for (const [i, n] of sizes.entries()) {
        c.u.send(Buffer.alloc(n, i + 1), port, HOST);
        assert.is(await until(c.got, i + 1, 3000), i + 1, `a ${n}-byte datagram was not echoed`);
        assert.is(c.got[i], n, `a ${n}-byte datagram came back with ${c.got[i]} bytes`);
      }
      const st = (await rt.stats()).drivers.flatMap((d) => [...(d.ports ?? [])]).find((p) => p.port.startsWith('udp'));
      if (st) assert.is(st.truncated, 0, 'none truncated');
    } finally {
      await c.close();
      await rt.shutdown();
    }
  });
}

test.run();
