// Task module of bench/scheduler.mjs.
import { defineTask, yieldIfNeeded } from 'gatio';
import { readFileSync } from 'node:fs';

/** Milliseconds on a clock every thread of the process shares. */
const wallNow = () => performance.timeOrigin + performance.now();

/** [ms on a CPU, ms waiting for one] of this thread so far (schedstat), or NaNs without it. */
function schedstat() {
  try {
    const [cpu, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    return [Number(cpu) / 1e6, Number(wait) / 1e6];
  } catch {
    return [NaN, NaN];
  }
}

function spin(iterations) {
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x + i * 7) | 0;
  return x;
}

/** Loop iterations of spin() per millisecond on this thread, measured once. */
let perMs = 0;
function calibrate() {
  if (perMs) return perMs;
  spin(1e6); // warm up
  const t0 = performance.now();
  spin(1e7);
  perMs = 1e7 / (performance.now() - t0);
  return perMs;
}

/**
 * `chunks` chunks of `chunkMs` of computing each, with `await
 * yieldIfNeeded()` between chunks or (`yielding` false) in one synchronous
 * loop. Returns the CPU ms the thread used (schedstat: exact, unlike
 * /proc's stat ticks) and the wall ms.
 */
defineTask('work', async (chunks, chunkMs, yielding) => {
  const iterations = Math.round(calibrate() * chunkMs);
  let x = 0;
  const [cpu0] = schedstat();
  const t0 = performance.now();
  if (yielding) {
    for (let i = 0; i < chunks; i++) {
      x += spin(iterations);
      await yieldIfNeeded();
    }
  } else {
    for (let i = 0; i < chunks; i++) x += spin(iterations);
  }
  const wall = performance.now() - t0;
  return { cpu: schedstat()[0] - cpu0, wall, x };
});

/** Computes in `chunkMs` chunks until `untilWall`, yielding between chunks: the background load. */
defineTask('busy', async (untilWall, chunkMs) => {
  const iterations = Math.round(calibrate() * chunkMs);
  let x = 0;
  while (wallNow() < untilWall) {
    x += spin(iterations);
    await yieldIfNeeded();
  }
  return x;
});

/** When it started (the shared clock) and how long this thread had waited for its CPU by then. */
defineTask('stamp', () => ({ at: wallNow(), waited: schedstat()[1] }));
