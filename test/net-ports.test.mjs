// Ports as configured: validation with paths, the identical-config guarantee
// (fingerprints compared before a port takes traffic), TCP and UDP of one
// port number on disjoint drivers, UDP datagrams, listen()/close() at run
// time, and what a dying driver or a shutdown does to open connections.
import { skip, test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import dgram from 'node:dgram';
import { execFile } from 'node:child_process';
import { ConfigError, plan, formatPlan, start, topology, validateConfig } from '../dist/index.js';
import { HOST, NET, bounded, connect, fdCount, freePort, readAll, readBytes, udpAsk } from './_net-support.mjs';
import { netMissing } from './_net-support.mjs';

const missing = await netMissing();
/** A test that needs the port servers: skipped, with the reason, on a kernel that cannot run them. */
const netTest = missing ? (name) => test(name, () => skip(missing)) : test;
import { running } from './_runtime-support.mjs';

const topo = topology();
const errorsOf = (config) => validateConfig(config, topo).errors;

test('validation: every bad port entry is an error with its path', () => {
  const errs = errorsOf({
    ports: [
      { port: 70000, protocol: 'tcp', handler: 'echo' },
      { port: 9000, protocol: 'sctp', handler: 'echo' },
      { port: 9001, protocol: 'tcp' },
      { port: 9002, protocol: 'tcp', handler: 'echo', drivers: [] },
      { port: 9003, protocol: 'tcp', handler: 'echo', drivers: [42] },
      { port: 9004, protocol: 'tcp', handler: 'echo', buffers: { count: 3 } },
      { port: 9005, protocol: 'tcp', handler: 'echo', host: 'localhost' },
      { port: 9006, protocol: 'tcp', handler: 'echo', bakclog: 5 },
      { port: 9007, protocol: 'udp', handler: 'a' },
      { port: 9007, protocol: 'udp', handler: 'b' },
    ],
  });
  const paths = errs.map((e) => e.path);
  for (const p of ['ports[0].port', 'ports[1].protocol', 'ports[2].handler', 'ports[3].drivers', 'ports[4].drivers[0]', 'ports[5].buffers.count', 'ports[6].host', 'ports[6].host', 'ports[7].bakclog', 'ports[9]']) {
    assert.ok(paths.includes(p), `an error at ${p}: ${JSON.stringify(paths)}`);
  }
  assert.match(errs.find((e) => e.path === 'ports[7].bakclog').message, /did you mean "backlog"/);
  assert.match(errs.find((e) => e.path === 'ports[9]').message, /already declared by ports\[8\]/);
  // Same number, other protocol: allowed.
  assert.equal(errorsOf({ ports: [{ port: 9000, protocol: 'tcp', handler: 'a' }, { port: 9000, protocol: 'udp', handler: 'b' }] }), []);
});

test('validation: an HTTP port\'s options, each mistake with its path; an HTTP port takes the TCP port of its number', () => {
  const errs = errorsOf({
    ports: [
      { port: 9100, protocol: 'http', handler: 'site', http: { maxHeaderBytes: 10, maxHeadres: 5, keepAliveTimeout: -1, maxBody: '1 lightyear' } },
      { port: 9101, protocol: 'tcp', handler: 'echo', http: { maxBody: 1 } },
      { port: 9102, protocol: 'tcp', handler: 'echo' },
      { port: 9102, protocol: 'http', handler: 'site' },
      { port: 9103, protocol: 'http', handler: 'site', http: 'fast' },
    ],
  });
  const at = (p) => errs.find((e) => e.path === p)?.message;
  assert.match(at('ports[0].http.maxHeaderBytes') ?? '', /from 256 B/);
  assert.match(at('ports[0].http.maxHeadres') ?? '', /did you mean "maxHeaders"/);
  assert.match(at('ports[0].http.keepAliveTimeout') ?? '', /whole number from 1/);
  assert.ok(at('ports[0].http.maxBody'), JSON.stringify(errs));
  assert.match(at('ports[1].http') ?? '', /HTTP options on a tcp port/);
  assert.match(at('ports[3]') ?? '', /tcp port 9102 is already declared by ports\[2\].*an HTTP port is a TCP port/);
  assert.match(at('ports[4].http') ?? '', /expected \{ maxHeaderBytes/);
  // Sizes as strings, defaults for the rest; UDP beside HTTP on one number is fine.
  const ok = validateConfig({ ports: [{ port: 9104, protocol: 'http', handler: 'site', http: { maxBody: '1mb', headersTimeout: 1000 } }, { port: 9104, protocol: 'udp', handler: 'u' }] }, topo);
  assert.equal(ok.errors, []);
  // gatio plan shows what the port gets
  const text = formatPlan(plan(topo, { ports: [{ port: 9104, protocol: 'http', handler: 'site', http: { maxBody: '1MiB', headersTimeout: 1500 } }] }));
  assert.match(text, /http:9104: headers 16 KiB \/ 2000, URL 8 KiB, body 1 MiB; timeouts: headers 1500 ms, request 300 s, keep-alive 5 s/);
});

test('validation: a driver that cannot serve a port is named (exec drivers own no sockets)', () => {
  const errs = errorsOf({ drivers: 'exec', ports: [{ port: 9000, protocol: 'tcp', handler: 'echo' }] });
  assert.ok(errs.some((e) => e.path === 'ports[0].drivers' && /no hybrid driver/.test(e.message)), JSON.stringify(errs));
  const errs2 = errorsOf({ drivers: 'exec', ports: [{ port: 9000, protocol: 'tcp', handler: 'echo', drivers: [0] }] });
  assert.ok(errs2.some((e) => e.path === 'ports[0].drivers' && /exec driver/.test(e.message)), JSON.stringify(errs2));
  assert.throws(() => plan(topo, { ports: [{ port: 1, protocol: 'tcp', handler: 'x', buffers: { count: 32768, size: '16MiB' } }] }), (e) => e instanceof ConfigError && /buffer rings/.test(e.message));
});

test('the plan shows each port with the drivers that serve it', () => {
  const p = plan(topo, { ports: [{ port: 9000, protocol: 'tcp', handler: 'echo' }, { port: 9000, protocol: 'udp', handler: 'stats', drivers: [0] }] });
  assert.equal(p.ports.map((q) => [q.key, q.drivers]), [
    ['tcp:9000', p.drivers.filter((d) => d.kind === 'hybrid').map((d) => d.id)],
    ['udp:9000', [0]],
  ]);
  const text = formatPlan(p);
  assert.match(text, /PORT\s+PROTOCOL\s+HOST\s+HANDLER\s+DRIVERS/);
  assert.match(text, /9000\s+udp\s+:: \(IPv4 and IPv6\)\s+stats\s+tpc0\/hybrid0\b/); // the default host: dual-stack
});

netTest('a handler no module defines fails start() naming the port and the handlers that exist', async () => {
  const err = await start({ modules: [NET], ports: [{ port: 0, protocol: 'tcp', handler: 'ehco', host: HOST }] }).then(
    (rt) => rt.shutdown().then(() => null),
    (e) => e,
  );
  assert.ok(err, 'start() rejected');
  assert.is(err.name, 'PortError');
  assert.is(err.code, 'GATIO_PORT_HANDLER_MISSING');
  assert.match(err.message, /tcp:0.*no port handler named "ehco".*defined: .*echo/s);
  // A TCP port with a UDP handler, likewise.
  const err2 = await start({ modules: [NET], ports: [{ port: 0, protocol: 'tcp', handler: 'uecho', host: HOST }] }).then(
    (rt) => rt.shutdown().then(() => null),
    (e) => e,
  );
  assert.match(err2?.message ?? '', /"uecho" is a udp handler/);
});

netTest('identical config: a module that registers another handler shape on one driver fails start() naming the drivers and the field', async () => {
  const fds = fdCount();
  const err = await start({ modules: [NET], ports: [{ port: 0, protocol: 'tcp', handler: 'odd', host: HOST }] }).then(
    (rt) => rt.shutdown().then(() => null),
    (e) => e,
  );
  assert.ok(err, 'start() rejected');
  assert.is(err.code, 'GATIO_PORT_MISMATCH');
  assert.match(err.message, /driver 1 \(tpc0\/hybrid1\) vs driver 0 \(tpc0\/hybrid0\): shape: "tcp:data" vs "tcp:data,close"/);
  assert.is(fdCount(), fds, 'the sockets that had opened are closed again');
});

const twoTpcs = (over) => ({
  modules: [NET],
  tpcs: [
    { name: 'a', cores: [topo.cores[0].id] },
    { name: 'b', cores: [topo.cores[1]?.id ?? topo.cores[0].id] },
  ],
  ports: [{ port: 0, protocol: 'tcp', handler: 'echo', host: HOST, perTpc: { b: over } }],
});

netTest('identical config: a per-TPC buffer override makes the drivers of one port differ, and start() says which field', async () => {
  if (topo.cores.length < 2) return skip('needs two cores (two TPCs of one core each)');
  const err = await start(twoTpcs({ buffers: { size: 8192 } })).then(
    (rt) => rt.shutdown().then(() => null),
    (e) => e,
  );
  assert.ok(err, 'start() rejected');
  assert.is(err.code, 'GATIO_PORT_MISMATCH');
  assert.match(err.message, /bufSize: 16384 vs 8192/);
});

netTest('identical config compares what the kernel gave: receive buffers asked differently but clamped alike pass; clamped differently fail', async () => {
  if (topo.cores.length < 2) return skip('needs two cores (two TPCs of one core each)');
  // Both requests exceed net.core.rmem_max: the kernel gives both the same, so the drivers agree.
  const rt = await start({ ...twoTpcs({ recvBuffer: '64MiB' }), ports: [{ ...twoTpcs({}).ports[0], recvBuffer: '32MiB', perTpc: { b: { recvBuffer: '64MiB' } } }] });
  try {
    const [p] = rt.ports();
    assert.is(p.drivers.length, 2, 'both drivers serve it');
  } finally {
    await rt.shutdown();
  }
  // Small values the kernel keeps (doubled): they differ, and that is refused.
  const err = await start({ ...twoTpcs({}), ports: [{ ...twoTpcs({}).ports[0], recvBuffer: 8192, perTpc: { b: { recvBuffer: 16384 } } }] }).then(
    (r) => r.shutdown().then(() => null),
    (e) => e,
  );
  assert.match(err?.message ?? '', /rcvBuf: 16384 vs 32768/);
});

// node:net listens on "::" (IPv4 and IPv6) by default; gatio's default was 0.0.0.0: [::1] was refused.
netTest('the default host serves IPv4 and IPv6 clients on one port (dual-stack "::", as node:net), and gatio plan says so', async () => {
  const rt = await start({ modules: [NET], ports: [{ port: 0, protocol: 'tcp', handler: 'echo', drivers: [0] }, { port: 0, protocol: 'udp', handler: 'uecho', drivers: [0] }] });
  try {
    const [tcp, udp] = rt.ports();
    assert.is(tcp.host, '::');
    for (const host of ['127.0.0.1', '::1']) {
      const s = await connect(tcp.port, host);
      const back = readBytes(s, 2);
      s.write('hi');
      assert.is((await bounded(back, 5000, `TCP echo over ${host}`)).toString(), 'hi');
      s.destroy();
      const { m } = await udpAsk(udp.port, 'yo', 2000, host);
      assert.is(m.toString(), 'yo', `UDP echo over ${host}`);
    }
    assert.match(formatPlan(rt.plan), /:: \(IPv4 and IPv6\)/);
  } finally {
    await rt.shutdown();
  }
});

netTest('TCP and UDP on the same port number, served by disjoint drivers', async () => {
  const port = await freePort();
  const rt = await start({
    modules: [NET],
    ports: [
      { port, protocol: 'tcp', handler: 'whoami', host: HOST, drivers: [0] },
      { port, protocol: 'udp', handler: 'uwho', host: HOST, drivers: [1] },
    ],
  });
  try {
    assert.equal(rt.ports().map((p) => [p.key, p.drivers]), [
      [`tcp:${port}`, [0]],
      [`udp:${port}`, [1]],
    ]);
    const s = await connect(port);
    assert.is((await bounded(readBytes(s, 9), 5000, 'tcp')).toString(), 'driver 0\n');
    s.destroy();
    const { m } = await udpAsk(port, 'hello');
    assert.match(m.toString(), /^driver 1 IPv4 127\.0\.0\.1 5$/);
  } finally {
    await rt.shutdown();
  }
});

netTest('UDP: a burst of datagrams is echoed; one larger than a buffer is counted as truncated and never delivered cut', async () => {
  const rt = await start({ modules: [NET], ports: [{ port: 0, protocol: 'udp', handler: 'uecho', host: HOST, buffers: { count: 64, size: 1024 } }] });
  try {
    const port = rt.ports()[0].port;
    const u = dgram.createSocket('udp4');
    const got = new Set();
    const done = new Promise((resolve) => {
      u.on('message', (m) => {
        got.add(m.toString());
        if (got.size === 200) resolve();
      });
    });
    await new Promise((r) => u.bind(0, HOST, r));
    // Sent in rounds, resent until answered: UDP may drop on a loaded machine; the test is that what arrives is whole.
    for (let round = 0; round < 20 && got.size < 200; round++) {
      for (let i = 0; i < 200; i++) if (!got.has(`msg-${i}`)) u.send(`msg-${i}`, port, HOST);
      await Promise.race([done, new Promise((r) => setTimeout(r, 200))]);
    }
    assert.is(got.size, 200, 'every datagram came back');
    // 2000 bytes do not fit a 1024-byte buffer (with its header): dropped whole.
    u.send(Buffer.alloc(2000, 1), port, HOST);
    u.send('after', port, HOST);
    const after = await bounded(new Promise((r) => u.on('message', (m) => m.toString() === 'after' && r(true))), 5000, 'datagram after the big one');
    assert.ok(after);
    u.close();
    const st = await rt.stats();
    const ports = st.drivers.flatMap((d) => d.ports ?? []);
    assert.is(ports.reduce((n, p) => n + p.truncated, 0), 1, 'one truncated datagram counted');
    assert.ok(![...got].some((m) => m.length > 1000));
  } finally {
    await rt.shutdown();
  }
});

netTest('listen() and close() at run time, with the same checks', async () => {
  const rt = await start({ modules: [NET] });
  try {
    assert.equal(rt.ports(), []);
    const bad = await rt.listen({ port: 0, protocol: 'tcp', handler: 'echo', buffers: { count: 5 } }).catch((e) => e);
    assert.instance(bad, ConfigError);
    assert.is(bad.errors[0].path, 'listen().buffers.count');
    const info = await rt.listen({ port: 0, protocol: 'tcp', handler: 'echo', host: HOST });
    const s = await connect(info.port);
    const back = readBytes(s, 3);
    s.write('abc');
    assert.is((await bounded(back, 5000, 'echo')).toString(), 'abc');
    const closed = readAll(s);
    await rt.close(info.key);
    await bounded(closed, 5000, 'close() closes its connections');
    assert.equal(rt.ports(), []);
    const refused = await connect(info.port).then((x) => (x.destroy(), false), () => true);
    assert.ok(refused, 'nothing listens any more');
    const again = await rt.close(info.key).then(() => null, (e) => e);
    assert.match(again?.message ?? '', /is not being served/);
  } finally {
    await rt.shutdown();
  }
});

netTest('a driver that dies: its connections close, the port keeps serving on the other, and the restarted driver rejoins', async () => {
  const rt = await start({ modules: [NET], ports: [{ port: 0, protocol: 'tcp', handler: 'whoami', host: HOST }] });
  try {
    const port = rt.ports()[0].port;
    const byDriver = new Map();
    for (let i = 0; i < 40 && byDriver.size < 2; i++) {
      const s = await connect(port);
      const who = (await bounded(readBytes(s, 9), 5000, 'whoami')).toString().trim();
      if (!byDriver.has(who)) byDriver.set(who, s);
      else s.destroy();
    }
    assert.is(byDriver.size, 2, 'a connection on each driver');
    const victim = byDriver.get('driver 1');
    const survivor = byDriver.get('driver 0');
    const victimClosed = readAll(victim).catch(() => Buffer.alloc(0));
    await rt.spawn('net-exit', [3], { driver: 1 }).catch(() => {});
    await bounded(victimClosed, 10_000, "the dead driver's connection closes");
    const back = readBytes(survivor, 4);
    survivor.write('live');
    assert.is((await bounded(back, 5000, 'survivor')).toString(), 'live');
    await running(rt, 1, 1);
    const t0 = Date.now();
    while (!rt.ports()[0].drivers.includes(1)) {
      if (Date.now() - t0 > 10_000) assert.unreachable('driver 1 did not rejoin the port');
      await new Promise((r) => setTimeout(r, 20));
    }
    // New connections reach the restarted driver again.
    let rejoined = false;
    for (let i = 0; i < 60 && !rejoined; i++) {
      const s = await connect(port);
      rejoined = (await bounded(readBytes(s, 9), 5000, 'whoami')).toString() === 'driver 1\n';
      s.destroy();
    }
    assert.ok(rejoined, 'the restarted driver accepts connections');
    survivor.destroy();
  } finally {
    await rt.shutdown();
  }
});

netTest('a driver dies with a send in flight to a peer that does not read: no freed memory is ever sent, and its arena blocks come back', async () => {
  const rt = await start({ modules: [NET], ports: [{ port: 0, protocol: 'tcp', handler: 'flood', host: HOST, drivers: [1], sendBuffer: 16384 }] });
  try {
    const port = rt.ports()[0].port;
    const inUse = async () => (await rt.stats()).tpcs[0].arena.inUse;
    const before = await inUse();
    const s = await connect(port);
    s.pause(); // the server's send blocks in the kernel: its buffer is the kernel's until the send completes or is cancelled
    s.write(String(8 << 20));
    const all = readAll(s).catch(() => null);
    await new Promise((r) => setTimeout(r, 200));
    await rt.spawn('net-exit', [5], { driver: 1 }).catch(() => {});
    // Memory the dead driver freed would be reused by its successor (same arena): make it busy first.
    await running(rt, 1, 1);
    const t0 = Date.now();
    while (!rt.ports()[0].drivers.includes(1) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    s.resume();
    const got = await bounded(all, 10_000, 'the dead connection ends');
    assert.ok(got === null || got.every((b) => b === 120), 'every byte received is one the handler wrote');
    assert.ok(rt.ports()[0].drivers.includes(1), 'the restarted driver serves the port again');
    assert.is(await inUse(), before, "the dead driver's net blocks were freed, and its successor's are the same size");
  } finally {
    await rt.shutdown();
  }
});

/** Connects `n` times from a child process pinned to `cpu`; resolves each first line (the whoami handler's "driver N"). */
function connectFromCpu(cpu, port, n) {
  const src = `const net = require('node:net');
    (async () => { const out = [];
      for (let i = 0; i < ${n}; i++) out.push(await new Promise((res, rej) => { const s = net.connect(${port}, '127.0.0.1');
        let b = ''; s.on('data', (d) => { b += d; if (b.includes('\\n')) { s.destroy(); res(b.split('\\n')[0]); } }); s.on('error', rej); }));
      console.log(JSON.stringify(out)); })();`;
  return new Promise((resolve, reject) => {
    execFile('taskset', ['-c', String(cpu), process.execPath, '-e', src], { timeout: 20_000 }, (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout))));
  });
}

netTest('steering "cpu": every connection goes to the driver on the CPU that received it; "hash" spreads them', async () => {
  const cpus = topo.pus.filter((p) => topo.allowed.pus.includes(p.os)).map((p) => p.os);
  if (cpus.length < 2) return skip('needs two CPUs');
  for (const steering of ['cpu', 'hash']) {
    const rt = await start({ modules: [NET], ports: [{ port: 0, protocol: 'tcp', handler: 'whoami', host: HOST, steering }] });
    try {
      const port = rt.ports()[0].port;
      for (const cpu of cpus.slice(0, 2)) {
        const driver = rt.plan.drivers.find((d) => d.pu === cpu);
        const seen = await connectFromCpu(cpu, port, 30);
        if (steering === 'cpu') assert.equal([...new Set(seen)], [`driver ${driver.id}`], `a client on CPU ${cpu} reaches only driver ${driver.id}: ${seen}`);
        else assert.ok(new Set(seen).size > 1, `the hash spreads a client's connections: ${seen}`);
      }
      if (steering === 'cpu') {
        const st = await rt.stats();
        const ports = st.drivers.flatMap((d) => d.ports ?? []);
        assert.is(ports.reduce((n, p) => n + p.incomingOther, 0), 0, 'every connection was processed on its driver\'s CPU (SO_INCOMING_CPU)');
      }
    } finally {
      await rt.shutdown();
    }
  }
});

netTest('steering "cpu" survives a driver restart: the group order is tracked as the kernel keeps it', async () => {
  const cpus = topo.pus.filter((p) => topo.allowed.pus.includes(p.os)).map((p) => p.os);
  if (cpus.length < 2) return skip('needs two CPUs');
  const rt = await start({ modules: [NET], ports: [{ port: 0, protocol: 'tcp', handler: 'whoami', host: HOST, steering: 'cpu' }] });
  try {
    const port = rt.ports()[0].port;
    await rt.spawn('net-exit', [4], { driver: 0 }).catch(() => {});
    await running(rt, 0, 1);
    const t0 = Date.now();
    while (!rt.ports()[0].drivers.includes(0) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    for (const cpu of cpus.slice(0, 2)) {
      const driver = rt.plan.drivers.find((d) => d.pu === cpu);
      const seen = await connectFromCpu(cpu, port, 20);
      assert.equal([...new Set(seen)], [`driver ${driver.id}`], `after the restart, CPU ${cpu} still reaches driver ${driver.id}: ${seen}`);
    }
  } finally {
    await rt.shutdown();
  }
});

netTest('shutdown with open connections: writes already queued are delivered, connections close, no fd is left', async () => {
  const fds = fdCount();
  const rt = await start({ modules: [NET], ports: [{ port: 0, protocol: 'tcp', handler: 'echo', host: HOST }, { port: 0, protocol: 'udp', handler: 'uecho', host: HOST }] });
  const port = rt.ports()[0].port;
  const conns = await Promise.all(Array.from({ length: 20 }, () => connect(port)));
  const ends = conns.map((s) => readAll(s).catch(() => Buffer.alloc(0)));
  const big = Buffer.alloc(1 << 20, 7);
  conns[0].write(big);
  await new Promise((r) => setTimeout(r, 50));
  await bounded(rt.shutdown(), 15_000, 'shutdown');
  const got = await bounded(Promise.all(ends), 10_000, 'every connection closed');
  assert.ok(got[0].length > 0, 'echoed bytes arrived before the close');
  // Our own client sockets go too (their fds close a tick after 'end').
  await Promise.all(conns.map((s) => (s.destroyed && s.closed ? null : new Promise((r) => s.once('close', r).destroy()))));
  assert.is(fdCount(), fds, `fds back to ${fds} (listeners, connections, rings, eventfds)`);
});

test.run();
