// Native io drivers (native/io_driver.cc) and file I/O through them
// (src/drivers/shared/io.ts), on real threads and the real kernel: a TPC of cores
// 0 and 1 with an io driver on core 0 and a hybrid driver on core 1.
import { test } from './_harness.mjs';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoBufferBusyError, IoError, ShutdownError, io, parseList, start } from '../dist/index.js';
import { fixtures, skip } from './_support.mjs';
import { cpusAllowed } from './_runtime-support.mjs';

const NAME = 'io-driver';
const allowed = parseList(cpusAllowed(process.pid));
const runnable = allowed.includes(0) && allowed.includes(1);

const dir = mkdtempSync(join(tmpdir(), 'gatio-io-'));
const config = (runtime = {}) => ({
  tpcs: [{ node: 0, cores: [0, 1], drivers: { perCore: { 0: 'io', 1: 'hybrid' } } }],
  modules: [join(fixtures, 'tasks', 'io.mjs')],
  runtime,
});
const fdCount = () => readdirSync('/proc/self/fd').length;
const threadCount = () => readdirSync('/proc/self/task').length;
/** A FIFO opened read-write (so opening does not block) and blocking (so a read waits for data). */
const fifo = (name) => {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return { path, fd: openSync(path, 'r+') };
};
const waitFor = async (cond, ms, what) => {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the io driver is a native thread pinned to its PU, running no JavaScript; nop round trips', async () => {
  if (!runnable) return skip(NAME, `needs CPUs 0 and 1 allowed (allowed: ${allowed.join(',')})`);
  const rt = await start(config());
  try {
    const [ioStats, hybrid] = rt.driverStats();
    assert.is(ioStats.kind, 'io');
    assert.is(ioStats.state, 'running');
    assert.is(ioStats.pu, 0);
    assert.ok(ioStats.tid > 0 && ioStats.tid !== hybrid.tid && ioStats.tid !== process.pid);
    // Pinned (its own affinity, not the process's), and named by our C++: not a Node worker, which is named "node".
    assert.is(cpusAllowed(ioStats.tid), '0');
    assert.is(readFileSync(`/proc/self/task/${ioStats.tid}/comm`, 'utf8').trim(), 'gatio-io0');
    assert.is(cpusAllowed(hybrid.tid), '1');

    assert.is(await io.nop(), undefined); // from the main thread
    const where = await rt.spawn('ioNop', [5]); // from a task on the hybrid driver
    assert.is(where.id, hybrid.id);
    const after = rt.driverStats()[0];
    assert.ok(after.messages >= 6, `the io driver popped ${after.messages} requests`);
    assert.ok(after.ringCompletions >= 6 && after.ringSubmissions >= 6);
    await waitFor(() => rt.driverStats()[0].pending === 0, 1000, 'the io driver to publish pending 0');
    assert.is(after.tasksRun, 0); // it never runs tasks: the router skips it
  } finally {
    await rt.shutdown();
  }
});

test('open / write / fsync / read / close a file, from a task and from the main thread', async () => {
  if (!runnable) return skip(NAME, `needs CPUs 0 and 1 allowed (allowed: ${allowed.join(',')})`);
  const rt = await start(config());
  try {
    const file = join(dir, 'task.txt');
    const text = 'héllo from a task through io_uring\n'.repeat(20);
    const r = await rt.spawn('ioFile', [file, text]);
    const len = Buffer.byteLength(text);
    assert.equal({ written: r.written, read: r.read, atEnd: r.atEnd, text: r.text }, { written: len, read: len, atEnd: 0, text });
    assert.ok(r.fd > 2);
    assert.is(readFileSync(file, 'utf8'), text);

    // Main thread: the same calls, with its own arena buffer.
    const mainFile = join(dir, 'main.txt');
    const buf = io.buffer(100);
    buf.bytes.set(Buffer.from('main thread'));
    const fd = await io.open(mainFile, 'w', 0o644);
    assert.is(await io.write(fd, buf.bytes.subarray(0, 11)), 11);
    assert.is(await io.write(fd, buf.bytes.subarray(4, 11)), 7); // at the file position
    await io.fsync(fd, { datasync: true });
    await io.close(fd);
    assert.is(readFileSync(mainFile, 'utf8'), 'main thread thread');
    const rfd = await io.open(mainFile);
    buf.bytes.fill(0);
    assert.is(await io.read(rfd, buf, 5), 13);
    assert.is(Buffer.from(buf.bytes.subarray(0, 13)).toString(), 'thread thread');
    await io.close(rfd);
    buf.release();
    assert.ok(buf.released);
  } finally {
    await rt.shutdown();
  }
});

