// Task module of bench/io-nop.mjs: nop round trips through an io driver,
// issued from a task on a hybrid driver and timed on that driver.
import { defineTask, io } from 'gatio';

/** `total` nops, one after the other; returns µs per round trip. */
defineTask('nopSeq', async (total) => {
  const t0 = performance.now();
  for (let i = 0; i < total; i++) await io.nop();
  return ((performance.now() - t0) * 1000) / total;
});

/** `total` nops with up to `window` in flight; returns nops per second. */
defineTask('nopWindow', async (total, window) => {
  const t0 = performance.now();
  await nopWindow(total, window);
  return total / ((performance.now() - t0) / 1000);
});

export function nopWindow(total, window) {
  let sent = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const more = () => {
      if (++done === total) resolve();
      else if (sent < total) send();
    };
    const send = () => {
      sent++;
      io.nop().then(more, reject);
    };
    for (let i = 0; i < Math.min(window, total); i++) send();
  });
}
