// Task module of bench/timers.mjs: each task measures on the driver it runs
// on, so the numbers are the driver's own view of its timers.
import { defineTask, interval, sleep } from 'gatio';
import { readFileSync } from 'node:fs';

/**
 * ms this thread has spent runnable but waiting for a CPU (schedstat's
 * run_delay): time other processes took from it, which no timer can help.
 * NaN when the kernel does not report it.
 */
function runQueueMs() {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return NaN;
  }
}

const nodeSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sleeps each duration of `list` in turn, with gatio's ring timer
 * (`sleep`) or Node's `setTimeout` on the same thread (`kind: 'node'`).
 * Returns per sleep its lateness (ms past the requested duration) and the
 * part of it the thread spent waiting for its CPU.
 */
defineTask('sleepLateness', async (list, kind) => {
  const sleeper = kind === 'node' ? nodeSleep : sleep;
  const out = [];
  for (const ms of list) {
    const rq0 = runQueueMs();
    const t0 = performance.now();
    await sleeper(ms);
    const late = performance.now() - t0 - ms;
    out.push({ late, waited: runQueueMs() - rq0 });
  }
  return out;
});

/** `count` times: a 60 s sleep aborted `afterMs` later; ms from abort() to the rejection. */
defineTask('abortLatency', async (count, afterMs) => {
  const out = [];
  for (let i = 0; i < count; i++) {
    const ac = new AbortController();
    let abortedAt = NaN;
    setTimeout(() => {
      abortedAt = performance.now();
      ac.abort(new Error('stop'));
    }, afterMs);
    await sleep(60_000, { signal: ac.signal }).catch(() => {});
    out.push(performance.now() - abortedAt);
  }
  return out;
});

/** Lateness in ms of each of `count` ticks of interval(ms), from its anchor start + n × ms. */
defineTask('intervalLateness', async (ms, count) => {
  const t0 = performance.now();
  const out = [];
  for await (const n of interval(ms)) {
    out.push(performance.now() - t0 - n * ms);
    if (out.length >= count) break;
  }
  return out;
});