test('many concurrent requests (more than the ring and the inboxes hold) all complete', async () => {
  if (!runnable) return skip(NAME, `needs CPUs 0 and 1 allowed (allowed: ${allowed.join(',')})`);
  // 8 SQ entries (16 CQ: at most 12 ops in the ring), 16-slot inboxes: the
  // requests wait in the client's backlog and the io driver's inbox, the
  // completions in the io driver's backlog for the requesters' inboxes.
  const rt = await start(config({ ringEntries: 8, inboxSlots: 16 }));
  try {
    const file = join(dir, 'many.txt');
    writeFileSync(file, '0123456789abcdef');
    const fromMain = Promise.all(Array.from({ length: 1500 }, () => io.nop()));
    const fromTask = rt.spawn('ioMany', [1000, 300, file]);
    const [mainDone, task] = await Promise.all([fromMain, fromTask]);
    assert.is(mainDone.length, 1500);
    assert.is(task.nops, 1000);
    assert.is(task.reads.length, 300);
    task.reads.forEach((got, i) => assert.is(got, '0123456789abcdef'.slice(i % 8), `read ${i}`));
    const s = rt.driverStats()[0];
    assert.ok(s.messages >= 2800, `the io driver popped ${s.messages} requests`);
    // Requests were refused by the io driver's full inbox: the client's backlog carried them.
    assert.ok(rt.mailbox.queue(1).stats().full > 0, 'the io driver inbox was full at times');

    // Completions for a requester that does not read its inbox for a while
    // wait in the io driver (its full inbox refuses them) and all arrive.
    // Within one macrotask the main thread never pumps its inbox: each
    // `await null` lets the client's flush send a batch.
    const fullBefore = rt.mailbox.inbox.stats().full;
    const held = [];
    for (let round = 0; round < 25; round++) {
      for (let i = 0; i < 8; i++) held.push(io.nop());
      await null;
      const until = performance.now() + 1;
      while (performance.now() < until);
    }
    assert.is((await Promise.all(held)).length, 200);
    assert.ok(rt.mailbox.inbox.stats().full > fullBefore, "the main thread's inbox refused completions");
    // (the io driver publishes its stats right after its last push: allow it that moment)
    await waitFor(() => rt.driverStats()[0].pending === 0, 1000, 'the io driver to publish pending 0');
  } finally {
    await rt.shutdown();
  }
});

test('errors come back as rejections naming the errno and the path', async () => {
  if (!runnable) return skip(NAME, `needs CPUs 0 and 1 allowed (allowed: ${allowed.join(',')})`);
  const rt = await start(config());
  try {
    const missing = join(dir, 'no', 'such', 'file');
    const t = await rt.spawn('ioOpenMissing', [missing]);
    assert.equal(
      { rejected: t.rejected, code: t.code, errno: t.errno, syscall: t.syscall, path: t.path, isIoError: t.isIoError },
      { rejected: true, code: 'ENOENT', errno: -2, syscall: 'open', path: missing, isIoError: true },
    );
    assert.ok(t.message.includes('ENOENT') && t.message.includes(missing), t.message);

    const err = await io.open(missing).catch((e) => e);
    assert.instance(err, IoError);
    assert.is(err.code, 'ENOENT');
    assert.is(err.message, `ENOENT: no such file or directory, open '${missing}'`);

    // A closed fd: EBADF from the kernel.
    const fd = await io.open(join(dir, 'ebadf.txt'), 'w');
    await io.close(fd);
    const buf = io.buffer(8);
    const ebadf = await io.read(fd, buf).catch((e) => e);
    assert.is(ebadf.code, 'EBADF');
    assert.is(ebadf.fd, fd);
    assert.not.ok(buf.busy); // the failed read gave the buffer back
    buf.release();

    // Refused before anything is sent.
    const bad = await rt.spawn('ioBadArgs');
    assert.is(bad.notArena.name, 'TypeError');
    assert.match(bad.notArena.message, /arena memory/);
    assert.match(bad.badFd.message, /fd must be a file descriptor/);
    assert.match(bad.badFlags.message, /flags must be one of/);
    assert.match(bad.released.message, /released/);
  } finally {
    await rt.shutdown();
  }
});

