// Helpers of the runtime tests (runtime, spawn, node-apis, driver-*, timers, io-driver):
// the task module they start drivers with, what /proc says about this
// process's threads and fds, and the BroadcastChannel the tasks report on.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fixtures } from './_support.mjs';

/** The task module of these tests (test/fixtures/tasks/basic.mjs), as an absolute path. */
export const TASKS = join(fixtures, 'tasks', 'basic.mjs');
export const BAD_TASKS = join(fixtures, 'tasks', 'throws-on-import.mjs');

/** Milliseconds on a clock that every thread of the process shares. */
export const wallNow = () => performance.timeOrigin + performance.now();

export const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves with driver `id`'s stats once it runs again after `restarts` restarts, polling; throws after `ms`. */
export async function running(rt, id, restarts, ms = 20_000) {
  const t0 = performance.now();
  for (;;) {
    const d = rt.driverStats()[id];
    if (d.state === 'running' && d.restarts >= restarts) return d;
    if (performance.now() - t0 > ms) throw new Error(`driver ${id} not running again after ${ms} ms: ${JSON.stringify(d)}`);
    await delay(2);
  }
}

/**
 * Resolves once driver `id` has announced it is parked (its inbox's state
 * flag, which senders read), polling; throws after `ms`. Waiting for the
 * state instead of a fixed delay: on a loaded machine the driver may still
 * be spinning out its budget after any given delay.
 */
export async function parked(rt, id, ms = 10_000) {
  const inbox = rt.mailbox.queue(id + 1); // endpointOfDriver(id)
  const end = performance.now() + ms;
  while (!inbox.stats().parked) {
    if (performance.now() > end) throw new Error(`driver ${id} did not park within ${ms} ms`);
    await delay(2);
  }
}

/** Kernel thread ids of this process. */
export function threadIds() {
  return readdirSync('/proc/self/task').map(Number).sort((a, b) => a - b);
}

/**
 * Threads of this process that were not in `before` (threadIds()): what a
 * runtime left behind. Not an equality: a thread of Node's own that ended
 * meanwhile is not a leak.
 */
export function newThreads(before) {
  const had = new Set(before);
  return threadIds().filter((t) => !had.has(t));
}

/** Open fds of this process with what they point to (the listing's own fd excluded). */
export function openFds() {
  const out = new Map();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.set(Number(fd), readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the directory fd readdirSync used, closed by now
    }
  }
  return out;
}

/** The difference between two openFds() snapshots, readable in a failure message. */
export function fdDiff(before, after) {
  const added = [...after].filter(([fd, what]) => before.get(fd) !== what).map(([fd, what]) => `+${fd} ${what}`);
  const removed = [...before].filter(([fd, what]) => after.get(fd) !== what).map(([fd, what]) => `-${fd} ${what}`);
  return [...added, ...removed];
}

/** Cpus_allowed_list of thread `tid` of this process, as the kernel reports it. */
export function cpusAllowed(tid) {
  const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
  return /^Cpus_allowed_list:\s*(\S+)/m.exec(status)[1];
}

let clkTck;
/** utime + stime of thread `tid` in ms (from /proc/self/task/<tid>/stat; resolution 1/CLK_TCK s). */
export function cpuTimeMs(tid) {
  clkTck ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  // The command name may contain spaces: fields count from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]); // field 14 of proc(5)
  const stime = Number(fields[12]); // field 15
  return ((utime + stime) * 1000) / clkTck;
}

/** ms thread `tid` has spent runnable but waiting for a CPU (schedstat's run_delay); NaN when not reported. */
export function runQueueMs(tid) {
  try {
    return Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return NaN;
  }
}

/**
 * Collects the messages tasks post on the 'gatio-test' BroadcastChannel.
 * `waitFor(pred, ms)` resolves with the first message (seen or to come)
 * matching `pred`, or rejects after `ms`.
 */
export function reports() {
  const seen = [];
  const waiters = [];
  const bc = new BroadcastChannel('gatio-test');
  bc.onmessage = (e) => {
    seen.push(e.data);
    for (const w of [...waiters]) {
      if (w.pred(e.data)) {
        waiters.splice(waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(e.data);
      }
    }
  };
  return {
    seen,
    waitFor(pred, ms = 5000) {
      const hit = seen.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no matching report within ${ms} ms (seen: ${JSON.stringify(seen)})`));
        }, ms);
        waiters.push(w);
      });
    },
    close() {
      bc.close();
    },
  };
}

/** The q-quantile (0..1) of a list of numbers. */
export function quantile(list, q) {
  const s = [...list].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** The promise's outcome, never rejecting: { ok, value } or { ok: false, error }. */
export function settle(p) {
  return p.then(
    (value) => ({ ok: true, value }),
    (error) => ({ ok: false, error }),
  );
}

export const fmt = (n) => (Math.round(n * 100) / 100).toString();
