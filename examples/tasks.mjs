// Task modules: every exec/hybrid driver imports them and knows these tasks.
import { defineTask, sleep, yieldIfNeeded, taskContext, driverInfo } from 'gatio';

defineTask('add', (a, b) => a + b);

defineTask('where', () => driverInfo());

// A long task shares its driver: it yields between chunks, and stops when
// the caller aborts.
defineTask('countPrimes', async (limit) => {
  const { signal } = taskContext();
  let count = 0;
  for (let n = 2; n < limit; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) if (n % d === 0) { prime = false; break; }
    if (prime) count++;
    if (n % 10_000 === 0) {
      signal.throwIfAborted();
      await yieldIfNeeded();
    }
  }
  return count;
});

defineTask('slowEcho', async (value, ms) => {
  await sleep(ms); // a timer on the driver's io_uring
  return value;
});