test('a buffer cannot be released or reused while its request is in flight', async () => {
  if (!runnable) return skip(NAME, `needs CPUs 0 and 1 allowed (allowed: ${allowed.join(',')})`);
  const rt = await start(config());
  const f = fifo('busy');
  const bc = new BroadcastChannel('gatio-io-test');
  try {
    const checked = new Promise((resolve) => (bc.onmessage = (e) => e.data.type === 'busy-checked' && resolve(e.data.seen)));
    const done = rt.spawn('ioBusyBuffer', [f.fd]);
    const seen = await checked; // the task's read is waiting on the empty FIFO
    assert.ok(seen.busy);
    assert.is(seen.release.name, 'IoBufferBusyError');
    assert.is(seen.release.code, 'GATIO_IO_BUFFER_BUSY');
    assert.match(seen.release.message, /in flight/);
    assert.ok(seen.release.busy, 'still busy after the refused release');
    assert.is(seen.reuse.code, 'GATIO_IO_BUFFER_BUSY');
    writeSync(f.fd, 'data!');
    const r = await done;
    assert.is(r.text, 'data!');
    assert.is(r.busyAfter, false);
    assert.ok(r.released);

    // The same on the main thread, synchronously visible.
    const b = io.buffer(16);
    const pending = io.read(f.fd, b);
    assert.ok(b.busy);
    assert.throws(() => b.release(), (e) => e instanceof IoBufferBusyError && /cannot be released/.test(e.message));
    const reuse = await io.write(f.fd, b).catch((e) => e);
    assert.instance(reuse, IoBufferBusyError);
    writeSync(f.fd, 'xyz');
    assert.is(await pending, 3);
    b.release();
  } finally {
    bc.close();
    await rt.shutdown();
    closeSync(f.fd);
  }
});

test('an io driver that stops on its own: its requests reject naming it, their buffers are the callers\' again, it restarts', async () => {
  if (!runnable) return skip(NAME, `needs CPUs 0 and 1 allowed (allowed: ${allowed.join(',')})`);
  const rt = await start(config());
  const f = fifo('fault');
  try {
    const io0 = rt.driverStats().find((d) => d.kind === 'io');
    // Reads on an empty FIFO: in the kernel when the driver stops, from main and from a task.
    const fromMain = io.buffer(16);
    const mainRead = io.read(f.fd, fromMain).then(() => null, (e) => e);
    const taskRead = rt.spawn('ioReadForever', [f.fd]).then(() => null, (e) => e);
    await waitFor(() => rt.driverStats()[io0.id].pending >= 2, 5000, 'both reads in flight');
    rt.faultIoDriver(io0.id); // its loop stops as on a failure: it drains its ring, says so, exits
    const errs = await Promise.all([mainRead, taskRead]);
    for (const e of errs) {
      assert.is(e?.name, 'DriverDiedError', String(e?.stack ?? e));
      assert.is(e.code, 'GATIO_DRIVER_DIED');
      assert.match(e.message, new RegExp(`^gatio io: read: io driver ${io0.name.replace('/', '\\/')} \\(id ${io0.id}, PU ${io0.pu}\\) stopped before completing it: stopped by ioDriverFault`));
    }
    assert.not.ok(fromMain.busy, 'its ring drained: the kernel is done with the buffer, it is the caller\'s again');
    fromMain.release();
    await waitFor(() => rt.driverStats()[io0.id].state === 'running' && rt.driverStats()[io0.id].restarts === 1, 5000, 'the io driver restarted');
    assert.is.not(rt.driverStats()[io0.id].tid, io0.tid, 'a new thread');
    // The cancelled reads took nothing: what is written now is read whole by the next read, on the new thread.
    writeSync(f.fd, 'late');
    const b = io.buffer(16);
    assert.is(await io.read(f.fd, b), 4);
    assert.is(new TextDecoder().decode(b.bytes.subarray(0, 4)), 'late');
    b.release();
    assert.is((await rt.spawn('ioNop', [3])).id, rt.driverStats().find((d) => d.kind !== 'io').id, 'tasks reach the new io thread too');
  } finally {
    await rt.shutdown();
    closeSync(f.fd);
  }
});

test('a driver killed with a read in flight: its buffer is not freed or handed out until the kernel is done, then it is', async () => {
  if (!runnable) return skip(NAME, `needs CPUs 0 and 1 allowed (allowed: ${allowed.join(',')})`);
  const rt = await start(config());
  const f = fifo('killed');
  const bc = new BroadcastChannel('gatio-io-test');
  try {
    const hybrid = rt.driverStats().find((d) => d.kind !== 'io');
    const live = async () => (await rt.stats()).tpcs[0].arena.liveBlocks;
    const live0 = await live();
    const reading = new Promise((resolve) => (bc.onmessage = (e) => e.data.type === 'reading' && resolve(e.data)));
    const read = rt.spawn('ioReadReporting', [f.fd]).then(() => null, (e) => e);
    const { offset } = await reading;
    await waitFor(() => rt.driverStats().find((d) => d.kind === 'io').pending >= 1, 5000, 'the read in the kernel');
    await rt.spawn('ioExit', [], { driver: hybrid.id }).catch(() => {});
    assert.is((await read)?.code, 'GATIO_DRIVER_DIED');
    await waitFor(() => rt.driverStats()[hybrid.id].state === 'running' && rt.driverStats()[hybrid.id].restarts === 1, 10_000, 'the restart');
    // The read is still in the kernel: its block stays allocated, nobody gets it.
    const mine = Array.from({ length: 64 }, () => io.buffer(64));
    assert.not.ok(mine.some((b) => b.offset === offset), 'a block the kernel may still write was handed out again');
    for (const b of mine) b.release();
    assert.is(await live(), live0 + 1, 'the in-flight read\'s block is still live');
    // The kernel finishes the read: the successor reads its IO_DONE and frees the block.
    writeSync(f.fd, 'abcdef');
    await waitFor(() => rt.driverStats().find((d) => d.kind === 'io').pending === 0, 5000, 'the read completed');
    const t0 = Date.now();
    while ((await live()) !== live0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    assert.is(await live(), live0, 'the block was freed once the kernel was done (by the successor, from the IO_DONE)');
    // Handed out again now, nothing writes into it any more.
    const again = Array.from({ length: 64 }, () => io.buffer(64));
    for (const b of again) b.bytes.fill(0x55);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(again.every((b) => b.bytes.every((x) => x === 0x55)), 'nothing wrote into freed and reused blocks');
    for (const b of again) b.release();
  } finally {
    bc.close();
    await rt.shutdown();
    closeSync(f.fd);
  }
});

test('restart: false: a stopped io driver stays down, and io calls say no io driver is running', async () => {
  if (!runnable) return skip(NAME, `needs CPUs 0 and 1 allowed (allowed: ${allowed.join(',')})`);
  const rt = await start(config({ restart: false }));
  try {
    const io0 = rt.driverStats().find((d) => d.kind === 'io');
    await io.nop();
    rt.faultIoDriver(io0.id);
    await waitFor(() => rt.driverStats()[io0.id].state === 'dead', 5000, 'the io driver seen dead');
    const e = await io.nop().catch((x) => x);
    assert.match(e?.message, /no io driver of TPC 0 is running/);
    const t = await rt.spawn('ioNop', [1]).catch((x) => x);
    assert.match(t?.message, /no io driver of TPC 0 is running/);
  } finally {
    await rt.shutdown();
  }
});

test('a TPC without an io driver: io calls reject, naming the TPC and the fix', async () => {
  if (!runnable) return skip(NAME, `needs CPUs 0 and 1 allowed (allowed: ${allowed.join(',')})`);
  const rt = await start({ tpcs: [{ node: 0, cores: [0, 1], drivers: 'hybrid' }], modules: [join(fixtures, 'tasks', 'io.mjs')] });
  try {
    const err = await io.nop().catch((e) => e);
    assert.match(err.message, /TPC 0 has no io driver/);
    assert.match(err.message, /drivers: \{ io: 1/);
    const fromTask = await rt.spawn('ioNop', [1]).catch((e) => e);
    assert.match(fromTask.message, /TPC 0 has no io driver/);
  } finally {
    await rt.shutdown();
  }
  const after = await io.nop().catch((e) => e);
  assert.match(after.message, /no runtime on this thread/);
});

test('shutdown with requests in flight is prompt and leaks no fds and no threads', async () => {
  if (!runnable) return skip(NAME, `needs CPUs 0 and 1 allowed (allowed: ${allowed.join(',')})`);
  const f = fifo('forever');
  const fds = fdCount();
  const threads = threadCount();
  const rt = await start(config());
  const ioTid = rt.driverStats()[0].tid;
  // Reads on a FIFO nobody writes to: in flight until shutdown, from a task and from main.
  const fromTask = rt.spawn('ioReadForever', [f.fd]).catch((e) => e);
  const main = io.buffer(16);
  const fromMain = io.read(f.fd, main).catch((e) => e);
  await waitFor(() => rt.driverStats()[0].pending >= 2, 2000, 'both reads to reach the io driver');
  const t0 = performance.now();
  await rt.shutdown({ deadline: 200 });
  const took = performance.now() - t0;
  assert.ok(took < 3000, `shutdown took ${took.toFixed(0)} ms`);
  const mainErr = await fromMain;
  assert.instance(mainErr, ShutdownError);
  assert.instance(await fromTask, Error);
  assert.not.ok(readdirSync('/proc/self/task').includes(String(ioTid)), 'the io thread was joined');
  closeSync(f.fd);
  assert.is(fdCount(), fds - 1, 'fds: every ring and eventfd closed (the FIFO fd we closed aside)');
  // io_uring's io-wq workers (iou-wrk-*) go away asynchronously after their ring.
  await waitFor(() => threadCount() <= threads, 3000, `threads back to ${threads} (now ${threadCount()})`);
  assert.is(threadCount(), threads);
});

test.run();
